"""What tests import: the samples folder, the CLI runner's type and its JSON readers.

Fixtures stay in ``conftest.py``; anything a test module imports by name is here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from click.testing import Result

SAMPLES = Path(__file__).resolve().parent.parent / "samples"

#: The ``roster`` fixture: runs the CLI in-process on a fresh home; click's Result.
Roster = Callable[..., Result]


def as_json(result: Result) -> Any:
    return json.loads(result.stdout)


def process_json(roster: Roster, source: Path, code: int = 0) -> dict[str, object]:
    """`roster process SOURCE --district lincoln --json`, its exit code checked."""
    result = roster("process", source, "--district", "lincoln", "--json")
    assert result.exit_code == code, result.output
    data = as_json(result)
    assert isinstance(data, dict)
    return data
