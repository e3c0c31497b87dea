"""File specs: ``specs/*.yaml`` read into frozen dataclasses.

A spec is the contract with districts. This module is the only reader of spec
files; the validator, the onboarding guide and ``roster spec show`` work from the
dataclasses here. The vocabulary is closed: an unknown key is a SpecError naming
the file and the key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

from roster_pipeline.errors import SpecError

DEFAULT_SPEC = "roster-csv"

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

_SPEC_KEYS = {"name", "title", "description", "encoding", "files"}
_FILE_KEYS = {
    "description", "match", "required", "key", "table", "columns", "load", "load_where",
    "ordered",
}  # fmt: skip
_COLUMN_KEYS = {
    "required", "format", "pattern", "max_length", "values",
    "references", "where", "aliases", "description", "unique", "to", "load", "load_as",
}  # fmt: skip


@dataclass(frozen=True)
class Reference:
    """``column`` must name a row of ``file`` whose ``column`` equals it (and ``where``)."""

    file: str
    column: str
    where: Mapping[str, str] = field(default_factory=dict)


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

    @property
    def loaded_columns(self) -> tuple[ColumnSpec, ...]:
        """The columns that reach the table, key first; none when the file is not loaded."""
        if not self.load:
            return ()
        key = tuple(self.column(k) for k in self.key)
        return (*key, *(c for c in self.columns if c.load and c.name not in self.key))

    @property
    def target_key(self) -> tuple[str, ...]:
        return tuple(self.column(k).target for k in self.key)

    def matches(self, filename: str) -> bool:
        """Case-insensitive glob match on the base name."""
        base = filename.replace("\\", "/").rsplit("/", 1)[-1].lower()
        return any(fnmatch(base, pattern.lower()) for pattern in self.match)

    def column(self, name: str) -> ColumnSpec:
        return next(c for c in self.columns if c.name == name)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


@dataclass(frozen=True)
class Spec:
    name: str
    title: str
    files: tuple[FileSpec, ...]
    encoding: str = "utf-8"
    description: str = ""
    source: Path | None = None

    def file(self, name: str) -> FileSpec:
        for f in self.files:
            if f.name == name:
                return f
        raise KeyError(name)

    def match(self, filename: str) -> FileSpec | None:
        """The file spec a received file name belongs to, or None."""
        return next((f for f in self.files if f.matches(filename)), None)

    def load_order(self) -> tuple[FileSpec, ...]:
        """Files ordered so that every referenced file comes before its referrers."""
        done: list[FileSpec] = []
        pending = list(self.files)
        while pending:
            ready = [f for f in pending if all(d in {x.name for x in done} for d in _deps(f))]
            if not ready:
                raise SpecError(f"{self.source}: references between files form a cycle")
            done += ready
            pending = [f for f in pending if f not in ready]
        return tuple(done)


def _deps(f: FileSpec) -> set[str]:
    return {c.references.file for c in f.columns if c.references and c.references.file != f.name}


def specs_dir() -> Path:
    """Where the shipped specs live: the source tree's ``specs/`` or the wheel's copy."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package.parent / "specs", package / "_specs"):
        if candidate.is_dir():
            return candidate
    raise SpecError("no specs folder found next to the roster_pipeline package")


def available_specs(directory: Path | None = None) -> list[str]:
    return sorted(p.stem for p in (directory or specs_dir()).glob("*.yaml"))


def load_spec(name: str = DEFAULT_SPEC, directory: Path | None = None) -> Spec:
    """Read ``<directory>/<name>.yaml`` (or a path to a YAML file) into a Spec."""
    path = (
        Path(name)
        if name.endswith((".yaml", ".yml"))
        else (directory or specs_dir()) / f"{name}.yaml"
    )
    if not path.is_file():
        known = ", ".join(available_specs(directory)) or "none"
        raise SpecError(f"unknown spec {name!r} (known: {known})")
    import yaml  # here: the CLI imports this module for its names, `--help` needs no parser

    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise SpecError(f"{path}: not valid YAML: {exc}") from None
    return _Reader(path).spec(raw)


