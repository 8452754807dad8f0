"""``/qa`` routes: extractive answers (spans of the context) to questions."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from pydantic import Field

from app.api.deps import QaServiceDep, SettingsDep, check_batch_size, run_model
from app.api.schemas import ERROR_RESPONSES, ModelInfo, StrictModel
from app.config import Settings
from app.errors import PayloadTooLargeError

if TYPE_CHECKING:
    from app.qa.decode import Answer
    from app.qa.service import QaService

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


def _check_sizes(question: str, context: str, settings: Settings, where: str = "") -> None:
    if len(question) > settings.qa_max_question_chars:
        raise PayloadTooLargeError(
            f"The question{where} has {len(question)} characters; the limit is "
            f"{settings.qa_max_question_chars} (QA_MAX_QUESTION_CHARS). Ask a shorter question."
        )
    if len(context) > settings.qa_max_context_chars:
        raise PayloadTooLargeError(
            f"The context{where} has {len(context)} characters; the limit is "
            f"{settings.qa_max_context_chars} (QA_MAX_CONTEXT_CHARS). Send the passage most likely "
            "to hold the answer, or split the document and ask each part."
        )


def _deadline(request: Request, settings: Settings) -> float | None:
    """``time.monotonic()`` value by which the answer must be ready, from the Lambda context."""
    context = request.scope.get("aws.context")
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return None
    remaining_ms = float(remaining())
    return time.monotonic() + (remaining_ms - settings.qa_deadline_margin_ms) / 1000.0


def _result(answers: list[Answer]) -> QaResult:
    out = [
        AnswerOut(text=a.text, start=a.start, length=a.length, score=max(a.score, 0.0))
        for a in answers
    ]
    return QaResult(answers=out, no_answer=bool(out) and out[0].length == 0)


async def _answer(
    request: Request,
    service: QaService,
    question: str,
    context: str,
    options: QaOptions,
    settings: Settings,
    deadline: float | None,
) -> QaResult:
    answers = await run_model(
        request,
        service.answer,
        question,
        context,
        top_k=options.top_k,
        max_answer_length=options.max_answer_length or settings.qa_max_answer_length,
        doc_stride=options.doc_stride or settings.qa_doc_stride,
        allow_no_answer=options.allow_no_answer,
        deadline=deadline,
    )
    return _result(list(answers))


@router.post("", summary="Answer a question from a context")
async def qa(
    body: QaRequest, request: Request, service: QaServiceDep, settings: SettingsDep
) -> QaResponse:
    _check_sizes(body.question, body.context, settings)
    result = await _answer(
        request, service, body.question, body.context, body, settings, _deadline(request, settings)
    )
    return QaResponse(
        answers=result.answers,
        no_answer=result.no_answer,
        model=ModelInfo(name=service.name, version=service.version),
    )


@router.post("/batch", summary="Answer several question/context pairs")
async def qa_batch(
    body: QaBatchRequest, request: Request, service: QaServiceDep, settings: SettingsDep
) -> QaBatchResponse:
    check_batch_size(len(body.items), settings.qa_max_batch_items, "items", "QA_MAX_BATCH_ITEMS")
    for index, item in enumerate(body.items):
        _check_sizes(item.question, item.context, settings, where=f" of item {index}")
    deadline = _deadline(request, settings)
    results = [
        await _answer(request, service, item.question, item.context, body, settings, deadline)
        for item in body.items
    ]
    return QaBatchResponse(
        results=results, model=ModelInfo(name=service.name, version=service.version)
    )
