"""Raw function URL events through the real RIE and awslambdaric (issue 17): the regressions and
a deterministic sample of the hypothesis events of ``tests/api/function_url_events.py``.

Every answer must be a function URL response (never the runtime's ``errorMessage``), no 5xx, one
error shape, nothing internal, and the runtime must survive them all: same process, and a
normal request still answers 200.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from tests.api.function_url_events import assert_answer, function_url_events
from tests.conftest import load_event
from tests.containers.harness import Stack, health_event, runtime_pid


def _event(body: Any, *, b64: bool, path: str = "/ner") -> dict[str, Any]:
    event = load_event("ner.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["body"], event["isBase64Encoded"] = body, b64
    return event


def _without(key: str) -> dict[str, Any]:
    event = load_event("ner.json")
    del event["requestContext"][key]
    return event


#: (what, host, event as JSON text, expected status, expected code)
FIXED: list[tuple[str, str, str, int, str]] = [
    ("invalid base64", "ner", json.dumps(_event("!!not base64!!", b64=True)), 400, "invalid_body"),
    (
        "json flagged base64",
        "ner",
        json.dumps(_event('{"text": "Ada"}', b64=True)),
        400,
        "invalid_body",
    ),
    (
        "escaped surrogate",
        "ner",
        json.dumps(_event('{"text": "\\ud800 Ada"}', b64=False)),
        400,
        "invalid_text",
    ),
    (
        "surrogate in the body",
        "ner",
        json.dumps(_event('{"text": "\ud800 Ada"}', b64=False)),
        400,
        "invalid_body",
    ),
    (
        "CESU-8 bytes in base64",
        "ner",
        json.dumps(
            _event(
                base64.b64encode('{"text": "\ud800"}'.encode("utf-8", "surrogatepass")).decode(),
                b64=True,
            )
        ),
        400,
        "invalid_text",
    ),
    (
        "surrogate pair",
        "ner",
        json.dumps(_event('{"text": "\\ud83d\\ude00 Ada"}', b64=False)),
        200,
        "",
    ),
    (
        "qa escaped surrogate",
        "qa",
        json.dumps(_event('{"question": "Who?", "context": "\\udc00 Ada"}', b64=False, path="/qa")),
        400,
        "invalid_text",
    ),
    (
        "qa invalid base64",
        "qa",
        json.dumps(_event("%%%", b64=True, path="/qa")),
        400,
        "invalid_body",
    ),
    ("no requestContext.http", "ner", json.dumps(_without("http")), 400, "invalid_event"),
    ("null event", "ner", "null", 400, "invalid_event"),
    ("list event", "qa", "[1, 2]", 400, "invalid_event"),
    ("string event", "ner", '"GET /ner"', 400, "invalid_event"),
]


@pytest.fixture(scope="module")
def runtimes(stack: Stack) -> dict[str, str]:
    """Each function's runtime pid before this module's events."""
    return {host: runtime_pid(stack.container(host)) for host in ("ner", "qa")}


@pytest.mark.parametrize(
    ("what", "host", "payload", "status", "code"), FIXED, ids=[f[0] for f in FIXED]
)
def test_boundary_rie_regression_events(
    stack: Stack,
    runtimes: dict[str, str],
    what: str,
    host: str,
    payload: str,
    status: int,
    code: str,
) -> None:
    result = json.loads(stack.invoke_raw(host, payload.encode()))
    assert_answer(result)
    assert result["statusCode"] == status, result
    if code:
        assert json.loads(result["body"])["error"]["code"] == code, result


@settings(
    max_examples=25,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(event=function_url_events())
def test_boundary_rie_sampled_events(stack: Stack, runtimes: dict[str, str], event: Any) -> None:
    payload = json.dumps(event).encode()  # lone surrogates travel as \udXXX escapes
    for host in ("ner", "qa"):
        assert_answer(json.loads(stack.invoke_raw(host, payload)))


def test_boundary_rie_runtimes_survive(stack: Stack, runtimes: dict[str, str]) -> None:
    """After all of the above: the same runtime processes, still answering."""
    for host in ("ner", "qa"):
        result = stack.invoke(host, health_event())
        assert result["statusCode"] == 200, result
        assert runtime_pid(stack.container(host)) == runtimes[host]
