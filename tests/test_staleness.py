"""Who is stale: one rule for `roster status`, the console and the service's alarm.

The alarm runs every minute in the service while workers load, so it reads a
few set-wide facts instead of every district's status (whose row counts read
every loaded row); these tests hold it to the same answer on both engines.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from roster_pipeline import districts, load_settings, operations, pipeline
from roster_pipeline.home import Home
from roster_pipeline.service import status
from roster_pipeline.service.runtime import Service, ServiceOptions
from roster_pipeline.web import overview
from tests.service_helpers import WebhookRecorder, publish

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def home(tmp_path: Path, store_url: str) -> Iterator[Home]:
    with Home(load_settings(env={}, home=tmp_path / "home", database_url=store_url)) as opened:
        opened.create()
        yield opened


def _five_districts(home: Home, samples: Path) -> None:
    """sent (loaded a batch), never (nothing), off (disabled), resting (paused) and
    waiting (a file in its inbox, not a batch yet), each expected every 3.6 s."""
    for slug in ("sent", "never", "off", "resting", "waiting"):
        districts.add_district(home, slug)
        operations.configure(home, slug, {"expect_every_hours": 0.001})
    pipeline.process(home, "sent", [samples / "good.zip"])
    districts.set_enabled(home, "off", False)
    operations.configure(home, "resting", {}, paused=True)


def test_the_alarm_and_roster_status_agree_on_who_is_stale(home: Home, samples: Path) -> None:
    _five_districts(home, samples)
    assert status.stale(home) == {}
    time.sleep(4.0)
    publish(home.settings.home, "waiting", "roster.zip", b"half of a night")
    found = status.stale(home)
    assert set(found) == {"sent", "never"}
    assert found["never"] is None
    assert found["sent"] == home.store.batches("sent", 1)[0].received_at
    assert {s.district for s in status.overview(home) if s.stale} == set(found)
    states = {d.slug: d.status for d in overview.overview(home).districts}
    # The console reads uploads from the database alone, not from the inboxes.
    assert {s for s, state in states.items() if state == "stale"} == {*found, "waiting"}


@pytest.mark.parametrize("role", ["all", "sftp", "worker"])
def test_only_a_receiving_role_raises_the_stale_alarm_and_once(
    home: Home, role: str, samples: Path
) -> None:
    districts.add_district(home, "quiet")
    operations.configure(home, "quiet", {"expect_every_hours": 0.0001})  # 0.36 s
    time.sleep(0.5)
    hook = WebhookRecorder()
    service = Service(
        load_settings(env={}, home=home.settings.home, database_url=home.settings.database_url,
                      webhook_url=hook.url),
        ServiceOptions(role=role, workers=1),
    )  # fmt: skip
    alerted: set[str] = set()
    try:
        for _ in range(3):  # three housekeeping rounds
            service._alert_stale(home, alerted)
        service._alerts.close()
    finally:
        hook.close()
    expected = [] if role == "worker" else [("district_stale", "quiet")]
    assert [(e["event"], e["district"]) for e in hook.events] == expected
