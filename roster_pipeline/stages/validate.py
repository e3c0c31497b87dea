"""Validate: apply the spec's rules to parsed files; failures become rejects.

Contract (stage 3 of pipeline.py):

``validate(parsed, spec, loaded) -> Validated``

Row rules come from the pandera polars schema that ``schemas.compile_schema``
builds from a FileSpec (required, pattern/format, spreadsheet numbers like
``9.00001E+08`` in id columns, allowed values, max length). Allowed values
match case-insensitively and are stored canonical (``teacher`` -> ``Teacher``).
Set rules, in the spec's load order:

- key unique: every row sharing a key is rejected (``duplicate_key``);
- references resolve against this batch's valid rows of the referenced file,
  or, when that file is not in the batch, against ``loaded``; a reference to an
  optional file (schools) is checked only when that table is known (sent or
  loaded). Codes: ``reference_missing``, ``reference_rejected`` (the referenced
  row was rejected in this batch), ``reference_mismatch`` (the ``where`` fails,
  e.g. teacher_id names a Student);
- a required spec file neither in the batch nor loaded: ``missing_file``.

A file whose parse rejects are fatal contributes no rows and is left out of
``Validated.files`` (the batch is rejected anyway); references into it are not
checked, so its referrers are not buried under consequential rejects. ``Loaded``
returning None or an empty frame both mean "nothing loaded".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

import polars as pl

from roster_pipeline.contracts import rejects
from roster_pipeline.contracts.feeds import taken_mask
from roster_pipeline.contracts.rejects import Code
from roster_pipeline.contracts.specs import FileSpec, Reference, Spec
from roster_pipeline.stages import lookups, tombstones
from roster_pipeline.stages.leniency import lenient_columns, soften
from roster_pipeline.stages.parse import LINE, ParsedFile
from roster_pipeline.stages.row_rules import row_rejects
from roster_pipeline.stages.set_rules import Target, disagreements, duplicate_keys, references
from roster_pipeline.stages.table_rules import (
    Sent,
    Shared,
    describe_left_out,
    follow_left_out,
    follow_note,
    leave_out,
    shared_keys,
    table_target,
    translate,
)


class Loaded(Protocol):
    """What is already loaded for the district (implemented by the store)."""

    def rows(self, table: str, columns: Sequence[str]) -> pl.DataFrame | None:
        """Loaded values of ``columns`` (String), or None when the table has no rows."""
        ...


@dataclass(frozen=True)
class ValidFile:
    name: str
    file_spec: str
    frame: pl.DataFrame  # valid rows: every spec column (String, null when absent) + LINE
    rejected_keys: pl.DataFrame  # LINE and key columns of rejected rows: those loaded rows stay
    rows: int
    rejected: int
    left_out: int = 0  # rows the SIS marks not active: not checked, not loaded
    # A delta file's rows marked for deletion (file columns + LINE): their keys are deleted.
    deletes: pl.DataFrame = field(default_factory=pl.DataFrame)


@dataclass(frozen=True)
class Validated:
    files: Mapping[str, ValidFile]  # by spec file name
    rejects: pl.DataFrame  # every reject of the batch so far, parse's included
    warnings: tuple[str, ...] = ()  # rows left out as not active, and why

    @property
    def fatal(self) -> bool:
        return rejects.has_fatal(self.rejects)


def validate(
    parsed: Sequence[ParsedFile], spec: Spec, loaded: Loaded, *, strict_columns: bool = False
) -> Validated:
    """Row rules then set rules for every file of the batch, in the spec's load order.

    Rules on columns the spec does not load only warn, unless ``strict_columns``.
    """
    sent = _by_spec_file(parsed)
    batch = _Batch(spec, sent, _Memo(loaded), strict_columns=strict_columns)
    found: list[pl.DataFrame] = [p.rejects for p in parsed]
    for file_spec in spec.load_order():
        received = sent.get(file_spec.name)
        if received is None:
            found.append(batch.missing_file(file_spec))
        elif not rejects.has_fatal(received.rejects):
            batch.check(received, file_spec)
    for table in dict.fromkeys(feed.table for f in spec.files for feed in f.feeds):
        batch.settle(table)
    found += [c.rejects for c in batch.checked.values()]
    files = {name: c.valid_file for name, c in batch.checked.items()}
    notes = tuple(n for c in batch.checked.values() for n in c.notes)
    return Validated(files=files, rejects=rejects.concat(found), warnings=notes)


def _by_spec_file(parsed: Sequence[ParsedFile]) -> dict[str, ParsedFile]:
    """The first file per spec file: unpack already rejects a second one (ambiguous_file)."""
    sent: dict[str, ParsedFile] = {}
    for p in parsed:
        sent.setdefault(p.file_spec, p)
    return sent


class _Memo:
    """Asks the store once per table and columns; an empty answer counts as nothing loaded."""

    def __init__(self, loaded: Loaded) -> None:
        self.loaded = loaded
        self.answers: dict[tuple[str, tuple[str, ...]], pl.DataFrame | None] = {}

    def rows(self, table: str, columns: Sequence[str]) -> pl.DataFrame | None:
        key = (table, tuple(columns))
        if key not in self.answers:
            rows = self.loaded.rows(table, list(columns))
            self.answers[key] = rows if rows is not None and rows.height else None
        return self.answers[key]


@dataclass(frozen=True)
class _Checked:
    valid_file: ValidFile
    rejects: pl.DataFrame
    sent: Sent  # what references into this file resolve against
    notes: tuple[str, ...] = ()

    @property
    def target(self) -> Target:
        s = self.sent
        return Target(s.name, s.valid, s.rejected, s.left_out)

    def without(self, shared: Shared, key: Sequence[str]) -> _Checked:
        """This file after rows another file of its table also holds were rejected or
        left out (``table_rules.shared_keys``)."""
        lines = pl.concat([shared.rejects["line"], shared.left_out]).implode()
        gone = self.sent.valid.filter(pl.col(LINE).is_in(lines))
        rejected = gone.filter(pl.col(LINE).is_in(shared.rejects["line"].implode()))
        out = gone.filter(pl.col(LINE).is_in(shared.left_out.implode()))
        v = self.valid_file
        valid_file = replace(
            v,
            frame=v.frame.filter(~pl.col(LINE).is_in(lines)),
            rejected_keys=pl.concat([v.rejected_keys, rejected.select(LINE, *key)], how="diagonal"),
            rejected=v.rejected + rejected.height,
            left_out=v.left_out + out.height,
        )
        sent = replace(
            self.sent,
            valid=self.sent.valid.filter(~pl.col(LINE).is_in(lines)),
            rejected=pl.concat([self.sent.rejected, rejected]),
            left_out=pl.concat([self.sent.left_out, out]),
        )
        notes = (*self.notes, shared.reason) if out.height else self.notes
        return _Checked(valid_file, rejects.concat([self.rejects, shared.rejects]), sent, notes)


class _Batch:
    """The files validated so far, as targets for the references of the next ones."""

    def __init__(
        self, spec: Spec, sent: Mapping[str, ParsedFile], loaded: _Memo, *, strict_columns: bool
    ) -> None:
        self.spec = spec
        self.strict_columns = strict_columns
        self.sent = sent
        self.loaded = loaded
        self.checked: dict[str, _Checked] = {}
        self.settled: set[str] = set()

    def missing_file(self, file_spec: FileSpec) -> pl.DataFrame:
        """A required file neither sent (itself or a sibling) nor loaded rejects the batch."""
        siblings = self.spec.stand_ins(file_spec)
        if not file_spec.required or any(f.name in self.sent for f in siblings):
            return rejects.empty()
        if self.loaded_rows(file_spec, file_spec.key) is not None:
            return rejects.empty()
        expected = file_spec.match[0].replace("*", "")
        others = [f.match[0].replace("*", "") for f in siblings]
        instead = f" (or {' and '.join(others)})" if others else ""
        sent = f"{expected}: no file matching {' or '.join(file_spec.match)}{instead} was sent"
        message = (
            f"{sent} and no {file_spec.table} are loaded yet. {rejects.BATCH_REJECTED}."
            if file_spec.load
            else f"{sent}; this contract checks {file_spec.name} in every batch and never loads"
            f" them, so an earlier batch cannot stand in. {rejects.BATCH_REJECTED}."
        )
        return rejects.one(expected, Code.MISSING_FILE, message)

    def check(self, received: ParsedFile, file_spec: FileSpec) -> None:
        every, mismatched = self.looked_up(
            _conform(received.frame, file_spec), file_spec, received.name
        )
        frame, out = leave_out(every, file_spec)
        notes = [describe_left_out(received.name, file_spec, out)] if out.height else []
        frame, marked = tombstones.split(frame, file_spec)
        if marked.height:
            notes.append(tombstones.describe(received.name, file_spec, marked))
        found_notes = (
            tombstones.filled_in_bulk(received.name, file_spec, frame),
            lookups.unmatched(received.name, file_spec, frame),
        )
        notes += [n for n in found_notes if n]
        row = row_rejects(frame, file_spec, received.name)
        if not self.strict_columns:
            row, soft = soften(row, lenient_columns(self.spec, file_spec), received.name)
            notes += soft
        frame = _canonical(frame, file_spec)
        # A key that failed a row rule is not compared, nor trusted to name a loaded row.
        malformed = row.filter(pl.col("column").is_in(list(file_spec.key)))["line"]
        found = [row, mismatched, duplicate_keys(frame, file_spec.key, received.name, malformed)]
        for column in file_spec.columns:
            if column.unique and (column.name,) != file_spec.key:
                bad = row.filter(pl.col("column") == column.name)["line"]
                found.append(duplicate_keys(frame, (column.name,), received.name, bad))
        for column in file_spec.columns:
            target = self.target(column.references, column.loaded_as)
            if target is None:
                continue
            frame, follows = follow_left_out(frame, column, target)
            if follows.height:
                out = pl.concat([out, follows])
                notes.append(follow_note(received.name, column, follows.height))
            skip = row.filter(pl.col("column") == column.name)["line"]
            if target.partial:  # only rows loaded themselves must name a loaded row
                skip = pl.concat([skip, frame.filter(~taken_mask(file_spec.feeds))[LINE]])
            found.append(references(frame, skip, received.name, column, target))
            loaded = taken_mask(file_spec.feeds)
            found.append(disagreements(frame, skip, received.name, column, target, loaded))
            frame = translate(frame, column, target)
        checked = _assemble(received, file_spec, frame, rejects.concat(found), malformed, out)
        self.checked[file_spec.name] = _marked(replace(checked, notes=tuple(notes)), marked)

    def settle(self, table: str) -> None:
        """Rules across the files of ``table`` in this batch (once, before any reference
        into the table is resolved)."""
        if table in self.settled:
            return
        self.settled.add(table)
        if len(self.spec.feeders(table)) < 2:
            return
        sent = {n: c.sent for n, c in self.checked.items()}
        by_name = {c.sent.name: n for n, c in self.checked.items()}
        for received, shared in shared_keys(self.spec, table, sent, self.loaded.rows).items():
            name = by_name[received]
            key = self.spec.file(name).key
            self.checked[name] = self.checked[name].without(shared, key)

    def target(self, ref: Reference | None, loaded_as: str = "") -> Target | None:
        """None when the reference cannot be checked: the table is unknown or was unusable."""
        if ref is None:
            return None
        file_spec = self.spec.file(ref.file)
        family = (file_spec, *self.spec.siblings(file_spec))
        if any(f.name in self.sent and f.name not in self.checked for f in family):
            return None  # sent but fatally rejected: the batch is rejected anyway
        columns = tuple(
            dict.fromkeys(c for c in (ref.column, *ref.where, *ref.same, loaded_as) if c)
        )
        if len(family) > 1:
            self.settle(file_spec.table)
            sent = {f.name: self.checked[f.name].sent for f in family if f.name in self.checked}
            return table_target(self.spec, file_spec, columns, sent, self.loaded.rows)
        if ref.file in self.checked:
            return self.with_loaded(self.checked[ref.file].target, file_spec, columns)
        rows = self.loaded_rows(file_spec, columns)
        if rows is None:  # unknown: optional (schools) is fine, required is missing_file
            return None
        label = f"the loaded {file_spec.table} (no {ref.file} file in this batch)"
        partial = bool(file_spec.load_where)
        return Target(label, rows.cast(pl.String), pl.DataFrame(), partial=partial)

    def looked_up(self, frame: pl.DataFrame, f: FileSpec, name: str) -> tuple[pl.DataFrame, ...]:
        """(``frame`` with the columns it takes from other files' checked rows, a user's role
        and school, else (not sent in full) from its loaded row; the rows they contradict)."""
        lk = f.lookup
        found = self.checked.get(lk.file) if lk else None
        source = found.sent.valid if found else None
        full = found is not None and found.sent.file_spec.mode == "bulk"  # every user's roles
        bad = lookups.outside(name, f, frame, source if full else None)
        frame = lookups.looked_up(frame, f, source)
        if lk and not full:
            frame = lookups.kept_from_loaded(frame, f, self.loaded_rows(f, (f.key[0], *lk.columns)))
        return lookups.first_named(frame, f, self.spec, self.target, self.loaded_rows), bad

    def with_loaded(
        self, tonight: Target, file_spec: FileSpec, columns: Sequence[str]
    ) -> Target | None:
        """A bulk file's rows as they are; a delta file lists changes only: references
        into it resolve against its rows and the loaded ones it does not mark for
        deletion. None when its table is not loaded (a delta of courses does not say
        which courses exist)."""
        if file_spec.mode != "delta":
            return tonight
        if not file_spec.load:
            return None
        rows = self.loaded_rows(file_spec, columns)
        if rows is None:
            return tonight
        key = columns[0]
        gone = tonight.left_out[key] if key in tonight.left_out.columns else pl.Series([])
        kept = rows.cast(pl.String).filter(~pl.col(key).is_in(gone.cast(pl.String).implode()))
        both = pl.concat([tonight.valid.select(columns).cast(pl.String), kept.select(columns)])
        label = f"{tonight.label} and the loaded {file_spec.table}"
        valid = both.unique(key, keep="first")
        return replace(tonight, label=label, valid=valid, partial=bool(file_spec.load_where))

    def loaded_rows(self, file_spec: FileSpec, columns: Sequence[str]) -> pl.DataFrame | None:
        """Loaded values of ``columns`` under the spec's names (pinned ones filled), or None."""
        loaded, pinned = {c.name: c.target for c in file_spec.loaded_columns}, file_spec.pinned
        if not all(c in loaded or c in pinned for c in columns):
            return None
        rows = self.loaded.rows(file_spec.table, [loaded[c] for c in columns if c in loaded])
        if rows is None:
            return None
        rows = rows.rename({loaded[c]: c for c in columns if c in loaded and loaded[c] != c})
        return rows.with_columns(pl.lit(pinned[c]).alias(c) for c in columns if c in pinned)


