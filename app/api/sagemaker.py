"""SageMaker's container contract around the same app: ``GET /ping`` and ``POST /invocations``.

``/invocations`` is not a second implementation of the API: :class:`InvocationsRoute` rewrites
the request to the image's own route (``/ner``, ``/ner/batch``, ``/qa`` or ``/qa/batch``) before
the app sees it, so the answer, the limits, the error shape and the status codes are the ones a
function URL gets. The route is chosen by the ``X-Amzn-SageMaker-Custom-Attributes`` header
(``route=/ner/batch``, as the Design 1 front function sends it), else by the body: ``texts``
means the NER batch route, ``items`` the QA batch route, anything else the single route.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.services import Services
from app.web import error_response

ATTRIBUTES_HEADER = b"x-amzn-sagemaker-custom-attributes"


def _ping(services: Services, workers_ready: Callable[[], bool]) -> JSONResponse:
    """200 once every service of the image is loaded; 503 with the reason until then. Built
    here rather than by ``error_response``: a ping is not traffic, so it publishes no metric."""
    if services.ready and workers_ready():
        return JSONResponse({"status": "ok", "services": list(services.loaded)})
    failed = [(name, services.errors[name]) for name in services.enabled if name in services.errors]
    if failed:
        name, reason = failed[0]
        code, message = "model_unavailable", f"The {name} model did not load: {reason}"
    else:
        code, message = "model_loading", "The model is still loading; ping again in a second."
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=503)


def _custom_route(scope: Scope) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == ATTRIBUTES_HEADER:
            text = bytes(value).decode("latin-1")
            for item in text.replace(";", ",").split(","):
                name, _, chosen = item.partition("=")
                if name.strip().lower() == "route":
                    return str(chosen.strip())
    return None


class SageMakerContract:
    """ASGI middleware: ``GET /ping`` answered here, ``POST /invocations`` becomes the image's
    own route; every other request passes through unchanged."""

    def __init__(
        self,
        app: ASGIApp,
        services: Services,
        workers_ready: Callable[[], bool] = lambda: True,
    ) -> None:
        self.app = app
        self.services = services
        self.workers_ready = workers_ready
        self.allowed = [route for spec in services.specs for route in spec.routes]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/ping":
            await _ping(self.services, self.workers_ready)(scope, receive, send)
            return
        if scope["type"] != "http" or scope["path"] != "/invocations":
            await self.app(scope, receive, send)
            return
        if scope["method"] != "POST":
            response = error_response(
                405, "method_not_allowed", "Use POST /invocations with the JSON body of the route."
            )
            await response(scope, receive, send)
            return
        chosen = _custom_route(scope)
        if chosen is not None and chosen not in self.allowed:
            response = error_response(
                400,
                "invalid_route",
                f"CustomAttributes names route={chosen}; this endpoint serves "
                f"{', '.join(self.allowed)}. Send one of those, or no route to let the body decide.",
            )
            await response(scope, receive, send)
            return
        if chosen is None:
            body, receive = await _buffered(receive)
            chosen = self._route_of(body)
        scope = {**scope, "path": chosen, "raw_path": chosen.encode()}
        await self.app(scope, receive, send)

    def _route_of(self, body: bytes) -> str:
        try:
            data: Any = json.loads(body)
        except ValueError:
            data = None
        for spec in self.services.specs:
            if isinstance(data, dict) and spec.batch_field in data:
                return spec.batch_route
        return self.services.specs[0].route


async def _buffered(receive: Receive) -> tuple[bytes, Receive]:
    """Read the whole body, and a ``receive`` that replays it to the app."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay
