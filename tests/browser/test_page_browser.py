"""The page in headless Chromium against a real in-process server (real spaCy model)."""

from __future__ import annotations

import os
from typing import Any

import httpx
import pytest

from tests.browser import driver as browser

pytestmark = pytest.mark.browser

NER_TEXT = (
    "Ada Lovelace was born in London in 1815 and worked with Charles Babbage "
    "on the Analytical Engine at the University of London."
)
# Markup in the text and inside an entity ("=document...=1>Corp" is an ORG to en_core_web_sm).
NER_INJECTION = (
    "Shares of <img src=x onerror=document.body.dataset.pwned=1>Corp rose in London after "
    "AT&T <b>bold</b> news. </script><script>document.body.dataset.pwned=2</script>"
)


def _api_entities(base_url: str, text: str) -> list[tuple[str, str]]:
    response = httpx.post(base_url + "ner", json={"text": text}, timeout=30)
    response.raise_for_status()
    return [(e["text"], e["label"]) for e in response.json()["entities"]]


def test_page_ner_renders_displacy_entities(page: Any, ner_base_url: str) -> None:
    browser.open_page(page, ner_base_url)
    assert browser.panel_state(page, "ner") == "ready"

    shown = browser.submit_ner(page, NER_TEXT)

    assert shown == _api_entities(ner_base_url, NER_TEXT)
    labels = {label for _, label in shown}
    assert {"PERSON", "GPE", "DATE"} <= labels
    assert ("Ada Lovelace", "PERSON") in shown
    # displaCy's colours apply: its style attributes passed the page's CSP by their hashes.
    person_background = page.execute_script(
        """
        const mark = Array.from(document.querySelectorAll('#ner-result mark.entity'))
          .find(function (m) { return m.textContent.includes('Ada Lovelace'); });
        return getComputedStyle(mark).backgroundColor;
        """
    )
    assert person_background == "rgb(170, 156, 252)"  # displaCy's PERSON colour #aa9cfc
    summary = page.execute_script("return document.getElementById('ner-summary').textContent")
    assert summary.startswith(f"{len(shown)} entities")
    assert browser.shown_error(page, "ner") is None
    browser.screenshot(page, "page-ner")
    messages = browser.console_messages(page)
    assert browser.csp_violations(messages) == []


def test_page_ner_injection_renders_as_text(page: Any, ner_base_url: str) -> None:
    browser.open_page(page, ner_base_url)

    shown = browser.submit_ner(page, NER_INJECTION)

    assert shown == _api_entities(ner_base_url, NER_INJECTION)
    assert any(">" in text for text, _ in shown), "an entity with markup in its text"
    result = page.execute_script(
        """
        const result = document.getElementById('ner-result');
        return {
          text: result.textContent,
          injected: result.querySelectorAll('img, script, b, iframe, [onerror]').length,
          tags: Array.from(new Set(Array.from(result.querySelectorAll('*'))
            .map(function (e) { return e.tagName.toLowerCase(); }))).sort(),
          pwned: document.body.dataset.pwned || null,
        };
        """
    )
    assert result["injected"] == 0
    assert set(result["tags"]) <= {"div", "mark", "span", "br"}
    assert result["pwned"] is None
    assert "Shares of <img src=x onerror" in result["text"]
    assert ("=document.body.dataset.pwned=1>Corp", "ORG") in shown
    assert "</script><script>" in result["text"]
    assert ("AT&T", "ORG") in shown
    assert " <b>bold</b> news. " in result["text"]
    assert browser.alert_text(page) is None
    browser.screenshot(page, "page-ner-injection")
    assert browser.csp_violations(browser.console_messages(page)) == []


def test_page_ner_error_shows_message(page: Any, ner_base_url: str) -> None:
    browser.open_page(page, ner_base_url)

    shown = browser.submit_ner(page, "x" * 100_001)

    assert shown == []
    error = browser.shown_error(page, "ner")
    assert error is not None
    assert error.code == "413 payload_too_large"
    assert "NER_MAX_TEXT_CHARS" in error.message
    browser.screenshot(page, "page-ner-error")


def test_page_qa_panel_says_not_served_on_ner_function(page: Any, ner_base_url: str) -> None:
    browser.open_page(page, ner_base_url)

    assert browser.panel_state(page, "qa") == "unavailable"
    message = browser.unavailable_message(page, "qa")
    assert "does not serve question answering" in message
    assert "front door" in message
    assert page.execute_script("return document.getElementById('qa-submit').disabled") is True
    assert "ner" in page.execute_script("return document.getElementById('status').textContent")


