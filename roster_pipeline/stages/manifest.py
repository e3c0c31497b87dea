"""Manifest: what a OneRoster batch says about itself decides how it is read.

OneRoster zips carry ``manifest.csv`` (``propertyName,value``): the format version
(``oneroster.version``) and, per file, ``file.<name>`` = ``bulk``, ``delta`` or
``absent``. ``decide`` reads it before any other file and returns the batch's
spec: absent and delta files are not required, delta files are applied as
changes. A batch of another version or another contract is rejected
(``wrong_contract``) with a message naming the contract to use; a manifest that
cannot be read is ``bad_manifest``, naming its line. A contract without a
manifest is unchanged, unless the batch holds a OneRoster manifest.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import polars as pl

from roster_pipeline.contracts import rejects
from roster_pipeline.contracts.rejects import Code
from roster_pipeline.contracts.specs import (
    FileSpec,
    ManifestSpec,
    Spec,
    available_specs,
    load_spec,
)
from roster_pipeline.stages.unpack import ReceivedFile

_MANIFEST = "manifest.csv"
_MODES = ("bulk", "delta", "absent")
_HEADER = ["propertyname", "value"]
_MAX_BYTES = 1024 * 1024  # a manifest is a few hundred bytes; more is not one


@dataclass(frozen=True)
class Decision:
    """The spec tonight's files are read with, and what the manifest made of them."""

    spec: Spec
    rejects: pl.DataFrame = field(default_factory=rejects.empty)
    warnings: tuple[str, ...] = ()
    ignored: tuple[str, ...] = ()  # received files the manifest marks absent: not read
    mode: str = "bulk"  # "delta" when any file is applied as changes


@dataclass(frozen=True)
class _Read:
    name: str
    properties: Mapping[str, tuple[str, int]]  # property -> (value, line)


def decide(files: Sequence[ReceivedFile], spec: Spec) -> Decision:
    """Read the batch's manifest (if its contract has one, or if it sent one)."""
    found = _manifest_file(files, spec)
    m = spec.manifest
    if m is None:
        return _foreign(found, spec) if found is not None else Decision(spec)
    if found is None:
        if not any(f.file_spec for f in files):
            return Decision(spec)  # nothing of the contract: missing_file says so
        return _reject(spec, _MANIFEST, Code.WRONG_CONTRACT, _no_manifest(spec))
    read = _read(found)
    if isinstance(read, pl.DataFrame):
        return Decision(spec, rejects=read)
    version, line = read.properties.get(m.version_property, ("", None))
    if version != m.version:
        return _reject(spec, found.name, Code.WRONG_CONTRACT, _wrong(found.name, version, spec),
                       line)  # fmt: skip
    return _apply(read, m, spec, files)


def _apply(read: _Read, m: ManifestSpec, spec: Spec, files: Sequence[ReceivedFile]) -> Decision:
    modes: dict[str, str] = {}
    notes: list[str] = []
    names = {f.name for f in spec.files}
    for prop, (value, line) in read.properties.items():
        if prop.startswith(m.mode_prefix):
            if prop not in m.known and prop.removeprefix(m.mode_prefix) not in names:
                notes.append(f"{read.name} line {line}: unknown file '{prop}' (ignored)")
                continue
            mode = value.strip().lower()
            if mode not in _MODES:
                problem = f"{prop} is '{value}'; a file's mode is bulk, delta or absent"
                return _reject(spec, read.name, Code.BAD_MANIFEST, _bad(read.name, line, problem),
                               line)  # fmt: skip
            modes[prop.removeprefix(m.mode_prefix)] = mode
        elif prop != m.version_property and prop not in m.known:
            notes.append(f"{read.name} line {line}: unknown property '{prop}' (ignored)")
    if not spec.delta and "delta" in modes.values():
        problem = f"a file is marked delta, but the `{spec.name}` contract reads bulk files only"
        return _reject(spec, read.name, Code.BAD_MANIFEST, _bad(read.name, None, problem))
    sent = {f.file_spec for f in files if f.file_spec}
    out = [f.name for f in files if f.file_spec and modes.get(f.file_spec) == "absent"]
    notes += [f"{read.name} marks {n}'s file absent, but {n} was sent: it was not read"
              for n in dict.fromkeys(f.file_spec for f in files if f.name in out)]  # fmt: skip
    absent = [f.name for f in spec.files if modes.get(f.name) == "absent" and f.name != m.file]
    if absent:
        notes.append(
            f"{read.name} marks {', '.join(absent)} absent: not sent, not required, and"
            " nothing loaded from them changes"
        )
    delta = [n for n, mode in modes.items() if mode == "delta" and n in sent]
    if delta:
        notes.append(
            f"{read.name} marks {', '.join(delta)} delta: their rows are applied as changes"
            " (listed rows added or updated, rows marked for deletion deleted, others kept)"
        )
    files_now = tuple(_moded(f, modes.get(f.name, "bulk")) for f in spec.files)
    return Decision(
        replace(spec, files=files_now), warnings=tuple(notes), ignored=tuple(out),
        mode="delta" if delta else "bulk",
    )  # fmt: skip


