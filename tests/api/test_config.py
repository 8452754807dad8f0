from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.config import Settings


def test_config_services_comma_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICES", " NER , qa ")
    assert Settings().services == ("ner", "qa")


@pytest.mark.parametrize("value", ["ner,pos", "", " , "])
def test_config_services_rejects_unknown_or_empty(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("SERVICES", value)
    with pytest.raises(ValidationError, match="SERVICES"):
        Settings()


def test_config_env_overrides_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NER_MAX_TEXT_CHARS", "10")
    monkeypatch.setenv("QA_MODEL_DIR", "/tmp/m")
    settings = Settings()
    assert settings.ner_max_text_chars == 10 and str(settings.qa_model_dir) == "/tmp/m"
    assert Settings(ner_max_text_chars=5).ner_max_text_chars == 5
