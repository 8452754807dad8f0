"""A local stand-in for the SageMaker runtime API (``InvokeEndpoint``) in front of containers
that run the project's images in SageMaker serving mode (``docker run IMAGE serve``).

Design 1 puts a thin Lambda (``app.front``) in front of SageMaker endpoints. SageMaker cannot run
here, so this server plays its runtime API for the local stack and the tests: the front's real
botocore client talks to it through ``endpoint_url`` (``SAGEMAKER_RUNTIME_URL``). Standard
library only, so it runs with the local base image's python: ``python3 -m tools.sagemaker_runtime``.

What it does, as botocore sees the real service (``rest-json``, service model
``sagemaker-runtime`` 2017-05-13):

- ``POST /endpoints/{EndpointName}/invocations`` forwards the body to ``{container}/invocations``
  of the endpoint's container (``SAGEMAKER_ENDPOINTS``: ``name=url,name=url``), with the request's
  ``Content-Type``, ``Accept`` and ``X-Amzn-SageMaker-Custom-Attributes``; one container per
  endpoint (one production variant, ``AllTraffic``).
- A 2xx answer comes back as 200 with the container's body and ``Content-Type``,
  ``x-Amzn-Invoked-Production-Variant: AllTraffic`` and the container's custom attributes.
- Errors carry ``x-amzn-ErrorType`` and a JSON body, so botocore raises the modelled exception
  class (``client.exceptions.ModelError`` ...) with the modelled fields:
  - the container answers non-2xx -> 424 ``ModelError`` with ``OriginalStatusCode``,
    ``OriginalMessage`` (the container's body), ``LogStreamArn`` and ``Message``
    ``Received client error (400) from primary with message "...". See ... for more
    information.`` ("server error" for 5xx);
  - the container is silent for longer than ``SAGEMAKER_INVOCATION_TIMEOUT`` (60 s, SageMaker's
    limit on the whole call; here it bounds the connect and each read) ->
    424 ``ModelError`` ``Received server error (0) from primary with message "Your invocation
    timed out while waiting for a response from container primary. ..."``, without original
    status or message;
  - an endpoint name not in ``SAGEMAKER_ENDPOINTS`` -> 400 ``ValidationError`` ``Endpoint X of
    account 000000000000 not found.``; a name SageMaker would not accept, or custom attributes
    over 1024 characters or outside visible US-ASCII -> 400 ``ValidationError``;
  - the container unreachable (not started, crashed, restarting) -> 429
    ``ModelNotReadyException``, what SageMaker answers while a model cannot take requests yet;
  - a body over 6 MB (6291456 bytes) -> 413 with ``{"message": "HTTP content length exceeded
    6291456 bytes."}`` and no error type, which is how SageMaker answers (botocore reports the
    code ``413``);
  - more concurrent calls to one endpoint than ``SAGEMAKER_MAX_CONCURRENCY`` (unset or 0: no
    limit) -> 400 ``ThrottlingException`` ``Rate exceeded``, as a serverless endpoint past its
    maximum concurrency answers;
  - no ``Authorization`` header -> 403 ``MissingAuthenticationTokenException``.
- Every answer has ``x-amzn-RequestId``.

What it does not do: authentication and authorisation (a SigV4 ``Authorization`` header must be
present, but its signature, key, date and region are not checked; any credentials pass), IAM,
account ids (always ``000000000000``), endpoint states (an endpoint is "InService" as soon as it is
configured: SageMaker would not put an endpoint whose container fails ``GET /ping`` in service,
this forwards anyway so the container's own error, e.g. QA's 503 ``model_unavailable`` naming
``make models``, reaches the client), ``/ping`` health checks and instance replacement,
several variants or containers (``TargetVariant``, ``TargetContainerHostname``,
``TargetModel`` and inference components are ignored), ``InvokeEndpointAsync`` and response
streaming, the 6 MB limit on the response, data capture, auto scaling, and SageMaker's own
throttling limits (only the optional concurrency cap above). The exact wording and fields of
SageMaker's error bodies are not documented; these follow what its clients report.

Environment: SAGEMAKER_ENDPOINTS (``lambda-nlp-ner=http://ner-serve:8080,...``),
SAGEMAKER_RUNTIME_HOST (``0.0.0.0``), SAGEMAKER_RUNTIME_PORT (``8080``),
SAGEMAKER_INVOCATION_TIMEOUT (``60``), SAGEMAKER_MAX_CONCURRENCY (``0``: no limit),
AWS_REGION (``us-east-1``, only for the log group named in messages).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tools.frontdoor import drain

#: One line per call; main() sends it to stdout (the container's log). In-process users (the
#: tests) get it through logging, captured like any other log, never printed into their output.
log = logging.getLogger("sagemaker-runtime")

ACCOUNT = "000000000000"
VARIANT = "AllTraffic"
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
INVOCATIONS = re.compile(r"^/endpoints/([^/]+)/invocations$")
#: CreateEndpoint's constraint on endpoint names.
ENDPOINT_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
CUSTOM_ATTRIBUTES = "X-Amzn-SageMaker-Custom-Attributes"
#: The error type header's value: the code, then the namespace botocore strips after the colon.
ERROR_NAMESPACES = {
    "ModelError": "http://internal.amazon.com/coral/com.amazon.sagemaker.runtime/",
    "ValidationError": "http://internal.amazon.com/coral/com.amazon.coral.validate/",
}
DEFAULT_NAMESPACE = "http://internal.amazon.com/coral/com.amazon.coral.service/"
TIMEOUT_MESSAGE = (
    "Your invocation timed out while waiting for a response from container primary. Review the "
    "latency metrics for each container in Amazon CloudWatch, resolve the issue, and try again."
)


@dataclass
class Endpoint:
    """One endpoint: its container's base URL and, optionally, a cap on concurrent calls."""

    name: str
    url: str
    max_concurrency: int = 0
    in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def enter(self) -> bool:
        with self.lock:
            if self.max_concurrency and self.in_flight >= self.max_concurrency:
                return False
            self.in_flight += 1
            return True

    def leave(self) -> None:
        with self.lock:
            self.in_flight -= 1


