"""Dependencies: the loaded services, checked for being enabled and available.

They are ``async`` because they never block: FastAPI runs a sync dependency in the thread pool,
one hop per dependency per request.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from app import metrics
from app.config import Settings
from app.errors import ModelUnavailableError, ServiceNotEnabledError
from app.services import Services

if TYPE_CHECKING:
    from app.ner.service import NerService
    from app.qa.service import QaService


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def settings_of(request: Request) -> Settings:
    """The app's settings; read in the endpoint rather than injected (one dependency less to
    solve per request: FastAPI's solver is a third of the web stack's time on a NER request)."""
    settings: Settings = request.app.state.settings
    return settings


async def get_services(request: Request) -> Services:
    return services_of(request)


def _require(services: Services, name: str) -> None:
    if name not in services.enabled:
        served = ", ".join(f"/{s}" for s in services.enabled) or "nothing"
        raise ServiceNotEnabledError(
            f"This function does not serve /{name}; it serves {served}. "
            f"Call the {name} function's URL instead (or set SERVICES to include {name} locally)."
        )
    if name in services.errors:
        raise ModelUnavailableError(services.errors[name])
    if name not in services.loaded:
        raise ModelUnavailableError(
            f"The {name} model is still loading; retry in a few seconds (GET /ping or /health "
            "says when it is ready)."
        )


async def get_ner_service(request: Request) -> NerService:
    services = services_of(request)
    _require(services, "ner")
    assert services.ner is not None  # _require guarantees it; narrows the type
    return services.ner


async def get_qa_service(request: Request) -> QaService:
    services = services_of(request)
    _require(services, "qa")
    assert services.qa is not None
    return services.qa


ServicesDep = Annotated[Services, Depends(get_services)]
NerServiceDep = Annotated["NerService", Depends(get_ner_service)]
QaServiceDep = Annotated["QaService", Depends(get_qa_service)]


T = TypeVar("T")


#: One model call at a time per process under a server: neither MXNet's cached graphs nor a
#: spaCy pipeline are documented as safe to call from several threads, and one call already uses
#: every inference thread. The serving mode scales with worker processes instead (app.serve).
_MODEL_LOCK = threading.Lock()


def _timed(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    started = time.perf_counter()
    try:
        return fn(*args, **kwargs)
    finally:
        metrics.add_latency("ModelLatency", time.perf_counter() - started)


def _locked(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    with _MODEL_LOCK:
        return _timed(fn, *args, **kwargs)


async def run_model(request: Request, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking model call for an endpoint, and time it (the ``ModelLatency`` metric).

    Under Lambda (Mangum puts the context in the scope) an environment serves one event at a
    time, so the call runs inline: a thread-pool hop would only add latency (about 0.6 ms, 7% of
    a 100-word NER request). Under a server (the SageMaker serving mode, ``make serve``) it runs
    in the thread pool, one call at a time, so the event loop keeps answering other requests,
    such as /ping and /health, meanwhile.
    """
    if "aws.context" in request.scope:
        return _timed(fn, *args, **kwargs)
    return await run_in_threadpool(_locked, fn, *args, **kwargs)
