"""The Lambda boundary: whatever event arrives, a function URL response leaves.

Mangum adapts a well-formed function URL event (payload format 2.0) and raises on anything
else: a body flagged base64 that is not base64, a missing ``requestContext.http``, a header that
is not a string, a ``Host`` whose port is not a number. An exception raised out of the handler
reaches a function URL's client as a bare 502, and the logs without the request's context.
:class:`LambdaBoundary` checks and normalises the event first and answers what cannot be served
with the one error shape (400), then turns anything unexpected outside the app into the generic
500. Failures inside the app are :class:`app.web.RequestContextMiddleware`'s.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any

from starlette.responses import Response

from app.errors import AppError, InvalidEventError, unencodable_index
from app.function_url import decode_body
from app.logging import logger

Adapter = Callable[[dict[str, Any], Any], dict[str, Any]]
"""Mangum, or anything that answers a normalised function URL event with a Lambda result."""

RenderError = Callable[[int, str, str, str | None], Response]
"""``app.web.error_response``: (status, code, message, request id) -> the one error shape."""

EVENT_FORMAT = (
    "Call the function through its function URL, or invoke it with a function URL event "
    '(payload format 2.0: "version": "2.0", "requestContext": {"http": {"method", "path"}}, '
    '"headers", "rawQueryString", "cookies", "body", "isBase64Encoded").'
)


class LambdaBoundary:
    """The Lambda handler's body: normalise the event, run the adapter, never raise."""

    def __init__(self, adapter: Adapter, render_error: RenderError) -> None:
        self.adapter = adapter
        self.render_error = render_error

    def __call__(self, event: Any, context: Any) -> dict[str, Any]:
        request_id = lambda_request_id(context)
        try:
            request = function_url_request(event)
        except AppError as exc:
            logger.info(
                "event_rejected",
                extra={"code": exc.code, "status": exc.status_code, "request_id": request_id},
            )
            return self.error_result(exc.status_code, exc.code, exc.message, request_id)
        try:
            result = self.adapter(request, context)
        except Exception:
            logger.exception("adapter_failed", extra={"request_id": request_id})
            return self.internal_error(request_id)
        if not is_served(result):
            # Mangum answers a failure the app could not render with a plain-text 500.
            logger.error("unshaped_response", extra={"request_id": request_id})
            return self.internal_error(request_id)
        return result

    def internal_error(self, request_id: str) -> dict[str, Any]:
        message = (
            f"An unexpected error occurred. It was logged with request id {request_id}; "
            "retry, and report the id if it persists."
        )
        return self.error_result(500, "internal_error", message, request_id)

    def error_result(self, status: int, code: str, message: str, request_id: str) -> dict[str, Any]:
        """The error as a function URL response (what Mangum returns for the app's own errors)."""
        response = self.render_error(status, code, message, request_id)
        return {
            "statusCode": response.status_code,
            "headers": {k.decode("latin-1"): v.decode("latin-1") for k, v in response.raw_headers},
            "body": bytes(response.body).decode("utf-8"),
            "isBase64Encoded": False,
        }


def lambda_request_id(context: Any) -> str:
    """The invocation's request id from the Lambda context (a fresh one without it)."""
    request_id = getattr(context, "aws_request_id", None)
    if isinstance(request_id, str) and request_id.isascii() and request_id.isprintable():
        return request_id
    return uuid.uuid4().hex


def is_served(result: Any) -> bool:
    """A Lambda result with a status, whose 5xx (if any) is the app's JSON error shape."""
    if not isinstance(result, dict) or not isinstance(result.get("statusCode"), int):
        return False
    headers = result.get("headers") or {}
    content_type = str(headers.get("content-type", ""))
    return result["statusCode"] < 500 or content_type.startswith("application/json")


def function_url_request(event: Any) -> dict[str, Any]:
    """The event as Mangum can adapt it, or an :class:`AppError` naming what is wrong.

    Every string Mangum encodes as UTF-8 must be valid Unicode. Header names come back
    lower-cased, and the body decoded once, here: as bytes, with ``isBase64Encoded: false``.
    """
    if not isinstance(event, Mapping) or event.get("version") != "2.0":
        raise InvalidEventError(f"The event is not a function URL request. {EVENT_FORMAT}")
    request_context = _mapping(event.get("requestContext"), "requestContext")
    http = _mapping(request_context.get("http"), "requestContext.http")
    method = _text(http.get("method"), "requestContext.http.method")
    if not method:
        raise InvalidEventError(f"requestContext.http.method is empty. {EVENT_FORMAT}")
    source_ip = http.get("sourceIp")
    if not isinstance(source_ip, str) or unencodable_index(source_ip) is not None:
        source_ip = None  # informational only: never worth a rejection
    headers = _headers(event.get("headers"))
    _check_server(headers)
    http = {
        **http,
        "method": method,
        "path": _text(http.get("path"), "requestContext.http.path"),
        "sourceIp": source_ip,
    }
    return {
        **event,
        "requestContext": {**request_context, "http": http},
        "headers": headers,
        "rawQueryString": _text(event.get("rawQueryString") or "", "rawQueryString"),
        "cookies": _cookies(event.get("cookies")),
        "body": decode_body(event.get("body"), event.get("isBase64Encoded")),
        "isBase64Encoded": False,
    }


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidEventError(f"The event has no object {where}. {EVENT_FORMAT}")
    return value


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise InvalidEventError(f"The event's {where} must be a string. {EVENT_FORMAT}")
    index = unencodable_index(value)
    if index is not None:
        raise InvalidEventError(
            f"The event's {where} holds an unpaired surrogate at character {index}; it must be "
            "valid Unicode. Percent-encode (UTF-8) anything that is not plain text."
        )
    return value


def _headers(headers: Any) -> dict[str, str]:
    """Lower-cased names, string values (as a function URL sends them, one value per name)."""
    if headers is None:
        return {}
    if not isinstance(headers, Mapping):
        raise InvalidEventError(f"The event's headers must be an object. {EVENT_FORMAT}")
    normalised: dict[str, str] = {}
    for name, value in headers.items():
        name = _text(name, "header names").lower()
        normalised[name] = _text(value, f"header {name[:64]!r}")
    return normalised


def _check_server(headers: Mapping[str, str]) -> None:
    """Mangum reads the server from ``host`` (``name[:port]``) or ``x-forwarded-port``."""
    host = headers.get("host", "")
    if ":" in host:
        # Mangum splits on every colon and expects two parts (so no IPv6 literal either).
        name, port = "Host", (host.split(":")[1] if host.count(":") == 1 else "")
    else:
        name, port = "X-Forwarded-Port", headers.get("x-forwarded-port", "80")
    try:
        int(port)
    except ValueError:
        raise InvalidEventError(
            f"The {name} header has no valid port number. Send Host as name or name:port "
            "(for example example.com:443), and X-Forwarded-Port as a number, or leave them out."
        ) from None


def _cookies(cookies: Any) -> list[str]:
    if cookies is None:
        return []
    if not isinstance(cookies, list):
        raise InvalidEventError(f"The event's cookies must be a list of strings. {EVENT_FORMAT}")
    return [_text(cookie, "cookies") for cookie in cookies]
