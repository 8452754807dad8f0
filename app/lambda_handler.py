"""The Lambda side of the app: Mangum behind the boundary, and the init warm-up.

``create_handler(app, services)`` returns the function the image's ``CMD`` names (through
:mod:`app.main`) after sending one function URL event per loaded route through the whole stack,
so that the init phase, not the first request, pays for lazy imports and schema compilation.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from mangum import Mangum

from app import metrics
from app.boundary import LambdaBoundary
from app.function_url import LambdaContext, function_url_event
from app.logging import logger
from app.services import Request, Services
from app.web import error_response

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]

#: The context the warm-up requests carry (no Lambda context exists during init).
_INIT_CONTEXT = LambdaContext(aws_request_id="init-warm-up")


def warm_up_request_path(mangum: Mangum, services: Services) -> None:
    """Send one function URL event per loaded route through the whole stack during init.

    The first request through Mangum, FastAPI and pydantic pays for lazy imports and schema
    compilation (about 4x a warm NER request); paying it here keeps the first real request, and
    every environment restored from a SnapStart snapshot, as fast as the rest. The warm-up's
    requests publish no metrics: they are not traffic.
    """
    requests: list[Request] = [("/health", None), ("/", None)]
    for spec in services.specs:
        if spec.key in services.loaded:
            requests.extend(spec.warm_up)
    with metrics.publisher.paused():
        for path, body in requests:
            event = function_url_event(
                "GET" if body is None else "POST",
                path,
                body,
                request_id="init-warm-up",
                user_agent="init",
            )
            response = mangum(event, _INIT_CONTEXT)  # type: ignore[arg-type]
            if response["statusCode"] != 200:
                logger.warning(
                    "warm_up_failed", extra={"path": path, "status": response["statusCode"]}
                )


def create_handler(app: FastAPI, services: Services) -> tuple[Handler, float]:
    """The Lambda handler for ``app``, and the seconds its request-path warm-up took."""
    mangum = Mangum(app, lifespan="off")
    boundary = LambdaBoundary(mangum, error_response)
    started = time.perf_counter()
    warm_up_request_path(mangum, services)
    warm_up_seconds = time.perf_counter() - started

    @logger.inject_lambda_context(clear_state=True)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        """A function URL (payload 2.0) event in, an HTTP response out; never raises."""
        return boundary(event, context)

    return handler, warm_up_seconds
