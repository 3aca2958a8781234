"""schemathesis against the service's own OpenAPI document: generated requests to every JSON
endpoint, as a city-wide analyst and as an agency officer, must never get a 5xx and must match
the documented responses. Writes go through bearer tokens (no CSRF), so bulk and create
endpoints are exercised too."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import Case
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import positive_data_acceptance
from schemathesis.specs.openapi.schemas import OpenApiSchema

from tests.soc.web.conftest import Web

EXAMPLES = 25


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    web = Web(Path(tmp_path_factory.mktemp("schema")))
    for n in range(6):
        web.add_alert("so-a", n=n)
        web.add_alert("so-b", n=n)
    yield web
    web.store.close()


@pytest.fixture(scope="module")
def api_schema(served: Web) -> OpenApiSchema:
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", served.app, headers=served.api("analyst"))
    assert isinstance(schema, OpenApiSchema)
    return schema


def _check(case: Case[Any], served: Web, actor: str) -> None:
    headers: dict[str, Any] = dict(case.headers or {}) | served.api(actor)
    # A schema cannot say "a cursor this server issued" or "an agency you may see", so a 4xx for a
    # schema-valid value is allowed; a 5xx, an undocumented status or a body off its schema is not.
    case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])


@pytest.mark.parametrize("actor", ["analyst", "officer_a"])
def test_no_server_errors_and_responses_match_the_schema(
    api_schema: OpenApiSchema, served: Web, actor: str
) -> None:
    # Driven through Hypothesis directly: schemathesis' pytest plugin does not load under pytest 9.
    failures: list[str] = []
    operations = []
    for result in api_schema.get_all_operations():
        assert isinstance(result, Ok), f"the OpenAPI document has an invalid operation: {result}"
        operations.append(result.ok())
    assert len(operations) >= 2
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        def run(case: Case[Any]) -> None:
            _check(case, served, actor)

        try:
            run()
        except Exception as exc:  # collect every operation's failure, then fail once with all of them
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert not failures, "\n\n".join(failures)


def test_the_schema_documents_the_api(api_schema: OpenApiSchema) -> None:
    paths = set(api_schema.raw_schema["paths"])
    assert "/api/v1/me" in paths
    assert "/api/v1/ingest" in paths
