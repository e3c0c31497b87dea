"""Dialects: how one district's export differs from its spec, kept per district.

PowerSchool exports vary by how each district set them up. Three differences
are common enough to absorb instead of asking the district to re-do its
export; each is opted into per district and stored in
``DistrictRecord.settings`` as plain JSON:

- ``encoding``: ``utf-8`` (the default), ``cp1252`` or ``mac_roman``;
- ``aliases``: ``{"users.district_user_id": ["Student_Number"]}``: header names
  that mean a spec column for this district, on top of the spec's own aliases;
- ``headerless``: ``{"users": ["district_user_id", "first_name", "-", ...]}``:
  the columns of a file sent without a header row, by position (``-`` skips one).

``CsvDialect.apply`` gives the district's effective spec, so parse and validate
stay ignorant of districts. Everything is checked against the spec when it is
set (``check``), so a typo fails at ``roster district set``, not at 3:00.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from roster_pipeline.contracts.headers import header_names, normalise_header, spelled
from roster_pipeline.contracts.specs import ColumnSpec, FileSpec, Spec
from roster_pipeline.errors import TerminalError

#: Encodings a district may opt into; anything else is refused when set.
ENCODINGS = ("utf-8", "cp1252", "mac_roman")
#: The DistrictRecord.settings keys this module owns.
SETTING_KEYS = ("encoding", "aliases", "headerless")
#: In a headerless column list: a column of the file that is not read.
SKIP = "-"


@dataclass(frozen=True)
class CsvDialect:
    encoding: str = "utf-8"
    aliases: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # "file.column" -> names
    headerless: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # file -> columns

    @classmethod
    def from_settings(cls, settings: Mapping[str, object]) -> CsvDialect:
        """Read the dialect keys of a district's settings (absent keys: the defaults)."""
        aliases = _mapping_of_lists(settings.get("aliases"))
        headerless = _mapping_of_lists(settings.get("headerless"))
        return cls(str(settings.get("encoding") or "utf-8"), aliases, headerless)

    def to_settings(self) -> dict[str, Any]:
        """The JSON-able settings values; defaults are left out."""
        found: dict[str, Any] = {}
        if self.encoding != "utf-8":
            found["encoding"] = self.encoding
        if self.aliases:
            found["aliases"] = {k: list(v) for k, v in sorted(self.aliases.items())}
        if self.headerless:
            found["headerless"] = {k: list(v) for k, v in sorted(self.headerless.items())}
        return found

    def changed(
        self,
        *,
        encoding: str | None = None,
        aliases: Sequence[str] = (),
        headerless: Sequence[str] = (),
        clear_aliases: bool = False,
        with_header: Sequence[str] = (),
    ) -> CsvDialect:
        """This dialect with ``roster district set`` options applied (texts as typed)."""
        merged: dict[str, tuple[str, ...]] = {} if clear_aliases else dict(self.aliases)
        for target, name in map(parse_alias, aliases):
            merged[target] = (*(n for n in merged.get(target, ()) if n != name), name)
        positional = {k: v for k, v in self.headerless.items() if k not in with_header}
        positional.update(map(parse_headerless, headerless))
        return CsvDialect(encoding or self.encoding, merged, positional)

    def apply(self, spec: Spec) -> Spec:
        """The spec as this district sends it: its aliases added to the columns'."""
        if not self.aliases:
            return spec
        return replace(spec, files=tuple(self._file(f) for f in spec.files))

    def _file(self, file_spec: FileSpec) -> FileSpec:
        columns = tuple(self._column(file_spec.name, c) for c in file_spec.columns)
        return replace(file_spec, columns=columns)

    def _column(self, file: str, column: ColumnSpec) -> ColumnSpec:
        extra = self.aliases.get(f"{file}.{column.name}", ())
        new = tuple(a for a in extra if a not in column.aliases)
        return replace(column, aliases=(*column.aliases, *new)) if new else column

    def check(self, spec: Spec) -> CsvDialect:
        """Raise TerminalError naming the first setting that does not fit ``spec``."""
        if self.encoding not in ENCODINGS:
            raise TerminalError(
                f"encoding {self.encoding!r} is not supported (choose {', '.join(ENCODINGS)})"
            )
        for target, names in self.aliases.items():
            _alias_target(spec, target, names)
        _no_shared_aliases(self.aliases)
        effective = self.apply(spec)
        for file, columns in self.headerless.items():
            _check_positional(effective, file, columns)
        return self