@dataclass(frozen=True)
class Reply:
    """What goes back to the client."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


def parse_endpoints(spec: str, max_concurrency: int = 0) -> dict[str, Endpoint]:
    """Parse ``name=url,name=url`` into endpoints keyed by name."""
    endpoints: dict[str, Endpoint] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, sep, url = part.partition("=")
        if not sep or not name.strip() or not url.strip():
            raise ValueError(f"SAGEMAKER_ENDPOINTS entry {part!r} is not name=url")
        endpoints[name.strip()] = Endpoint(name.strip(), url.strip().rstrip("/"), max_concurrency)
    return endpoints


def aws_error(status: int, code: str | None, fields: dict[str, Any]) -> Reply:
    """An error as the AWS rest-json protocol sends it (``x-amzn-ErrorType`` + JSON body)."""
    headers = [("Content-Type", "application/json")]
    if code is not None:
        headers.append(
            ("x-amzn-ErrorType", f"{code}:{ERROR_NAMESPACES.get(code, DEFAULT_NAMESPACE)}")
        )
    return Reply(status, headers, json.dumps(fields).encode())


def validation_error(message: str) -> Reply:
    return aws_error(400, "ValidationError", {"message": message})


class SageMakerRuntime(ThreadingHTTPServer):
    """The HTTP server; it holds the endpoints and the per-invocation timeout."""

    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        endpoints: dict[str, Endpoint],
        timeout: float = 60.0,
        region: str = "us-east-1",
    ) -> None:
        super().__init__(address, Handler)
        self.endpoints = endpoints
        self.invocation_timeout = timeout
        self.region = region

    def log_group_url(self, endpoint: str) -> str:
        return (
            f"https://{self.region}.console.aws.amazon.com/cloudwatch/home?region={self.region}"
            f"#logEventViewer:group=/aws/sagemaker/Endpoints/{endpoint}"
        )

    def invoke(self, name: str, body: bytes, headers: dict[str, str]) -> Reply:
        """One InvokeEndpoint call (the request is already authenticated and within limits)."""
        if not ENDPOINT_NAME.match(name):
            return validation_error(
                f"1 validation error detected: Value '{name}' at 'endpointName' failed to "
                "satisfy constraint: Member must satisfy regular expression pattern: "
                "^[a-zA-Z0-9](-*[a-zA-Z0-9])*"
            )
        endpoint = self.endpoints.get(name)
        if endpoint is None:
            return validation_error(f"Endpoint {name} of account {ACCOUNT} not found.")
        attributes = headers.get(CUSTOM_ATTRIBUTES.lower())
        if attributes is not None and (
            len(attributes) > 1024 or not all(0x20 <= ord(c) <= 0x7E for c in attributes)
        ):
            return validation_error(
                "1 validation error detected: Value at 'customAttributes' failed to satisfy "
                "constraint: Member must have length less than or equal to 1024 and consist of "
                "visible US-ASCII characters"
            )
        if not endpoint.enter():
            return aws_error(400, "ThrottlingException", {"message": "Rate exceeded"})
        try:
            return self.forward(endpoint, body, headers)
        finally:
            endpoint.leave()

    def forward(self, endpoint: Endpoint, body: bytes, headers: dict[str, str]) -> Reply:
        """Post the body to the container's /invocations and translate its answer."""
        forwarded = {"Content-Type": headers.get("content-type", "application/octet-stream")}
        if "accept" in headers:
            forwarded["Accept"] = headers["accept"]
        if CUSTOM_ATTRIBUTES.lower() in headers:
            forwarded[CUSTOM_ATTRIBUTES] = headers[CUSTOM_ATTRIBUTES.lower()]
        request = urllib.request.Request(
            endpoint.url + "/invocations", data=body, headers=forwarded, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self.invocation_timeout) as answer:
                payload = answer.read()
                out = [
                    ("Content-Type", answer.headers.get("content-type", "application/json")),
                    ("x-Amzn-Invoked-Production-Variant", VARIANT),
                ]
                attributes = answer.headers.get(CUSTOM_ATTRIBUTES)
                if attributes:
                    out.append((CUSTOM_ATTRIBUTES, attributes))
                return Reply(200, out, payload)
        except urllib.error.HTTPError as exc:
            try:
                original = exc.read().decode("utf-8", "replace")
            except OSError:  # timeouts included
                original = ""
            finally:
                exc.close()
            return self.model_error(endpoint.name, exc.code, original)
        except TimeoutError:
            return self.model_error(endpoint.name, 0, None)
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                return self.model_error(endpoint.name, 0, None)
            return self.not_ready(endpoint.name)
        except OSError:  # reset or refused mid-call: the container is going away
            return self.not_ready(endpoint.name)

    def model_error(self, endpoint: str, status: int, original: str | None) -> Reply:
        kind = "client" if 400 <= status < 500 else "server"
        shown = TIMEOUT_MESSAGE if original is None else original
        fields: dict[str, Any] = {
            "ErrorCode": f"{kind.upper()}_ERROR_FROM_MODEL",
            "LogStreamArn": (
                f"arn:aws:logs:{self.region}:{ACCOUNT}:log-group:/aws/sagemaker/Endpoints/"
                f"{endpoint}"
            ),
            "Message": (
                f"Received {kind} error ({status}) from primary with message "
                f'"{shown}". See {self.log_group_url(endpoint)} in account {ACCOUNT} for more '
                "information."
            ),
        }
        if original is not None:
            fields.update(OriginalStatusCode=status, OriginalMessage=original)
        return aws_error(424, "ModelError", fields)

    def not_ready(self, endpoint: str) -> Reply:
        return aws_error(
            429,
            "ModelNotReadyException",
            {
                "message": f"Model for endpoint {endpoint} of account {ACCOUNT} is not ready to "
                "serve inference requests. Retry the request after a short wait."
            },
        )


