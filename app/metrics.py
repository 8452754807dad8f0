"""CloudWatch metrics in embedded metric format (EMF), written per request with powertools.

Each request that reaches a model prints one EMF line: ``ModelLatency`` (ms), and for NER
``Characters`` and ``Entities``, for QA ``Tokens`` and ``Windows``; the first request of a
process adds ``ColdStart``. A request answered with an error prints one more line, ``Errors``,
with the error code as a dimension. CloudWatch turns the lines of a Lambda log into metrics
without any API call; under SageMaker they are in the endpoint's log group (docs/monitoring.md).

Dimensions stay few: ``service`` (ner, qa) on every metric and ``code`` on ``Errors``. Each stack
writes to its own namespace (``POWERTOOLS_METRICS_NAMESPACE``, ``LambdaNlp`` by default), so
two stacks in one account do not mix. ``EphemeralMetrics`` rather than ``Metrics``: its buffer is
not shared across instances, so concurrent requests of the serving mode cannot mix their values.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from app.logging import logger

DEFAULT_NAMESPACE = "LambdaNlp"


@dataclass
class RequestMetrics:
    """What one request measured, summed per metric name."""

    values: dict[str, tuple[MetricUnit, float]] = field(default_factory=dict)
    error_codes: list[str] = field(default_factory=list)
    service: str | None = None

    def add(self, name: str, value: float, unit: MetricUnit = MetricUnit.Count) -> None:
        _, previous = self.values.get(name, (unit, 0.0))
        self.values[name] = (unit, previous + value)


_current: ContextVar[RequestMetrics | None] = ContextVar("lambda_nlp_request_metrics", default=None)


class Publisher:
    """Writes the EMF lines of a request; one per process (:data:`publisher`)."""

    def __init__(self) -> None:
        self.service = os.environ.get("POWERTOOLS_SERVICE_NAME", "lambda-nlp")
        self.namespace = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", DEFAULT_NAMESPACE)
        self.cold_start = True
        self.suspended = False
        # One buffer per service, reused: building one costs as much as the flush. A buffer is
        # filled and flushed under the lock, so threads cannot mix their values.
        self._buffers: dict[str, EphemeralMetrics] = {}
        self._lock = threading.Lock()

    def configure(self, services: tuple[str, ...]) -> None:
        """The ``service`` dimension of errors answered outside an app's request (the Lambda
        boundary's): the process's services, unless ``POWERTOOLS_SERVICE_NAME`` names it."""
        self.service = service_name(services)

    @contextmanager
    def paused(self) -> Iterator[None]:
        """No metrics from the requests inside (the init warm-up's are not traffic)."""
        self.suspended = True
        try:
            yield
        finally:
            self.suspended = False

    def publish(self, request: RequestMetrics) -> None:
        if self.suspended:
            return
        with self._lock:
            self._publish(request)

    def _publish(self, request: RequestMetrics) -> None:
        try:
            if request.values or self.cold_start:
                lines = self._metrics(request.service)
                for name, (unit, value) in request.values.items():
                    lines.add_metric(name=name, unit=unit, value=value)
                if self.cold_start:
                    lines.add_metric(name="ColdStart", unit=MetricUnit.Count, value=1)
                    self.cold_start = False
                lines.flush_metrics()
            for code in request.error_codes:
                errors = self._metrics(request.service)
                errors.add_dimension(name="code", value=code)
                errors.add_metric(name="Errors", unit=MetricUnit.Count, value=1)
                errors.flush_metrics()
        except Exception:
            # Metrics must never cost a request its answer; drop what the failure left behind.
            logger.exception("metrics_failed")
            for buffer in self._buffers.values():
                buffer.clear_metrics()

    def _metrics(self, service: str | None) -> EphemeralMetrics:
        name = service or self.service
        buffer = self._buffers.get(name)
        if buffer is None:
            buffer = self._buffers[name] = EphemeralMetrics(namespace=self.namespace, service=name)
        return buffer


def service_name(services: tuple[str, ...]) -> str:
    """The ``service`` dimension of an app serving ``services``."""
    return os.environ.get("POWERTOOLS_SERVICE_NAME") or "+".join(services)


publisher = Publisher()


@contextmanager
def request_scope(service: str | None = None) -> Iterator[RequestMetrics]:
    """Collect the metrics of one request of ``service`` and publish them when it ends."""
    request = RequestMetrics(service=service)
    token = _current.set(request)
    try:
        yield request
    finally:
        _current.reset(token)
        publisher.publish(request)


def add(name: str, value: float, unit: MetricUnit = MetricUnit.Count) -> None:
    """Add ``value`` to metric ``name`` of the current request (nothing outside a request)."""
    request = _current.get()
    if request is not None:
        request.add(name, value, unit)


def add_latency(name: str, seconds: float) -> None:
    add(name, round(seconds * 1000.0, 3), MetricUnit.Milliseconds)


def error(code: str) -> None:
    """Count an error answer; outside a request (the Lambda boundary) it is published at once."""
    request = _current.get()
    if request is not None:
        request.error_codes.append(code)
    else:
        publisher.publish(RequestMetrics(error_codes=[code]))
