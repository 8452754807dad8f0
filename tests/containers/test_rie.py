"""Each function image under the RIE, invoked with function URL events, against the in-process app."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import load_event
from tests.containers.harness import Stack, in_process_results


def _event(path: str, body: Any, raw_body: str | None = None) -> dict[str, Any]:
    event = load_event("ner.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["body"] = raw_body if raw_body is not None else json.dumps(body)
    return event


def _comparable(result: dict[str, Any]) -> tuple[int, Any]:
    return result["statusCode"], json.loads(result["body"])


NER_EVENTS = [
    "ner.json",
    "ner_batch.json",
    "ner_base64.json",
    "ner_invalid_json.json",
]


def test_rie_ner_events_match_in_process_app(stack: Stack) -> None:
    events = [load_event(name) for name in NER_EVENTS]
    env = dict(os.environ, SERVICES="ner")
    expected = in_process_results(env, events)
    got = [stack.invoke("ner", e) for e in events]
    assert [_comparable(g) for g in got] == [_comparable(e) for e in expected]
    assert got[0]["statusCode"] == 200
    assert {"Ada Lovelace", "London"} <= {e["text"] for e in json.loads(got[0]["body"])["entities"]}


def test_rie_qa_event_matches_in_process_app(stack: Stack, qa_test_model: Path) -> None:
    events = [load_event("qa.json")]
    env = dict(os.environ, SERVICES="qa", QA_MODEL_DIR=str(qa_test_model))
    expected = in_process_results(env, events)
    got = stack.invoke("qa", events[0])
    status, body = _comparable(got)
    want_status, want = _comparable(expected[0])
    assert status == want_status == 200
    # The model name comes from the model dir's name (/opt/models/qa vs .../model): same version.
    assert body["model"]["version"] == want["model"]["version"]
    assert [(a["text"], a["start"], a["length"]) for a in body["answers"]] == [
        (a["text"], a["start"], a["length"]) for a in want["answers"]
    ]
    for a, b in zip(body["answers"], want["answers"], strict=True):
        assert a["score"] == pytest.approx(b["score"], abs=1e-5)


def test_rie_bad_json_is_a_4xx_json_error(stack: Stack) -> None:
    for host, path in (("ner", "/ner"), ("qa", "/qa")):
        result = stack.invoke(host, _event(path, None, raw_body='{"text": '))
        body = json.loads(result["body"])
        assert result["statusCode"] == 400, body
        assert body["error"]["code"] == "invalid_json"
        assert "JSON" in body["error"]["message"]


def test_rie_too_large_input_is_413(stack: Stack) -> None:
    result = stack.invoke("ner", _event("/ner", {"text": "a" * 2_000_000}))
    body = json.loads(result["body"])
    assert result["statusCode"] == 413, body
    assert set(body["error"]) == {"code", "message"}
    result = stack.invoke("qa", _event("/qa", {"question": "Why?", "context": "b " * 200_000}))
    assert result["statusCode"] == 413, result["body"]


def test_rie_non_http_event_does_not_crash_the_function(stack: Stack) -> None:
    # {} is no function URL event: the boundary answers 400 (issue 17), the RIE stays up.
    answer = json.loads(stack.invoke_raw("ner", b"{}"))
    assert answer["statusCode"] == 400, answer
    assert json.loads(answer["body"])["error"]["code"] == "invalid_event"
    result = stack.invoke("ner", load_event("health.json"))
    assert result["statusCode"] == 200
