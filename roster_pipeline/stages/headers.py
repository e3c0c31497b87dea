"""Headers: which column of a file each header field names (``contracts.headers``
says how names are spelled), and what does not fit: a missing required column,
two fields naming one column. Fields a file spec ignores (Clever's ``ext.*``)
are dropped without a warning."""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from roster_pipeline.contracts import rejects
from roster_pipeline.contracts.headers import HeaderNames
from roster_pipeline.contracts.rejects import Code
from roster_pipeline.contracts.specs import FileSpec

_REJECTED = f"{rejects.BATCH_REJECTED}."


@dataclass(frozen=True)
class Layout:
    """How a header maps onto a file spec."""

    header: tuple[str, ...]  # the header fields as sent
    columns: dict[int, str]  # header position -> spec column, for the columns kept
    ordered: tuple[str, ...]  # the kept spec columns in spec order
    warnings: tuple[str, ...] = ()
    rejects: pl.DataFrame = field(default_factory=rejects.empty)
    headerless: bool = False  # the columns come from the district's list, not the file


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
