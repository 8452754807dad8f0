"""Schema fuzzing with schemathesis against the app's own OpenAPI schema (in-process, ASGI).

Every generated request, valid or not, must get a non-5xx answer that matches the documented
schema, and every error must have the one shape ``{"error": {"code", "message"}}``.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
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


def check(case: Any) -> None:
    response = case.call()
    STATUSES[str(response.status_code)] += 1
    case.validate_response(
        response, checks=[not_a_server_error, response_schema_conformance, content_type_conformance]
    )
    error_shape(response)


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_schema_fuzz_ner_function(case: Any) -> None:
    """The NER function (its /qa routes answer 404 service_not_enabled)."""
    check(case)


def test_schema_fuzz_qa_function(qa_main: Any) -> None:
    """The QA function with a real (random tiny) ALBERT model behind /qa, every operation."""
    qa_schema = schemathesis.openapi.from_asgi("/openapi.json", qa_main.app)
    operations = [result.ok() for result in qa_schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/qa", "/qa/batch", "/health"}
    for operation, mode in itertools.product(operations, list(GenerationMode)):

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
        def fuzz(case: Any) -> None:
            check(case)

        try:
            fuzz()
        except Unsatisfiable:
            # Negative mode on an operation with no input (GET /health) has nothing to break.
            assert mode is GenerationMode.NEGATIVE
