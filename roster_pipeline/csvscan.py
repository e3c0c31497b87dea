"""The CSV byte scanner: record boundaries and physical line numbers, vectorised.

polars reads CSV fast but reports no line numbers, miscounts lines when a quoted
field holds a newline, and pads or fails on ragged rows. So the boundaries are
computed here, on an LF-only UTF-8 buffer, with numpy: a newline ends a record
iff an even number of quote characters precedes it (a doubled quote ``""``
keeps the parity), and a delimiter separates fields iff the same holds for it.
Only positions of newlines, quotes and delimiters are materialised, so memory
stays proportional to the structure of the file, not to its size.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa

__all__ = [
    "DELIMITERS",
    "WIDE_SPACES",
    "Ints",
    "Records",
    "detect_delimiter",
    "line_of_offset",
    "normalise_newlines",
    "scan",
]

DELIMITERS = (",", "\t", "|", ";")

Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

_QUOTE, _LF = ord('"'), ord("\n")
_NOT_CONTENT = np.frombuffer(b' \t\n\r\x0b\x0c"', dtype=np.uint8)
_QUOTED = re.compile(r'"[^"]*"')
#: Unicode whitespace beyond ASCII (what str.strip and polars' strip_chars remove),
#: e.g. the no-break space spreadsheets leave in emptied cells: no content either.
WIDE_SPACES = (
    "\x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000"
)
_WIDE = tuple(np.frombuffer(c.encode(), dtype=np.uint8) for c in WIDE_SPACES)
_WIDE_LEADS = np.unique([w[0] for w in _WIDE])


def normalise_newlines(data: bytes) -> bytes:
    """CRLF and old-Mac CR-only endings become LF; each still counts as one line."""
    if b"\r" not in data:
        return data
    return data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")


def line_of_offset(data: bytes, offset: int) -> int:
    """The physical line (1-based) of byte ``offset`` in a buffer with any line endings."""
    head = data[:offset]
    return 1 + head.count(b"\n") + head.count(b"\r") - head.count(b"\r\n")


def detect_delimiter(header: str) -> str:
    """The most frequent candidate outside quotes; ties go to the earlier one, none to ','."""
    bare = _QUOTED.sub("", header)
    counts = [(bare.count(d), -i, d) for i, d in enumerate(DELIMITERS)]
    best = max(counts)
    return best[2] if best[0] else ","


@dataclass(frozen=True)
class Records:
    """The records of an LF-only buffer: byte spans and physical lines."""

    buf: bytes
    starts: Ints  # first byte of each record
    ends: Ints  # its terminating newline, or len(buf) for an unterminated last record
    quotes: Ints  # positions of every quote character

    @cached_property
    def _array(self) -> npt.NDArray[np.uint8]:
        return np.frombuffer(self.buf, dtype=np.uint8)

    @cached_property
    def _newlines(self) -> Ints:
        return np.flatnonzero(self._array == _LF)

    def __len__(self) -> int:
        return len(self.starts)

    @cached_property
    def first_lines(self) -> Ints:
        """Physical line where each record starts (1 + newlines before it)."""
        return 1 + np.searchsorted(self._newlines, self.starts).astype(np.int64)

    @cached_property
    def last_lines(self) -> Ints:
        """Physical line where each record ends (differs for quoted newlines)."""
        return 1 + np.searchsorted(self._newlines, self.ends).astype(np.int64)

    def has_content(self, delimiter: str = "") -> Bools:
        """Per record: holds something besides whitespace, quotes and field separators.

        Such records are blank lines, or rows a spreadsheet left as ``,,,``.
        """
        if not len(self):
            return np.zeros(0, dtype=np.bool_)
        content = ~np.isin(self._array, _NOT_CONTENT)
        _clear_wide_spaces(self._array, content)
        # A doubled quote inside a quoted field is a literal '"': it is content.
        inside = np.arange(1, len(self.quotes) - 1, 2)
        doubled = inside[self.quotes[inside + 1] == self.quotes[inside] + 1]
        content[self.quotes[doubled]] = True
        if delimiter:
            content[self._separators(delimiter)] = False
        # Each segment runs to the next record's start, newline included (never empty).
        return np.logical_or.reduceat(content, self.starts)

    def field_counts(self, delimiter: str) -> Ints:
        """Per record: 1 + delimiters outside quotes."""
        owner = np.searchsorted(self.starts, self._separators(delimiter), side="right") - 1
        return 1 + np.bincount(owner, minlength=len(self)).astype(np.int64)

    def _separators(self, delimiter: str) -> Ints:
        """Positions of the delimiter outside quotes (an even number of quotes before)."""
        positions: Ints = np.flatnonzero(self._array == ord(delimiter))
        outside: Bools = (np.searchsorted(self.quotes, positions) & 1) == 0
        return positions[outside]

    def text(self, index: int) -> str:
        return self.buf[self.starts[index] : self.ends[index]].decode("utf-8", "replace")

    def offset_after(self, index: int) -> int:
        """Byte offset just past record ``index`` and its newline."""
        return min(int(self.ends[index]) + 1, len(self.buf))

    def select(self, keep: Bools) -> bytes:
        """The kept records, each ending in LF, as one buffer for polars."""
        first = int(np.argmax(keep)) if keep.any() else len(self)
        if keep[first:].all():  # the usual case: everything after the header
            tail = self.buf[self.starts[first] :] if first < len(self) else b""
            return tail if not tail or tail.endswith(b"\n") else tail + b"\n"
        lengths = np.diff(np.append(self.starts, len(self.buf)))
        kept = self._array[np.repeat(keep, lengths)].tobytes()
        return kept if not kept or kept.endswith(b"\n") else kept + b"\n"

    def excerpts(self, indices: Ints, width: int = 200) -> pl.Series:
        """The raw text of some records (for reject reports), cut to ``width`` characters."""
        offsets = np.append(self.starts, len(self.buf)).astype(np.int64)
        array = pa.Array.from_buffers(
            pa.large_string(), len(self), [None, pa.py_buffer(offsets), pa.py_buffer(self.buf)]
        )
        taken = pl.Series("value", array.take(pa.array(indices, type=pa.int64())))
        return taken.str.strip_chars_end("\n").str.slice(0, width)


def _clear_wide_spaces(data: npt.NDArray[np.uint8], content: Bools) -> None:
    """Mark the bytes of multi-byte Unicode spaces as no content (in place).

    Only positions holding one of their few lead bytes are examined, so an
    ASCII or accented-Latin file costs one pass.
    """
    leads = np.flatnonzero(np.isin(data, _WIDE_LEADS))
    for wide in _WIDE:
        found = leads[(data[leads] == wide[0]) & (leads + len(wide) <= len(data))]
        for k in range(1, len(wide)):
            found = found[data[found + k] == wide[k]]
        for k in range(len(wide)):
            content[found + k] = False


def scan(buf: bytes) -> Records:
    """Find the records of an LF-only UTF-8 buffer (blank ones included)."""
    array = np.frombuffer(buf, dtype=np.uint8)
    quotes = np.flatnonzero(array == _QUOTE)
    newlines = np.flatnonzero(array == _LF)
    ends = newlines[(np.searchsorted(quotes, newlines) & 1) == 0]
    starts = np.concatenate([np.zeros(1, dtype=np.int64), ends + 1])
    if len(ends) and starts[-1] < len(buf):
        ends = np.append(ends, len(buf))
    elif len(ends):
        starts = starts[:-1]
    elif buf:
        ends = np.array([len(buf)], dtype=np.int64)
    else:
        starts = np.zeros(0, dtype=np.int64)
    return Records(
        buf=buf, starts=starts.astype(np.int64), ends=ends.astype(np.int64), quotes=quotes
    )
