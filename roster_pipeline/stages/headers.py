"""Headers: which column of a file each header field names.

Header fields are normalised (``normalise_header``: PowerSchool prefixes ``CC.``,
``[1]`` and ``[Courses]``, case, surrounding spaces, spaces for underscores) and
matched to the spec's column names and aliases. An alias written with its
prefix (``XTBL_TESTS.DISTRICT_CODE``) picks exactly that column, so a file
holding ``XTBL_TEST_ADMIN.DISTRICT_CODE`` too is read without a clash. Fields a
file spec ignores (Clever's ``ext.*``) are dropped without a warning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fnmatch import fnmatch

import polars as pl

from roster_pipeline.contracts import rejects
from roster_pipeline.contracts.rejects import Code
from roster_pipeline.contracts.specs import FileSpec

__all__ = ["HeaderNames", "Layout", "map_columns", "normalise_header", "spelled"]

_REJECTED = "The batch was rejected; the data loaded before stays loaded."
_INDEX_PREFIX = re.compile(r"^\[[A-Za-z0-9_]*\]\s*")  # [39] or [Courses]
_TABLE_PREFIX = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\.\s*")
_SEPARATORS = re.compile(r"[\s_-]+")


@dataclass(frozen=True)
class Layout:
    """How a header maps onto a file spec."""

    header: tuple[str, ...]  # the header fields as sent
    columns: dict[int, str]  # header position -> spec column, for the columns kept
    ordered: tuple[str, ...]  # the kept spec columns in spec order
    warnings: tuple[str, ...] = ()
    rejects: pl.DataFrame = field(default_factory=rejects.empty)
    headerless: bool = False  # the columns come from the district's list, not the file


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


def map_columns(name: str, header: list[str], file_spec: FileSpec, line: int) -> Layout:
    """Match header fields to spec columns by name or alias; report what does not fit."""
    names = HeaderNames(file_spec)
    columns: dict[int, str] = {}
    extra: list[str] = []
    problems: list[pl.DataFrame] = []
    for index, raw in enumerate(header):
        target = names.column(raw)
        if target is None:
            if not names.ignores(raw):
                extra.append(raw.strip() or f"(column {index + 1}, no name)")
        elif target in columns.values():
            first = next(i for i, c in columns.items() if c == target)
            msg = (
                f"{name} line {line}: columns {first + 1} ({header[first].strip()}) and "
                f"{index + 1} ({raw.strip()}) both mean {target}; send it once. {_REJECTED}"
            )
            problems.append(rejects.one(name, Code.DUPLICATE_COLUMN, msg, line=line, column=target))
        else:
            columns[index] = target
    problems += _missing(name, header, file_spec, columns, line)
    warnings: tuple[str, ...] = ()
    if extra:
        warnings += (f"{name}: extra columns ignored: {', '.join(extra)}",)
    ordered = tuple(c for c in file_spec.column_names if c in columns.values())
    if file_spec.ordered and ordered != tuple(columns[i] for i in sorted(columns)):
        warnings += (
            f"{name}: the columns are not in the order the spec gives ({', '.join(ordered)});"
            " they were read by name",
        )
    return Layout(tuple(header), columns, ordered, warnings, rejects.concat(problems))


def _missing(
    name: str, header: list[str], file_spec: FileSpec, columns: dict[int, str], line: int
) -> list[pl.DataFrame]:
    found = ", ".join(h.strip() for h in header)
    problems = []
    for spec_column in file_spec.columns:
        if spec_column.required and spec_column.name not in columns.values():
            msg = (
                f"{name} line {line}: required column {spec_column.name} is missing "
                f"(headers found: {found}). {_REJECTED}"
            )
            column = spec_column.name
            problems.append(rejects.one(name, Code.MISSING_COLUMN, msg, line=line, column=column))
    return problems
