"""Every error path answers 4xx with {"error": {"code", "message"}}, never a trace."""

from __future__ import annotations

from typing import Any

import pytest


def assert_error(response: Any, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code
    message: str = body["error"]["message"]
    assert "Traceback" not in message and "/app/" not in message and ".py" not in message
    return message


def test_errors_invalid_json_is_400(client: Any) -> None:
    response = client.post(
        "/ner", content=b'{"text": "unterminated', headers={"content-type": "application/json"}
    )
    message = assert_error(response, 400, "invalid_json")
    assert "Content-Type: application/json" in message


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({}, "text: Field required"),
        ({"text": 42}, "text: Input should be a valid string"),
        ({"text": "x", "labels": "PERSON"}, "labels: Input should be a valid list"),
        ({"txt": "typo"}, "txt: Extra inputs are not permitted"),
        ([1, 2], "valid dictionary"),
    ],
)
def test_errors_schema_violations_are_422(client: Any, body: Any, fragment: str) -> None:
    message = assert_error(client.post("/ner", json=body), 422, "validation_error")
    assert fragment in message


def test_errors_missing_body_is_422(client: Any) -> None:
    message = assert_error(client.post("/ner"), 422, "validation_error")
    assert "no JSON body" in message


def test_errors_wrong_content_type(client: Any) -> None:
    response = client.post("/ner", content=b"text=hello", headers={"content-type": "text/plain"})
    assert_error(response, 422, "validation_error")


def test_errors_text_over_limit_is_413(client: Any, main_module: Any) -> None:
    limit = main_module.settings.ner_max_text_chars
    message = assert_error(
        client.post("/ner", json={"text": "a" * (limit + 1)}), 413, "payload_too_large"
    )
    assert str(limit) in message and "NER_MAX_TEXT_CHARS" in message


def test_errors_batch_over_limit_is_413(client: Any, main_module: Any) -> None:
    limit = main_module.settings.ner_max_batch_texts
    message = assert_error(
        client.post("/ner/batch", json={"texts": ["x"] * (limit + 1)}), 413, "payload_too_large"
    )
    assert "NER_MAX_BATCH_TEXTS" in message


def test_errors_batch_text_over_limit_names_index(client: Any, main_module: Any) -> None:
    limit = main_module.settings.ner_max_text_chars
    message = assert_error(
        client.post("/ner/batch", json={"texts": ["ok", "b" * (limit + 1)]}),
        413,
        "payload_too_large",
    )
    assert "index 1" in message


def test_errors_empty_batch_is_422(client: Any) -> None:
    assert_error(client.post("/ner/batch", json={"texts": []}), 422, "validation_error")


def test_errors_unknown_route_is_404(client: Any) -> None:
    message = assert_error(client.get("/nope"), 404, "not_found")
    assert "/ner" in message


def test_errors_wrong_method_is_405(client: Any) -> None:
    assert_error(client.get("/ner"), 405, "method_not_allowed")


def test_errors_qa_not_enabled_is_404_naming_services(client: Any) -> None:
    message = assert_error(
        client.post("/qa", json={"question": "q?", "context": "c"}), 404, "service_not_enabled"
    )
    assert "/ner" in message


def test_errors_unexpected_failure_is_generic_500(main_module: Any, monkeypatch: Any) -> None:
    from fastapi.testclient import TestClient

    def boom(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("secret internal detail /var/task/app/x.py")

    monkeypatch.setattr(main_module.services.ner, "extract", boom)
    with TestClient(main_module.app, raise_server_exceptions=False) as c:
        response = c.post("/ner", json={"text": "hello"}, headers={"x-request-id": "req-42"})
    message = assert_error(response, 500, "internal_error")
    assert "req-42" in message and "secret" not in message
