"""The FastAPI application: routes, the one error shape, the request id, the composition.

``create_app(settings, services)`` is the only way the app is built: by the Lambda entry module
(:mod:`app.main`), the SageMaker serving mode (:mod:`app.serve`), the bench and the tests.
"""

from __future__ import annotations

import uuid

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import __version__, metrics
from app.api import health, ner, page, qa
from app.config import Settings
from app.errors import AppError
from app.logging import logger
from app.services import Services

DESCRIPTION = """
Named-entity recognition (spaCy) and extractive question answering (ALBERT on Apache MXNet),
served from AWS Lambda container images. Every error has the shape
`{"error": {"code": "...", "message": "..."}}`; the message says what to do.
"""


def error_response(
    status: int, code: str, message: str, request_id: str | None = None
) -> JSONResponse:
    metrics.error(code)
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

    def __init__(self, app: ASGIApp, metrics_service: str | None = None) -> None:
        self.app = app
        self.metrics_service = metrics_service

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

        with metrics.request_scope(self.metrics_service):
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
    metrics.publisher.configure(settings.services)
    logger.setLevel(settings.log_level)
    app.state.services = services
    app.include_router(health.router)
    app.include_router(ner.router)
    app.include_router(qa.router)
    app.include_router(page.router)

    app.add_middleware(
        RequestContextMiddleware, metrics_service=metrics.service_name(settings.services)
    )

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
