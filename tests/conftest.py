"""Shared fixtures: a migrated Store on every engine.

SQLite is a real file in tmp_path. PostgreSQL is the server named by
ROSTER_TEST_POSTGRES_URL (default: trust auth on loopback); each test gets a
fresh schema, selected through libpq's ``options`` in the URL and dropped after.
Without a reachable server the PostgreSQL cases skip, except under CI=true,
where they fail: CI must prove both engines.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from roster_pipeline.errors import DatabaseUnavailableError
from roster_pipeline.store import Store, open_store
from roster_pipeline.store.engine import Engine

POSTGRES_URL = os.environ.get(
    "ROSTER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
_HOW_TO_START = (
    "start one with `docker run -d -p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust "
    "-e POSTGRES_DB=test postgres:16` or set ROSTER_TEST_POSTGRES_URL"
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
