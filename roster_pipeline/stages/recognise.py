"""Recognise: which other contract a batch's files look like.

A district set up for one contract sometimes sends another's files (a OneRoster
zip to a roster-csv district, PowerSchool ``Students.`` headers to a clever
district). The checks then reject the batch for a missing file or column, which
is true but does not say what happened. ``other_contract`` reads only the
header line of each file and names the shipped contract whose files they fit,
so the batch message can say so.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass

from roster_pipeline.contracts import rejects
from roster_pipeline.contracts.specs import FileSpec, Spec, available_specs, load_spec
from roster_pipeline.stages.csvscan import detect_delimiter
from roster_pipeline.stages.headers import map_columns
from roster_pipeline.stages.unpack import ReceivedFile

_HEAD_BYTES = 64 * 1024


@dataclass(frozen=True)
class Resemblance:
    contract: str
    files: tuple[str, ...]  # the files that fit it and not the district's contract

    def hint(self) -> str:
        return (
            f"{', '.join(self.files)} look like the `{self.contract}` contract, not this"
            f" district's; if that is what the district sends, move it to `{self.contract}`"
            f" (its files are described by `roster spec show {self.contract}`)"
        )


def other_contract(files: Sequence[ReceivedFile], spec: Spec) -> Resemblance | None:
    """The shipped contract most of ``files`` fit while they do not fit ``spec``."""
    heads = {f.name: _header(f) for f in files}
    strangers = [f for f in files if not _fits(heads[f.name], f.name, spec)]
    best: Resemblance | None = None
    for name in available_specs():
        if name == spec.name or not strangers:
            continue
        other = load_spec(name)
        fit = tuple(f.name for f in strangers if _fits(heads[f.name], f.name, other))
        if fit and (best is None or len(fit) > len(best.files)):
            best = Resemblance(name, fit)
    return best


def _header(f: ReceivedFile) -> list[str]:
    with f.path.open("rb") as stream:
        head = stream.read(_HEAD_BYTES)
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    first = next((line for line in text.splitlines() if line.strip()), "")
    reader = csv.reader(io.StringIO(first), delimiter=detect_delimiter(first))
    return next(reader, [])


def _fits(header: list[str], name: str, spec: Spec) -> bool:
    file_spec: FileSpec | None = spec.match(name)
    if file_spec is None or not header:
        return False
    layout = map_columns(name, header, file_spec, 1)
    return bool(layout.columns) and not rejects.has_fatal(layout.rejects)
