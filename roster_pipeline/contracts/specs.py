"""File specs: ``specs/*.yaml`` read into the dataclasses of ``spec_model``.

A spec is the contract with districts. This module is the only reader of spec
files; the validator, the onboarding guide and ``roster spec show`` work from the
dataclasses. The vocabulary is closed and checked here, before any file is read:
an unknown key, a column that does not exist, a reference to nothing or two files
filling one table with different keys is a SpecError naming the file and the key.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

# The model is re-exported (``as`` marks it so for mypy): modules take specs from here.
from roster_pipeline.contracts import delivery
from roster_pipeline.contracts.feeds import Feed as Feed  # noqa: PLC0414
from roster_pipeline.contracts.feeds import LeaveOut as LeaveOut  # noqa: PLC0414
from roster_pipeline.contracts.spec_model import FORMATS as FORMATS  # noqa: PLC0414
from roster_pipeline.contracts.spec_model import ColumnSpec as ColumnSpec  # noqa: PLC0414
from roster_pipeline.contracts.spec_model import FileSpec as FileSpec  # noqa: PLC0414
from roster_pipeline.contracts.spec_model import Lookup as Lookup  # noqa: PLC0414
from roster_pipeline.contracts.spec_model import ManifestSpec as ManifestSpec  # noqa: PLC0414
from roster_pipeline.contracts.spec_model import Reference as Reference  # noqa: PLC0414
from roster_pipeline.contracts.spec_model import Spec as Spec  # noqa: PLC0414
from roster_pipeline.errors import SpecError

DEFAULT_SPEC = "roster-csv"


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
    return _read(path)


_SPEC_KEYS = {"name", "title", "description", "encoding", "files", "manifest", "delta"}
_FILE_KEYS = {
    "description", "match", "required", "key", "table", "columns", "load", "load_where",
    "ordered", "fixed", "leave_out", "also", "defer", "ignore_columns", "sis_table", "mode",
    "lookup", "secret_columns",
}  # fmt: skip
_COLUMN_KEYS = {
    "required", "format", "pattern", "max_length", "values", "references", "where",
    "aliases", "description", "unique", "to", "load", "load_as", "loaded_as", "separator",
    "sis_field", "same", "first_of",
}  # fmt: skip

_LEAVE_OUT_KEYS = {"column", "values", "other_than", "matching", "reason"}
_FEED_KEYS = {"table", "key", "columns", "fixed", "where"}


def _read(path: Path) -> Spec:
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
        if isinstance(value, str | int):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
            raise self.fail(where, "expected a list of strings")
        return tuple(str(v) for v in value)

    def value_map(self, raw: Any, where: str) -> dict[str, str]:
        found = self.mapping(raw or {}, where, set(raw or {}))
        return {str(k): str(v) for k, v in found.items()}

    def pattern(self, raw: Any, where: str) -> str:
        try:
            re.compile(str(raw))
        except re.error as exc:
            raise self.fail(where, f"not a valid regular expression: {exc}") from None
        return str(raw)

    def spec(self, raw: Any) -> Spec:
        data = self.mapping(raw, "top level", _SPEC_KEYS)
        for required in ("name", "files"):
            if required not in data:
                raise self.fail("top level", f"missing key {required!r}")
        files_raw = self.mapping(data["files"], "files", set(data["files"] or {}))
        files = tuple(self.file(name, body) for name, body in files_raw.items())
        delta = delivery.read_delta(self, data.get("delta"))
        if delta is not None:
            files = tuple(delta.marking(f) for f in files)
        spec = Spec(
            name=str(data["name"]),
            title=str(data.get("title", data["name"])),
            files=files,
            encoding=str(data.get("encoding", "utf-8")),
            description=str(data.get("description", "")).strip(),
            source=self.path,
            manifest=delivery.read_manifest(self, data.get("manifest"), {f.name for f in files}),
            delta=delta is not None,
        )
        if any(f.mode == "delta" for f in files) and not spec.delta:
            raise self.fail("files", "a file in delta mode needs the spec's 'delta' rule")
        self.check_references(spec)
        self.check_lookups(spec)
        self.check_tables(spec)
        spec.load_order()
        return spec

    def file(self, name: str, raw: Any) -> FileSpec:
        where = f"files.{name}"
        data = self.mapping(raw, where, _FILE_KEYS)
        cols_raw = self.mapping(
            data.get("columns"), f"{where}.columns", set(data.get("columns") or {})
        )
        fixed = self.value_map(data.get("fixed"), f"{where}.fixed")
        columns = tuple(
            self.column(f"{where}.columns.{c}", c, body, fixed) for c, body in cols_raw.items()
        )
        key = self.strings(data.get("key", []), f"{where}.key")
        missing = [k for k in key if k not in cols_raw]
        if not key or missing:
            raise self.fail(f"{where}.key", f"must list columns of the file (unknown: {missing})")
        if any(not c.load for c in columns if c.name in key):
            raise self.fail(f"{where}.key", "key columns must be loaded")
        return FileSpec(
            name=name,
            match=self.strings(data.get("match", [f"{name}*.csv"]), f"{where}.match"),
            columns=columns,
            key=key,
            required=bool(data.get("required", True)),
            table=str(data.get("table", name)),
            description=str(data.get("description", "")).strip(),
            load=bool(data.get("load", True)),
            load_where=self.where(data.get("load_where"), f"{where}.load_where", set(cols_raw)),
            ordered=bool(data.get("ordered", False)),
            fixed=fixed,
            leave_out=self.leave_out(data.get("leave_out"), f"{where}.leave_out", set(cols_raw)),
            also=self.also(data.get("also"), f"{where}.also", set(cols_raw)),
            defer=bool(data.get("defer", False)),
            ignore_columns=self.strings(data.get("ignore_columns", []), f"{where}.ignore_columns"),
            sis_table=str(data.get("sis_table", "")),
            mode=delivery.read_mode(self, data.get("mode", "bulk"), f"{where}.mode"),
            lookup=delivery.read_lookup(self, data.get("lookup"), f"{where}.lookup", set(cols_raw)),
            secret_columns=self.strings(data.get("secret_columns", []), f"{where}.secret_columns"),
        )

    def where(self, raw: Any, where: str, columns: set[str]) -> dict[str, tuple[str, ...]]:
        found = self.mapping(raw or {}, where, columns)
        return {k: self.strings(v, f"{where}.{k}") for k, v in found.items()}

    def leave_out(self, raw: Any, where: str, columns: set[str]) -> tuple[LeaveOut, ...]:
        if raw is None:
            return ()
        if not isinstance(raw, list):
            raise self.fail(where, "expected a list of rules")
        return tuple(self.rule(r, f"{where}[{i}]", columns) for i, r in enumerate(raw))

    def rule(self, raw: Any, where: str, columns: set[str]) -> LeaveOut:
        data = self.mapping(raw, where, _LEAVE_OUT_KEYS)
        column = str(data.get("column", ""))
        if column not in columns:
            raise self.fail(f"{where}.column", f"{column!r} is not a column of the file")
        given = [k for k in ("values", "other_than", "matching") if k in data]
        if len(given) != 1 or not data.get("reason"):
            raise self.fail(
                where, "give a reason and exactly one of values, other_than or matching"
            )
        return LeaveOut(
            column=column,
            reason=str(data["reason"]).strip(),
            values=self.strings(data.get("values", data.get("other_than", [])), where),
            pattern=self.pattern(data["matching"], where) if "matching" in data else None,
            negate="other_than" in data,
        )

    def also(self, raw: Any, where: str, columns: set[str]) -> tuple[Feed, ...]:
        if raw is None:
            return ()
        if not isinstance(raw, list):
            raise self.fail(where, "expected a list of feeds")
        return tuple(self.feed(r, f"{where}[{i}]", columns) for i, r in enumerate(raw))

    def feed(self, raw: Any, where: str, columns: set[str]) -> Feed:
        data = self.mapping(raw, where, _FEED_KEYS)
        sources_raw = self.mapping(data.get("columns"), f"{where}.columns", set(data["columns"]))
        sources = {t: self.strings(s, f"{where}.columns.{t}") for t, s in sources_raw.items()}
        unknown = sorted({s for group in sources.values() for s in group} - columns)
        if unknown:
            raise self.fail(f"{where}.columns", f"{unknown[0]!r} is not a column of the file")
        if sum(len(s) > 1 for s in sources.values()) > 1:
            raise self.fail(f"{where}.columns", "only one table column may list several")
        fixed = self.value_map(data.get("fixed"), f"{where}.fixed")
        key = self.strings(data.get("key", []), f"{where}.key")
        if not key or any(k not in sources and k not in fixed for k in key):
            raise self.fail(f"{where}.key", "must list table columns the feed fills")
        return Feed(
            table=str(data.get("table", "")),
            key=key,
            columns=sources,
            fixed=fixed,
            where=self.where(data.get("where"), f"{where}.where", columns),
        )

    def column(self, where: str, name: str, raw: Any, fixed: dict[str, str]) -> ColumnSpec:
        data = self.mapping(raw or {}, where, _COLUMN_KEYS)
        fmt = data.get("format")
        if fmt is not None and fmt not in FORMATS:
            raise self.fail(
                f"{where}.format", f"unknown format {fmt!r} (known: {', '.join(FORMATS)})"
            )
        values = self.strings(data.get("values", []), f"{where}.values")
        target = str(data.get("to", "")) or name
        if target in fixed and bool(data.get("load", True)):
            # The file fixes this table column: a cell may only repeat the fixed value.
            if values and [v.lower() for v in values] != [fixed[target].lower()]:
                raise self.fail(f"{where}.values", f"the file fixes {target} to {fixed[target]}")
            values = (fixed[target],)
        return ColumnSpec(
            name=name,
            required=bool(data.get("required", False)),
            format=fmt,
            pattern=self.pattern(data["pattern"], f"{where}.pattern")
            if data.get("pattern") is not None
            else None,
            max_length=int(data["max_length"]) if data.get("max_length") is not None else None,
            values=values,
            references=self.reference(where, data),
            aliases=self.strings(data.get("aliases", []), f"{where}.aliases"),
            description=str(data.get("description", "")).strip(),
            unique=bool(data.get("unique", False)),
            to=str(data.get("to", "")),
            load=bool(data.get("load", True)),
            load_as=self.value_map(data.get("load_as"), f"{where}.load_as"),
            loaded_as=self.loaded_as(where, data),
            separator=str(data.get("separator", "")),
            sis_field=str(data.get("sis_field", "")),
            first_of=str(data.get("first_of", "")),
        )

    def loaded_as(self, where: str, data: dict[str, Any]) -> str:
        value = data.get("loaded_as")
        if value is None:
            return ""
        target = str(data.get("references", ""))
        file, _, column = str(value).partition(".")
        if not target or target.partition(".")[0] != file or not column:
            raise self.fail(f"{where}.loaded_as", "expected 'file.column' of the referenced file")
        return column

    def reference(self, where: str, data: dict[str, Any]) -> Reference | None:
        target = data.get("references")
        if target is None:
            for alone in ("where", "same"):
                if alone in data:
                    raise self.fail(f"{where}.{alone}", "only allowed with 'references'")
            return None
        if not isinstance(target, str) or target.count(".") != 1:
            raise self.fail(f"{where}.references", "expected 'file.column'")
        file, column = target.split(".")
        cond = self.mapping(data.get("where", {}), f"{where}.where", set(data.get("where") or {}))
        same = self.value_map(data.get("same"), f"{where}.same")
        return Reference(
            file=file, column=column, where={k: str(v) for k, v in cond.items()}, same=same
        )

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
                theirs = (*ref.where, *ref.same, c.loaded_as)
                bad = [k for k in theirs if k and k not in target.column_names]
                bad += [k for k in ref.same.values() if k not in f.column_names]
                if bad:
                    raise self.fail(where, f"'where' or 'loaded_as' names no column {bad[0]!r}")
            for c in f.columns:
                if c.first_of and (c.references is None or c.first_of not in f.column_names):
                    raise self.fail(
                        f"files.{f.name}.columns.{c.name}.first_of",
                        "name a column of the file, with the 'references' its items must meet",
                    )

    def check_lookups(self, spec: Spec) -> None:
        """A lookup names a file of the spec and columns of it."""
        names = {f.name: f for f in spec.files}
        for f in spec.files:
            lk = f.lookup
            if lk is None:
                continue
            other = names.get(lk.file)
            wanted = [lk.on, *lk.columns.values(), *lk.prefer, *lk.match]
            if other is None or any(c not in other.column_names for c in wanted):
                raise self.fail(f"files.{f.name}.lookup", f"names no file or column of {lk.file}")
            if any(c not in f.column_names for c in lk.match.values()):
                raise self.fail(f"files.{f.name}.lookup.match", "names no column of the file")

    def check_tables(self, spec: Spec) -> None:
        """Every feed of one table agrees on its key; ``defer`` needs another feeder."""
        keys: dict[str, tuple[str, tuple[str, ...]]] = {}
        for f in spec.files:
            for feed in f.feeds:
                first = keys.setdefault(feed.table, (f.name, feed.key))
                if first[1] != feed.key:
                    raise self.fail(
                        f"files.{f.name}",
                        f"fills {feed.table} keyed by {', '.join(feed.key)}, but"
                        f" {first[0]} keys it by {', '.join(first[1])}",
                    )
            if f.defer and len(spec.feeders(f.table)) < 2:
                raise self.fail(f"files.{f.name}.defer", f"no other file fills {f.table}")
