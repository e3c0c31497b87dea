"""The spec model: what ``specs/*.yaml`` say, as frozen dataclasses.

A spec is the contract with districts. This module is the only reader of spec
files; the validator, the onboarding guide and ``roster spec show`` work from the
dataclasses here. The vocabulary is closed: an unknown key is a SpecError naming
the file and the key.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path
from typing import TYPE_CHECKING

from roster_pipeline.contracts.feeds import Feed, LeaveOut, feed_rows
from roster_pipeline.errors import SpecError

if TYPE_CHECKING:
    import polars as pl

#: Named formats a column may declare; each is a pattern plus a human description.
FORMATS: Mapping[str, tuple[str, str]] = {
    "id": (r"^[A-Za-z0-9._-]{1,64}$", "1 to 64 letters, digits, '.', '_' or '-'"),
    "email": (r"^[^@\s]+@[^@\s]+\.[^@\s]+$", "an e-mail address"),
    "ref": (r"^[^\s,|]{1,255}$", "1 to 255 characters without spaces, commas or '|'"),
    "ref_list": (
        r"^[^\s,|]{1,255}(\s*,\s*[^\s,|]{1,255})*$",
        "one or more IDs separated by commas",
    ),
    "date": (r"^\d{4}-\d{2}-\d{2}$", "a date as YYYY-MM-DD"),
    "datetime": (
        r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$",
        "a UTC date and time as YYYY-MM-DDThh:mm:ss.sssZ",
    ),
    "year": (r"^\d{4}$", "a year as YYYY"),
}


@dataclass(frozen=True)
class Reference:
    """``column`` must name a row of ``file`` whose ``column`` equals it (and ``where``)."""

    file: str
    column: str
    where: Mapping[str, str] = field(default_factory=dict)
    # The referenced row's column (key) must equal this row's column (value), any case:
    # an enrollment's role agrees with its user's role.
    same: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Lookup:
    """Columns a file takes from another file's rows naming its key: OneRoster 1.2
    users get their role from roles.csv (``on`` userSourcedId), primary role first."""

    file: str
    on: str  # the other file's column naming this file's key
    columns: Mapping[str, str]  # this file's column -> the other file's column
    prefer: Mapping[str, str] = field(default_factory=dict)  # rows matching come first
    # The other file's column -> this file's column: among the preferred rows, the one
    # agreeing comes first (the primary role at primaryOrgSourcedId), and a filled
    # value no row naming the key agrees with is a row reject.
    match: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    required: bool = False  # the column must be present and every value non-empty
    format: str | None = None
    pattern: str | None = None
    max_length: int | None = None
    values: tuple[str, ...] = ()  # allowed values, matched case-insensitively
    references: Reference | None = None
    aliases: tuple[str, ...] = ()
    description: str = ""
    unique: bool = False  # no two rows share a value (beyond the file's key)
    # Loading: the table column it fills (default: its own name), whether it is
    # loaded at all, and values rewritten on the way in ({teacher: Teacher}).
    to: str = ""
    load: bool = True
    load_as: Mapping[str, str] = field(default_factory=dict)
    # A reference through a secondary key: the referenced row's column whose value is
    # loaded instead of the one sent (PowerSchool CC.StudentID -> Student_Number).
    loaded_as: str = ""
    separator: str = ""  # a cell may hold several values, each checked ("09,10")
    # Not sent: the first item of this list column that the reference accepts
    # (OneRoster 1.1: the first of a user's orgSourcedIds that is a school).
    first_of: str = ""
    sis_field: str = ""  # what to pick in PowerSchool (default: the file's sis_table.name)

    @property
    def target(self) -> str:
        return self.to or self.name

    @property
    def regex(self) -> str | None:
        """The pattern in force: explicit, else the format's."""
        if self.pattern:
            return self.pattern
        return FORMATS[self.format][0] if self.format else None


