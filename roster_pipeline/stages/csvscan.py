"""The CSV byte scanner: record boundaries and physical line numbers, vectorised.

polars reads CSV fast but reports no line numbers, miscounts lines when a quoted
field holds a newline, and pads or fails on ragged rows. So the boundaries are
computed here, on an LF-only UTF-8 buffer, with numpy: a newline ends a record
iff an even number of quote characters precedes it (a doubled quote ``""``
keeps the parity), and a delimiter separates fields iff the same holds for it.
Only positions of newlines and quotes are materialised, so memory stays
proportional to the structure of the file, not to its size. Per-record questions
(how many fields, any content) are asked of the records as Arrow strings laid
over the buffer, which costs no copy; the few records a quick test cannot settle
get the exact byte-by-byte test, on a buffer holding just them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

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
_WIDE_BY_LEAD = {
    bytes([lead]): tuple(w.tobytes() for w in _WIDE if w[0] == lead) for lead in _WIDE_LEADS
}
_ASCII_SPACES = (b" ", b"\t", b"\r", b"\x0b", b"\x0c")  # and LF, which ends records


def _none_of(chars: str) -> str:
    """A regex class (RE2, as pyarrow's) matching one character not in ``chars``."""
    return "[^" + "".join(f"\\x{{{ord(c):X}}}" for c in chars) + "]"


#: A character that is content wherever it stands is none of these: whitespace, the
#: quote and the candidate delimiters (a delimiter is content inside quotes only).
_NOT_PLAIN = ' \t\n\r\x0b\x0c"' + "".join(DELIMITERS) + WIDE_SPACES
_PLAIN = _none_of(_NOT_PLAIN)
_PLAIN_BYTE = np.array([b < 0x80 and chr(b) not in _NOT_PLAIN for b in range(256)])


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
    newlines: Ints  # positions of every newline, inside quotes or not

    @cached_property
    def _array(self) -> npt.NDArray[np.uint8]:
        return np.frombuffer(self.buf, dtype=np.uint8)

    def __len__(self) -> int:
        return len(self.starts)

    @cached_property
    def first_lines(self) -> Ints:
        """Physical line where each record starts (1 + newlines before it)."""
        if self._one_line_each:
            return np.arange(1, len(self) + 1, dtype=np.int64)
        return 1 + np.searchsorted(self.newlines, self.starts).astype(np.int64)

    @cached_property
    def last_lines(self) -> Ints:
        """Physical line where each record ends (differs for quoted newlines)."""
        if self._one_line_each:
            return self.first_lines
        return 1 + np.searchsorted(self.newlines, self.ends).astype(np.int64)

    @cached_property
    def _one_line_each(self) -> bool:
        """No newline inside quotes: every newline ends a record."""
        unterminated = len(self) > 0 and int(self.ends[-1]) == len(self.buf)
        return len(self.newlines) == len(self) - unterminated

    @cached_property
    def _arrow(self) -> pa.LargeStringArray:
        """Each record's text, its newline included, laid over the buffer (no copy)."""
        offsets = np.append(self.starts, len(self.buf))
        buffers = [None, pa.py_buffer(offsets), pa.py_buffer(self.buf)]
        array: pa.LargeStringArray = pa.Array.from_buffers(pa.large_string(), len(self), buffers)
        return array

    @cached_property
    def _plain(self) -> Bools:
        """Per record: holds a character that is content wherever it stands.

        Most records show one in their first two bytes (the second: after an
        opening quote); only the others are searched through.
        """
        second = np.minimum(self.starts + 1, self.ends)  # no further than the record's end
        plain: Bools = _PLAIN_BYTE[self._array[self.starts]]
        plain |= _PLAIN_BYTE[self._array.take(second, mode="clip")]  # clip: unterminated last
        others = np.flatnonzero(~plain)
        if len(others):
            found = pc.match_substring_regex(self._take(others), _PLAIN)
            plain[others] = found.to_numpy(zero_copy_only=False)
        return plain

    def first_with_content(self) -> int | None:
        """The first record holding anything but whitespace and quotes (a file's header)."""
        plain = self._plain
        first = int(np.argmax(plain)) if plain.any() else len(self)
        before = np.flatnonzero(self._exact_content(np.arange(first), ""))
        if len(before):
            return int(before[0])
        return first if first < len(self) else None

    def has_content(self, delimiter: str = "") -> Bools:
        """Per record: holds something besides whitespace, quotes and field separators.

        Such records are blank lines, or rows a spreadsheet left as ``,,,``. Most
        records show a plain character; only the others take the exact test.
        """
        content = self._plain.copy()
        unsure = np.flatnonzero(~content)
        content[unsure] = self._exact_content(unsure, delimiter)
        return content

    def _exact_content(self, indices: Ints, delimiter: str) -> Bools:
        """``has_content`` of some records, byte by byte, on a buffer holding only them.

        Each record but the file's last ends outside quotes, so that buffer scans
        into the same records, and the quote parity of every byte is unchanged.
        """
        if not len(indices):
            return np.zeros(0, dtype=np.bool_)
        return scan(self._gather(indices))._content_bytewise(delimiter)

    def _content_bytewise(self, delimiter: str) -> Bools:
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

    def _separators(self, delimiter: str) -> Ints:
        """Positions of the delimiter outside quotes (an even number of quotes before)."""
        positions: Ints = np.flatnonzero(self._array == ord(delimiter))
        outside: Bools = (np.searchsorted(self.quotes, positions) & 1) == 0
        return positions[outside]

    def field_counts(self, delimiter: str) -> Ints:
        """Per record: 1 + delimiters outside quotes."""
        if len(self.quotes):  # quote parity decides which delimiters separate fields
            owners = np.searchsorted(self.starts, self._separators(delimiter), side="right") - 1
            return 1 + np.bincount(owners, minlength=len(self)).astype(np.int64)
        counts: Ints = pc.count_substring(self._arrow, delimiter).to_numpy()
        return 1 + counts

    def has_spaces(self) -> bool:
        """Whether any field might hold whitespace: any besides the newlines ending records."""
        if not self._one_line_each or any(space in self.buf for space in _ASCII_SPACES):
            return True
        if self.buf.isascii():
            return False
        return any(
            wide in self.buf
            for lead, wides in _WIDE_BY_LEAD.items()
            if lead in self.buf
            for wide in wides
        )

    def text(self, index: int) -> str:
        return self.buf[self.starts[index] : self.ends[index]].decode("utf-8", "replace")

    def offset_after(self, index: int) -> int:
        """Byte offset just past record ``index`` and its newline."""
        return min(int(self.ends[index]) + 1, len(self.buf))

    def select(self, keep: Bools) -> bytes:
        """The kept records, each ending in LF, as one buffer for polars."""
        first = int(np.argmax(keep)) if keep.any() else len(self)
        if keep[first:].all():  # the usual case: everything after the header
            kept = self.buf[self.starts[first] :] if first < len(self) else b""
        else:
            kept = self._gather(np.flatnonzero(keep))
        return kept if not kept or kept.endswith(b"\n") else kept + b"\n"

    def _gather(self, indices: Ints) -> bytes:
        """Some records, newlines included, one after the other."""
        taken = self._take(indices)
        _, offsets, data = taken.buffers()  # a new array: its text starts at offset 0
        size = int(np.frombuffer(offsets, dtype=np.int64)[len(taken)])
        kept: bytes = data[:size].to_pybytes()
        return kept

    def _take(self, indices: Ints) -> pa.LargeStringArray:
        taken: pa.LargeStringArray = self._arrow.take(pa.array(indices, type=pa.int64()))
        return taken

    def excerpts(self, indices: Ints, width: int = 200) -> pl.Series:
        """The raw text of some records (for reject reports), cut to ``width`` characters."""
        taken = pl.Series("value", self._take(indices))
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
    quotes = np.flatnonzero(array == _QUOTE) if b'"' in buf else np.zeros(0, dtype=np.int64)
    newlines = np.flatnonzero(array == _LF)
    # A newline ends a record iff an even number of quotes precede it.
    ends = newlines[(np.searchsorted(quotes, newlines) & 1) == 0] if len(quotes) else newlines
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
        buf=buf,
        starts=starts.astype(np.int64, copy=False),
        ends=ends.astype(np.int64, copy=False),
        quotes=quotes,
        newlines=newlines,
    )
