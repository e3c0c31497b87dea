"""The console's API against its own OpenAPI document (schemathesis), on both engines:
no server error, and every response matches the schema the document gives.

A few examples per operation keep it well under a minute; the data behind it is
the real deployment of the other console tests (a held batch with rejects).
"""

from __future__ import annotations

from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

from roster_pipeline import operators
from roster_pipeline.config import load_settings
from roster_pipeline.home import Home
from roster_pipeline.web.app import create_app
from tests.web_helpers import build

_CHECKS = [
    checks.not_a_server_error,
    checks.response_schema_conformance,
    checks.status_code_conformance,
    checks.content_type_conformance,
]
_FEW = settings(
    max_examples=4, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)


def test_api_matches_its_document(tmp_path: Path, store_url: str) -> None:
    deployment = build(load_settings(home=tmp_path / "home", database_url=store_url), tmp_path)
    with Home(deployment.settings) as home:
        auth = {"Authorization": f"Bearer {operators.issue_token(home, 'ada')}"}
    app = create_app(deployment.settings)
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) == 13

    for operation in operations:

        @_FEW
        @given(case=operation.as_strategy())
        def call(case: schemathesis.Case) -> None:  # type: ignore[type-arg]
            case.call_and_validate(headers=auth, checks=_CHECKS)

        call()


def test_the_document_lists_every_api_route(tmp_path: Path, store_url: str) -> None:
    app = create_app(load_settings(home=tmp_path / "home", database_url=store_url))
    paths = set(app.openapi()["paths"])
    assert paths == {
        "/api/overview", "/api/districts/{slug}", "/api/batches/{batch_id}",
        "/api/batches/{batch_id}/rejects", "/api/search", "/api/security", "/api/system",
        "/api/batches/{batch_id}/{action}", "/api/districts/{slug}/{action}",
        "/api/system/test", "/api/districts", "/api/system/settings/{key}",
    }  # fmt: skip
