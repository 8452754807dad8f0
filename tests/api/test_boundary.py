"""The Lambda boundary (``app.boundary``) behind ``app.main.handler``: events Mangum cannot adapt,
text that is not valid Unicode, failures outside the app (issue 17)."""

from __future__ import annotations

import base64
import copy
import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from mangum import Mangum

from app.boundary import LambdaBoundary
from tests.api.function_url_events import assert_answer
from tests.conftest import EVENTS_DIR, LambdaContext, load_event


def ner_event(body: Any = None, *, path: str = "/ner", b64: bool = False) -> dict[str, Any]:
    event = load_event("ner.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    if body is not None:
        event["body"] = body
    event["isBase64Encoded"] = b64
    return event


def error_of(result: dict[str, Any], status: int, code: str) -> str:
    assert_answer(result)
    assert result["statusCode"] == status, result
    assert result["headers"]["content-type"] == "application/json"
    assert result["isBase64Encoded"] is False
    error = json.loads(result["body"])["error"]
    assert error["code"] == code, error
    message: str = error["message"]
    return message


@contextmanager
def captured_logs() -> Iterator[list[dict[str, Any]]]:
    """The project logger's JSON records, complete when the block ends."""
    from app.logging import logger

    stream = io.StringIO()
    capture = logging.StreamHandler(stream)
    capture.setFormatter(logger.registered_formatter)
    logging.getLogger(logger.service).addHandler(capture)
    records: list[dict[str, Any]] = []
    try:
        yield records
    finally:
        logging.getLogger(logger.service).removeHandler(capture)
        records.extend(json.loads(line) for line in stream.getvalue().splitlines())


# Regressions of issue 17: each of these escaped the handler or answered 500.


def test_boundary_invalid_base64_body_is_400(main_module: Any, lambda_context: Any) -> None:
    result = main_module.handler(ner_event("!!not base64!!", b64=True), lambda_context)
    message = error_of(result, 400, "invalid_body")
    assert "base64" in message and "isBase64Encoded" in message
    assert result["headers"]["x-request-id"] == lambda_context.aws_request_id


def test_boundary_json_body_flagged_base64_is_400(main_module: Any, lambda_context: Any) -> None:
    result = main_module.handler(ner_event(b64=True), lambda_context)
    assert "set isBase64Encoded to false" in error_of(result, 400, "invalid_body")


@pytest.mark.parametrize(
    ("path", "body", "where"),
    [
        ("/ner", '{"text": "\\ud800 Ada Lovelace"}', "body.text"),
        ("/ner", '{"text": "Ada Lovelace \\udc00"}', "body.text"),
        ("/ner", '{"text": "Ada", "labels": ["PERSON", "\\udbff"]}', "body.labels[1]"),
        ("/ner/batch", '{"texts": ["Ada Lovelace", "x\\ud800y"]}', "body.texts[1]"),
        ("/ner/render", '{"text": "\\ud800 Ada Lovelace"}', "body.text"),
        ("/ner", '{"text": "Ada", "\\ud800": 1}', "A key of body"),
    ],
)
def test_boundary_unpaired_surrogate_is_400_invalid_text(
    main_module: Any, lambda_context: Any, path: str, body: str, where: str
) -> None:
    json.loads(body)  # valid JSON: only the text is not valid Unicode
    message = error_of(
        main_module.handler(ner_event(body, path=path), lambda_context), 400, "invalid_text"
    )
    assert message.startswith(where) and "unpaired surrogate" in message and "UTF-8" in message


def test_boundary_surrogate_in_utf8_bytes_is_400_invalid_text(
    main_module: Any, lambda_context: Any
) -> None:
    """Surrogates encoded as UTF-8 bytes (CESU-8), as a base64 body of a function URL carries them."""
    raw = '{"text": "\ud800 Ada Lovelace"}'.encode("utf-8", "surrogatepass")
    event = ner_event(base64.b64encode(raw).decode(), b64=True)
    assert "body.text" in error_of(main_module.handler(event, lambda_context), 400, "invalid_text")


def test_boundary_surrogate_pair_is_served_with_code_point_offsets(
    main_module: Any, lambda_context: Any
) -> None:
    """A pair (an emoji escaped as JSON.stringify writes it) is one character, offsets follow."""
    body = '{"text": "\\ud83d\\ude00 Ada Lovelace was born in London."}'
    result = main_module.handler(ner_event(body), lambda_context)
    assert result["statusCode"] == 200, result
    text = json.loads(body)["text"]
    entities = json.loads(result["body"])["entities"]
    assert {"text": "Ada Lovelace", "label": "PERSON", "start": 2, "end": 14} in entities
    assert all(text[e["start"] : e["end"]] == e["text"] for e in entities)


def test_boundary_qa_unpaired_surrogate_is_400(main_module: Any, qa_main: Any) -> None:
    handler = qa_main.handler
    for body, where in [
        ({"question": "Who?", "context": "\ud800 Ada Lovelace"}, "body.context"),
        ({"question": "Who\udfff?", "context": "Ada Lovelace"}, "body.question"),
        ({"items": [{"question": "Who?", "context": "Ada \udc00"}]}, "body.items[0].context"),
    ]:
        path = "/qa/batch" if "items" in body else "/qa"
        result = handler(ner_event(json.dumps(body), path=path), LambdaContext())
        assert error_of(result, 400, "invalid_text").startswith(where)


# Events Mangum cannot adapt: a 400 naming the problem, never an exception.


def _set(path: tuple[str, ...], value: Any) -> Any:
    def change(event: dict[str, Any]) -> None:
        target = event
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return change


def _drop(*path: str) -> Any:
    def change(event: dict[str, Any]) -> None:
        target = event
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return change


HTTP = ("requestContext", "http")
#: name: (how the event is spoiled, the error code, what the message must name)
MALFORMED = {
    "version 1.0": (_set(("version",), "1.0"), "invalid_event", "not a function URL request"),
    "no version": (_drop("version"), "invalid_event", "not a function URL request"),
    "no requestContext": (_drop("requestContext"), "invalid_event", "no object requestContext."),
    "requestContext null": (_set(("requestContext",), None), "invalid_event", "requestContext."),
    "no requestContext.http": (_drop(*HTTP), "invalid_event", "no object requestContext.http"),
    "no method": (_drop(*HTTP, "method"), "invalid_event", "http.method must be a string"),
    "empty method": (_set((*HTTP, "method"), ""), "invalid_event", "http.method is empty"),
    "method a number": (_set((*HTTP, "method"), 7), "invalid_event", "http.method must be"),
    "no path": (_drop(*HTTP, "path"), "invalid_event", "http.path must be a string"),
    "path a list": (_set((*HTTP, "path"), ["/ner"]), "invalid_event", "http.path must be"),
    "surrogate in path": (
        _set((*HTTP, "path"), "/ner\udc80"),
        "invalid_event",
        "http.path holds an unpaired surrogate at character 4",
    ),
    "headers a string": (_set(("headers",), "a: b"), "invalid_event", "headers must be an object"),
    "header value a number": (
        _set(("headers", "x-forwarded-port"), 443),
        "invalid_event",
        "header 'x-forwarded-port' must be a string",
    ),
    "surrogate in a header": (
        _set(("headers", "user-agent"), "curl\ud800"),
        "invalid_event",
        "header 'user-agent' holds an unpaired surrogate",
    ),
    "host with two colons": (_set(("headers", "host"), "a:b:c"), "invalid_event", "Host header"),
    "host with a bad port": (_set(("headers", "host"), "a.com:https"), "invalid_event", "Host"),
    "x-forwarded-port not a number": (
        _set(("headers", "x-forwarded-port"), "443x"),
        "invalid_event",
        "X-Forwarded-Port header",
    ),
    "rawQueryString a number": (
        _set(("rawQueryString",), 5),
        "invalid_event",
        "rawQueryString must be a string",
    ),
    "cookies a string": (_set(("cookies",), "a=b"), "invalid_event", "cookies must be a list"),
    "surrogate in a cookie": (
        _set(("cookies",), ["a=\ud800"]),
        "invalid_event",
        "cookies holds an unpaired surrogate",
    ),
    "body a number": (_set(("body",), 12), "invalid_body", "body must be a string, not a int"),
    "body an object": (_set(("body",), {"a": 1}), "invalid_body", "must be a string, not a dict"),
    "isBase64Encoded a string": (
        _set(("isBase64Encoded",), "false"),
        "invalid_body",
        "isBase64Encoded must be true or false",
    ),
    "surrogate in the body string": (
        _set(("body",), '{"text": "\ud800"}'),
        "invalid_body",
        "unpaired surrogate at character 10",
    ),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_boundary_malformed_event_is_400(main_module: Any, lambda_context: Any, name: str) -> None:
    change, code, names = MALFORMED[name]
    event = load_event("ner.json")
    change(event)
    assert names in error_of(main_module.handler(event, lambda_context), 400, code)


@pytest.mark.parametrize("event", [None, [], "GET /ner", 42, {}, {"Records": []}])
def test_boundary_non_http_event_is_400(main_module: Any, lambda_context: Any, event: Any) -> None:
    assert "payload format 2.0" in error_of(
        main_module.handler(event, lambda_context), 400, "invalid_event"
    )


def test_boundary_logs_rejections_with_the_request_id(
    main_module: Any, lambda_context: Any
) -> None:
    with captured_logs() as records:
        main_module.handler(ner_event("%%%", b64=True), lambda_context)
    rejected = [r for r in records if r.get("message") == "event_rejected"]
    assert rejected, records
    assert rejected[-1]["code"] == "invalid_body" and rejected[-1]["status"] == 400
    assert rejected[-1]["request_id"] == lambda_context.aws_request_id
    assert rejected[-1]["function_request_id"] == lambda_context.aws_request_id


# Well-formed events pass through unchanged.


@pytest.mark.parametrize("name", sorted(p.name for p in EVENTS_DIR.glob("*.json")))
def test_boundary_is_transparent_for_function_url_events(
    main_module: Any, lambda_context: Any, name: str
) -> None:
    event = load_event(name)
    through_boundary = main_module.handler(copy.deepcopy(event), lambda_context)
    straight = Mangum(main_module.app, lifespan="off")(event, lambda_context)
    assert through_boundary == straight


# Failures outside the app: the generic 500, logged, never raised.


async def _app_that_raises(scope: Any, receive: Any, send: Any) -> None:
    raise RuntimeError('boom in File "/work/main/app/secret.py"')


async def _app_with_undecodable_header(scope: Any, receive: Any, send: Any) -> None:
    # Mangum decodes response headers as UTF-8 after the app has answered, outside any handler.
    await send({"type": "http.response.start", "status": 200, "headers": [(b"x-bad", b"\xff")]})
    await send({"type": "http.response.body", "body": b"{}"})


@pytest.mark.parametrize(
    ("app", "log_message"),
    [(_app_that_raises, "unshaped_response"), (_app_with_undecodable_header, "adapter_failed")],
)
def test_boundary_failure_outside_the_app_is_generic_500(
    main_module: Any, lambda_context: Any, app: Any, log_message: str
) -> None:
    handler = LambdaBoundary(Mangum(app, lifespan="off"), main_module.error_response)
    with captured_logs() as records:
        result = handler(ner_event(), lambda_context)
    assert result["statusCode"] == 500
    message = json.loads(result["body"])["error"]["message"]
    assert json.loads(result["body"])["error"]["code"] == "internal_error"
    assert lambda_context.aws_request_id in message
    assert "boom" not in result["body"] and "secret" not in result["body"]
    assert result["headers"]["x-request-id"] == lambda_context.aws_request_id
    failed = [r for r in records if r.get("message") == log_message]
    assert failed and failed[-1]["request_id"] == lambda_context.aws_request_id
