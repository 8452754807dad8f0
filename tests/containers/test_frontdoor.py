"""The function-URL front door: plain HTTP through the compose stack, and its event mapping."""

from __future__ import annotations

import base64
import json
from concurrent.futures import ThreadPoolExecutor

from tests.containers.harness import Stack, http
from tools.frontdoor import (
    MAX_PAYLOAD_BYTES,
    Function,
    build_event,
    invoke,
    parse_functions,
    route,
    to_http,
)

JSON = {"content-type": "application/json"}


def test_frontdoor_build_event_is_payload_format_2() -> None:
    headers = [("Host", "x"), ("X-Many", "a"), ("X-Many", "b"), ("Cookie", "a=1; b=2")]
    event = build_event("POST", "/ner?x=1&x=2&y=", headers, b'{"t": 1}', "10.0.0.1")
    assert event["version"] == "2.0"
    assert event["rawPath"] == "/ner" and event["rawQueryString"] == "x=1&x=2&y="
    assert event["headers"] == {"host": "x", "x-many": "a,b"}
    assert event["cookies"] == ["a=1", "b=2"]
    assert event["queryStringParameters"] == {"x": "1,2", "y": ""}
    http_ctx = event["requestContext"]["http"]
    assert (http_ctx["method"], http_ctx["path"], http_ctx["sourceIp"]) == (
        "POST",
        "/ner",
        "10.0.0.1",
    )
    assert event["requestContext"]["requestId"]
    # No content type: function URLs base64-encode the body.
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b'{"t": 1}'
    text = build_event("POST", "/ner", [("content-type", "application/json")], b"{}", "::1")
    assert text["isBase64Encoded"] is False and text["body"] == "{}"


def test_frontdoor_event_over_the_invoke_limit_is_413_without_invoking() -> None:
    # A body just under 6 MB grows past Lambda's 6 MB invocation limit once wrapped in the event.
    body = json.dumps({"text": "a" * (MAX_PAYLOAD_BYTES - 100)}).encode()
    event = build_event("POST", "/ner", [("content-type", "application/json")], body, "::1")
    # Port 9 (discard) on loopback: had the front door invoked it, the answer would be a 502.
    reply = invoke(Function("ner", "http://127.0.0.1:9"), event, timeout=5)
    assert reply.status == 413, reply.body[:300]
    error = json.loads(reply.body)["error"]
    assert error["code"] == "payload_too_large" and "Send less text" in error["message"]


def test_frontdoor_to_http_follows_function_url_rules() -> None:
    reply = to_http(
        {
            "statusCode": 201,
            "headers": {"content-type": "image/png"},
            "cookies": ["s=1"],
            "body": base64.b64encode(b"\x89PNG").decode(),
            "isBase64Encoded": True,
        }
    )
    assert reply.status == 201 and reply.body == b"\x89PNG"
    assert ("set-cookie", "s=1") in reply.headers
    bare = to_http({"answer": 42})  # no statusCode: a 200 JSON body
    assert bare.status == 200 and json.loads(bare.body) == {"answer": 42}


def test_frontdoor_routes_by_first_path_segment() -> None:
    functions = parse_functions("ner=http://ner:8080,qa=http://qa:8080")
    assert route("/qa", functions, "ner").name == "qa"
    assert route("/qa/batch", functions, "ner").name == "qa"
    assert route("/ner/batch", functions, "ner").name == "ner"
    for path in ("/", "/health", "/docs", "/openapi.json", "/static/app.js", "/qanda"):
        assert route(path, functions, "ner") == Function(
            "ner", "http://ner:8080", functions["ner"].lock
        )


def test_frontdoor_serves_ner_and_qa_over_plain_http(stack: Stack) -> None:
    ner = http("POST", stack.url + "/ner", b'{"text": "Ada Lovelace lived in London."}', JSON)
    assert ner.status == 200, ner.body
    assert "London" in {e["text"] for e in ner.json()["entities"]}
    qa = http(
        "POST",
        stack.url + "/qa",
        b'{"question": "Where did she live?", "context": "Ada lived in London."}',
        JSON,
    )
    assert qa.status == 200, qa.body
    answer = qa.json()["answers"][0]
    context = "Ada lived in London."
    assert answer["text"] == context[answer["start"] : answer["start"] + answer["length"]]


def test_frontdoor_health_reports_both_functions(stack: Stack) -> None:
    answer = http("GET", stack.url + "/health")
    assert answer.status == 200, answer.body
    report = answer.json()
    assert report["status"] == "ok"
    assert set(report["functions"]) == {"ner", "qa"}
    assert report["functions"]["ner"]["body"]["services"] == ["ner"]
    assert report["functions"]["qa"]["body"]["details"]["qa"]["status"] == "ok"
    # The same shape as one function's /health, merged over both.
    assert report["services"] == ["ner", "qa"] and report["version"]
    assert {name: d["status"] for name, d in report["details"].items()} == {"ner": "ok", "qa": "ok"}


def test_frontdoor_default_routes_reach_the_ner_function(stack: Stack) -> None:
    schema = http("GET", stack.url + "/openapi.json")
    assert schema.status == 200 and "/ner" in schema.json()["paths"]
    page = http("GET", stack.url + "/")
    assert page.status == 200 and page.headers["content-type"].startswith("text/html")


def test_frontdoor_errors_are_json_4xx(stack: Stack) -> None:
    bad = http("POST", stack.url + "/ner", b'{"text": ', JSON)
    assert bad.status == 400 and bad.json()["error"]["code"] == "invalid_json"
    large = http("POST", stack.url + "/ner", json.dumps({"text": "a" * 2_000_000}).encode(), JSON)
    assert large.status == 413 and set(large.json()["error"]) == {"code", "message"}
    # Above the 6 MB function URL limit the front door itself answers 413.
    huge = http("POST", stack.url + "/ner", b"x" * (6 * 1024 * 1024 + 1), JSON)
    assert huge.status == 413 and huge.json()["error"]["code"] == "payload_too_large"


def test_frontdoor_queues_concurrent_requests_per_function(stack: Stack) -> None:
    # One RIE handles one invocation at a time; the front door's lock must serialise these.
    def call(i: int) -> int:
        body = json.dumps({"text": f"Request {i} from Paris to Berlin."}).encode()
        return http(
            "POST",
            stack.url + ("/ner" if i % 2 else "/qa"),
            body
            if i % 2
            else json.dumps({"question": "Where?", "context": "From Paris."}).encode(),
            JSON,
        ).status

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(pool.map(call, range(12)))
    assert statuses == [200] * 12
