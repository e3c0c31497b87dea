"""The console's templates: Jinja2 with autoescape on for every one, and the chart helpers."""

from __future__ import annotations

from pathlib import Path

from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader

from roster_pipeline.web.charts import history_chart, reject_rate_chart

HERE = Path(__file__).resolve().parent

# Autoescape on for every template: each value a district sent is text, never markup.
templates = Jinja2Templates(
    env=Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True)
)
templates.env.globals.update(reject_rate_chart=reject_rate_chart, history_chart=history_chart)
