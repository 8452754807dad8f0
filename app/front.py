"""Design 1's thin front function: a function URL in front of two SageMaker endpoints.

Design 2 runs the models inside Lambda. Design 1 runs the same NER and QA images in SageMaker
serving mode (``docker run IMAGE serve``: ``GET /ping``, ``POST /invocations``), and this
function, in its own small image (``images/front/Dockerfile``, CMD ``app.front.handler``), turns
each function URL request (payload format 2.0) into one SageMaker runtime ``InvokeEndpoint``:

- ``POST /ner``, ``/ner/batch`` -> the endpoint named by ``NER_ENDPOINT_NAME``;
  ``POST /qa``, ``/qa/batch`` -> ``QA_ENDPOINT_NAME``. The body goes through unchanged, the
  route as ``CustomAttributes: route=<path>``, ``Accept: application/json``, and the request's
  own ``Content-Type`` (``application/json`` when it has none), so the container judges the
  body exactly as the Design 2 function does.
- ``GET /health`` answers from the front's own state, without calling SageMaker: whether the
  SageMaker client could be made and which endpoint serves each route (an endpoint call costs an
  inference, and the front's role only needs ``sagemaker:InvokeEndpoint``).

Every outcome is a function URL response in the project's one error shape,
``{"error": {"code", "message"}}`` (docs/design1.md has the table): the container's own errors,
which SageMaker wraps as ``ModelError`` (424) with ``OriginalStatusCode``/``OriginalMessage``,
come back with the container's status and body; the endpoint missing or not InService
(``ValidationError``) is 503 ``endpoint_unavailable``; ``ThrottlingException`` is retried a
couple of times with jittered backoff, then 429 ``throttled``; ``ModelNotReadyException`` 503
``model_not_ready``; ``ServiceUnavailable`` 503 ``sagemaker_unavailable``; the read timeout (and
SageMaker's own 60 s container timeout) 504 ``endpoint_timeout``. The handler never raises and
never shows a trace: the details go to the structured log (powertools ``Logger``).

Only this module, :mod:`app.errors` and the package's ``__init__`` are in the front image; it
must never import FastAPI, Starlette, pydantic, spaCy or MXNet (tests/api/test_front.py checks).

Environment: ``NER_ENDPOINT_NAME``, ``QA_ENDPOINT_NAME``; ``SAGEMAKER_RUNTIME_URL`` (an
``endpoint_url`` for the client, e.g. the local stand-in ``tools/sagemaker_runtime.py``);
``SAGEMAKER_CONNECT_TIMEOUT`` (5 s), ``SAGEMAKER_READ_TIMEOUT`` (70 s: SageMaker gives a
container 60 s, and AWS advises a 70 s socket timeout; keep the function's Timeout above it),
``SAGEMAKER_THROTTLE_RETRIES`` (2); ``AWS_REGION``; ``LOG_LEVEL``;
``POWERTOOLS_METRICS_NAMESPACE`` (``LambdaNlp``), ``POWERTOOLS_SERVICE_NAME`` (``front``).

Metrics (CloudWatch embedded metric format, dimension ``service``): ``Requests`` (Count, every
invocation), ``EndpointLatency`` (Milliseconds, one value per InvokeEndpoint call, dimension
``endpoint``: ner or qa, on the request's metric set), ``Errors`` (Count, dimensions ``code`` and
``service``, as the product counts its own errors) and ``ColdStart``.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import botocore.session
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    HTTPClientError,
    NoCredentialsError,
    ReadTimeoutError,
)

from app import __version__
from app.errors import AppError, InvalidEventError, unencodable_index
from app.function_url import decode_body

SERVICE_NAME = os.environ.get("POWERTOOLS_SERVICE_NAME") or "front"
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "LambdaNlp"

logger = Logger(service=SERVICE_NAME, level=os.environ.get("LOG_LEVEL", "INFO"))
metrics = Metrics(namespace=NAMESPACE, service=SERVICE_NAME)

#: Path -> the service (and so the endpoint) that serves it; every one is POST.
ROUTES: dict[str, str] = {"/ner": "ner", "/ner/batch": "ner", "/qa": "qa", "/qa/batch": "qa"}
ENDPOINT_VARIABLES = {"ner": "NER_ENDPOINT_NAME", "qa": "QA_ENDPOINT_NAME"}
SERVED = "POST /ner, /ner/batch, /qa, /qa/batch and GET /health"
JSON = "application/json"
#: SageMaker's InvokeEndpoint payload limit (6 MB); the function URL's own limit is the same.
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
EVENT_FORMAT = (
    "Call the function through its function URL, or invoke it with a function URL event "
    '(payload format 2.0: "version": "2.0", "requestContext": {"http": {"method", "path"}}, '
    '"headers", "body", "isBase64Encoded").'
)


@dataclass(frozen=True)
class FrontSettings:
    """What the front reads from its environment, once, at init."""

    endpoints: dict[str, str | None]
    runtime_url: str | None = None
    region: str | None = None
    connect_timeout: float = 5.0
    read_timeout: float = 70.0
    throttle_retries: int = 2

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> FrontSettings:
        return cls(
            endpoints={
                service: (env.get(variable) or "").strip() or None
                for service, variable in ENDPOINT_VARIABLES.items()
            },
            runtime_url=env.get("SAGEMAKER_RUNTIME_URL") or None,
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None,
            connect_timeout=_number(env, "SAGEMAKER_CONNECT_TIMEOUT", 5.0),
            read_timeout=_number(env, "SAGEMAKER_READ_TIMEOUT", 70.0),
            throttle_retries=int(_number(env, "SAGEMAKER_THROTTLE_RETRIES", 2)),
        )


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    """A positive number from the environment; the default (and a warning) when it is not one."""
    text = env.get(name)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value < 0 or value != value or value == float("inf"):
        logger.warning("setting_ignored", extra={"variable": name, "value": text[:50]})
        return default
    return value


class FrontError(AppError):
    """An answer of the front's own: any status and code, in the project's error shape."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status_code = status
        self.code = code
        self.headers = headers or {}


