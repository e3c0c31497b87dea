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
