"""The FastAPI application and its AWS Lambda handler.

Importing this module is the Lambda init phase: settings are read and every enabled model is
loaded and warmed up here, once per process, never in a lifespan hook (Mangum runs lifespan on
every invocation). ``handler`` is what the image's ``CMD`` names.
"""

from __future__ import annotations

import time

_init_started = time.perf_counter()

import uuid  # noqa: E402  (the timer above must start before the imports it measures)
from typing import Any  # noqa: E402

from fastapi import FastAPI, Request  # noqa: E402
from fastapi.exceptions import RequestValidationError  # noqa: E402
from fastapi.responses import JSONResponse  # noqa: E402
from mangum import Mangum  # noqa: E402
from starlette.exceptions import HTTPException as StarletteHTTPException  # noqa: E402
from starlette.types import ASGIApp, Message, Receive, Scope, Send  # noqa: E402

from app import __version__  # noqa: E402
from app.api import health, ner, page, qa  # noqa: E402
from app.boundary import LambdaBoundary  # noqa: E402
from app.config import Settings, get_settings  # noqa: E402
from app.errors import AppError  # noqa: E402
from app.function_url import LambdaContext, function_url_event  # noqa: E402
from app.logging import logger  # noqa: E402
from app.services import Services  # noqa: E402

DESCRIPTION = """
Named-entity recognition (spaCy) and extractive question answering (ALBERT on Apache MXNet),
served from AWS Lambda container images. Every error has the shape
`{"error": {"code": "...", "message": "..."}}`; the message says what to do.
"""


def error_response(
    status: int, code: str, message: str, request_id: str | None = None
) -> JSONResponse:
    headers = {"x-request-id": request_id} if request_id else None
    return JSONResponse(
        status_code=status, content={"error": {"code": code, "message": message}}, headers=headers
    )


def _request_id(request: Request) -> str:
    context = request.scope.get("aws.context")
    if context is not None and getattr(context, "aws_request_id", None):
        return str(context.aws_request_id)
    return request.headers.get("x-request-id") or uuid.uuid4().hex


def _describe_validation(exc: RequestValidationError) -> tuple[int, str, str]:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        detail = next(e for e in errors if e.get("type") == "json_invalid")
        reason = (detail.get("ctx") or {}).get("error", "it could not be parsed")
        return (
            400,
            "invalid_json",
            f"The request body is not valid JSON ({reason}). Send a JSON object, for example "
            '{"text": "..."}, with the header Content-Type: application/json.',
        )
    parts = []
    for e in errors[:10]:
        loc = ".".join(str(p) for p in e.get("loc", ()) if p != "body") or "body"
        if e.get("type") == "missing" and loc == "body":
            parts.append("the request has no JSON body")
        else:
            parts.append(f"{loc}: {e.get('msg', 'invalid')}")
    more = f" (and {len(errors) - 10} more)" if len(errors) > 10 else ""
    return (
        422,
        "validation_error",
        "The request does not match the schema: "
        + "; ".join(parts)
        + more
        + ". See /docs for the expected JSON, and send it with Content-Type: application/json.",
    )


class RequestContextMiddleware:
    """Request id on every response, and the generic 500 for anything unexpected.

    A plain ASGI middleware rather than ``@app.middleware("http")``: Starlette's
    ``BaseHTTPMiddleware`` runs the app in a separate task with memory streams, which cost about
    as much per request as the NER model itself on a short text.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(Request(scope))
        scope.setdefault("state", {})["request_id"] = request_id
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode("latin-1", "replace")),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            # Log the trace for the operator; the client gets the generic shape only.
            logger.exception(
                "unhandled_error", extra={"request_id": request_id, "path": scope.get("path")}
            )
            if started:
                raise
            response = error_response(
                500,
                "internal_error",
                f"An unexpected error occurred. It was logged with request id {request_id}; "
                "retry, and report the id if it persists.",
            )
            await response(scope, receive, send_with_id)


def create_app(settings: Settings, services: Services) -> FastAPI:
    """Build the application around already loaded services."""
    app = FastAPI(
        title="lambda-nlp",
        version=__version__,
        description=DESCRIPTION,
        # The interactive docs pull assets from a CDN; the schema itself is always served.
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.services = services
    app.include_router(health.router)
    app.include_router(ner.router)
    app.include_router(qa.router)
    app.include_router(page.router)

    app.add_middleware(RequestContextMiddleware)

    @app.exception_handler(AppError)
    async def app_error(request: Request, exc: AppError) -> JSONResponse:
        logger.info(
            "request_rejected",
            extra={"code": exc.code, "status": exc.status_code, "path": request.url.path},
        )
        return error_response(exc.status_code, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        status, code, message = _describe_validation(exc)
        return error_response(status, code, message)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            served = ", ".join(f"/{s}" for s in services.enabled)
            message = (
                f"No route {request.method} {request.url.path}. This function serves {served}, "
                "/health and /docs."
            )
            return error_response(404, "not_found", message)
        if exc.status_code == 405:
            return error_response(
                405,
                "method_not_allowed",
                f"{request.method} is not allowed on {request.url.path}; see /docs for the methods.",
            )
        if exc.status_code == 400:
            # Starlette's own parse failure, e.g. JSON nested deeper than the parser allows.
            return error_response(
                400,
                "invalid_json",
                "The request body could not be parsed (malformed or nested too deeply). Send a "
                'flat JSON object such as {"text": "..."} with Content-Type: application/json.',
            )
        return error_response(exc.status_code, "http_error", str(exc.detail))

    return app


WARM_UP_REQUESTS: dict[str, list[tuple[str, dict[str, Any] | None]]] = {
    "ner": [
        ("/ner", {"text": "Warm-up: Ada Lovelace met Charles Babbage in London."}),
        ("/ner/render", {"text": "Warm-up: Ada Lovelace met Charles Babbage in London."}),
    ],
    "qa": [
        ("/qa", {"question": "Who met Babbage?", "context": "Ada Lovelace met Charles Babbage."})
    ],
}


def warm_up_request_path(mangum: Mangum, services: Services) -> None:
    """Send one function URL event per loaded service through the whole stack during init.

    The first request through Mangum, FastAPI and pydantic pays for lazy imports and schema
    compilation (about 4x a warm NER request); paying it here keeps the first real request, and
    every environment restored from a SnapStart snapshot, as fast as the rest.
    """
    loaded = [name for name in services.enabled if name not in services.errors]
    requests: list[tuple[str, dict[str, Any] | None]] = [("/health", None), ("/", None)]
    for name in loaded:
        requests.extend(WARM_UP_REQUESTS[name])
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
            logger.warning("warm_up_failed", extra={"path": path, "status": response["statusCode"]})


#: The context the warm-up requests carry (no Lambda context exists during init).
_INIT_CONTEXT = LambdaContext(aws_request_id="init-warm-up")


settings = get_settings()
services = Services.load(settings)
app = create_app(settings, services)
_mangum = Mangum(app, lifespan="off")
_boundary = LambdaBoundary(_mangum, error_response)
_warm_started = time.perf_counter()
warm_up_request_path(_mangum, services)
_warm_seconds = time.perf_counter() - _warm_started

logger.info(
    "init_complete",
    extra={
        "services": list(settings.services),
        "init_seconds": round(time.perf_counter() - _init_started, 4),
        "phases": services.load_seconds,
        "request_path_warmup_seconds": round(_warm_seconds, 4),
        "unavailable": services.errors,
    },
)


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The Lambda entry point: a function URL (payload 2.0) event in, an HTTP response out."""
    return _boundary(event, context)
