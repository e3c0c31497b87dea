"""Context: what the stages see of a district besides its files.

Its contract (spec, dialect, limits, holds), and its loaded rows: the snapshots a
plan compares with are read ahead (``reading_ahead``) while the files are parsed
and validated, on a connection of their own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import polars as pl

from roster_pipeline.config import Settings, Thresholds, ZipLimits
from roster_pipeline.contracts.dialects import CsvDialect
from roster_pipeline.contracts.specs import Spec, load_spec
from roster_pipeline.stages.plan import compared
from roster_pipeline.store import DistrictRecord, ReadAhead, Store


@dataclass(frozen=True)
class Context:
    """What the stages need to know besides the files: the district's view."""

    spec: Spec
    limits: ZipLimits
    thresholds: Thresholds
    encoding: str
    store: Store | None = None  # None: nothing is loaded (``roster check``)
    district: str = ""
    positional: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # headerless files
    review: str = ""  # a hold reason of the district's own (its last change was a rollback)
    lifted: bool = False  # an approved batch: applied whatever would hold it
    ahead: ReadAhead | None = None  # snapshots being read for the plan

    def rows(self, table: str, columns: Sequence[str]) -> pl.DataFrame | None:
        """The Loaded protocol: the district's loaded rows, None when none."""
        frame = self.current(table, tuple(columns))
        return frame if frame.height else None

    def current(self, table: str, columns: tuple[str, ...]) -> pl.DataFrame:
        if self.store is None:
            return pl.DataFrame(schema=dict.fromkeys(columns, pl.String))
        early = self.ahead.get(table, columns) if self.ahead else None
        return early if early is not None else self.store.snapshot(self.district, table, columns)

    def last_hashes(self) -> dict[str, str]:
        return self.store.last_hashes(self.district) if self.store else {}

    def reading_ahead(self, files: Iterable[str]) -> Context:
        """This context with the snapshots a plan of the spec's ``files`` compares with
        being read already."""
        if self.store is None:
            return self
        wanted = compared(self.spec, files)
        return replace(self, ahead=self.store.read_ahead(self.district, wanted)) if wanted else self


def context_for(settings: Settings, district: DistrictRecord, store: Store | None) -> Context:
    """The stage context for a district: its spec, limits and per-district overrides."""
    dialect = CsvDialect.from_settings(district.settings)
    spec = dialect.apply(load_spec(district.spec))
    effective = settings.for_district(district.settings)
    return Context(
        spec=spec,
        limits=effective.zip,
        thresholds=effective.holds,
        encoding=dialect.encoding if "encoding" in district.settings else spec.encoding,
        store=store,
        district=district.slug,
        positional=dialect.headerless,
    )
