"""Header names: how districts spell a column, and which spec column each spelling means.

PowerSchool prefixes ``CC.``, ``[39]`` and ``[Courses]``, any case, spaces, dashes
and a BOM are all the same name once normalised; a column answers to its name and
its aliases (the spec's and the district's dialect's). An alias written with its
prefix (``XTBL_TESTS.DISTRICT_CODE``) answers to exactly that header, so a file
holding ``XTBL_TEST_ADMIN.DISTRICT_CODE`` too is read without a clash.
"""

from __future__ import annotations

import re
from fnmatch import fnmatch

from roster_pipeline.contracts.specs import FileSpec

_INDEX_PREFIX = re.compile(r"^\[[A-Za-z0-9_]*\]\s*")  # [39] or [Courses]
_TABLE_PREFIX = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\.\s*")
_SEPARATORS = re.compile(r"[\s_-]+")


def spelled(raw: str) -> str:
    """A header as written, compared loosely: case, spaces and quotes aside, prefix kept."""
    name = raw.replace("\ufeff", "").strip().strip('"').strip()
    return _SEPARATORS.sub("_", name.lower()).strip("_")


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


class HeaderNames:
    """The names a file spec's columns answer to."""

    def __init__(self, file_spec: FileSpec) -> None:
        self.exact: dict[str, str] = {}  # aliases written with a prefix: that header only
        self.loose: dict[str, str] = {}  # names and aliases without one: any prefix
        for column in file_spec.columns:
            for alias in (column.name, *column.aliases):
                if spelled(alias) != normalise_header(alias):
                    self.exact[spelled(alias)] = column.name
                else:
                    self.loose[normalise_header(alias)] = column.name
        self.ignored = tuple(p.lower() for p in file_spec.ignore_columns)

    def column(self, raw: str) -> str | None:
        """The spec column ``raw`` names, or None."""
        return self.exact.get(spelled(raw)) or self.loose.get(normalise_header(raw))

    def ignores(self, raw: str) -> bool:
        return any(fnmatch(raw.strip().lower(), p) for p in self.ignored)
