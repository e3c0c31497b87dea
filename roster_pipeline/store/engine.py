"""Engine: one ADBC connection, its dialect, explicit transactions and Arrow in/out.

The connection runs in autocommit mode and transactions are opened with an
explicit ``BEGIN``: ADBC's bulk ingest then takes part in the transaction on
both engines (COPY on PostgreSQL), and SQLite pragmas that refuse to run inside
a transaction (journal_mode) can run at connect time.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

import polars as pl
import pyarrow as pa

from roster_pipeline.errors import DatabaseUnavailableError
from roster_pipeline.store.dialect import DEFAULT_CONNECT_TIMEOUT, SqlDialect, dialect_for, mask_url

# The SQLite driver infers each result column's type from the first batch of
# rows; a text column that is null in its first 1024 rows would then fail to
# read. One batch as large as the driver allows makes inference see everything.
_SQLITE_BATCH_ROWS = str(2**30)
_SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA busy_timeout=30000",
    "PRAGMA foreign_keys=ON",
)


class Engine:
    """A connection to one database with the dialect that speaks to it."""

    def __init__(self, url: str, connect_timeout: float = DEFAULT_CONNECT_TIMEOUT) -> None:
        self.url = url
        self.dialect: SqlDialect = dialect_for(url)
        self._conn = self.dialect.connect(url, connect_timeout)
        self._cursor = self._new_cursor()
        if self.dialect.name == "sqlite":
            self._set_pragmas()

    def _set_pragmas(self) -> None:
        """The connection's first statements: a file that is no database fails here."""
        import adbc_driver_manager

        try:
            for pragma in _SQLITE_PRAGMAS:
                self._run(pragma)
        except adbc_driver_manager.Error as exc:
            self.close()
            raise DatabaseUnavailableError(
                f"database {self.display_url} cannot be opened: {str(exc).splitlines()[0]};"
                " restore the file from a backup, or point --db / ROSTER_DATABASE_URL at"
                " another database"
            ) from None

    def _new_cursor(self) -> Any:
        cursor = self._conn.cursor()
        if self.dialect.name == "sqlite":
            cursor.adbc_statement.set_options(
                **{"adbc.sqlite.query.batch_rows": _SQLITE_BATCH_ROWS}
            )
        return cursor

    @property
    def display_url(self) -> str:
        return mask_url(self.url)

    def close(self) -> None:
        self._cursor.close()
        self._conn.close()

    # statements
    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._run(self.dialect.sql(sql), params)

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.driver_errors():
            self._execute(self.dialect.sql(sql), params)
            return list(self._cursor.fetchall())

    def arrow(self, sql: str, params: Sequence[Any] = ()) -> pa.Table:
        with self.driver_errors():
            self._execute(self.dialect.sql(sql), params)
            return self._cursor.fetch_arrow_table()

    def frame(self, sql: str, params: Sequence[Any] = ()) -> pl.DataFrame:
        table = pl.from_arrow(self.arrow(sql, params))
        assert isinstance(table, pl.DataFrame)
        return table

    def ingest(
        self,
        table: str,
        frame: pl.DataFrame,
        *,
        temporary: bool = False,
        constants: Sequence[pl.Expr] = (),
    ) -> None:
        """Bulk-append ``frame`` to ``table`` (``temporary``: the session's temporary table
        of that name), with ``constants`` (literal columns: the district, the batch
        number) added as it goes."""
        slices = _Slices(frame, constants)
        with self.driver_errors(slices):
            if frame.height:
                self._cursor.adbc_ingest(table, slices.reader(), mode="append", temporary=temporary)

    # transactions
    @contextmanager
    def transaction(self, begin: str = "BEGIN") -> Iterator[None]:
        """One transaction: committed when the block ends, rolled back on any error.

        ``begin`` opens it (``BEGIN IMMEDIATE``: SQLite takes the write lock first)."""
        self._run(begin)
        try:
            yield
        except BaseException:
            # The first error is the one worth reporting; a failed rollback on a
            # dead connection would only hide it (the server rolls back anyway).
            with suppress(DatabaseUnavailableError):
                self._run("ROLLBACK")
            raise
        self._run("COMMIT")

    @contextmanager
    def planner_off(self, methods: Sequence[str]) -> Iterator[None]:
        """The block's statements planned without ``methods``, inside the caller's
        transaction (an error rolls it back, and the settings with it)."""
        for method in methods:
            self._run(f"SET LOCAL {method} = off")
        yield
        for method in methods:
            self._run(f"SET LOCAL {method} = DEFAULT")

    def _run(self, sql: str, params: Sequence[Any] = ()) -> None:
        with self.driver_errors():
            self._execute(sql, params)

    def _execute(self, sql: str, params: Sequence[Any]) -> None:
        if params:
            self._cursor.execute(sql, list(params))
        else:
            self._cursor.execute(sql)

    @contextmanager
    def driver_errors(self, slices: _Slices | None = None) -> Iterator[None]:
        """Reset the cursor after any driver error; I/O failures become DatabaseUnavailableError."""
        import adbc_driver_manager

        try:
            yield
        except adbc_driver_manager.Error as exc:
            # A failed statement leaves its parameters bound to the cursor, and
            # the next statement (the ROLLBACK) would fail on them: start afresh.
            with suppress(adbc_driver_manager.Error):
                self._cursor.close()
            self._cursor = self._new_cursor()
            if slices is not None and slices.failure is not None:
                # The driver asks Python for each slice; what stopped it there (Ctrl-C's
                # KeyboardInterrupt) is the error, not the driver's report of it.
                raise slices.failure from None
            if isinstance(exc, adbc_driver_manager.OperationalError):
                raise DatabaseUnavailableError(
                    f"database {self.display_url} failed: {str(exc).splitlines()[0]}"
                ) from exc
            raise


#: Rows converted to Arrow at a time: the driver takes a stream of slices, so the
#: Arrow copy of a table (and its literal columns) never exists whole in memory
#: (8M enrollments: about 450 MB less at the peak of a load).
_SLICE_ROWS = 1 << 18


class _Slices:
    """A frame as a stream of Arrow slices, each converted when the driver asks for it;
    remembers what was raised while it was read (the driver reports only its text)."""

    def __init__(self, frame: pl.DataFrame, constants: Sequence[pl.Expr]) -> None:
        self.frame = frame
        self.constants = constants
        self.failure: BaseException | None = None

    def reader(self) -> pa.RecordBatchReader:
        schema = self._arrow(self.frame.clear()).schema
        return pa.RecordBatchReader.from_batches(schema, self._batches())

    def _arrow(self, part: pl.DataFrame) -> pa.Table:
        # large_string is what both drivers' ingest paths accept; string_view is not.
        return part.with_columns(self.constants).to_arrow(compat_level=pl.CompatLevel.oldest())

    def _batches(self) -> Iterator[pa.RecordBatch]:
        try:
            for offset in range(0, self.frame.height, _SLICE_ROWS):
                yield from self._arrow(self.frame.slice(offset, _SLICE_ROWS)).to_batches()
        except BaseException as exc:
            self.failure = exc
            raise