def _marked(checked: _Checked, marked: pl.DataFrame) -> _Checked:
    """Rows marked for deletion: a delta file's deletions, a bulk file's left-out rows;
    either way references naming only them follow them (left out, not rejected)."""
    if not marked.height:
        return checked
    sent = replace(checked.sent, left_out=pl.concat([checked.sent.left_out, marked]))
    v = checked.valid_file
    if checked.sent.file_spec.mode == "delta":
        return replace(checked, sent=sent, valid_file=replace(v, deletes=marked))
    return replace(checked, sent=sent, valid_file=replace(v, left_out=v.left_out + marked.height))


def _conform(frame: pl.DataFrame, file_spec: FileSpec) -> pl.DataFrame:
    """Every spec column as String (absent ones all null) + LINE, nothing else."""
    present = set(frame.columns)
    columns = [
        pl.col(c).cast(pl.String) if c in present else pl.lit(None, pl.String).alias(c)
        for c in file_spec.column_names
    ]
    return frame.select(*columns, pl.col(LINE).cast(pl.Int64))


def _canonical(frame: pl.DataFrame, file_spec: FileSpec) -> pl.DataFrame:
    """Allowed values in the spec's spelling (``teacher`` -> ``Teacher``); others unchanged.

    A column already spelled so throughout, the usual case, is not rewritten.
    """
    spelled = []
    for column in file_spec.columns:
        spelling = {v.lower(): v for v in column.values}
        if spelling and not frame[column.name].is_in(list(spelling.values())).all():
            lowered = pl.col(column.name).str.to_lowercase()
            spelled.append(lowered.replace_strict(spelling, default=pl.col(column.name)))
    return frame.with_columns(spelled) if spelled else frame


def _assemble(  # noqa: PLR0917 - the parts of one file's check, all needed
    received: ParsedFile,
    file_spec: FileSpec,
    frame: pl.DataFrame,
    file_rejects: pl.DataFrame,
    malformed: pl.Series,
    out: pl.DataFrame,
) -> _Checked:
    bad_lines = file_rejects["line"].unique()
    is_bad = frame[LINE].is_in(bad_lines.implode())
    valid, rejected = frame.filter(~is_bad), frame.filter(is_bad)
    rejected_keys = (
        rejected.filter(~pl.col(LINE).is_in(malformed.implode()))
        .select(LINE, *file_spec.key)
        .drop_nulls()
        .unique(maintain_order=True)
    )
    parse_lines = received.rejects["line"].drop_nulls().unique()
    rows = received.rows or frame.height + out.height + parse_lines.len()
    valid_file = ValidFile(
        name=received.name,
        file_spec=file_spec.name,
        frame=valid,
        rejected_keys=rejected_keys,
        rows=rows,
        rejected=pl.concat([bad_lines, parse_lines]).n_unique(),
        left_out=out.height,
    )
    return _Checked(valid_file, file_rejects, Sent(received.name, file_spec, valid, rejected, out))
