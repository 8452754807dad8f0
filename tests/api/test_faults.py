"""A missing or corrupt model fails init with a clear message; the process keeps answering."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from app.services import Services
from tests.api.test_errors import assert_error


def test_faults_corrupt_ner_model_reports_in_health(tmp_path: Path) -> None:
    (tmp_path / "config.cfg").write_text("[nlp]\nnot a pipeline config")
    settings = Settings(services=("ner",), ner_model=str(tmp_path))
    services = Services.load(settings)
    assert services.ner is None and "Could not load the spaCy pipeline" in services.errors["ner"]
    with TestClient(create_app(settings, services), raise_server_exceptions=False) as client:
        health = client.get("/health").json()
        assert health["status"] == "degraded"
        assert health["details"]["ner"]["status"] == "unavailable"
        assert str(tmp_path) in health["details"]["ner"]["error"]
        message = assert_error(client.post("/ner", json={"text": "hi"}), 503, "model_unavailable")
        assert "Could not load" in message


def test_faults_missing_ner_package_is_explained() -> None:
    settings = Settings(services=("ner",), ner_model="en_core_web_nonexistent")
    services = Services.load(settings)
    assert "neither an installed spaCy package nor a directory" in services.errors["ner"]
