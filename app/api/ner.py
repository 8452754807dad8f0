"""``/ner`` routes: entities of one text or of a batch.

The routes answer JSON they encode themselves: the service's entities go straight to pydantic's
JSON serializer (:data:`_NER_BODY`, :data:`_NER_BATCH_BODY`), with no response models built per
entity and no re-validation by FastAPI, which together cost more than the rest of the web stack
on a short text. ``response_model`` still names the documented shapes (the OpenAPI schema), and
the tests check every answer against them.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request, Response
from pydantic import Field, TypeAdapter

from app import limits, metrics
from app.api.deps import NerServiceDep, run_model, settings_of
from app.api.schemas import ERROR_RESPONSES, ModelInfo, StrictModel
from app.ner.service import Entity, NerService

router = APIRouter(prefix="/ner", tags=["ner"], responses=ERROR_RESPONSES)


class NerRequest(StrictModel):
    text: str = Field(
        description="Text to analyse. Empty or whitespace-only text has no entities.",
        examples=["Ada Lovelace was born in London in 1815."],
    )
    labels: list[str] | None = Field(
        default=None, description="Keep only these entity labels (null: all the model knows)."
    )


class NerBatchRequest(StrictModel):
    texts: list[str] = Field(min_length=1, description="Texts to analyse, in order.")
    labels: list[str] | None = Field(default=None, description="As in POST /ner.")


class EntityOut(StrictModel):
    text: str = Field(description="The entity's text; always equal to text[start:end].")
    label: str = Field(description="Entity label, e.g. PERSON, ORG, GPE.")
    start: int = Field(ge=0, description="Start character offset into the text.")
    end: int = Field(ge=0, description="End character offset (exclusive).")


class NerResponse(StrictModel):
    entities: list[EntityOut]
    model: ModelInfo


class NerResult(StrictModel):
    entities: list[EntityOut]


class NerBatchResponse(StrictModel):
    results: list[NerResult] = Field(description="One result per input text, in order.")
    model: ModelInfo


def _model(ner: NerService) -> ModelInfo:
    return ModelInfo(name=ner.name, version=ner.version)


@dataclass(slots=True)
class _NerBody:
    """What POST /ner answers (documented as :class:`NerResponse`), as it is serialised."""

    entities: list[Entity]
    model: ModelInfo


@dataclass(slots=True)
class _NerResultBody:
    entities: list[Entity]


@dataclass(slots=True)
class _NerBatchBody:
    """What POST /ner/batch answers (documented as :class:`NerBatchResponse`)."""

    results: list[_NerResultBody]
    model: ModelInfo


# Serialisation only: the fields, in the documented order, as compact UTF-8 JSON.
_NER_BODY = TypeAdapter(_NerBody)
_NER_BATCH_BODY = TypeAdapter(_NerBatchBody)


def _json(content: bytes) -> Response:
    """The headers FastAPI's own JSON path sends: content-type application/json and the length."""
    return Response(content=content, media_type="application/json")


@router.post("", summary="Named entities of one text", response_model=NerResponse)
async def ner(body: NerRequest, request: Request, service: NerServiceDep) -> Response:
    settings = settings_of(request)
    limits.check_ner_text(body.text, settings)
    entities = await run_model(request, service.extract, body.text, body.labels)
    metrics.add("Characters", len(body.text))
    metrics.add("Entities", len(entities))
    return _json(_NER_BODY.dump_json(_NerBody(entities=entities, model=_model(service))))


@router.post(
    "/batch",
    summary="Named entities of several texts (one nlp.pipe pass)",
    response_model=NerBatchResponse,
)
async def ner_batch(body: NerBatchRequest, request: Request, service: NerServiceDep) -> Response:
    settings = settings_of(request)
    limits.check_ner_batch(len(body.texts), settings)
    for index, text in enumerate(body.texts):
        limits.check_ner_text(text, settings, what=f"text at index {index}")
    results = await run_model(request, service.extract_batch, body.texts, body.labels)
    metrics.add("Characters", sum(len(text) for text in body.texts))
    metrics.add("Entities", sum(len(entities) for entities in results))
    content = _NerBatchBody(
        results=[_NerResultBody(entities=entities) for entities in results], model=_model(service)
    )
    return _json(_NER_BATCH_BODY.dump_json(content))