def test_page_qa_panel_says_model_unavailable(page: Any, main_module: Any) -> None:
    from app.services import Services
    from tests.browser.conftest import page_app

    reason = "The QA model directory /opt/models/qa does not exist; run make models."
    services = Services(
        enabled=("ner", "qa"), models={"ner": main_module.services.ner}, errors={"qa": reason}
    )
    with browser.serve(page_app(main_module, main_module.settings, services)) as base_url:
        browser.open_page(page, base_url)

        assert browser.panel_state(page, "ner") == "ready"
        assert browser.panel_state(page, "qa") == "unavailable"
        message = browser.unavailable_message(page, "qa")
        assert "model is not available" in message and reason in message
        # The NER half of the same page keeps working.
        assert ("London", "GPE") in browser.submit_ner(page, "Ada Lovelace lived in London.")


QA_QUESTION = "Where was Ada <img src=x onerror=document.body.dataset.pwned=3> born?"
QA_CONTEXT = (
    "Ada 😀 Lovelace was born in London in 1815. </script><script>document.body.dataset.pwned=4"
    "</script> She worked with Charles Babbage on the Analytical Engine <b>in London</b>."
)


def _api_answers(base_url: str, question: str, context: str, top_k: int) -> list[dict[str, Any]]:
    response = httpx.post(
        base_url + "qa", json={"question": question, "context": context, "top_k": top_k}, timeout=60
    )
    response.raise_for_status()
    answers: list[dict[str, Any]] = response.json()["answers"]
    return answers


def test_page_qa_highlights_answers_in_context(page: Any, ner_qa_base_url: str) -> None:
    browser.open_page(page, ner_qa_base_url)
    assert browser.panel_state(page, "ner") == "ready"
    assert browser.panel_state(page, "qa") == "ready"

    shown = browser.submit_qa(page, QA_QUESTION, QA_CONTEXT, top_k=3)

    expected = _api_answers(ner_qa_base_url, QA_QUESTION, QA_CONTEXT, 3)
    assert len(expected) == 3
    assert [a.text for a in shown] == [a["text"] for a in expected]
    assert [a.rank for a in shown] == [1, 2, 3]
    for answer, api in zip(shown, expected, strict=True):
        assert answer.score == pytest.approx(api["score"], rel=1e-9)
        assert answer.shown_score.endswith(f" · at character {api['start']}")
        assert float(answer.shown_score.split("%")[0]) == pytest.approx(
            api["score"] * 100, rel=0.06, abs=0.06
        )
    segments = browser.context_segments(page)
    # The whole context is shown, as text, in order (the emoji counts as one code point).
    assert "".join(s.text for s in segments) == QA_CONTEXT
    ranges = browser.highlighted_ranges(segments)
    for rank, api in enumerate(expected, start=1):
        start, end = api["start"], api["start"] + api["length"]
        assert ranges[rank] == (start, end)
        assert QA_CONTEXT[start:end] == api["text"]
        covered = "".join(s.text for s in segments if rank in s.answers)
        assert covered == api["text"]  # contiguous: nothing outside the answer is marked
    best = page.execute_script(
        "return Array.from(document.querySelectorAll('#qa-result mark.best'))"
        ".map(function (m) { return m.textContent; }).join('')"
    )
    assert best == expected[0]["text"]
    assert browser.shown_error(page, "qa") is None
    browser.screenshot(page, "page-qa")
    assert browser.csp_violations(browser.console_messages(page)) == []


def test_page_qa_injection_renders_as_text(page: Any, ner_qa_base_url: str) -> None:
    browser.open_page(page, ner_qa_base_url)

    browser.submit_qa(page, QA_QUESTION, QA_CONTEXT, top_k=5)

    result = page.execute_script(
        """
        const area = document.getElementById('qa-panel');
        return {
          injected: area.querySelectorAll('img, script, b, [onerror]').length,
          context: document.getElementById('qa-result').textContent,
          pwned: document.body.dataset.pwned || null,
        };
        """
    )
    assert result["injected"] == 0
    assert result["pwned"] is None
    assert result["context"] == QA_CONTEXT
    assert browser.alert_text(page) is None
    assert browser.csp_violations(browser.console_messages(page)) == []


def test_page_qa_error_shows_message(page: Any, ner_qa_base_url: str) -> None:
    browser.open_page(page, ner_qa_base_url)

    shown = browser.submit_qa(page, "Where?", "word " * 20_001, top_k=1)

    assert shown == []
    error = browser.shown_error(page, "qa")
    assert error is not None
    assert error.code == "413 payload_too_large"
    assert "QA_MAX_CONTEXT_CHARS" in error.message


def test_page_both_services_on_one_page(page: Any, ner_qa_base_url: str) -> None:
    browser.open_page(page, ner_qa_base_url)

    text = "Ada Lovelace was born in London in 1815 and worked with Charles Babbage."
    entities = browser.submit_ner(page, text)
    answers = browser.submit_qa(page, "Where was Ada Lovelace born?", text, top_k=3)

    assert ("London", "GPE") in entities
    assert len(answers) == 3 and all(a.text in text for a in answers)
    assert len(browser.highlighted_answers(page)) >= 1
    status = page.execute_script("return document.getElementById('status').textContent")
    assert status == "This URL serves: ner, qa."
    browser.screenshot(page, "page-both")


