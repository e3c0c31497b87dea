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

    def ingest(self, table: str, frame: pl.DataFrame, *, temporary: bool = False) -> None:
        """Bulk-append ``frame`` to ``table`` (or create it as a temporary staging table)."""
        with self.driver_errors():
            if temporary:
                self._cursor.adbc_ingest(table, _to_arrow(frame), mode="create", temporary=True)
            elif frame.height:
                self._cursor.adbc_ingest(table, _to_arrow(frame), mode="append")

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

    def _run(self, sql: str, params: Sequence[Any] = ()) -> None:
        with self.driver_errors():
            self._execute(sql, params)

    def _execute(self, sql: str, params: Sequence[Any]) -> None:
        if params:
            self._cursor.execute(sql, list(params))
        else:
            self._cursor.execute(sql)

    @contextmanager
    def driver_errors(self) -> Iterator[None]:
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
            if isinstance(exc, adbc_driver_manager.OperationalError):
                raise DatabaseUnavailableError(
                    f"database {self.display_url} failed: {str(exc).splitlines()[0]}"
                ) from exc
            raise


def _to_arrow(frame: pl.DataFrame) -> pa.Table:
    # large_string is what both drivers' ingest paths accept; string_view is not.
    return frame.to_arrow(compat_level=pl.CompatLevel.oldest())