@dataclass(frozen=True)
class FileSpec:
    name: str
    match: tuple[str, ...]
    columns: tuple[ColumnSpec, ...]
    key: tuple[str, ...]
    required: bool = True
    table: str = ""
    description: str = ""
    load: bool = True  # False: validated (and referenced) but never loaded
    load_where: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # rows loaded
    ordered: bool = False  # the contract fixes the column order (a warning when not kept)
    fixed: Mapping[str, str] = field(default_factory=dict)  # table column -> value, every row
    leave_out: tuple[LeaveOut, ...] = ()  # rows the SIS marks not active
    also: tuple[Feed, ...] = ()  # further tables filled from this file
    # Rows whose key another file of the same table also holds are left out, the other
    # file's row stands (PowerSchool SectionTeacher repeats the lead teacher of Sections).
    defer: bool = False
    ignore_columns: tuple[str, ...] = ()  # header globs dropped silently (Clever's ext.*)
    sis_table: str = ""  # the PowerSchool table one AutoSend exports this file from
    # How tonight's file applies: "bulk" (the full list: rows not sent are deleted) or
    # "delta" (listed rows upserted, rows marked by ``tombstone`` deleted, others kept).
    mode: str = "bulk"
    tombstone: LeaveOut | None = None  # rows marked for deletion (OneRoster tobedeleted)
    lookup: Lookup | None = None  # columns filled from another file's rows
    blank_in_bulk: tuple[str, ...] = ()  # columns a bulk file leaves empty (a warning if not)
    secret_columns: tuple[str, ...] = ()  # blanked before the file is archived (passwords)

    @property
    def feeds(self) -> tuple[Feed, ...]:
        """Every table this file fills: its own (``table``) first, then ``also``."""
        if not self.load:
            return ()
        own = Feed(
            table=self.table or self.name,
            key=self.target_key,
            columns={
                c.target: (c.name,) for c in self.loaded_columns if c.target not in self.fixed
            },
            fixed=self.fixed,
            where=self.load_where,
        )
        return (own, *self.also)

    def rows_for(self, feed: Feed, frame: pl.DataFrame, line: str) -> pl.DataFrame:
        """Checked rows (file columns + ``line``) as ``feed`` takes them: ``load_as``
        values rewritten, then ``where``, spread columns and fixed values applied."""
        import polars as pl  # here: the CLI reads specs for `--help`, without polars

        rewrites = [pl.col(c.name).replace(dict(c.load_as)) for c in self.columns if c.load_as]
        if rewrites:
            frame = frame.with_columns(rewrites)
        if line not in frame.columns:
            frame = frame.with_columns(pl.lit(None, pl.Int64).alias(line))
        return feed_rows(feed, frame, line)

    @property
    def loaded_columns(self) -> tuple[ColumnSpec, ...]:
        """The columns that reach the table, key first; none when the file is not loaded."""
        if not self.load:
            return ()
        key = tuple(self.column(k) for k in self.key)
        return (*key, *(c for c in self.columns if c.load and c.name not in self.key))

    @property
    def pinned(self) -> dict[str, str]:
        """Columns the table does not keep whose value every loaded row shares: a
        ``load_where`` of one value (orgs are loaded as schools only where type is school)."""
        kept = {c.name for c in self.loaded_columns}
        return {c: v[0] for c, v in self.load_where.items() if len(v) == 1 and c not in kept}

    @property
    def target_key(self) -> tuple[str, ...]:
        return tuple(self.column(k).target for k in self.key)

    def matches(self, filename: str) -> bool:
        """Case-insensitive glob match on the base name."""
        return self.specificity(filename) > 0

    def specificity(self, filename: str) -> int:
        """How specific the best pattern matching ``filename`` is (its length); 0: none."""
        base = filename.replace("\\", "/").rsplit("/", 1)[-1].lower()
        return max((len(p) for p in self.match if fnmatch(base, p.lower())), default=0)

    def column(self, name: str) -> ColumnSpec:
        return next(c for c in self.columns if c.name == name)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def not_sent(self, column: ColumnSpec) -> bool:
        """Whether ``column`` is never in the district's file: it is taken from another
        column (``first_of``) or file (a lookup), and the guide does not ask for it."""
        taken = self.lookup.columns if self.lookup else {}
        return bool(column.first_of) or column.name in taken


@dataclass(frozen=True)
class ManifestSpec:
    """A contract whose batches carry a manifest (OneRoster's manifest.csv): the file
    that names the format version and, per file, its mode (bulk, delta or absent)."""

    file: str  # the spec file holding propertyName,value rows
    version: str  # the version this contract reads ("1.1")
    version_property: str = "oneroster.version"
    mode_prefix: str = "file."  # file.<name>,<mode>
    known: tuple[str, ...] = ()  # further properties a manifest may hold


@dataclass(frozen=True)
class Spec:
    name: str
    title: str
    files: tuple[FileSpec, ...]
    encoding: str = "utf-8"
    description: str = ""
    source: Path | None = None
    manifest: ManifestSpec | None = None
    delta: bool = False  # files may come in delta mode (their tombstone marks deletes)

    def feeders(self, table: str) -> tuple[FileSpec, ...]:
        """The files that fill ``table``, in the spec's order."""
        return tuple(f for f in self.files if any(d.table == table for d in f.feeds))

    def siblings(self, file: FileSpec) -> tuple[FileSpec, ...]:
        """The other files whose own rows go to the same table as ``file``'s."""
        if not file.load:
            return ()
        return tuple(f for f in self.files if f.load and f.table == file.table and f != file)

    def stand_ins(self, file: FileSpec) -> tuple[FileSpec, ...]:
        """Siblings whose rows may fall in ``file``'s part of the table: a users file
        stands in for a teachers file, a students file does not."""
        return tuple(
            g
            for g in self.siblings(file)
            if all(g.fixed.get(k, v) == v for k, v in file.fixed.items())
        )

    def complete(self, names: Collection[str]) -> bool:
        """Whether files of these names make a whole batch: every required file is there,
        itself or through a file that stands in for it."""
        return all(
            any(g.matches(n) for g in (f, *self.stand_ins(f)) for n in names)
            for f in self.files
            if f.required
        )

    def file(self, name: str) -> FileSpec:
        for f in self.files:
            if f.name == name:
                return f
        raise KeyError(name)

    def match(self, filename: str) -> FileSpec | None:
        """The file spec a received file name belongs to, or None; the most specific
        pattern wins (``users_students*.csv`` over ``users*.csv``)."""
        best = max(self.files, key=lambda f: f.specificity(filename), default=None)
        return best if best is not None and best.matches(filename) else None

    def load_order(self) -> tuple[FileSpec, ...]:
        """Files ordered so that every referenced file comes before its referrers."""
        done: list[FileSpec] = []
        pending = list(self.files)
        while pending:
            ready = [f for f in pending if all(d in {x.name for x in done} for d in _deps(f, self))]
            if not ready:
                raise SpecError(f"{self.source}: references between files form a cycle")
            done += ready
            pending = [f for f in pending if f not in ready]
        return tuple(done)


def _deps(f: FileSpec, spec: Spec) -> set[str]:
    """The files checked before ``f``: those it references and their siblings (a
    reference into users resolves against every file that fills users)."""
    named = {c.references.file for c in f.columns if c.references}
    named |= {f.lookup.file} if f.lookup else set()
    found = set(named)
    for name in named:
        found |= {s.name for s in spec.siblings(spec.file(name))}
    return found - {f.name} - {s.name for s in spec.siblings(f)}
