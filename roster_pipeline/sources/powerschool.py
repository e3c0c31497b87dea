"""The PowerSchool API as a roster source: each query, counted then paged, becomes one
roster-csv file, so a pull is judged by the same contract as an upload.

PowerSchool's answers are not what its documentation models, and every shape
seen in the wild is accepted: a list wrapped twice (``schools.school``), one
record sent as an object instead of a list, empty sub-objects sent as ``""``,
IDs as numbers or text (all become text), counts as ``count`` or
``resource.count``, records flattened or under ``tables.<table>``.
"""

from __future__ import annotations

import csv
import math
import re
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from roster_pipeline.errors import SourceError
from roster_pipeline.sources.client import PowerSchoolClient
from roster_pipeline.sources.queries import QUERIES, Query

#: PowerQuery pages when the metadata names no maximum: what practitioners observed.
DEFAULT_PAGE_SIZE = 100

_BREAKS = re.compile(r"[\r\n]+")


@dataclass(frozen=True)
class Check:
    """One line of `roster district test`: ok or one clear reason."""

    name: str
    ok: bool
    detail: str


@dataclass
class Fetched:
    """What a pull fetched: rows per file, and what it cost."""

    rows: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    retries: int = 0
    seconds: float = 0.0
    metadata: dict[str, Any] = field(default_factory=dict)


def as_list(value: object) -> list[Any]:
    """PowerSchool's collections: a list, one record as an object, or ``""``/null for none."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return [value]
    return []


def unwrap(data: object, outer: str, inner: str) -> list[Any]:
    """``{"schools": {"school": [...]}}`` (or a lone object, or ``""``) -> the records."""
    wrapper = data.get(outer) if isinstance(data, Mapping) else None
    return as_list(wrapper.get(inner) if isinstance(wrapper, Mapping) else None)


def count_of(data: object) -> int:
    """``{"count": n}`` as documented, or ``{"resource": {"count": n}}`` as served."""
    if isinstance(data, Mapping):
        found = data.get("count")
        if found is None and isinstance(data.get("resource"), Mapping):
            found = data["resource"].get("count")
        try:
            return int(str(found))
        except ValueError:
            pass
    raise SourceError(f"a count answer has no count: {str(data)[:120]!r}", "bad_response")


def text(value: object) -> str:
    """A field as text: IDs drift between numbers and strings; empty objects are ``""``."""
    if value is None or isinstance(value, dict | list):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    # One record, one line: line N of a pulled file is record N-1 of its query, which
    # is how the rejects of a pulled batch name it. A line break inside a name is a
    # typing slip in the SIS, never meaning; it becomes a space.
    return _BREAKS.sub(" ", str(value)).strip()


def grade(value: str) -> str:
    """PowerSchool's grade levels: 0 is kindergarten, below it pre-kindergarten."""
    try:
        number = int(value)
    except ValueError:
        return value
    return "K" if number == 0 else "PK" if number < 0 else value


def flat(record: object, query: Query) -> list[str]:
    """One record as the file's row: flattened, or under ``tables.<table>.<field>``."""
    if not isinstance(record, Mapping):
        return [""] * len(query.columns)
    tables = _mapping(record.get("tables"))
    row = []
    for name, source in query.columns:
        table, column = source.lower().split(".")
        nested = _mapping(tables.get(table))
        for found in (record.get(name), record.get(source.lower()), nested.get(column)):
            if found is not None:
                row.append(text(found))
                break
        else:
            row.append("")
    if query.file == "students":
        position = [n for n, _ in query.columns].index("grade_level")
        row[position] = grade(row[position])
    return row


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


