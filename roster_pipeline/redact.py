"""Redact: secret columns are blanked before received files are archived.

OneRoster 1.2's userProfiles.csv carries per-application passwords in clear. The
contract never loads them, and the raw archive (kept for reprocessing and
reports) must not hold them either: every file the spec marks with
``secret_columns`` has those cells emptied, loose or inside a zip, before the
archive keeps it. The rest of the file is kept byte for byte where it can be;
a redacted file is rewritten as CSV in the same line endings.
"""

from __future__ import annotations

import contextlib
import csv
import io
import shutil
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from roster_pipeline.contracts.specs import Spec


def redact(paths: Sequence[Path], spec: Spec) -> list[str]:
    """Blank the spec's secret columns in ``paths`` (folders walked, zips rewritten),
    in place; returns the names of the files redacted."""
    if not any(f.secret_columns for f in spec.files):
        return []
    done: list[str] = []
    for path in _walk(paths):
        if path.suffix.lower() == ".zip":
            done += _redact_zip(path, spec)
            continue
        columns = _secret(spec, path.name)
        if columns:
            path.write_bytes(blanked(path.read_bytes(), columns))
            done.append(path.name)
    return done


def _walk(paths: Sequence[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and not p.is_symlink())
        elif path.is_file():
            yield path


def _secret(spec: Spec, name: str) -> tuple[str, ...]:
    found = spec.match(name)
    return found.secret_columns if found else ()


def blanked(data: bytes, columns: Sequence[str]) -> bytes:
    """``data`` (CSV) with the cells of ``columns`` (by header name, any case) emptied.

    Undecodable bytes survive the round trip (surrogate escapes); a file without
    those columns comes back unchanged.
    """
    bom = data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig" if bom else "utf-8", errors="surrogateescape")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    wanted = {c.lower() for c in columns}
    hits = [i for i, name in enumerate(rows[0] if rows else []) if name.strip().lower() in wanted]
    if not hits:
        return data
    for row in rows[1:]:
        for i in hits:
            if i < len(row):
                row[i] = ""
    out = io.StringIO(newline="")
    ending = "\r\n" if "\r\n" in text else "\n"
    csv.writer(out, lineterminator=ending).writerows(rows)
    prefix = b"\xef\xbb\xbf" if bom else b""
    return prefix + out.getvalue().encode("utf-8", errors="surrogateescape")


def _redact_zip(path: Path, spec: Spec) -> list[str]:
    """Rewrite the zip with its secret members blanked; members are streamed, not held."""
    try:
        with zipfile.ZipFile(path) as zin:
            secret = [i for i in zin.infolist() if _secret(spec, i.filename)]
            if not secret:
                return []
            temporary = path.with_name(path.name + ".redacting")
            with zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as zout:
                for info in zin.infolist():
                    columns = _secret(spec, info.filename)
                    if columns:
                        zout.writestr(info, blanked(zin.read(info), columns))
                        continue
                    with zin.open(info) as source, zout.open(info, "w") as target:
                        shutil.copyfileobj(source, target)
    except (zipfile.BadZipFile, OSError, RuntimeError, ValueError):
        # A damaged zip is rejected by unpack and kept as sent: it loaded nothing.
        with contextlib.suppress(FileNotFoundError):
            path.with_name(path.name + ".redacting").unlink()
        return []
    shutil.copymode(path, temporary)  # as private as the file it replaces
    temporary.replace(path)
    return [f"{path.name}/{i.filename}" for i in secret]
