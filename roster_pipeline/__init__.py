"""roster-pipeline: receive school roster exports over SFTP, validate, load as snapshots.

The core API the ``roster`` command is a thin layer over::

    from roster_pipeline import Home, load_settings, add_district, process

    with Home(load_settings(home="roster-data")) as home:
        home.create()
        add_district(home, "lincoln")
        result = process(home, "lincoln", [Path("export.zip")])
        print(result.batch.status, result.batch.report_path)
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from roster_pipeline.config import DISTRICT_KEYS, Settings, load_settings
    from roster_pipeline.contracts.specs import Spec, load_spec
    from roster_pipeline.districts import add_district, export
    from roster_pipeline.errors import RosterError, TerminalError, TransientError
    from roster_pipeline.home import Home
    from roster_pipeline.outcome import BatchResult, Outcome
    from roster_pipeline.pipeline import check, evaluate, process
    from roster_pipeline.progress import Progress, no_progress
    from roster_pipeline.store import BatchRecord, BatchStatus, DistrictRecord, Store, open_store

__version__ = "0.1.0"

__all__ = [
    "DISTRICT_KEYS",
    "BatchRecord",
    "BatchResult",
    "BatchStatus",
    "DistrictRecord",
    "Home",
    "Outcome",
    "Progress",
    "RosterError",
    "Settings",
    "Spec",
    "Store",
    "TerminalError",
    "TransientError",
    "add_district",
    "check",
    "evaluate",
    "export",
    "load_settings",
    "load_spec",
    "no_progress",
    "open_store",
    "process",
]

# Imported on first use (PEP 562): `import roster_pipeline.cli` must not pay for
# polars and pandera, which `roster --help` never needs.
_HOMES = {
    "roster_pipeline.config": ("DISTRICT_KEYS", "Settings", "load_settings"),
    "roster_pipeline.contracts.specs": ("Spec", "load_spec"),
    "roster_pipeline.districts": ("add_district", "export"),
    "roster_pipeline.errors": ("RosterError", "TerminalError", "TransientError"),
    "roster_pipeline.home": ("Home",),
    "roster_pipeline.outcome": ("BatchResult", "Outcome"),
    "roster_pipeline.pipeline": ("check", "evaluate", "process"),
    "roster_pipeline.progress": ("Progress", "no_progress"),
    "roster_pipeline.store": (
        "BatchRecord",
        "BatchStatus",
        "DistrictRecord",
        "Store",
        "open_store",
    ),
}
_WHERE = {name: module for module, names in _HOMES.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'roster_pipeline' has no attribute {name!r}")
    return getattr(import_module(module), name)
