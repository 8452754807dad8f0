"""Request and response models shared by the routers (they define the OpenAPI schema)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class StrictModel(BaseModel):
    """Requests reject unknown fields, so a typo such as ``"txt"`` is reported, not ignored."""

    model_config = ConfigDict(extra="forbid")


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
