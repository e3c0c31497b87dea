"""Unpack: turn what arrived (zips, CSV files, a folder) into the batch's files.

Contract (stage 1 of pipeline.py):

``unpack(sources, spec, workdir, limits) -> Unpacked``

- ``sources``: paths; each a zip, a CSV/TXT file, or a folder (its files, one level).
- Zips are extracted into ``workdir`` safely: members escaping the folder (``../``,
  absolute paths, drive letters, symlinks) reject the batch (``unsafe_zip``) and
  nothing is written outside ``workdir``; uncompressed size, ratio and member count
  are enforced *while* extracting (``zip_limit``); a corrupt or truncated zip is
  ``bad_zip``. ``__MACOSX/``, dot-files and ``desktop.ini`` are ignored (listed).
  Files at the top or inside one folder level of the zip are considered.
- Every file is matched to a spec file by ``Spec.match`` (case-insensitive glob on
  the base name). Two files matching the same spec file: ``ambiguous_file``.
- Never raises for anything inside the sources; problems are rejects.

A zip is recognised by its magic bytes, whatever its name. Loose files stay where
they are (``ReceivedFile.path`` is the source); zip members are written under
``workdir/<n>-<zip stem>/``. A zip that fails is removed from ``workdir`` whole,
so a rejected batch leaves no half-extracted files behind.
"""

from __future__ import annotations

import hashlib
import lzma
import re
import shutil
import stat
import struct
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import polars as pl

from roster_pipeline.config import ZipLimits
from roster_pipeline.contracts import rejects
from roster_pipeline.contracts.rejects import Code
from roster_pipeline.contracts.specs import Spec
from roster_pipeline.errors import InputError

_CHUNK = 1024 * 1024
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_NOISE = {"desktop.ini", "thumbs.db", "__macosx"}
_DRIVE = re.compile(r"^[A-Za-z]:")
# What reading a damaged or unsupported zip raises. OSError is among them (bz2
# reports bad data so, a corrupt offset fails a seek), which is why this is
# caught only around reading the archive, never around writing the copies.
_DAMAGED = (
    zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, OSError, struct.error,
    zlib.error, lzma.LZMAError, NotImplementedError, RuntimeError,
)  # fmt: skip
_REJECTED = rejects.BATCH_REJECTED


@dataclass(frozen=True)
class ReceivedFile:
    name: str  # as sent: the base name, or "folder/name" inside a zip
    path: Path  # where its bytes are now
    file_spec: str | None  # the spec file it matched, None when none
    size: int
    sha256: str


@dataclass(frozen=True)
class Unpacked:
    files: tuple[ReceivedFile, ...]
    ignored: tuple[str, ...]
    rejects: pl.DataFrame

    @property
    def matched(self) -> tuple[ReceivedFile, ...]:
        return tuple(f for f in self.files if f.file_spec)

    @property
    def unmatched(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.files if not f.file_spec)


