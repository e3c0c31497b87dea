"""When a district is stale: nothing received within its ``expect_every_hours``.

One rule for every place that tells: `roster status`, the console's overview and
the service's stale alarm. Only an enabled district that is not paused is
waited on, so a disabled or paused one is never stale.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from roster_pipeline.config import Settings


@dataclass(frozen=True)
class Freshness:
    last_upload: datetime | None  # the newest of what was received, None when nothing was
    expect: timedelta  # something is expected within this interval
    next_expected: datetime | None  # None: nobody waits on this district
    stale: bool


def expected_hours(settings: Settings, overrides: Mapping[str, Any]) -> float:
    """The district's ``expect_every_hours``: its own value, else the deployment's.

    Read as the one key rather than through ``Settings.for_district``: validating a
    thousand districts' settings would cost more than the overview built on it."""
    return float(overrides.get("expect_every_hours", settings.service.expect_every_hours))


def freshness(
    *,
    waited_on: bool,
    created_at: datetime | None,
    received: Iterable[datetime | None],
    hours: float,
    now: datetime,
) -> Freshness:
    """How fresh a district is, from the times anything of it was received.

    ``waited_on`` is false for a disabled or paused district. A district that never
    sent anything is counted from its creation."""
    seen = [t for t in received if t is not None]
    last = max(seen) if seen else None
    expect = timedelta(hours=hours)
    due = (last or created_at or now) + expect
    if not waited_on:
        return Freshness(last, expect, None, False)
    return Freshness(last, expect, due, now > due)
