"""Header names: how districts spell a column, and which spec column each spelling means.

PowerSchool prefixes ``CC.`` and ``[39]``, any case, spaces, dashes and a BOM
are all the same name once normalised; a column answers to its name and its
aliases (the spec's and the district's dialect's).
"""

from __future__ import annotations

import re

from roster_pipeline.contracts.specs import FileSpec

_INDEX_PREFIX = re.compile(r"^\[\d+\]\s*")
_TABLE_PREFIX = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\.\s*")
_SEPARATORS = re.compile(r"[\s_-]+")


def normalise_header(raw: str) -> str:
    """``' USERS.First Name'`` -> ``first_name``; ``[39]Student-Number`` -> ``student_number``."""
    name = raw.replace("\ufeff", "").strip().strip('"').strip()
    while True:
        stripped = _TABLE_PREFIX.sub("", _INDEX_PREFIX.sub("", name), count=1)
        if stripped == name or not stripped:
            break
        name = stripped
    return _SEPARATORS.sub("_", name.lower()).strip("_")


def header_names(file_spec: FileSpec) -> dict[str, str]:
    """Every normalised name a header may give a column (its name, its aliases) -> the column."""
    return {normalise_header(a): c.name for c in file_spec.columns for a in (c.name, *c.aliases)}
