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
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from roster_pipeline.specs import Spec

__all__ = ["ReceivedFile", "Unpacked", "ZipLimits", "unpack"]


@dataclass(frozen=True)
class ZipLimits:
    max_unpacked_bytes: int = 2 * 1024**3
    max_compression_ratio: float = 200.0
    max_members: int = 1000


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


def unpack(sources: Sequence[Path], spec: Spec, workdir: Path, limits: ZipLimits) -> Unpacked:
    raise NotImplementedError
