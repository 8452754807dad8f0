"""``GET /health``: what this function serves, its models, and how long they took to load."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from app import __version__
from app.api.deps import ServicesDep
from app.api.schemas import ModelInfo

router = APIRouter(tags=["health"])


class ServiceHealth(BaseModel):
    status: Literal["ok", "unavailable"]
    model: ModelInfo | None = None
    load_seconds: dict[str, float] = Field(
        default_factory=dict, description="Init phases (import, load, warmup) in seconds."
    )
    error: str | None = Field(default=None, description="Why the model is unavailable.")
    serving: dict[str, Any] = Field(
        default_factory=dict,
        description=(
            "How the model serves: for QA the precision in force (fp32 or int8), why (the INT8 "
            "accuracy gate's verdict under QA_PRECISION=auto), the gate's figures, and a warning "
            "when INT8 is forced past a gate that did not pass."
        ),
    )


class HealthResponse(BaseModel):
    status: Literal["ok", "degraded"]
    version: str
    services: list[str] = Field(description="Services this function serves.")
    details: dict[str, ServiceHealth]


@router.get("/health", summary="Status, served services, models and load times")
async def health(services: ServicesDep) -> HealthResponse:
    details: dict[str, ServiceHealth] = {}
    for name in services.enabled:
        loaded = services.models.get(name)
        if loaded is None:
            details[name] = ServiceHealth(
                status="unavailable",
                error=services.errors.get(
                    name, "The model is still loading; retry in a few seconds."
                ),
            )
        else:
            details[name] = ServiceHealth(
                status="ok",
                model=ModelInfo(name=loaded.name, version=loaded.version),
                load_seconds=services.load_seconds.get(name, {}),
                serving=dict(loaded.serving),
            )
    status: Literal["ok", "degraded"] = "degraded" if services.errors else "ok"
    return HealthResponse(
        status=status, version=__version__, services=list(services.enabled), details=details
    )
