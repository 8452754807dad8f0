"""Hostile and oversized input through the app and the real Mangum handler."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.test_errors import assert_error
from tests.conftest import LambdaContext, load_event


def test_limits_deeply_nested_json_is_400(client: Any) -> None:
    body = '{"text": ' + "[" * 100_000 + "]" * 100_000 + "}"
    message = assert_error(
        client.post("/ner", content=body, headers={"content-type": "application/json"}),
        400,
        "invalid_json",
    )
    assert "nested too deeply" in message


@pytest.mark.parametrize("size", [5_900_000, 6_000_000, 6_500_000])
def test_limits_bodies_near_function_url_limit_are_413(client: Any, size: int) -> None:
    """Function URLs cap payloads at 6 MB; the app's own limit answers clearly before that."""
    response = client.post("/ner", json={"text": "a" * size})
    assert_error(response, 413, "payload_too_large")


def test_limits_text_at_limit_is_served(client: Any, main_module: Any) -> None:
    limit = main_module.settings.ner_max_text_chars
    text = ("Ada Lovelace lived in London. " * (limit // 30 + 1))[:limit]
    response = client.post("/ner", json={"text": text})
    assert response.status_code == 200
    assert all(text[e["start"] : e["end"]] == e["text"] for e in response.json()["entities"])


def test_limits_very_long_single_token(client: Any) -> None:
    response = client.post("/ner", json={"text": "x" * 90_000})
    assert response.status_code == 200 and response.json()["entities"] == []


@pytest.mark.parametrize(
    "body",
    [b"\xff\xfe\x00", b"null", b"[]", b'"text"', b"1e999999", b'{"text": "a", "text": 5}'],
)
def test_limits_junk_bodies_are_4xx(client: Any, body: bytes) -> None:
    response = client.post("/ner", content=body, headers={"content-type": "application/json"})
    assert 400 <= response.status_code < 500
    assert set(response.json()) == {"error"}


def _event_with(body: str, *, b64: bool, content_type: str = "application/json") -> dict[str, Any]:
    event = load_event("ner.json")
    event["headers"]["content-type"] = content_type
    event["body"] = base64.b64encode(body.encode()).decode() if b64 else body
    event["isBase64Encoded"] = b64
    return event


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    payload=st.one_of(
        json_values,
        st.fixed_dictionaries({"text": json_values}),
        st.fixed_dictionaries({"text": st.text(max_size=80), "labels": json_values}),
        st.fixed_dictionaries({"texts": json_values}),
    ),
    b64=st.booleans(),
    path=st.sampled_from(["/ner", "/ner/batch", "/qa", "/health"]),
    content_type=st.sampled_from(
        ["application/json", "text/plain", "application/x-www-form-urlencoded", ""]
    ),
)
def test_limits_handler_never_fails_on_junk(
    main_module: Any, payload: Any, b64: bool, path: str, content_type: str
) -> None:
    """Arbitrary JSON, base64-encoded or not, any content type: always a well-formed answer."""
    event = _event_with(json.dumps(payload), b64=b64, content_type=content_type)
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    result = main_module.handler(event, LambdaContext())
    assert result["statusCode"] < 500
    body = json.loads(result["body"])
    if result["statusCode"] >= 400:
        assert set(body) == {"error"} and body["error"]["message"]


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw=st.binary(max_size=200))
def test_limits_handler_raw_bytes(main_module: Any, raw: bytes) -> None:
    event = load_event("ner.json")
    event["body"] = base64.b64encode(raw).decode()
    event["isBase64Encoded"] = True
    result = main_module.handler(event, LambdaContext())
    assert 200 <= result["statusCode"] < 500
    assert "Traceback" not in result["body"]
