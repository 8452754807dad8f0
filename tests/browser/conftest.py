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
def qa_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random ALBERT QA checkpoint, converted to the project's model directory."""
    from tests.qa.checkpoints import build

    _, model_dir = build(tmp_path_factory.mktemp("qa-checkpoint"), "tiny", converted=True)
    assert model_dir is not None
    return model_dir


@pytest.fixture(scope="session")
def ner_qa_base_url(main_module: Any, qa_model_dir: Path) -> Iterator[str]:
    """One process serving both services (what the page sees through the front door)."""
    from app.qa.service import QaService
    from app.services import Services

    settings = main_module.settings.model_copy(
        update={"services": ("ner", "qa"), "qa_model_dir": qa_model_dir}
    )
    services = Services(
        enabled=("ner", "qa"), ner=main_module.services.ner, qa=QaService.load(settings)
    )
    with browser.serve(page_app(main_module, settings, services)) as url:
        yield url
