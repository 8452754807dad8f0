"""Schema fuzzing with schemathesis against the app's own OpenAPI schema (in-process, ASGI).

Every generated request, valid or not, must get a non-5xx answer that matches the documented
schema, and every error must have the one shape ``{"error": {"code", "message"}}``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
)

from app.main import app

schema = schemathesis.openapi.from_asgi("/openapi.json", app)
STATUSES: Counter[str] = Counter()


@pytest.fixture(scope="module", autouse=True)
def report_counts() -> Iterator[None]:
    """Write how many requests were fuzzed, by status, for the hardening report."""
    yield
    out = Path(__file__).resolve().parents[1] / "artifacts" / "schema-fuzz-in-process.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(
        json.dumps({"requests": sum(STATUSES.values()), "by_status": STATUSES}, indent=2)
    )


def error_shape(response: Any) -> None:
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"error"}, body
        assert isinstance(body["error"]["code"], str) and body["error"]["message"], body
        assert "Traceback" not in response.text


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_schema_fuzz_no_5xx_and_conforming(case: Any) -> None:
    response = case.call()
    STATUSES[str(response.status_code)] += 1
    case.validate_response(
        response, checks=[not_a_server_error, response_schema_conformance, content_type_conformance]
    )
    error_shape(response)
