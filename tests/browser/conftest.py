"""Fixtures for the page tests: one headless Chromium per session and in-process servers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import driver as browser


def page_app(main_module: Any, settings: Any, services: Any) -> Any:
    """The lambda-nlp app, as ``create_app`` builds it, around already loaded ``services``."""
    return main_module.create_app(settings, services)


@pytest.fixture(scope="session")
def ner_app(main_module: Any) -> Any:
    """A NER-only function, as the NER image serves it (the suite's SERVICES=ner models)."""
    return page_app(main_module, main_module.settings, main_module.services)


@pytest.fixture(scope="session")
def ner_base_url(ner_app: Any) -> Iterator[str]:
    with browser.serve(ner_app) as url:
        yield url


@pytest.fixture(scope="session")
def chrome() -> Iterator[Any]:
    with browser.chromium() as driver:
        yield driver


@pytest.fixture
def page(chrome: Any) -> Iterator[Any]:
    """The session's browser, its console log drained before and after each test."""
    browser.console_messages(chrome)
    yield chrome
    browser.console_messages(chrome)


@pytest.fixture(scope="session")
def qa_service(qa_main: Any) -> Any:
    """The QA service of the suite's QA function (tests/conftest.py: a random tiny checkpoint)."""
    return qa_main.services.qa


def _qa_settings(main_module: Any, services: tuple[str, ...], qa_model_dir: Path) -> Any:
    return main_module.settings.model_copy(
        update={"services": services, "qa_model_dir": qa_model_dir}
    )


@pytest.fixture(scope="session")
def ner_qa_base_url(main_module: Any, qa_model_dir: Path, qa_service: Any) -> Iterator[str]:
    """One process serving both services."""
    from app.services import Services

    settings = _qa_settings(main_module, ("ner", "qa"), qa_model_dir)
    services = Services(
        enabled=("ner", "qa"), models={"ner": main_module.services.ner, "qa": qa_service}
    )
    with browser.serve(page_app(main_module, settings, services)) as url:
        yield url


@pytest.fixture(scope="session")
def qa_app(main_module: Any, qa_model_dir: Path, qa_service: Any) -> Any:
    """A QA-only function, as the QA image serves it."""
    from app.services import Services

    settings = _qa_settings(main_module, ("qa",), qa_model_dir)
    return page_app(main_module, settings, Services(enabled=("qa",), models={"qa": qa_service}))


@pytest.fixture(scope="session")
def front_door_base_url(ner_app: Any, qa_app: Any) -> Iterator[str]:
    """The local front door (tools.frontdoor) in front of a NER function and a QA function.

    Each function is its own app behind its own invoke endpoint; the front door routes to them
    as it does to the RIEs in ``make run``.
    """
    with (
        browser.invoke_endpoint(ner_app) as ner_url,
        browser.invoke_endpoint(qa_app) as qa_url,
        browser.front_door({"ner": ner_url, "qa": qa_url}) as url,
    ):
        yield url