class _Reader:
    """Turns parsed YAML into dataclasses, naming the file and key on every error."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, where: str, problem: str) -> SpecError:
        return SpecError(f"{self.path.name}: {where}: {problem}")

    def mapping(self, value: Any, where: str, allowed: set[str]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, "expected a mapping")
        unknown = sorted(set(value) - allowed)
        if unknown:
            raise self.fail(
                where, f"unknown key {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})"
            )
        return value

    def strings(self, value: Any, where: str) -> tuple[str, ...]:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
            raise self.fail(where, "expected a list of strings")
        return tuple(str(v) for v in value)

    def spec(self, raw: Any) -> Spec:
        data = self.mapping(raw, "top level", _SPEC_KEYS)
        for required in ("name", "files"):
            if required not in data:
                raise self.fail("top level", f"missing key {required!r}")
        files_raw = self.mapping(data["files"], "files", set(data["files"] or {}))
        files = tuple(self.file(name, body) for name, body in files_raw.items())
        spec = Spec(
            name=str(data["name"]),
            title=str(data.get("title", data["name"])),
            files=files,
            encoding=str(data.get("encoding", "utf-8")),
            description=str(data.get("description", "")).strip(),
            source=self.path,
        )
        self.check_references(spec)
        spec.load_order()
        return spec

    def file(self, name: str, raw: Any) -> FileSpec:
        where = f"files.{name}"
        data = self.mapping(raw, where, _FILE_KEYS)
        cols_raw = self.mapping(
            data.get("columns"), f"{where}.columns", set(data.get("columns") or {})
        )
        columns = tuple(
            self.column(f"{where}.columns.{c}", c, body) for c, body in cols_raw.items()
        )
        key = self.strings(data.get("key", []), f"{where}.key")
        missing = [k for k in key if k not in cols_raw]
        if not key or missing:
            raise self.fail(f"{where}.key", f"must list columns of the file (unknown: {missing})")
        if any(not c.load for c in columns if c.name in key):
            raise self.fail(f"{where}.key", "key columns must be loaded")
        load_where = self.mapping(data.get("load_where", {}), f"{where}.load_where", set(cols_raw))
        return FileSpec(
            name=name,
            match=self.strings(data.get("match", [f"{name}*.csv"]), f"{where}.match"),
            columns=columns,
            key=key,
            required=bool(data.get("required", True)),
            table=str(data.get("table", name)),
            description=str(data.get("description", "")).strip(),
            load=bool(data.get("load", True)),
            load_where={
                k: self.strings(v, f"{where}.load_where.{k}") for k, v in load_where.items()
            },
            ordered=bool(data.get("ordered", False)),
        )

    def column(self, where: str, name: str, raw: Any) -> ColumnSpec:
        data = self.mapping(raw or {}, where, _COLUMN_KEYS)
        fmt = data.get("format")
        if fmt is not None and fmt not in FORMATS:
            raise self.fail(
                f"{where}.format", f"unknown format {fmt!r} (known: {', '.join(FORMATS)})"
            )
        if data.get("pattern") is not None:
            try:
                re.compile(str(data["pattern"]))
            except re.error as exc:
                raise self.fail(
                    f"{where}.pattern", f"not a valid regular expression: {exc}"
                ) from None
        return ColumnSpec(
            name=name,
            required=bool(data.get("required", False)),
            format=fmt,
            pattern=data.get("pattern"),
            max_length=int(data["max_length"]) if data.get("max_length") is not None else None,
            values=self.strings(data.get("values", []), f"{where}.values"),
            references=self.reference(where, data),
            aliases=self.strings(data.get("aliases", []), f"{where}.aliases"),
            description=str(data.get("description", "")).strip(),
            unique=bool(data.get("unique", False)),
            to=str(data.get("to", "")),
            load=bool(data.get("load", True)),
            load_as=self.value_map(data.get("load_as", {}), f"{where}.load_as"),
        )

    def value_map(self, raw: Any, where: str) -> dict[str, str]:
        found = self.mapping(raw, where, set(raw or {}))
        return {str(k): str(v) for k, v in found.items()}

    def reference(self, where: str, data: dict[str, Any]) -> Reference | None:
        target = data.get("references")
        if target is None:
            if "where" in data:
                raise self.fail(f"{where}.where", "only allowed with 'references'")
            return None
        if not isinstance(target, str) or target.count(".") != 1:
            raise self.fail(f"{where}.references", "expected 'file.column'")
        file, column = target.split(".")
        cond = self.mapping(data.get("where", {}), f"{where}.where", set(data.get("where") or {}))
        return Reference(file=file, column=column, where={k: str(v) for k, v in cond.items()})

    def check_references(self, spec: Spec) -> None:
        names = {f.name: f for f in spec.files}
        for f in spec.files:
            for c in f.columns:
                ref = c.references
                if ref is None:
                    continue
                target = names.get(ref.file)
                where = f"files.{f.name}.columns.{c.name}.references"
                if target is None or ref.column not in target.column_names:
                    raise self.fail(where, f"{ref.file}.{ref.column} is not a column of the spec")
                bad = [k for k in ref.where if k not in target.column_names]
                if bad:
                    raise self.fail(where, f"'where' names unknown column {bad[0]!r}")
