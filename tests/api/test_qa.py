"""POST /qa and /qa/batch through the real app, the real MXNet graph and the Mangum handler."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from tests.api.test_errors import assert_error
from tests.conftest import LambdaContext, load_event

CONTEXT = (
    "Ada Lovelace was born in London in 1815. She worked with Charles Babbage on the "
    "Analytical Engine, and her notes describe an algorithm for computing Bernoulli numbers."
)


def check_answers(context: str, answers: list[dict[str, Any]]) -> None:
    for answer in answers:
        assert context[answer["start"] : answer["start"] + answer["length"]] == answer["text"]
        assert answer["score"] >= 0.0


def test_qa_answers_are_spans_of_the_context(qa_client: Any) -> None:
    response = qa_client.post(
        "/qa", json={"question": "Where was Ada born?", "context": CONTEXT, "top_k": 3}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert 1 <= len(body["answers"]) <= 3 and body["no_answer"] is False
    assert body["model"]["name"] and body["model"]["version"]
    check_answers(CONTEXT, body["answers"])
    scores = [a["score"] for a in body["answers"]]
    assert scores == sorted(scores, reverse=True)


def test_qa_handler_function_url_event(qa_main: Any) -> None:
    event = load_event("qa.json")
    result = qa_main.handler(event, LambdaContext())
    assert result["statusCode"] == 200, result
    context = json.loads(event["body"])["context"]
    check_answers(context, json.loads(result["body"])["answers"])


def test_qa_batch_equals_single_calls(qa_client: Any) -> None:
    items = [
        {"question": "Who worked with Babbage?", "context": CONTEXT},
        {"question": "When?", "context": "It happened in 1815 in London."},
    ]
    response = qa_client.post("/qa/batch", json={"items": items, "top_k": 2})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    singles = [qa_client.post("/qa", json={**item, "top_k": 2}).json() for item in items]
    assert [r["answers"] for r in results] == [s["answers"] for s in singles]


def test_qa_long_context_uses_several_windows(qa_client: Any) -> None:
    context = " ".join([CONTEXT] * 40)
    response = qa_client.post(
        "/qa", json={"question": "What did she compute?", "context": context, "top_k": 5}
    )
    assert response.status_code == 200, response.text
    check_answers(context, response.json()["answers"])


def test_qa_allow_no_answer_is_a_result(qa_client: Any) -> None:
    body = qa_client.post(
        "/qa", json={"question": "Who?", "context": CONTEXT, "allow_no_answer": True}
    ).json()
    if body["no_answer"]:
        assert body["answers"][0] == {**body["answers"][0], "text": "", "start": 0, "length": 0}
    check_answers(CONTEXT, body["answers"])


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"context": CONTEXT}, "question: Field required"),
        ({"question": "", "context": CONTEXT}, "question"),
        ({"question": "q", "context": CONTEXT, "top_k": 0}, "top_k"),
        ({"question": "q", "context": CONTEXT, "top_k": 21}, "top_k"),
        ({"question": "q", "context": CONTEXT, "max_answer_length": 0}, "max_answer_length"),
        ({"question": "q", "context": CONTEXT, "doc_stride": 10_000}, "doc_stride"),
        ({"question": ["q"], "context": CONTEXT}, "question"),
    ],
)
def test_qa_schema_violations_are_422(qa_client: Any, body: Any, fragment: str) -> None:
    assert fragment in assert_error(qa_client.post("/qa", json=body), 422, "validation_error")


def test_qa_limits_are_413_and_named(qa_client: Any, qa_main: Any) -> None:
    s = qa_main.settings
    long_question = "why " * (s.qa_max_question_chars // 4 + 1)
    message = assert_error(
        qa_client.post("/qa", json={"question": long_question, "context": CONTEXT}),
        413,
        "payload_too_large",
    )
    assert "QA_MAX_QUESTION_CHARS" in message
    message = assert_error(
        qa_client.post("/qa", json={"question": "q", "context": "x " * s.qa_max_context_chars}),
        413,
        "payload_too_large",
    )
    assert "QA_MAX_CONTEXT_CHARS" in message
    items = [{"question": "q", "context": "c"}] * (s.qa_max_batch_items + 1)
    message = assert_error(
        qa_client.post("/qa/batch", json={"items": items}), 413, "payload_too_large"
    )
    assert "QA_MAX_BATCH_ITEMS" in message


def test_qa_too_many_windows_is_413(qa_client: Any, qa_main: Any) -> None:
    """A context under the character limit that would still need hundreds of windows."""
    words = qa_main.settings.qa_max_context_chars // 6
    context = " ".join(f"w{i % 97}" for i in range(words))[: qa_main.settings.qa_max_context_chars]
    message = assert_error(
        qa_client.post("/qa", json={"question": "q?", "context": context, "doc_stride": 256}),
        413,
        "payload_too_large",
    )
    assert "window" in message.lower()


def test_qa_respects_the_lambda_deadline(qa_main: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """With too little time left beyond the safety margin, the function stops between windows and
    answers 504 instead of being killed.

    The budget is 50 ms past the margin for a context of 11 windows. The tiny test model's forward
    takes 2-10 ms, so 11 of them can fit in 50 ms on a quick run; each forward is held to at least
    30 ms here (the real model still computes it), as a larger model's would be, so the work cannot
    fit and the outcome does not depend on the machine's speed.
    """
    model = qa_main.services.models["qa"].model
    forward = model.forward

    def slow_forward(*args: Any) -> Any:
        began = time.perf_counter()
        out = forward(*args)
        time.sleep(max(0.0, 0.030 - (time.perf_counter() - began)))
        return out

    monkeypatch.setattr(model, "forward", slow_forward)
    event = load_event("qa.json")
    event["body"] = json.dumps({"question": "Who?", "context": " ".join([CONTEXT] * 30)})
    context = LambdaContext(timeout_ms=qa_main.settings.qa_deadline_margin_ms + 50)
    result = qa_main.handler(event, context)
    assert result["statusCode"] == 504, result
    body = json.loads(result["body"])
    assert body["error"]["code"] == "deadline_exceeded"
    stopped = re.search(r"stopped after (\d+) of (\d+) windows", body["error"]["message"])
    assert stopped and int(stopped[1]) < int(stopped[2]) == 11, body


def test_qa_model_missing_is_503_naming_make_models(main_module: Any, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from app.config import Settings
    from app.services import Services

    settings = Settings(services=("ner", "qa"), qa_model_dir=tmp_path / "absent")
    services = Services(enabled=("ner", "qa"), models={"ner": main_module.services.ner})
    services.errors.update(Services.load(settings.model_copy(update={"services": ("qa",)})).errors)
    with TestClient(main_module.create_app(settings, services)) as client:
        message = assert_error(
            client.post("/qa", json={"question": "q", "context": "c"}), 503, "model_unavailable"
        )
        assert "make models" in message
        assert client.post("/ner", json={"text": "Paris"}).status_code == 200
        assert client.get("/health").json()["details"]["qa"]["status"] == "unavailable"
