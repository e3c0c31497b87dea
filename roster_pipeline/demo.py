"""`roster demo`: the sample district through the pipeline, in a fresh home."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

from roster_pipeline import districts, pipeline
from roster_pipeline.config import load_settings
from roster_pipeline.errors import InputError
from roster_pipeline.home import Home

__all__ = ["run_demo", "samples_dir"]


def samples_dir() -> Path:
    """The samples folder of a source checkout (the demo's input)."""
    folder = Path(__file__).resolve().parent.parent / "samples"
    if not (folder / "good.zip").is_file():
        raise InputError(f"the demo needs the samples of a source checkout; {folder} has none")
    return folder


def run_demo(keep: bool = False) -> Path:
    """Provision a district, process three nights, print what happened."""
    samples = samples_dir()
    root = Path(tempfile.mkdtemp(prefix="roster-demo-"))
    console = Console()
    nights = [
        ("night 1: the first full export (zip)", samples / "good.zip"),
        ("night 2: the next night's snapshot (loose CSVs)", samples / "next-night"),
        ("night 3: an export with mistakes in it", samples / "bad"),
    ]
    with Home(load_settings(home=root)) as home:
        home.create()
        districts.add_district(home, "lincoln", "Lincoln Unified (demo)")
        for title, source in nights:
            result = pipeline.process(home, "lincoln", [source])
            console.rule(title)
            console.print(f"{result.batch.status}: {result.batch.message}", highlight=False)
        _print_batches(console, home)
    if keep:
        console.print(f"\ndemo home kept at {root}", highlight=False)
    else:
        shutil.rmtree(root, ignore_errors=True)
    return root


def _print_batches(console: Console, home: Home) -> None:
    table = Table("batch", "status", "table", "added", "updated", "deleted", "rejected")
    found = home.store.batches("lincoln")
    for batch in reversed(found):
        for name, c in batch.counts.items():
            table.add_row(batch.batch_id, str(batch.status), name, str(c.added), str(c.updated),
                          str(c.deleted), str(c.rejected))  # fmt: skip
    console.print(table)
    console.print(f"reject report of the last batch: {found[0].report_path}", highlight=False)
