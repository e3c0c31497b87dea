"""When a district is stale: nothing received within its ``expect_every_hours``.

One rule for every place that tells: `roster status`, the console's overview and
the service's stale alarm. Only an enabled district that is not paused is
waited on, so a disabled or paused one is never stale.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from roster_pipeline.config import Settings


@dataclass(frozen=True)
class Freshness:
    last_upload: datetime | None  # the newest of what was received, None when nothing was
    expect: timedelta  # something is expected within this interval
    next_expected: datetime | None  # None: nobody waits on this district
    stale: bool


class District(Protocol):
    """What the rule reads of a district (a registry record, or the console's facts)."""

    @property
    def enabled(self) -> bool: ...
    @property
    def paused(self) -> bool: ...
    @property
    def created_at(self) -> datetime | None: ...
    @property
    def settings(self) -> Mapping[str, Any]: ...


def freshness(
    district: District, received: Iterable[datetime | None], settings: Settings, now: datetime
) -> Freshness:
    """How fresh ``district`` is, from the times anything of it was received.

    Only an enabled district that is not paused is waited on. One that never sent
    anything is counted from its creation. Its ``expect_every_hours`` is read as the
    one key rather than through ``Settings.for_district``: validating a thousand
    districts' settings would cost more than the overview built on it."""
    hours = district.settings.get("expect_every_hours", settings.service.expect_every_hours)
    seen = [t for t in received if t is not None]
    last = max(seen) if seen else None
    expect = timedelta(hours=float(hours))
    due = (last or district.created_at or now) + expect
    if not district.enabled or district.paused:
        return Freshness(last, expect, None, False)
    return Freshness(last, expect, due, now > due)