def create_client(settings: FrontSettings) -> Any:
    """A ``sagemaker-runtime`` client: botocore's own retries off (the front retries only
    throttling itself), a short connect timeout and a read timeout above the container's 60 s."""
    config = Config(
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        retries={"mode": "standard", "total_max_attempts": 1},
        max_pool_connections=4,
        tcp_keepalive=True,
        user_agent_appid="lambda-nlp-front",
    )
    session = botocore.session.get_session()
    return session.create_client(
        "sagemaker-runtime",
        region_name=settings.region,
        endpoint_url=settings.runtime_url,
        config=config,
    )


class Front:
    """The front function's body: one function URL event in, one response out, never raises."""

    def __init__(
        self,
        settings: FrontSettings,
        client_factory: Callable[[FrontSettings], Any] = create_client,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.sleep = sleep
        self.client: Any = None
        self.client_error: str | None = None
        try:
            self.client = client_factory(settings)
        except Exception as exc:  # e.g. no region: answer 500 with what to set, not crash init
            self.client_error = f"{type(exc).__name__}: {exc}"
            logger.error("sagemaker_client_failed", extra={"error": self.client_error})

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Front:
        return cls(FrontSettings.from_env(os.environ if env is None else env))

    def __call__(self, event: Any, context: Any) -> dict[str, Any]:
        request_id = lambda_request_id(context)
        try:
            return self.serve(event, context, request_id)
        except FrontError as exc:
            return self.error(exc, request_id)
        except AppError as exc:
            return self.error(FrontError(exc.status_code, exc.code, exc.message), request_id)
        except Exception:
            logger.exception("front_failed", extra={"request_id": request_id})
            return self.error(internal_error(request_id), request_id)

    def serve(self, event: Any, context: Any, request_id: str) -> dict[str, Any]:
        method, path, headers, raw_body, is_base64 = read_event(event)
        if path == "/health":
            if method not in ("GET", "HEAD"):
                raise method_not_allowed(method, path, "GET")
            return self.health(request_id)
        service = ROUTES.get(path)
        if service is None:
            raise FrontError(
                404, "not_found", f"No route {method} {path[:200]}. This front serves {SERVED}."
            )
        if method != "POST":
            raise method_not_allowed(method, path, "POST")
        body = decode_body(raw_body, is_base64)
        content_type = headers.get("content-type") or JSON
        if not (content_type.isascii() and content_type.isprintable()) or len(content_type) > 256:
            content_type = "application/octet-stream"  # what the container will reject as such
        return self.invoke(service, path, body, content_type, context, request_id)

    def health(self, request_id: str) -> dict[str, Any]:
        """The front's own state; no endpoint is called (see the module docstring)."""
        details: dict[str, Any] = {}
        for service, name in self.settings.endpoints.items():
            error = None
            if name is None:
                error = f"Set {ENDPOINT_VARIABLES[service]} to the {service} endpoint's name."
            details[service] = {
                "status": "configured" if name else "unconfigured",
                "endpoint": name,
                "error": error,
            }
        configured = [s for s, name in self.settings.endpoints.items() if name]
        if self.client_error:
            status = "unavailable"
        else:
            status = "ok" if len(configured) == len(ROUTES_BY_SERVICE) else "degraded"
        content = {
            "status": status,
            "version": __version__,
            "design": 1,
            "services": configured,
            "details": details,
            "sagemaker_runtime": self.settings.runtime_url or "aws",
            "checks_endpoints": False,
        }
        if self.client_error:
            content["error"] = CLIENT_ERROR
        return response(503 if self.client_error else 200, content, request_id)

    def invoke(
        self,
        service: str,
        path: str,
        body: bytes,
        content_type: str,
        context: Any,
        request_id: str,
    ) -> dict[str, Any]:
        endpoint = self.settings.endpoints.get(service)
        if endpoint is None:
            raise FrontError(
                503,
                "endpoint_not_configured",
                f"This front has no {service} endpoint: set {ENDPOINT_VARIABLES[service]} to the "
                f"name of the SageMaker endpoint that serves {service} (Design 1).",
            )
        if self.client is None:
            logger.error("sagemaker_client_missing", extra={"error": self.client_error})
            raise FrontError(500, "front_misconfigured", CLIENT_ERROR)
        if len(body) > MAX_PAYLOAD_BYTES:
            raise FrontError(
                413,
                "payload_too_large",
                f"The request body has {len(body)} bytes; SageMaker accepts at most "
                f"{MAX_PAYLOAD_BYTES} per invocation. Send less text per request.",
            )
        metrics.add_dimension(name="endpoint", value=service)
        attempts = 1 + max(0, self.settings.throttle_retries)
        for attempt in range(1, attempts + 1):
            started = time.perf_counter()
            try:
                result = self.client.invoke_endpoint(
                    EndpointName=endpoint,
                    Body=body,
                    ContentType=content_type,
                    Accept=JSON,
                    CustomAttributes=f"route={path}",
                )
                payload = result["Body"].read()
            except ClientError as exc:
                elapsed = self._record_latency(started)
                code = str(exc.response.get("Error", {}).get("Code", ""))
                if code in THROTTLED and attempt < attempts:
                    delay = backoff(attempt)
                    if remaining_seconds(context) - delay > self.settings.connect_timeout + 1:
                        logger.warning(
                            "endpoint_throttled_retrying",
                            extra={"endpoint": endpoint, "attempt": attempt, "delay_s": delay},
                        )
                        self.sleep(delay)
                        continue
                return self.client_error_answer(
                    exc.response, service, endpoint, elapsed, request_id
                )
            except BotoCoreError as exc:
                elapsed = self._record_latency(started)
                raise transport_error(exc, service, endpoint, elapsed, self.settings) from None
            elapsed = self._record_latency(started)
            logger.info(
                "endpoint_invoked",
                extra={
                    "endpoint": endpoint,
                    "route": path,
                    "latency_ms": elapsed,
                    "attempt": attempt,
                    "variant": result.get("InvokedProductionVariant"),
                },
            )
            return {
                "statusCode": 200,
                "headers": {
                    "content-type": result.get("ContentType") or JSON,
                    "x-request-id": request_id,
                },
                "body": payload.decode("utf-8", "replace"),
                "isBase64Encoded": False,
            }
        raise AssertionError("unreachable: the last attempt always returns")  # pragma: no cover

    def _record_latency(self, started: float) -> float:
        elapsed = round((time.perf_counter() - started) * 1000.0, 3)
        metrics.add_metric(name="EndpointLatency", unit=MetricUnit.Milliseconds, value=elapsed)
        return elapsed

    def client_error_answer(
        self,
        error_response: dict[str, Any],
        service: str,
        endpoint: str,
        elapsed_ms: float,
        request_id: str,
    ) -> dict[str, Any]:
        """A SageMaker error as the client's answer: the container's own, or ours."""
        error = error_response.get("Error", {})
        code = str(error.get("Code", ""))
        aws_message = str(error.get("Message", ""))
        status = error_response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        log = {
            "endpoint": endpoint,
            "aws_code": code,
            "aws_message": aws_message[:2000],
            "aws_status": status,
            "latency_ms": elapsed_ms,
        }
        if code == "ModelError":
            original_status = error_response.get("OriginalStatusCode")
            original = error_response.get("OriginalMessage")
            log.update(
                original_status=original_status, log_stream=error_response.get("LogStreamArn")
            )
            shaped = error_shape(original)
            if is_error_status(original_status) and shaped is not None:
                logger.info("endpoint_model_error", extra=log)
                count_error(shaped)
                return {
                    "statusCode": original_status,
                    "headers": {"content-type": JSON, "x-request-id": request_id},
                    "body": str(original),
                    "isBase64Encoded": False,
                }
            logger.error("endpoint_model_error_unshaped", extra=log)
            if "timed out" in aws_message.lower():
                raise FrontError(
                    504,
                    "endpoint_timeout",
                    f"The {service} endpoint did not answer within SageMaker's 60 s limit. Send "
                    "less text per request (or split a batch) and retry.",
                )
            raise FrontError(
                502,
                "model_error",
                f"The {service} endpoint's container failed (HTTP {original_status}) without an "
                f"answer in the project's error shape; see the endpoint's log group "
                f"/aws/sagemaker/Endpoints/{endpoint} (request id {request_id}).",
            )
        logger.warning("endpoint_error", extra=log)
        if code == "ValidationError":
            raise FrontError(
                503,
                "endpoint_unavailable",
                f"The {service} endpoint '{endpoint}' does not exist or is not InService. "
                "Deploy Design 1 (or wait until the endpoint is InService) and retry; check "
                f"{ENDPOINT_VARIABLES[service]} if the name is wrong.",
                {"retry-after": "30"},
            )
        if code in THROTTLED:
            raise FrontError(
                429,
                "throttled",
                f"SageMaker is throttling calls to the {service} endpoint. Retry in a moment "
                "with backoff, or send fewer requests at once.",
                {"retry-after": "1"},
            )
        if code == "ModelNotReadyException":
            raise FrontError(
                503,
                "model_not_ready",
                f"The {service} endpoint's model is not ready to serve yet (it is starting or "
                "has no healthy container). Retry in a few seconds.",
                {"retry-after": "5"},
            )
        if code == "ServiceUnavailable":
            raise FrontError(
                503,
                "sagemaker_unavailable",
                "SageMaker runtime is unavailable for the moment. Retry in a few seconds.",
                {"retry-after": "5"},
            )
        if code == "413" or status == 413:
            raise FrontError(
                413,
                "payload_too_large",
                f"SageMaker refused the request as too large (at most {MAX_PAYLOAD_BYTES} "
                "bytes per invocation). Send less text per request.",
            )
        raise FrontError(
            502,
            "sagemaker_error",
            f"SageMaker runtime failed the call to the {service} endpoint ({code or status}). "
            f"Retry; if it persists, report request id {request_id}.",
        )

    def error(self, exc: FrontError, request_id: str) -> dict[str, Any]:
        """``exc`` as a function URL response in the project's error shape, counted."""
        if exc.status_code >= 500 or exc.code in ("throttled",):
            logger.warning(
                "front_error",
                extra={"code": exc.code, "status": exc.status_code, "request_id": request_id},
            )
        else:
            logger.info(
                "front_rejected",
                extra={"code": exc.code, "status": exc.status_code, "request_id": request_id},
            )
        count_error(exc.code)
        content = {"error": {"code": exc.code, "message": exc.message}}
        return response(exc.status_code, content, request_id, exc.headers)


ROUTES_BY_SERVICE = sorted(set(ROUTES.values()))
#: Error codes SageMaker (and AWS generally) uses for "slow down".
THROTTLED = frozenset(
    {"ThrottlingException", "Throttling", "TooManyRequestsException", "ThrottledException"}
)
CLIENT_ERROR = (
    "The front could not create its SageMaker runtime client (see its log for why; usually "
    "AWS_REGION is unset). Set AWS_REGION, or SAGEMAKER_RUNTIME_URL for a local stand-in, and "
    "redeploy."
)


def backoff(attempt: int) -> float:
    """Full-jitter exponential backoff: up to 0.2 s, then 0.4 s, ... capped at 2 s."""
    return random.uniform(0.5, 1.0) * min(2.0, 0.2 * float(2 ** (attempt - 1)))


def remaining_seconds(context: Any) -> float:
    """Seconds until the Lambda deadline (plenty when the context has no countdown)."""
    try:
        return float(context.get_remaining_time_in_millis()) / 1000.0
    except Exception:
        return 900.0


def transport_error(
    exc: Exception, service: str, endpoint: str, elapsed_ms: float, settings: FrontSettings
) -> FrontError:
    """A botocore failure without an answer (timeout, connection, credentials) as ours."""
    log = {"endpoint": endpoint, "error": f"{type(exc).__name__}: {exc}", "latency_ms": elapsed_ms}
    if isinstance(exc, ReadTimeoutError):
        logger.warning("endpoint_timeout", extra=log)
        return FrontError(
            504,
            "endpoint_timeout",
            f"The {service} endpoint did not answer within {settings.read_timeout:g} s. Send "
            "less text per request (or split a batch) and retry.",
        )
    if isinstance(exc, ConnectionError | HTTPClientError):
        logger.error("sagemaker_unreachable", extra=log)
        return FrontError(
            502,
            "sagemaker_unreachable",
            "The front could not reach SageMaker runtime. Retry; if it persists, check the "
            "function's network access to SageMaker runtime (VPC endpoint or NAT).",
        )
    if isinstance(exc, NoCredentialsError):
        logger.error("sagemaker_no_credentials", extra=log)
        return FrontError(
            500,
            "front_misconfigured",
            "The front has no AWS credentials to call SageMaker. Give the function an execution "
            "role allowed sagemaker:InvokeEndpoint on the endpoints.",
        )
    logger.error("sagemaker_call_failed", extra=log)
    return FrontError(
        502,
        "sagemaker_error",
        f"The call to the {service} endpoint failed before an answer. Retry; if it persists, "
        "see the front's log.",
    )


def read_event(event: Any) -> tuple[str, str, dict[str, str], Any, Any]:
    """Method, path, lower-cased string headers, body and base64 flag of a function URL event."""
    if not isinstance(event, Mapping) or event.get("version") != "2.0":
        raise InvalidEventError(f"The event is not a function URL request. {EVENT_FORMAT}")
    request_context = event.get("requestContext")
    http = request_context.get("http") if isinstance(request_context, Mapping) else None
    if not isinstance(http, Mapping):
        raise InvalidEventError(f"The event has no object requestContext.http. {EVENT_FORMAT}")
    method, path = http.get("method"), http.get("path")
    if not isinstance(method, str) or not method or not isinstance(path, str):
        raise InvalidEventError(
            f"requestContext.http.method and .path must be non-empty strings. {EVENT_FORMAT}"
        )
    if unencodable_index(method) is not None or unencodable_index(path) is not None:
        raise InvalidEventError(
            "The event's method or path holds an unpaired surrogate; it must be valid Unicode. "
            "Percent-encode (UTF-8) anything that is not plain text."
        )
    headers: dict[str, str] = {}
    raw_headers = event.get("headers")
    if isinstance(raw_headers, Mapping):
        for name, value in raw_headers.items():
            if isinstance(name, str) and isinstance(value, str):
                headers[name.lower()] = value
    elif raw_headers is not None:
        raise InvalidEventError(f"The event's headers must be an object. {EVENT_FORMAT}")
    return method, path, headers, event.get("body"), event.get("isBase64Encoded")


def is_error_status(status: Any) -> bool:
    return isinstance(status, int) and not isinstance(status, bool) and 400 <= status <= 599


def error_shape(text: Any) -> str | None:
    """The code when ``text`` is the project's error shape ``{"error": {"code", "message"}}``."""
    if not isinstance(text, str):
        return None
    try:
        content = json.loads(text)
    except ValueError:
        return None
    if not isinstance(content, dict) or set(content) != {"error"}:
        return None
    error = content["error"]
    if (
        isinstance(error, dict)
        and set(error) == {"code", "message"}
        and isinstance(error["code"], str)
        and error["code"]
        and isinstance(error["message"], str)
    ):
        return error["code"]
    return None


def method_not_allowed(method: str, path: str, allowed: str) -> FrontError:
    return FrontError(
        405,
        "method_not_allowed",
        f"{method[:20]} is not allowed on {path}; send {allowed}"
        + (" with a JSON body." if allowed == "POST" else "."),
        {"allow": allowed},
    )


def internal_error(request_id: str) -> FrontError:
    return FrontError(
        500,
        "internal_error",
        f"An unexpected error occurred. It was logged with request id {request_id}; retry, and "
        "report the id if it persists.",
    )


def response(
    status: int, content: Any, request_id: str, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """A function URL response with a JSON body (compact, as the product's responses are)."""
    return {
        "statusCode": status,
        "headers": {"content-type": JSON, "x-request-id": request_id, **(headers or {})},
        "body": json.dumps(content, ensure_ascii=False, separators=(",", ":")),
        "isBase64Encoded": False,
    }


def count_error(code: str) -> None:
    """One ``Errors`` metric with the error code as a dimension (never fails the request)."""
    try:
        with single_metric(
            name="Errors",
            unit=MetricUnit.Count,
            value=1,
            namespace=NAMESPACE,
            default_dimensions={"service": SERVICE_NAME},
        ) as metric:
            metric.add_dimension(name="code", value=code[:250] or "unknown")
    except Exception:
        logger.exception("metrics_failed")


def lambda_request_id(context: Any) -> str:
    """The invocation's request id from the Lambda context (a fixed marker without one)."""
    request_id = getattr(context, "aws_request_id", None)
    if isinstance(request_id, str) and request_id.isascii() and request_id.isprintable():
        return request_id[:200]
    return "unknown"


#: Made once per execution environment, at init: the client (and its connection pool) is reused.
FRONT = Front.from_env()


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
def _instrumented(event: Any, context: Any) -> dict[str, Any]:
    # Every invocation counts one request, so no invocation flushes an empty metric set.
    metrics.add_metric(name="Requests", unit=MetricUnit.Count, value=1)
    return FRONT(event, context)


def handler(event: Any, context: Any) -> dict[str, Any]:
    """The Lambda handler (``app.front.handler``): never raises, whatever the event."""
    try:
        result: dict[str, Any] = _instrumented(event, context)
        return result
    except Exception:
        # Only the decorators can get here (e.g. a context without the Lambda attributes).
        logger.exception("front_handler_failed")
        request_id = lambda_request_id(context)
        return FRONT.error(internal_error(request_id), request_id)
