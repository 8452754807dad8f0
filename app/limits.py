"""Every input limit and its 413 message, in one place.

Each check names the setting that sets the limit and says what to send instead. The routes call
them before any model work; the QA service calls :func:`check_windows` once it has tokenised.
"""

from __future__ import annotations

from app.config import Settings
from app.errors import PayloadTooLargeError


def check_batch(count: int, limit: int, unit: str, variable: str) -> None:
    """More than ``limit`` ``unit`` in one batch."""
    if count > limit:
        raise PayloadTooLargeError(
            f"The batch has {count} {unit}; the limit is {limit} ({variable}). "
            "Send several smaller batches."
        )


def check_ner_batch(count: int, settings: Settings) -> None:
    check_batch(count, settings.ner_max_batch_texts, "texts", "NER_MAX_BATCH_TEXTS")


def check_qa_batch(count: int, settings: Settings) -> None:
    check_batch(count, settings.qa_max_batch_items, "items", "QA_MAX_BATCH_ITEMS")


def check_ner_text(
    text: str, settings: Settings, what: str = "text", advice: str | None = None
) -> None:
    """A text longer than NER_MAX_TEXT_CHARS."""
    limit = settings.ner_max_text_chars
    if len(text) > limit:
        raise PayloadTooLargeError(
            f"The {what} has {len(text)} characters; the limit is {limit} (NER_MAX_TEXT_CHARS). "
            + (
                advice
                or "Split it into smaller texts, for example by paragraph, and send them to "
                "POST /ner/batch."
            )
        )


def check_qa_sizes(question: str, context: str, settings: Settings, where: str = "") -> None:
    """A question or context longer than its character limit."""
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


def check_windows(
    context_tokens: int, windows: int, context_per_window: int, settings: Settings
) -> None:
    """A context that needs more windows than QA_MAX_WINDOWS (``context_per_window`` is how many
    new context tokens each window adds: its context budget minus the stride)."""
    if windows > settings.qa_max_windows:
        raise PayloadTooLargeError(
            f"The context is {context_tokens} tokens and needs {windows} windows; the limit is "
            f"{settings.qa_max_windows} (QA_MAX_WINDOWS). Send a shorter context (about "
            f"{settings.qa_max_windows * context_per_window} tokens), a smaller question, or a "
            "smaller doc_stride, or split the document and ask each part."
        )
