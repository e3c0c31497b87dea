"""Shared fixtures: a migrated Store on every engine, the CLI on a fresh home.

Fixtures only: what tests import lives in ``tests/helpers.py``.

SQLite is a real file in tmp_path. PostgreSQL is the server named by
ROSTER_TEST_POSTGRES_URL (default: trust auth on loopback); each test gets a
fresh schema, selected through libpq's ``options`` in the URL and dropped after.
Without a reachable server the PostgreSQL cases skip, except under CI=true,
where they fail: CI must prove both engines.
"""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from fastapi.testclient import TestClient
from hypothesis import settings

from roster_pipeline.cli import main
from roster_pipeline.config import load_settings
from roster_pipeline.errors import DatabaseUnavailableError
from roster_pipeline.store import Store, open_store
from roster_pipeline.store.engine import Engine
from tests.helpers import SAMPLES, Roster
from tests.web_helpers import Deployment, build

# No deadline: Hypothesis's default (200 ms an example) is a timing assert, and on a
# shared 2-core machine running two test workers it fails tests that are right.
settings.register_profile("roster", deadline=None)
settings.load_profile("roster")

POSTGRES_URL = os.environ.get(
    "ROSTER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
_HOW_TO_START = (
    "start the local server (scripts/ensure-postgres does) or point "
    "ROSTER_TEST_POSTGRES_URL at one with a database you may create schemas in"
)


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[Engine]:
    """A connection to the test server for creating and dropping schemas."""
    try:
        engine = Engine(POSTGRES_URL)
    except DatabaseUnavailableError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI requires PostgreSQL: {exc}")
        pytest.skip(f"PostgreSQL not reachable ({exc}); {_HOW_TO_START}")
    yield engine
    engine.close()


def with_search_path(url: str, schema: str) -> str:
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}options=-csearch_path%3D{schema}"


@pytest.fixture
def postgres_url(postgres_admin: Engine) -> Iterator[str]:
    """The URL of a fresh, empty schema on the test server."""
    schema = f"roster_test_{uuid.uuid4().hex[:12]}"
    postgres_admin.execute(f"CREATE SCHEMA {schema}")
    yield with_search_path(POSTGRES_URL, schema)
    postgres_admin.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'roster.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = open_store(store_url)
    opened.migrate()
    yield opened
    opened.close()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "store_url" in metafunc.fixturenames:
        metafunc.parametrize("store_url", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture(scope="session")
def event_loop_thread() -> Iterator[asyncio.AbstractEventLoop]:
    """An asyncio loop in a thread, for starting the real receiver from sync tests."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)


@pytest.fixture
def samples() -> Path:
    return SAMPLES


@pytest.fixture
def bare_roster(tmp_path: Path, store_url: str) -> Roster:
    """Run `roster --home <tmp> --db <engine> ARGS...` in-process; click's Result.
    Nothing is created: the home exists once `init` has run."""
    home = tmp_path / "home"

    def run(
        *args: str | Path, input: str | None = None, env: dict[str, str] | None = None
    ) -> Result:
        argv = ["--home", str(home), "--db", store_url, *(str(a) for a in args)]
        return CliRunner(env=env).invoke(main, argv, input=input, catch_exceptions=False)

    return run


@pytest.fixture
def roster(bare_roster: Roster) -> Roster:
    """`bare_roster` on a home made by `roster init`."""
    done = bare_roster("init")
    assert done.exit_code == 0, done.output
    return bare_roster


@pytest.fixture
def deployment(tmp_path: Path, store_url: str) -> Deployment:
    """The console's home (``tests/web_helpers.build``) on each engine."""
    return build(load_settings(home=tmp_path / "home", database_url=store_url), tmp_path)


@pytest.fixture
def client(deployment: Deployment) -> Iterator[TestClient]:
    """The console in process, over ``deployment``."""
    from roster_pipeline.web.app import create_app

    with TestClient(create_app(deployment.settings)) as c:
        yield c