def _moded(f: FileSpec, mode: str) -> FileSpec:
    if mode == "bulk":
        return f
    return replace(f, required=False, mode="delta" if mode == "delta" else f.mode)


def _manifest_file(files: Sequence[ReceivedFile], spec: Spec) -> ReceivedFile | None:
    if spec.manifest is not None:
        return next((f for f in files if f.file_spec == spec.manifest.file), None)
    base = [f for f in files if f.name.replace("\\", "/").rsplit("/", 1)[-1].lower() == _MANIFEST]
    return base[0] if base else None


def _read(f: ReceivedFile) -> _Read | pl.DataFrame:
    """The manifest's properties, or a ``bad_manifest`` reject naming the line."""
    raw = f.path.read_bytes()[:_MAX_BYTES]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return _bad_frame(f.name, None, "it is not UTF-8 text")
    rows = list(csv.reader(io.StringIO(text)))
    header = [c.strip() for c in rows[0]] if rows else []
    if [c.lower() for c in header] != _HEADER:
        return _bad_frame(f.name, 1, "the header must be propertyName,value")
    properties: dict[str, tuple[str, int]] = {}
    for line, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        if len(row) != len(_HEADER) or not row[0].strip():
            found = f"expected propertyName,value, found {len(row)} field(s)"
            return _bad_frame(f.name, line, found)
        name = row[0].strip()
        if name in properties:
            return _bad_frame(f.name, line, f"{name} is given twice (first on line "
                              f"{properties[name][1]})")  # fmt: skip
        properties[name] = (row[1].strip(), line)
    return _Read(f.name, properties)


def _foreign(found: ReceivedFile, spec: Spec) -> Decision:
    """A OneRoster manifest sent to a contract without one: the wrong contract."""
    read = _read(found)
    if isinstance(read, pl.DataFrame) or "oneroster.version" not in read.properties:
        return Decision(spec)  # some other manifest: an unmatched file like any other
    version, line = read.properties["oneroster.version"]
    return _reject(spec, found.name, Code.WRONG_CONTRACT, _wrong(found.name, version, spec), line)


def contracts_by_version() -> dict[str, str]:
    """OneRoster version -> the shipped contract reading it."""
    found: dict[str, str] = {}
    for name in available_specs():
        m = load_spec(name).manifest
        if m is not None:
            found.setdefault(m.version, name)
    return found


def _versions() -> str:
    return " or ".join(sorted(contracts_by_version())) or "a supported"


def _wrong(name: str, version: str, spec: Spec) -> str:
    said = f"OneRoster {version}" if version else "OneRoster without oneroster.version"
    head = f"{name}: this is a {said} set, but the district's contract is `{spec.name}`"
    contract = contracts_by_version().get(version)
    if contract is None:
        return (
            f"{head}, and no contract reads {said}; ask the district for a OneRoster"
            f" {_versions()} export. {rejects.BATCH_REJECTED}."
        )
    return (
        f"{head}; if the district sends {said}, move it to `{contract}` (`roster spec show"
        f" {contract}`). {rejects.BATCH_REJECTED}."
    )


def _no_manifest(spec: Spec) -> str:
    return (
        f"{_MANIFEST}: no manifest was sent. The `{spec.name}` contract reads OneRoster sets"
        " whose manifest.csv names the version and each file's mode; a set without one is"
        f" OneRoster 1.0, which no contract reads: ask the district for a OneRoster"
        f" {_versions()} export. {rejects.BATCH_REJECTED}."
    )


def _bad(name: str, line: int | None, problem: str) -> str:
    where = f"{name} line {line}" if line else name
    return f"{where}: the manifest cannot be read: {problem}. {rejects.BATCH_REJECTED}."


def _bad_frame(name: str, line: int | None, problem: str) -> pl.DataFrame:
    return rejects.one(name, Code.BAD_MANIFEST, _bad(name, line, problem), line=line)


def _reject(spec: Spec, name: str, code: Code, message: str, line: int | None = None) -> Decision:
    return Decision(spec, rejects=rejects.one(name, code, message, line=line))
