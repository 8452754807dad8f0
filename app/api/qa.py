"""``/qa`` routes: extractive answers (spans of the context) to questions."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from pydantic import Field

from app import limits
from app.api.deps import QaServiceDep, run_model, settings_of
from app.api.schemas import ERROR_RESPONSES, ModelInfo, StrictModel
from app.config import Settings

if TYPE_CHECKING:
    from app.qa.decode import Answer

router = APIRouter(
    prefix="/qa", tags=["qa"], responses={**ERROR_RESPONSES, 504: ERROR_RESPONSES[500]}
)


class QaOptions(StrictModel):
    top_k: int = Field(
        default=1, ge=1, le=20, description="How many answers to return, best first."
    )
    max_answer_length: int | None = Field(
        default=None,
        ge=1,
        le=512,
        description="Longest answer in tokens (default QA_MAX_ANSWER_LENGTH=15).",
    )
    doc_stride: int | None = Field(
        default=None,
        ge=1,
        le=256,
        description="Overlap in tokens between windows of a long context (default QA_DOC_STRIDE=128).",
    )
    allow_no_answer: bool = Field(
        default=False,
        description=(
            "SQuAD 2.0 behaviour: when the model scores 'no answer' above every span, return an answer "
            "with empty text, start 0 and length 0 (and no_answer: true) instead of the best span."
        ),
    )


class QaRequest(QaOptions):
    question: str = Field(min_length=1, examples=["Where was Ada Lovelace born?"])
    context: str = Field(min_length=1, examples=["Ada Lovelace was born in London in 1815."])


class QaItem(StrictModel):
    question: str = Field(min_length=1)
    context: str = Field(min_length=1)


class QaBatchRequest(QaOptions):
    items: list[QaItem] = Field(min_length=1, description="Question/context pairs, in order.")


class AnswerOut(StrictModel):
    text: str = Field(description="The answer; always equal to context[start:start+length].")
    start: int = Field(ge=0, description="Start character offset into the context.")
    length: int = Field(ge=0, description="Length in characters (0 for the no-answer result).")
    score: float = Field(
        ge=0.0,
        description=(
            "Probability of this span (start x end softmax). As in the transformers pipeline, when "
            "overlapping windows yield the same text their probabilities are added, so a score can "
            "exceed 1 for long contexts."
        ),
    )


class QaResult(StrictModel):
    answers: list[AnswerOut]
    no_answer: bool = Field(
        description="True when the best result is 'no answer' (allow_no_answer)."
    )


class QaResponse(QaResult):
    model: ModelInfo


class QaBatchResponse(StrictModel):
    results: list[QaResult] = Field(description="One result per item, in order.")
    model: ModelInfo


def _deadline(request: Request, settings: Settings) -> float | None:
    """``time.monotonic()`` value by which the answer must be ready, from the Lambda context."""
    context = request.scope.get("aws.context")
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return None
    remaining_ms = float(remaining())
    return time.monotonic() + (remaining_ms - settings.qa_deadline_margin_ms) / 1000.0


def _options(body: QaOptions, request: Request, settings: Settings) -> dict[str, Any]:
    """The request's options as the service's keywords (None keeps the service's default)."""
    return {
        "top_k": body.top_k,
        "max_answer_length": body.max_answer_length,
        "doc_stride": body.doc_stride,
        "allow_no_answer": body.allow_no_answer,
        "deadline": _deadline(request, settings),
    }


def _result(answers: list[Answer]) -> QaResult:
    out = [
        AnswerOut(text=a.text, start=a.start, length=a.length, score=max(a.score, 0.0))
        for a in answers
    ]
    return QaResult(answers=out, no_answer=bool(out) and out[0].length == 0)


@router.post("", summary="Answer a question from a context")
async def qa(body: QaRequest, request: Request, service: QaServiceDep) -> QaResponse:
    settings = settings_of(request)
    limits.check_qa_sizes(body.question, body.context, settings)
    answers = await run_model(
        request,
        service.answer,
        body.question,
        body.context,
        **_options(body, request, settings),
    )
    result = _result(answers)
    return QaResponse(
        answers=result.answers,
        no_answer=result.no_answer,
        model=ModelInfo(name=service.name, version=service.version),
    )


@router.post("/batch", summary="Answer several question/context pairs")
async def qa_batch(
    body: QaBatchRequest, request: Request, service: QaServiceDep
) -> QaBatchResponse:
    settings = settings_of(request)
    limits.check_qa_batch(len(body.items), settings)
    for index, item in enumerate(body.items):
        limits.check_qa_sizes(item.question, item.context, settings, where=f" of item {index}")
    # One model call for the whole batch, under one deadline; the service applies the defaults.
    answers = await run_model(
        request,
        service.answer_batch,
        body.items,
        **_options(body, request, settings),
    )
    results = [_result(item) for item in answers]
    return QaBatchResponse(
        results=results, model=ModelInfo(name=service.name, version=service.version)
    )