class PowerSchoolSource:
    """Pulls the roster through the plugin's PowerQueries."""

    def __init__(self, client: PowerSchoolClient, connections: int = 5) -> None:
        self.client = client
        self.connections = max(1, connections)

    def metadata(self) -> dict[str, Any]:
        data = self.client.get("/ws/v1/metadata")
        inner = data.get("metadata") if isinstance(data, Mapping) else None
        return dict(inner if isinstance(inner, Mapping) else data or {})

    @staticmethod
    def page_size(metadata: Mapping[str, Any]) -> int:
        try:
            return max(1, int(str(metadata.get("schema_table_query_max_page_size"))))
        except ValueError:
            return DEFAULT_PAGE_SIZE

    def count(self, query: Query) -> int:
        return count_of(self.client.post(f"/ws/schema/query/{query.name}/count"))

    def page(self, query: Query, number: int, size: int) -> list[list[str]]:
        data = self.client.post(
            f"/ws/schema/query/{query.name}", params={"page": number, "pagesize": size}
        )
        records = as_list(data.get("record")) if isinstance(data, Mapping) else []
        return [flat(r, query) for r in records]

    def rows(self, query: Query, size: int) -> Iterator[list[str]]:
        """Every record of the query, page by page, at most ``connections`` in flight and
        a few pages ahead (memory stays flat); fails when the query's count changed under
        us (never a partial table). A failed page cancels the pages not yet sent."""
        expected = self.count(query)
        numbers = iter(range(1, math.ceil(expected / size) + 1))
        pool = ThreadPoolExecutor(self.connections, thread_name_prefix="pull")
        got = 0
        try:
            ahead = deque(pool.submit(self.page, query, n, size)
                          for n in islice(numbers, 2 * self.connections))  # fmt: skip
            while ahead:
                records = ahead.popleft().result()
                for n in islice(numbers, 1):
                    ahead.append(pool.submit(self.page, query, n, size))
                got += len(records)
                yield from records
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        if got != expected:
            raise SourceError(
                f"query {query.name} counted {expected:,} records but its pages held {got:,}:"
                " the roster changed in PowerSchool during the pull; the next pull reads it"
                " again",
                "source_changed_during_pull",
            )

    def fetch(self, folder: Path, queries: Sequence[Query] = QUERIES) -> Fetched:
        """Write each query's records as ``<file>.csv`` in ``folder`` (the contract's files)."""
        started = time.monotonic()
        fetched = Fetched(metadata=self.metadata())
        size = self.page_size(fetched.metadata)
        for query in queries:
            path = folder / f"{query.file}.csv"
            with path.open("w", encoding="utf-8", newline="") as out:
                writer = csv.writer(out, lineterminator="\n")
                writer.writerow([name for name, _ in query.columns])
                n = 0
                for n, row in enumerate(self.rows(query, size), start=1):  # noqa: B007
                    writer.writerow(row)
            fetched.rows[query.file] = n
        fetched.requests = self.client.stats["requests"]
        fetched.retries = self.client.stats["retries"]
        fetched.seconds = time.monotonic() - started
        return fetched

    def test(self) -> list[Check]:
        """Token, metadata, then each query's count: what works, or why not."""
        checks = []
        try:
            self.client.token()
            checks.append(Check("token", True, "the client ID and secret were accepted"))
            meta = self.metadata()
        except SourceError as exc:
            return [*checks, Check("token" if not checks else "metadata", False, str(exc))]
        checks.append(Check("metadata", True, _describe(meta)))
        for query in QUERIES:
            try:
                n = self.count(query)
            except SourceError as exc:
                detail = str(exc)
                if exc.code == "access_denied":
                    detail += ". The query reads: " + ", ".join(query.fields)
                checks.append(Check(query.file, False, detail))
            else:
                checks.append(Check(query.file, True, f"{n:,} record(s) ({query.name})"))
        return checks


def _describe(meta: Mapping[str, Any]) -> str:
    keys = ("plugin_id", "powerschool_version", "district_timezone")
    said = [f"{k} {meta[k]}" for k in keys if meta.get(k) not in (None, "")]
    said.append(f"page size {PowerSchoolSource.page_size(meta)}")
    return ", ".join(said)