def _mapping_of_lists(value: object) -> dict[str, tuple[str, ...]]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): tuple(str(x) for x in v) for k, v in value.items() if isinstance(v, list)}


def _file_of(spec: Spec, name: str) -> FileSpec:
    try:
        return spec.file(name)
    except KeyError:
        known = ", ".join(f.name for f in spec.files)
        raise TerminalError(f"{name!r} is not a file of spec {spec.name} ({known})") from None


def _alias_target(spec: Spec, target: str, names: Sequence[str]) -> None:
    file, _, column = target.partition(".")
    file_spec = _file_of(spec, file)
    if column not in file_spec.column_names:
        known = ", ".join(file_spec.column_names)
        raise TerminalError(f"{column!r} is not a column of {file} ({known})")
    taken = header_names(file_spec)
    for name in names:
        means = taken.get(normalise_header(name))
        if not normalise_header(name) or (means is not None and means != column):
            raise TerminalError(
                f"alias {name!r} for {target} cannot be used: "
                + (f"it already means {file}.{means}" if means else "it is empty")
            )


def _no_shared_aliases(aliases: Mapping[str, Sequence[str]]) -> None:
    """One header given to two columns of a file would fail every night: refuse it now."""
    seen: dict[tuple[str, str], str] = {}
    for target, names in sorted(aliases.items()):
        file = target.partition(".")[0]
        for name in names:
            said = (file, spelled(name))  # without a prefix, spelled is the normal form
            other = seen.setdefault(said, target)
            if other != target:
                raise TerminalError(
                    f"alias {name!r} is given to both {other} and {target}; a header can mean"
                    " one column only: remove one with --clear-aliases and set the others again"
                )


def _check_positional(spec: Spec, file: str, columns: Sequence[str]) -> None:
    file_spec = _file_of(spec, file)
    known = header_names(file_spec)
    listed = [c for c in columns if c.strip() not in ("", SKIP)]
    unknown = [c for c in listed if normalise_header(c) not in known]
    if unknown:
        raise TerminalError(
            f"headerless {file}: {', '.join(unknown)} name no column of {file}"
            f" ({', '.join(file_spec.column_names)}; '{SKIP}' skips a column)"
        )
    named = [known[normalise_header(c)] for c in listed]
    twice = sorted({n for n in named if named.count(n) > 1})
    missing = [c.name for c in file_spec.columns if c.required and c.name not in named]
    if twice or missing:
        problem = f"names {', '.join(twice)} twice" if twice else f"lacks {', '.join(missing)}"
        raise TerminalError(f"headerless {file}: the column list {problem}")


def parse_alias(text: str) -> tuple[str, str]:
    """``users.district_user_id=Student_Number`` -> (``users.district_user_id``, name)."""
    target, sep, name = text.partition("=")
    if not sep or target.count(".") != 1 or not name.strip():
        raise TerminalError(f"alias {text!r}: expected FILE.COLUMN=HEADER")
    return target.strip(), name.strip()


def parse_headerless(text: str) -> tuple[str, tuple[str, ...]]:
    """``users=district_user_id,first_name,-,role`` -> (``users``, the columns)."""
    file, sep, listed = text.partition("=")
    columns = tuple(c.strip() for c in listed.split(","))
    if not sep or not file.strip() or not any(columns):
        raise TerminalError(f"headerless {text!r}: expected FILE=COLUMN,COLUMN,...")
    return file.strip(), columns