def test_page_through_front_door_reaches_both_functions(
    page: Any, front_door_base_url: str
) -> None:
    browser.open_page(page, front_door_base_url)

    assert browser.panel_state(page, "ner") == "ready"
    assert browser.panel_state(page, "qa") == "ready"
    status = page.execute_script("return document.getElementById('status').textContent")
    assert status == "This URL serves: ner, qa."
    text = "Ada Lovelace was born in London in 1815 and worked with Charles Babbage."
    entities = browser.submit_ner(page, text)
    answers = browser.submit_qa(page, "Where was Ada Lovelace born?", text, top_k=2)

    assert ("London", "GPE") in entities
    expected = _api_answers(front_door_base_url, "Where was Ada Lovelace born?", text, 2)
    assert [(a.text, a.score) for a in answers] == [(a["text"], a["score"]) for a in expected]
    assert [t for _, t in browser.highlighted_answers(page)]
    assert browser.shown_error(page, "qa") is None and browser.shown_error(page, "ner") is None
    browser.screenshot(page, "page-front-door")
    assert browser.csp_violations(browser.console_messages(page)) == []


def test_page_through_the_signing_proxy_on_iam_function_urls(
    page: Any, ner_app: Any, qa_app: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """A deployed stack's default: two function URLs with AuthType AWS_IAM (front doors in that
    mode). Opened directly the browser gets Forbidden; through tools.proxy the page works."""
    from tests.deploy.conftest import ACCESS_KEY, SECRET_KEY
    from tools.frontdoor import IamAuth

    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    auth = IamAuth(ACCESS_KEY, SECRET_KEY, "eu-west-1")
    with (
        browser.invoke_endpoint(ner_app) as ner,
        browser.invoke_endpoint(qa_app) as qa,
        browser.front_door({"ner": ner}, "ner", auth) as ner_url,
        browser.front_door({"qa": qa}, "qa", auth) as qa_url,
        browser.signing_proxy(
            ["--ner-url", ner_url, "--qa-url", qa_url, "--region", "eu-west-1"]
        ) as base_url,
    ):
        page.get(ner_url)
        assert "Forbidden" in page.find_element("tag name", "body").text
        browser.open_page(page, base_url)

        assert browser.panel_state(page, "ner") == "ready"
        assert browser.panel_state(page, "qa") == "ready"
        text = "Ada Lovelace was born in London in 1815 and worked with Charles Babbage."
        assert ("London", "GPE") in browser.submit_ner(page, text)
        answers = browser.submit_qa(page, "Where was Ada Lovelace born?", text, top_k=2)
        expected = _api_answers(base_url, "Where was Ada Lovelace born?", text, 2)
        assert [(a.text, a.score) for a in answers] == [(a["text"], a["score"]) for a in expected]
        assert browser.shown_error(page, "qa") is None and browser.shown_error(page, "ner") is None
        browser.screenshot(page, "page-signing-proxy")
        assert browser.csp_violations(browser.console_messages(page)) == []


def test_page_on_qa_function_serves_qa_only(page: Any, qa_app: Any) -> None:
    with browser.serve(qa_app) as base_url:
        browser.open_page(page, base_url)

        assert browser.panel_state(page, "ner") == "unavailable"
        assert "does not serve named-entity recognition" in browser.unavailable_message(page, "ner")
        assert browser.panel_state(page, "qa") == "ready"
        answers = browser.submit_qa(page, "Who?", "Ada Lovelace met Charles Babbage.", top_k=1)
        assert len(answers) == 1 and answers[0].text in "Ada Lovelace met Charles Babbage."
        assert browser.csp_violations(browser.console_messages(page)) == []


def test_page_qa_shows_no_answer(page: Any, main_module: Any, qa_service: Any) -> None:
    import copy

    from app.services import Services
    from tests.browser.conftest import page_app

    # The same loaded model, with a threshold that always lets "no answer" win when allowed.
    unsure = copy.copy(qa_service)
    unsure.settings = qa_service.settings.model_copy(update={"qa_null_threshold": -1e9})
    services = Services(enabled=("qa",), models={"qa": unsure})
    context = "Ada Lovelace met Charles Babbage."
    with browser.serve(page_app(main_module, unsure.settings, services)) as base_url:
        browser.open_page(page, base_url)

        answers = browser.submit_qa(page, "Who?", context, top_k=2, allow_no_answer=True)

        assert [a.rank for a in answers] == [1, 2]
        assert answers[0].text == "no answer in the context"
        assert answers[1].text in context and answers[1].text
        no_answer = page.execute_script(
            "return document.getElementById('qa-answers').dataset.noAnswer"
        )
        assert no_answer == "true"
        # Only the real span is highlighted, and it is not drawn as the best answer.
        assert browser.highlighted_answers(page) == [(2, answers[1].text)]
        assert page.execute_script("return document.querySelectorAll('mark.best').length") == 0
