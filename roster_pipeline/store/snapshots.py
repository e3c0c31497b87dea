"""Snapshots: a district's loaded rows of one table, read now or ahead of need.

A night's plan compares each table the files fill with what is loaded. Reading
that (2.28M rows: 0.4 s on SQLite, 1.4 s on PostgreSQL, the server doing most of
it) depends on nothing the parse and validation find, so ``ReadAhead`` does it on
a connection of its own while they run. Validation and the plan are given the same
frames; a read that was not asked for ahead, or for other columns, goes to the
caller's connection as before.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import Future

import polars as pl

from roster_pipeline.store.engine import Engine
from roster_pipeline.store.schema import roster_table


def read_snapshot(
    engine: Engine, district: str, table: str, columns: Sequence[str]
) -> pl.DataFrame:
    """Loaded rows of the district's table, ``columns`` as String; empty when none."""
    if not columns:
        return pl.DataFrame()
    names = ", ".join(f'"{c}"' for c in columns)
    frame = engine.frame(
        f"SELECT {names} FROM {roster_table(table, columns).name} WHERE district_id = ?",
        (district,),
    )
    return frame.select(pl.col(c).cast(pl.String) for c in columns)


class ReadAhead:
    """Snapshots of ``wanted`` (table -> columns) read on a thread and a connection of
    their own; the thread is a daemon, so an interrupted batch never waits for it."""

    def __init__(
        self, url: str, district: str, wanted: Mapping[str, tuple[str, ...]], timeout: float
    ) -> None:
        self._reads: dict[tuple[str, tuple[str, ...]], Future[pl.DataFrame]] = {
            (table, columns): Future() for table, columns in wanted.items()
        }
        args = (url, district, timeout)
        reader = threading.Thread(target=self._read, args=args, name="snapshots", daemon=True)
        reader.start()

    def get(self, table: str, columns: tuple[str, ...]) -> pl.DataFrame | None:
        """The snapshot read ahead for exactly these columns, once it is read; None when
        it was not asked for. A failed read raises its error here."""
        read = self._reads.get((table, columns))
        return None if read is None else read.result()

    def _read(self, url: str, district: str, timeout: float) -> None:
        reads = list(self._reads.items())
        try:
            engine = Engine(url, timeout)
        except BaseException as exc:  # the caller meets it where it wants the snapshot
            for _, read in reads:
                read.set_exception(exc)
            return
        try:
            for (table, columns), read in reads:
                try:
                    read.set_result(read_snapshot(engine, district, table, columns))
                except BaseException as exc:
                    read.set_exception(exc)
        finally:
            engine.close()