class _ZipProblem(Exception):
    """Ends the extraction of one zip; carries the reject for it."""

    def __init__(self, code: Code, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def is_zip(path: Path) -> bool:
    """True when the file starts with a zip signature (the name does not matter)."""
    with path.open("rb") as handle:
        return handle.read(4) in _ZIP_MAGIC


def unpack(sources: Sequence[Path], spec: Spec, workdir: Path, limits: ZipLimits) -> Unpacked:
    workdir.mkdir(parents=True, exist_ok=True)
    batch = _Batch(spec, workdir, limits)
    for source in sources:
        if source.is_dir():
            batch.add_folder(source)
        elif source.is_file():
            batch.add_file(source)
        else:
            raise InputError(f"{source}: no such file or folder to unpack")
    return batch.result()


def _is_noise(part: str) -> bool:
    return part.startswith(".") or part.lower() in _NOISE


def hash_file(path: Path) -> tuple[int, str]:
    """A file's size and sha256 (hex), read once."""
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _member_parts(info: zipfile.ZipInfo) -> tuple[str, ...]:
    """The member's path parts; _ZipProblem when it could land outside the folder."""
    name = info.filename
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise _ZipProblem(Code.UNSAFE_ZIP, f"member {name} is a symbolic link")
    unified = name.replace("\\", "/")
    parts = tuple(p for p in PurePosixPath(unified).parts if p not in ("", "."))
    if unified.startswith("/") or _DRIVE.match(unified) or ".." in parts or "\x00" in name:
        raise _ZipProblem(Code.UNSAFE_ZIP, f"member {name} points outside the zip's folder")
    return parts


class _Batch:
    """Collects the files of one batch, the names ignored and the rejects."""

    def __init__(self, spec: Spec, workdir: Path, limits: ZipLimits) -> None:
        self.spec, self.workdir, self.limits = spec, workdir, limits
        self.files: list[ReceivedFile] = []
        self.ignored: list[str] = []
        self.problems: list[pl.DataFrame] = []
        self.zips = 0
        self.unpacked = 0  # bytes written from zips so far, counted as they stream

    def add_folder(self, folder: Path) -> None:
        for path in sorted(folder.iterdir()):
            if _is_noise(path.name) or path.is_symlink() or not path.is_file():
                self.ignored.append(path.name + ("/" if path.is_dir() else ""))
            else:
                self.add_file(path)

    def add_file(self, path: Path) -> None:
        if is_zip(path):
            self.add_zip(path)
        elif path.suffix.lower() == ".zip":
            msg = f"{path.name} is named .zip but is not a zip file"
            self.reject(path.name, Code.BAD_ZIP, msg)
        else:
            size, digest = hash_file(path)
            self.keep(path.name, path, size, digest)

    def keep(self, name: str, path: Path, size: int, digest: str) -> None:
        matched = self.spec.match(name)
        file_spec = matched.name if matched else None
        self.files.append(ReceivedFile(name, path, file_spec, size, digest))

    def reject(self, name: str, code: Code, problem: str) -> None:
        then = f"{_REJECTED}; re-send the zip." if code is Code.BAD_ZIP else f"{_REJECTED}."
        msg = f"{problem}. {then}"
        self.problems.append(rejects.one(name, code, msg))

    def add_zip(self, path: Path) -> None:
        self.zips += 1
        root = self.workdir / f"{self.zips}-{path.stem}"
        shutil.rmtree(root, ignore_errors=True)  # a rerun after a restart starts clean
        extracted: list[tuple[str, Path, int, str]] = []
        try:
            with _damaged("the zip"):
                archive = zipfile.ZipFile(path)
            with archive:
                with _damaged("the zip"):
                    members = self.plan(path.name, archive)
                extracted = [self.extract(archive, info, parts, root) for info, parts in members]
        except _ZipProblem as problem:
            shutil.rmtree(root, ignore_errors=True)
            self.reject(path.name, problem.code, f"{path.name}: {problem.message}")
            return
        for name, target, size, digest in extracted:
            self.keep(name, target, size, digest)

    def plan(
        self, zip_name: str, archive: zipfile.ZipFile
    ) -> list[tuple[zipfile.ZipInfo, tuple[str, ...]]]:
        """Check every member before writing any; return those to extract."""
        infos = archive.infolist()
        if len(infos) > self.limits.max_members:
            raise _ZipProblem(
                Code.ZIP_LIMIT,
                f"holds {len(infos)} members, more than the limit of {self.limits.max_members}",
            )
        wanted: list[tuple[zipfile.ZipInfo, tuple[str, ...]]] = []
        seen: set[str] = set()
        for info in infos:
            parts = _member_parts(info)
            if info.flag_bits & 0x1:
                raise _ZipProblem(Code.BAD_ZIP, f"member {info.filename} is encrypted")
            if info.is_dir() or not parts or any(_is_noise(p) for p in parts) or len(parts) > 2:
                self.ignored.append(f"{zip_name}:{info.filename}")
                continue
            key = "/".join(parts).lower()
            if key in seen:
                raise _ZipProblem(Code.AMBIGUOUS_FILE, f"member {info.filename} appears twice")
            seen.add(key)
            wanted.append((info, parts))
        return wanted

    def extract(
        self, archive: zipfile.ZipFile, info: zipfile.ZipInfo, parts: tuple[str, ...], root: Path
    ) -> tuple[str, Path, int, str]:
        """Stream one member to disk, counting real bytes against the limits."""
        target = root.joinpath(*parts)
        if not target.resolve().is_relative_to(self.workdir.resolve()):
            raise _ZipProblem(Code.UNSAFE_ZIP, f"member {info.filename} points outside the folder")
        target.parent.mkdir(parents=True, exist_ok=True)
        digest, size = hashlib.sha256(), 0
        with target.open("wb") as sink:
            for chunk in _member_chunks(archive, info):
                size += len(chunk)
                self.unpacked += len(chunk)
                self.check_limits(info, size)
                digest.update(chunk)
                sink.write(chunk)
        return "/".join(parts), target, size, digest.hexdigest()

    def check_limits(self, info: zipfile.ZipInfo, size: int) -> None:
        limits = self.limits
        if self.unpacked > limits.max_unpacked_bytes:
            raise _ZipProblem(
                Code.ZIP_LIMIT,
                f"unpacks to more than {limits.max_unpacked_bytes} bytes (at member "
                f"{info.filename})",
            )
        ratio = size / max(info.compress_size, 1)
        if size > limits.ratio_floor_bytes and ratio > limits.max_compression_ratio:
            raise _ZipProblem(
                Code.ZIP_LIMIT,
                f"member {info.filename} expands more than {limits.max_compression_ratio:g} "
                "times (a zip bomb?)",
            )

    def result(self) -> Unpacked:
        self.problems += self.ambiguous()
        return Unpacked(tuple(self.files), tuple(self.ignored), rejects.concat(self.problems))

    def ambiguous(self) -> list[pl.DataFrame]:
        by_spec: dict[str, list[str]] = {}
        for f in self.files:
            if f.file_spec:
                by_spec.setdefault(f.file_spec, []).append(f.name)
        return [
            rejects.one(
                names[1],
                Code.AMBIGUOUS_FILE,
                f"{' and '.join(names)} each match the {spec_file} file; send only one. "
                f"{_REJECTED}.",
            )
            for spec_file, names in by_spec.items()
            if len(names) > 1
        ]


def _member_chunks(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Iterator[bytes]:
    with _damaged(f"member {info.filename}"), archive.open(info) as source:
        while chunk := source.read(_CHUNK):
            yield chunk


@contextmanager
def _damaged(what: str) -> Iterator[None]:
    """Turn what zipfile and the decompressors raise on damaged input into a bad_zip."""
    try:
        yield
    except _DAMAGED as exc:
        raise _ZipProblem(Code.BAD_ZIP, f"{what} is damaged or truncated ({exc})") from None