class Handler(BaseHTTPRequestHandler):
    """One InvokeEndpoint call per request."""

    server: SageMakerRuntime
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        started = time.monotonic()
        name = ""
        path = urllib.parse.urlsplit(self.path).path
        match = INVOCATIONS.match(path)
        length = int(self.headers.get("content-length") or 0)
        if length > MAX_PAYLOAD_BYTES:
            # Read what the client sends (within reason) so it sees the answer, then close.
            drain(self.rfile, length)
            self.close_connection = True
            reply = Reply(
                413,
                [("Content-Type", "application/json")],
                json.dumps(
                    {"message": f"HTTP content length exceeded {MAX_PAYLOAD_BYTES} bytes."}
                ).encode(),
            )
        else:
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            if match is None:
                reply = self._unknown()
            elif "authorization" not in headers:
                reply = aws_error(
                    403,
                    "MissingAuthenticationTokenException",
                    {"message": "Missing Authentication Token"},
                )
            else:
                name = urllib.parse.unquote(match.group(1))
                reply = self.server.invoke(name, body, headers)
        self._send(reply)
        error = dict(reply.headers).get("x-amzn-ErrorType", "").split(":", 1)[0]
        log.info(
            "sagemaker-runtime %s -> %s %s %.0f ms",
            name or path[:100],
            reply.status,
            error,
            (time.monotonic() - started) * 1000,
        )

    def _unknown(self) -> Reply:
        return aws_error(
            404,
            "UnknownOperationException",
            {"message": f"No operation {self.command} {self.path[:200]}"},
        )

    def do_GET(self) -> None:
        drain(self.rfile, int(self.headers.get("content-length") or 0))
        self._send(self._unknown())

    do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        for name, value in reply.headers:
            self.send_header(name, value)
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        self.send_header("Date", formatdate(usegmt=True))
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per call from do_POST instead


def main() -> None:
    """Serve until interrupted, configured from the environment."""
    endpoints = parse_endpoints(
        os.environ.get(
            "SAGEMAKER_ENDPOINTS",
            "lambda-nlp-ner=http://ner-serve:8080,lambda-nlp-qa=http://qa-serve:8080",
        ),
        int(os.environ.get("SAGEMAKER_MAX_CONCURRENCY") or 0),
    )
    server = SageMakerRuntime(
        (
            os.environ.get("SAGEMAKER_RUNTIME_HOST", "0.0.0.0"),
            int(os.environ.get("SAGEMAKER_RUNTIME_PORT", "8080")),
        ),
        endpoints,
        float(os.environ.get("SAGEMAKER_INVOCATION_TIMEOUT") or 60),
        os.environ.get("AWS_REGION") or "us-east-1",
    )
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout, force=True)
    names = ", ".join(f"{e.name} -> {e.url}" for e in endpoints.values())
    log.info("sagemaker-runtime listening on %s (%s)", server.server_address, names)
    server.serve_forever()


if __name__ == "__main__":
    main()
