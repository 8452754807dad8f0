"""Request and response models shared by the routers (they define the OpenAPI schema)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.errors import InvalidTextError, unencodable_index


class StrictModel(BaseModel):
    """Requests reject unknown fields, so a typo such as ``"txt"`` is reported, not ignored, and
    strings that are not valid Unicode (400 ``invalid_text``, see :func:`reject_unencodable`)."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _valid_unicode(cls, data: Any) -> Any:
        reject_unencodable(data)
        return data


def reject_unencodable(data: Any) -> None:
    """Raise :class:`InvalidTextError` for the first key or string UTF-8 cannot encode.

    JSON can escape an unpaired surrogate (``"\\ud800"``), typically half of an emoji cut by a
    client that slices UTF-16; spaCy's tokenizer, SentencePiece and the JSON response all need
    UTF-8, so such text is refused up front rather than failing later as a 500. An AppError, not
    a ValueError: pydantic would fold that into the 422 schema error, and this is no schema error.
    Iterative, since the walk must not recurse as deep as a hostile body nests; each value keeps
    only a link to its parent, so the path is spelled out for the error alone.
    """
    pending: list[tuple[_Where, Any]] = [(None, data)]
    while pending:
        where, value = pending.pop()
        if isinstance(value, str):
            index = unencodable_index(value)
            if index is not None:
                raise _invalid_text(_spell(where), value, index)
        elif isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str) and (index := unencodable_index(key)) is not None:
                    raise _invalid_text(f"A key of {_spell(where)}", key, index)
                pending.append(((where, key), item))
        elif isinstance(value, list | tuple):
            pending.extend(((where, i), item) for i, item in enumerate(value))


_Where = tuple["_Where", str | int] | None
"""Where a value sits in the body: (where its parent sits, its key or index); None: the body."""


def _spell(where: _Where) -> str:
    parts: list[str] = []
    while where is not None:
        where, key = where
        parts.append(f"[{key}]" if isinstance(key, int) else f".{key[:40]}")
    return "body" + "".join(reversed(parts))


def _invalid_text(where: str, value: str, index: int) -> InvalidTextError:
    return InvalidTextError(
        f"{where} holds an unpaired surrogate (U+{ord(value[index]):04X}) at character {index}: "
        "it is not valid Unicode and cannot be encoded as UTF-8. Remove it or replace it (for "
        "example with U+FFFD); it usually comes from text cut in the middle of a UTF-16 "
        "surrogate pair, such as an emoji."
    )


class ModelInfo(BaseModel):
    name: str = Field(description="Model package or directory name.")
    version: str = Field(description="Model version.")


class ErrorDetail(BaseModel):
    code: str = Field(
        description="Stable machine-readable error code.", examples=["validation_error"]
    )
    message: str = Field(description="What went wrong and what to do about it.")


class ErrorResponse(BaseModel):
    """The one shape of every 4xx and 5xx response."""

    error: ErrorDetail


ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    status: {"model": ErrorResponse, "description": description}
    for status, description in {
        400: "Malformed request (for example invalid JSON).",
        404: "Unknown route, or a service this function does not serve.",
        413: "An input is over a configured size limit.",
        422: "The body does not match the schema.",
        500: "Unexpected failure (logged with the request id).",
        503: "The service's model is not available.",
    }.items()
}
