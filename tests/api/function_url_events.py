"""Whole function URL events (payload format 2.0) as a hostile or careless invoker sends them,
and the invariants every answer of the handler must keep (issue 17).

Shared by the in-process fuzz test (``test_boundary_fuzz.py``) and the RIE test
(``tests/containers/test_boundary_rie.py``), so both try the same kinds of events.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from hypothesis import strategies as st

#: Stands for "this key is absent from the event".
MISSING: Any = object()

#: What must never reach a client: traces, source files, install paths.
LEAKS = ("Traceback", 'File "', '.py"', "/work/", "site-packages", "/var/task", "/opt/app")

ROUTES = ["/ner", "/ner/batch", "/ner/render", "/qa", "/qa/batch", "/health", "/", "/ner/"]
#: What each route serves, so most events get past routing.
ENDPOINTS = [("POST", r) for r in ROUTES[:5]] + [("GET", "/health"), ("GET", "/")]
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "post"]
CONTENT_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/octet-stream",
    "",
]
ODD = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def mostly(usual: st.SearchStrategy[Any], unusual: st.SearchStrategy[Any]) -> Any:
    """``usual`` about nine times in ten (hypothesis favours the ends of an integer range)."""
    return st.sampled_from([usual] * 9 + [unusual]).flatmap(lambda strategy: strategy)


def strings(max_size: int) -> st.SearchStrategy[str]:
    """Text, half of the time with unpaired surrogates mixed in (hypothesis leaves them out)."""
    return st.one_of(
        st.text(max_size=max_size),
        st.lists(st.characters() | st.characters(categories=["Cs"]), max_size=max_size).map(
            "".join
        ),
    )


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | strings(20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(strings(8), children, max_size=3)
    ),
    max_leaves=12,
)
requests = st.one_of(
    json_values,
    st.fixed_dictionaries({"text": strings(80)}, optional={"labels": json_values}),
    st.fixed_dictionaries({"texts": st.lists(strings(40), max_size=3)}),
    st.fixed_dictionaries({"question": strings(30), "context": strings(120)}),
    st.fixed_dictionaries(
        {
            "items": st.lists(
                st.fixed_dictionaries({"question": strings(20), "context": strings(60)})
            )
        }
    ),
)


@st.composite
def bodies(draw: st.DrawFn) -> Any:
    """A body as a function URL event carries it, or as no function URL would."""
    kind = draw(
        st.sampled_from(["json", "json", "b64-json", "raw-json", "b64-bytes", "text", "odd"])
    )
    if kind == "json":  # surrogates escaped as \udXXX, as JSON.stringify writes them
        return json.dumps(draw(requests))
    if kind == "raw-json":  # surrogates left in the event's body string itself
        return json.dumps(draw(requests), ensure_ascii=False)
    if kind == "b64-json":
        raw = json.dumps(draw(requests), ensure_ascii=False).encode("utf-8", "surrogatepass")
        return base64.b64encode(raw).decode()
    if kind == "b64-bytes":
        return base64.b64encode(draw(st.binary(max_size=200))).decode()
    if kind == "text":
        return draw(strings(200))
    return draw(st.just(MISSING) | ODD)


usual_headers = st.builds(
    lambda content_type, extra: {**extra, "content-type": content_type},
    st.sampled_from(CONTENT_TYPES[:2] * 3 + CONTENT_TYPES[2:]),
    st.dictionaries(
        st.sampled_from(["Content-Type", "accept", "x-request-id", "content-length", "user-agent"]),
        st.sampled_from(CONTENT_TYPES) | st.text(max_size=20),
        max_size=3,
    ),
)
unusual_headers = st.one_of(
    ODD,
    st.dictionaries(
        st.sampled_from(["host", "x-forwarded-port", "content-length", "Host"]) | strings(12),
        st.sampled_from(["example.com:443", "a:b:c", "[::1]:8080", "host:", "80", "-1", "abc"])
        | strings(30)
        | ODD,
        min_size=1,
        max_size=4,
    ),
)

#: Each field of an event: (what a function URL sends, what it never would; MISSING: absent).
FIELDS: dict[str, tuple[st.SearchStrategy[Any], st.SearchStrategy[Any]]] = {
    "version": (st.just("2.0"), st.just(MISSING) | st.sampled_from(["1.0", "2", 2.0])),
    "rawPath": (st.sampled_from(ROUTES), st.just(MISSING) | ODD),
    "rawQueryString": (
        st.sampled_from(["", "a=1&b=2", "text=%ED%A0%80", "%", "%zz", "x=" + "%F0" * 3]),
        st.just(MISSING) | ODD | strings(30),
    ),
    "cookies": (
        st.just(MISSING) | st.lists(st.text(max_size=20), max_size=3),
        st.lists(strings(20), min_size=1, max_size=3) | strings(10) | ODD,
    ),
    "headers": (usual_headers, st.just(MISSING) | unusual_headers),
    "requestContext": (st.just({}), st.just(MISSING) | ODD),
    "http": (st.just({}), st.just(MISSING) | ODD),
    "endpoint": (
        mostly(
            st.sampled_from(ENDPOINTS), st.tuples(st.sampled_from(METHODS), st.sampled_from(ROUTES))
        ),
        st.tuples(
            st.sampled_from(METHODS) | st.just(MISSING) | ODD | strings(8),
            st.sampled_from(ROUTES) | st.just(MISSING) | ODD | strings(30).map("/".__add__),
        ),
    ),
    "sourceIp": (st.just("203.0.113.7"), st.just(MISSING) | ODD | strings(8)),
    "requestId": (st.just("8f3c7a1e-0d7e-4a4f-9a57-1c2b3d4e5f60"), strings(36) | ODD),
    "body": (bodies(), st.just(MISSING) | ODD),
    "isBase64Encoded": (st.booleans(), st.just(MISSING) | ODD | st.just("true")),
}


@st.composite
def function_url_events(draw: st.DrawFn) -> Any:
    """An event for the handler: a function URL request with zero to three fields made odd or
    absent (none in about half the events, so they reach the app), or not an object at all."""
    odd = draw(
        st.booleans().flatmap(
            lambda plain: (
                st.just(set[str]())
                if plain
                else st.sets(st.sampled_from(sorted(FIELDS)), min_size=1, max_size=3)
            )
        )
    )
    value = {
        name: draw(unusual if name in odd else usual) for name, (usual, unusual) in FIELDS.items()
    }
    if isinstance(value["body"], str) and "isBase64Encoded" not in odd and draw(st.booleans()):
        # The flag right for the body half of the time (arbitrary otherwise).
        value["isBase64Encoded"] = not value["body"].lstrip().startswith(("{", "[", '"'))
    method, path = value.pop("endpoint")
    http = {
        "method": method,
        "path": path,
        "sourceIp": value.pop("sourceIp"),
        "protocol": "HTTP/1.1",
    }
    request_id = value.pop("requestId")
    if isinstance(value["http"], dict):
        value["http"] = {**http, **value["http"]}
    if isinstance(value["requestContext"], dict):
        context = {"http": value.pop("http"), "requestId": request_id, "stage": "$default"}
        value["requestContext"] = {**context, **value["requestContext"]}
    else:
        value.pop("http")
    event = {"routeKey": "$default", **value}
    event = _without_missing(event)
    return draw(mostly(st.just(event), ODD | strings(20)))


def _without_missing(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_missing(v) for k, v in value.items() if v is not MISSING}
    return value


def assert_answer(result: Any) -> None:
    """A function URL response whatever the event: no 5xx, one error shape, nothing internal."""
    assert isinstance(result, dict), result
    assert isinstance(result.get("statusCode"), int), result
    status = result["statusCode"]
    assert status < 500, result
    headers = result["headers"]
    assert isinstance(headers, dict) and headers.get("x-request-id"), result
    assert isinstance(result["isBase64Encoded"], bool) and isinstance(result["body"], str)
    body = result["body"]
    if result["isBase64Encoded"]:
        body = base64.b64decode(body).decode("utf-8", "replace")
    for leak in LEAKS:
        assert leak not in body, (leak, result)
    if 300 <= status < 400:
        assert headers.get("location"), result
    elif status >= 400:
        assert headers["content-type"] == "application/json", result
        answer = json.loads(body)
        assert set(answer) == {"error"} and set(answer["error"]) == {"code", "message"}, answer
        assert isinstance(answer["error"]["code"], str) and answer["error"]["code"], answer
        assert isinstance(answer["error"]["message"], str) and answer["error"]["message"], answer
