"""The error catalogue: every error the API returns, each with an HTTP status and a stable code.

Messages say what went wrong and what to do about it (the spaCy ``errors.py`` habit). One
exception handler in :mod:`app.web` renders them all as ``{"error": {"code", "message"}}``.
"""

from __future__ import annotations

import re


class AppError(Exception):
    """Base of the errors the API turns into a JSON response."""

    status_code: int = 500
    code: str = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequestError(AppError):
    """The request is well-formed JSON but cannot be served as asked."""

    status_code = 400
    code = "bad_request"


class InvalidEventError(BadRequestError):
    """The Lambda event is not a function URL request (payload format 2.0) that can be served."""

    code = "invalid_event"


class InvalidBodyError(BadRequestError):
    """The event's body cannot be turned into bytes (for example flagged base64 but not base64)."""

    code = "invalid_body"


class InvalidTextError(BadRequestError):
    """A string in the request is not valid Unicode (an unpaired surrogate), so not UTF-8."""

    code = "invalid_text"


class ValidationFailedError(AppError):
    """The request body does not match the schema."""

    status_code = 422
    code = "validation_error"


class PayloadTooLargeError(AppError):
    """An input is over a configured size limit."""

    status_code = 413
    code = "payload_too_large"


class ServiceNotEnabledError(AppError):
    """The route belongs to a service this function does not serve."""

    status_code = 404
    code = "service_not_enabled"


class ModelUnavailableError(AppError):
    """The service is enabled but its model could not be loaded."""

    status_code = 503
    code = "model_unavailable"


class DeadlineExceededError(AppError):
    """The request would not finish before the Lambda deadline."""

    status_code = 504
    code = "deadline_exceeded"


class ModelLoadError(Exception):
    """A model directory or package is missing or corrupt (raised at init, never to a client)."""


# MXNet's messages open with its C++ traceback ("Traceback ...", "File ...", "[bt] ...") and
# put the reason last, sometimes behind "[hh:mm:ss] src/file.cc:123: ".
_FRAME = re.compile(r"^(Traceback|File |Stack trace|\[bt\]|\d+: )")
_SOURCE_PREFIX = re.compile(r"^(\[\d\d:\d\d:\d\d\] )?\S+\.(cc|h|cpp|py):\d+: ")


def unencodable_index(text: str) -> int | None:
    """Index of the first character UTF-8 cannot encode (an unpaired surrogate), else None.

    JSON may escape lone surrogates (``"\\ud800"``) and Lambda events may carry them; spaCy's
    tokenizer, SentencePiece, the JSON responses and the log stream all need UTF-8.
    """
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return exc.start
    return None


def error_summary(exc: BaseException) -> str:
    """One line of an exception fit for a user: the reason, never a traceback or source path."""
    for line in (raw.strip() for raw in str(exc).splitlines()):
        if not line or _FRAME.match(line):
            continue
        line = _SOURCE_PREFIX.sub("", line)
        return line.removeprefix("MXNetError: ") or type(exc).__name__
    return type(exc).__name__
