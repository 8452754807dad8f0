"""The page in headless Chromium against a real in-process server (real spaCy model)."""

from __future__ import annotations

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
    services = Services(enabled=("ner", "qa"), ner=main_module.services.ner, errors={"qa": reason})
    with browser.serve(page_app(main_module, main_module.settings, services)) as base_url:
        browser.open_page(page, base_url)

        assert browser.panel_state(page, "ner") == "ready"
        assert browser.panel_state(page, "qa") == "unavailable"
        message = browser.unavailable_message(page, "qa")
        assert "model is not available" in message and reason in message
        # The NER half of the same page keeps working.
        assert ("London", "GPE") in browser.submit_ner(page, "Ada Lovelace lived in London.")
