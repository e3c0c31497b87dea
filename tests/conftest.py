"""Shared fixtures: a fresh home with the CLI runner, and the samples folder."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from roster_pipeline.cli import main

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


@pytest.fixture
def samples() -> Path:
    return SAMPLES


Roster = Callable[..., Result]


@pytest.fixture
def roster(tmp_path: Path) -> Roster:
    """Run `roster --home <tmp> ARGS...` in-process; returns click's Result."""
    home = tmp_path / "home"

    def run(*args: str | Path, input: str | None = None) -> Result:
        argv = ["--home", str(home), *(str(a) for a in args)]
        return CliRunner().invoke(main, argv, input=input, catch_exceptions=False)

    return run


def as_json(result: Result) -> Any:
    return json.loads(result.stdout)
