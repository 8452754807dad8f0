"""Lambda function URL events (payload format 2.0) and Lambda contexts made in-process.

The init warm-up, the bench and the tests send requests through the real handler the way a
function URL does; this is the one place that knows the event's shape and the context's.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from dataclasses import dataclass, field
from typing import Any

from app.errors import InvalidBodyError, unencodable_index


def function_url_event(
    method: str,
    path: str,
    body: Any = None,
    *,
    headers: dict[str, str] | None = None,
    request_id: str = "local",
    user_agent: str = "lambda-nlp",
) -> dict[str, Any]:
    """A function URL event for ``method path``; a ``body`` other than None is sent as JSON."""
    domain = "local.lambda-url.on.aws"
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {
            "content-type": "application/json",
            "host": domain,
            "x-request-id": request_id,
            **(headers or {}),
        },
        "requestContext": {
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": user_agent,
            },
            "requestId": request_id,
            "routeKey": "$default",
            "stage": "$default",
            "domainName": domain,
            "accountId": "anonymous",
        },
        "body": None if body is None else json.dumps(body),
        "isBase64Encoded": False,
    }


@dataclass
class LambdaContext:
    """The attributes powertools and Mangum read from a Lambda context, with a real countdown:
    ``get_remaining_time_in_millis`` falls from ``timeout_ms`` as time passes, as Lambda's does."""

    aws_request_id: str = "local"
    function_name: str = "lambda-nlp"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 3008
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:000000000000:function:lambda-nlp"
    log_group_name: str = "/aws/lambda/lambda-nlp"
    log_stream_name: str = "local"
    timeout_ms: int = 60_000
    started: float = field(default_factory=time.monotonic, repr=False)

    def get_remaining_time_in_millis(self) -> int:
        return int(self.timeout_ms - (time.monotonic() - self.started) * 1000)


def decode_body(body: Any, is_base64: Any) -> bytes:
    """The request body's bytes; base64 strictly when the event says so."""
    if is_base64 is not None and not isinstance(is_base64, bool):
        raise InvalidBodyError(
            f"isBase64Encoded must be true or false, not a {type(is_base64).__name__}. "
            "Send a function URL event (payload format 2.0)."
        )
    if body is None or body == "":
        return b""
    if not isinstance(body, str):
        raise InvalidBodyError(
            f"The event's body must be a string, not a {type(body).__name__}. Send the JSON "
            "request as a string (serialised once), or base64 with isBase64Encoded: true."
        )
    if is_base64:
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidBodyError(
                "The event says the body is base64 (isBase64Encoded: true), but it is not valid "
                "base64. Send the body base64-encoded, or set isBase64Encoded to false for a "
                "plain-text body such as JSON."
            ) from None
    index = unencodable_index(body)
    if index is not None:
        raise InvalidBodyError(
            f"The body holds an unpaired surrogate at character {index}, so it is not valid "
            "UTF-8 text. Send the body as UTF-8 (or base64 with isBase64Encoded: true)."
        )
    return body.encode("utf-8")
