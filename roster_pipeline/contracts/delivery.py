"""Delivery: how a contract's batches say what they are, read from a spec's YAML.

A OneRoster batch carries a manifest (the format version, and per file its mode:
bulk, delta or absent) and marks rows for deletion (``status`` ``tobedeleted``);
a 1.2 users file takes its role from roles.csv (a lookup). ``specs._Reader``
calls these readers for the spec keys ``manifest``, ``delta``, ``mode`` and
``lookup``; they name the key of every error like the reader does.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Protocol

from roster_pipeline.contracts.feeds import LeaveOut
from roster_pipeline.contracts.spec_model import FileSpec, Lookup, ManifestSpec
from roster_pipeline.errors import SpecError

MODES = ("bulk", "delta")
_MANIFEST_KEYS = {"file", "version", "version_property", "mode_prefix", "known"}
_DELTA_KEYS = {"column", "values", "blank_in_bulk"}
_LOOKUP_KEYS = {"file", "by", "columns", "prefer", "match"}


class Reader(Protocol):
    """What these readers use of ``specs._Reader``."""

    def fail(self, where: str, problem: str) -> SpecError: ...
    def mapping(self, value: Any, where: str, allowed: set[str]) -> dict[str, Any]: ...
    def strings(self, value: Any, where: str) -> tuple[str, ...]: ...
    def value_map(self, raw: Any, where: str) -> dict[str, str]: ...


@dataclass(frozen=True)
class Delta:
    """The spec's ``delta`` rule: how rows are marked for deletion, and which columns a
    bulk file leaves blank."""

    tombstone: LeaveOut
    blank_in_bulk: tuple[str, ...] = ()

    def marking(self, f: FileSpec) -> FileSpec:
        """``f`` with the rule, when it has the marking column."""
        if self.tombstone.column not in f.column_names:
            return f
        blank = tuple(c for c in self.blank_in_bulk if c in f.column_names)
        return replace(f, tombstone=self.tombstone, blank_in_bulk=blank)


def read_mode(reader: Reader, raw: Any, where: str) -> str:
    if raw not in MODES:
        raise reader.fail(where, f"expected one of {', '.join(MODES)}")
    return str(raw)


def read_manifest(reader: Reader, raw: Any, files: set[str]) -> ManifestSpec | None:
    if raw is None:
        return None
    data = reader.mapping(raw, "manifest", _MANIFEST_KEYS)
    if data.get("file") not in files or not data.get("version"):
        raise reader.fail("manifest", "name the spec 'file' holding it and its 'version'")
    return ManifestSpec(
        file=str(data["file"]),
        version=str(data["version"]),
        version_property=str(data.get("version_property", "oneroster.version")),
        mode_prefix=str(data.get("mode_prefix", "file.")),
        known=reader.strings(data.get("known", []), "manifest.known"),
    )


def read_delta(reader: Reader, raw: Any) -> Delta | None:
    if raw is None:
        return None
    data = reader.mapping(raw, "delta", _DELTA_KEYS)
    if not data.get("column") or not data.get("values"):
        raise reader.fail("delta", "give the 'column' and the 'values' marking a deletion")
    values = reader.strings(data["values"], "delta.values")
    return Delta(
        LeaveOut(str(data["column"]), "marked for deletion", values=values),
        reader.strings(data.get("blank_in_bulk", []), "delta.blank_in_bulk"),
    )


def read_lookup(reader: Reader, raw: Any, where: str, columns: set[str]) -> Lookup | None:
    if raw is None:
        return None
    data = reader.mapping(raw, where, _LOOKUP_KEYS)
    taken = reader.value_map(data.get("columns"), f"{where}.columns")
    if not data.get("file") or not data.get("by") or not taken:
        raise reader.fail(
            where,
            "give the 'file', its column naming this file's key ('by') and the 'columns'",
        )
    unknown = sorted(set(taken) - columns)
    if unknown:
        raise reader.fail(f"{where}.columns", f"{unknown[0]!r} is not a column of the file")
    return Lookup(
        file=str(data["file"]),
        on=str(data["by"]),
        columns=taken,
        prefer=reader.value_map(data.get("prefer"), f"{where}.prefer"),
        match=reader.value_map(data.get("match"), f"{where}.match"),
    )
