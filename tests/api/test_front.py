"""Design 1's thin front (app/front.py) through its real handler and a real botocore client,
against the SageMaker runtime stand-in in front of a fake serving-mode container.

Every outcome must be a function URL response in the project's error shape; nothing raises.
"""

from __future__ import annotations

import ast
import base64
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.metrics.provider import cold_start
from hypothesis import HealthCheck, given, settings

import app.front as front
from app.function_url import LambdaContext, function_url_event
from tests.api.function_url_events import assert_answer, function_url_events
from tests.tools.sagemaker_fakes import (
    FakeContainer,
    Seen,
    close_clients,
    fake_container,
    stand_in,
)

ROOT = Path(__file__).resolve().parents[2]
SHAPED = '{"error":{"code":"validation_error","message":"The request does not match the schema."}}'


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Dummy credentials for signing (the stand-in does not check them), no shared config."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def container() -> Iterator[FakeContainer]:
    with fake_container() as fake:
        yield fake
    close_clients()


@pytest.fixture
def runtime(container: FakeContainer) -> Iterator[str]:
    endpoints = {"ep-ner": container.url, "ep-qa": container.url, "ep-down": "http://127.0.0.1:9"}
    with stand_in(endpoints, timeout=2.0) as url:
        yield url


def use_front(monkeypatch: pytest.MonkeyPatch, **env: str) -> front.Front:
    """Make ``app.front.handler`` serve with a Front built from ``env`` (as at init)."""
    base = {"NER_ENDPOINT_NAME": "ep-ner", "QA_ENDPOINT_NAME": "ep-qa", "AWS_REGION": "us-east-1"}
    instance = front.Front.from_env({**base, **env})
    monkeypatch.setattr(front, "FRONT", instance)
    return instance


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch, runtime: str) -> Iterator[front.Front]:
    instance = use_front(monkeypatch, SAGEMAKER_RUNTIME_URL=runtime)
    yield instance
    instance.client.close()


def call(method: str, path: str, body: Any = None, **kw: Any) -> dict[str, Any]:
    result = front.handler(function_url_event(method, path, body, **kw), LambdaContext())
    assert isinstance(result, dict)
    return result


def error_of(result: dict[str, Any]) -> dict[str, str]:
    """The error of a result, checking the one shape on the way."""
    assert result["headers"]["content-type"] == "application/json"
    assert result["headers"]["x-request-id"] == "local"
    content = json.loads(result["body"])
    assert set(content) == {"error"} and set(content["error"]) == {"code", "message"}, content
    assert content["error"]["message"]
    error: dict[str, str] = content["error"]
    return error


@pytest.mark.parametrize("path", ["/ner", "/ner/batch", "/qa", "/qa/batch"])
def test_front_forwards_body_and_route_and_returns_the_answer(
    container: FakeContainer, served: front.Front, path: str
) -> None:
    body = {"text": "Ada Lovelace was born in London.", "note": "é ✓"}
    result = call("POST", path, body)
    assert result["statusCode"] == 200, result
    assert result["headers"]["content-type"] == "application/json"
    assert result["headers"]["x-request-id"] == "local"
    [seen] = container.seen
    assert seen.headers["x-amzn-sagemaker-custom-attributes"] == f"route={path}"
    assert seen.headers["content-type"] == "application/json"
    assert seen.headers["accept"] == "application/json"
    assert seen.body == json.dumps(body).encode()
    assert json.loads(result["body"]) == {"route": f"route={path}", "body": json.dumps(body)}


def test_front_sends_the_requests_own_content_type_and_base64_bodies(
    container: FakeContainer, served: front.Front
) -> None:
    # The container judges the content type as the Design 2 function does (text/plain -> 422).
    result = call("POST", "/ner", {"text": "a"}, headers={"content-type": "text/plain"})
    assert result["statusCode"] == 200
    assert container.seen[-1].headers["content-type"] == "text/plain"
    event = function_url_event("POST", "/qa", None)
    event["body"], event["isBase64Encoded"] = base64.b64encode(b'{"q": 1}').decode(), True
    assert front.handler(event, LambdaContext())["statusCode"] == 200
    assert container.seen[-1].body == b'{"q": 1}'


@pytest.mark.parametrize("status", [400, 413, 422, 503])
def test_front_passes_the_containers_own_errors_through(
    container: FakeContainer, served: front.Front, status: int
) -> None:
    container.respond = lambda request: (status, "application/json", SHAPED.encode())
    result = call("POST", "/ner", {"text": 1})
    assert result["statusCode"] == status
    assert result["body"] == SHAPED
    assert error_of(result)["code"] == "validation_error"


def test_front_container_error_without_the_shape_is_502(
    container: FakeContainer, served: front.Front
) -> None:
    container.respond = lambda request: (500, "text/plain", b"Internal Server Error")
    result = call("POST", "/qa", {"question": "?", "context": "."})
    assert result["statusCode"] == 502
    error = error_of(result)
    assert error["code"] == "model_error"
    assert "/aws/sagemaker/Endpoints/ep-qa" in error["message"]


def test_front_missing_endpoint_is_503(monkeypatch: pytest.MonkeyPatch, runtime: str) -> None:
    use_front(monkeypatch, SAGEMAKER_RUNTIME_URL=runtime, NER_ENDPOINT_NAME="lambda-nlp-gone")
    result = call("POST", "/ner", {"text": "Ada"})
    assert result["statusCode"] == 503
    error = error_of(result)
    assert error["code"] == "endpoint_unavailable"
    assert "lambda-nlp-gone" in error["message"] and "InService" in error["message"]
    assert "000000000000" not in error["message"]  # the account id stays in the log
    assert result["headers"]["retry-after"]


def test_front_unconfigured_endpoint_is_503_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, runtime: str
) -> None:
    use_front(monkeypatch, SAGEMAKER_RUNTIME_URL=runtime, QA_ENDPOINT_NAME="")
    result = call("POST", "/qa", {"question": "?", "context": "."})
    assert result["statusCode"] == 503
    error = error_of(result)
    assert error["code"] == "endpoint_not_configured" and "QA_ENDPOINT_NAME" in error["message"]
    health = json.loads(call("GET", "/health")["body"])
    assert health["status"] == "degraded" and health["services"] == ["ner"]


def test_front_unreachable_container_is_503_model_not_ready(served: front.Front) -> None:
    served.settings.endpoints["ner"] = "ep-down"
    result = call("POST", "/ner", {"text": "Ada"})
    assert result["statusCode"] == 503
    assert error_of(result)["code"] == "model_not_ready"


def test_front_unreachable_sagemaker_is_502(monkeypatch: pytest.MonkeyPatch) -> None:
    use_front(
        monkeypatch, SAGEMAKER_RUNTIME_URL="http://127.0.0.1:9", SAGEMAKER_CONNECT_TIMEOUT="2"
    )
    result = call("POST", "/ner", {"text": "Ada"})
    assert result["statusCode"] == 502
    assert error_of(result)["code"] == "sagemaker_unreachable"
    front.FRONT.client.close()


def test_front_read_timeout_is_504(
    monkeypatch: pytest.MonkeyPatch, container: FakeContainer, runtime: str
) -> None:
    def slow(request: Seen) -> tuple[int, str, bytes]:
        time.sleep(1.8)
        return 200, "application/json", b"{}"

    container.respond = slow
    instance = use_front(monkeypatch, SAGEMAKER_RUNTIME_URL=runtime, SAGEMAKER_READ_TIMEOUT="0.5")
    started = time.monotonic()
    result = call("POST", "/ner", {"text": "Ada"})
    assert time.monotonic() - started < 1.5  # the front gave up at its read timeout, once
    assert result["statusCode"] == 504
    error = error_of(result)
    assert error["code"] == "endpoint_timeout" and "0.5 s" in error["message"]
    assert len(container.seen) == 1  # no retry of a timed-out inference
    instance.client.close()


def test_front_sagemakers_own_container_timeout_is_504(
    container: FakeContainer, served: front.Front
) -> None:
    def slow(request: Seen) -> tuple[int, str, bytes]:
        time.sleep(3)  # past the stand-in's 2 s (SageMaker's 60 s)
        return 200, "application/json", b"{}"

    container.respond = slow
    result = call("POST", "/qa/batch", {"items": []})
    assert result["statusCode"] == 504
    assert error_of(result)["code"] == "endpoint_timeout"


def test_front_retries_throttling_then_answers_429(
    monkeypatch: pytest.MonkeyPatch, container: FakeContainer
) -> None:
    release, entered = threading.Event(), threading.Event()

    def held(request: Seen) -> tuple[int, str, bytes]:
        entered.set()
        release.wait(10)
        return 200, "application/json", b'{"held": true}'

    container.respond = held
    with stand_in({"ep-ner": container.url}, max_concurrency=1) as url:
        instance = use_front(monkeypatch, SAGEMAKER_RUNTIME_URL=url)
        delays: list[float] = []
        instance.sleep = delays.append
        first: dict[str, Any] = {}
        thread = threading.Thread(target=lambda: first.update(call("POST", "/ner", {"text": "a"})))
        thread.start()
        try:
            assert entered.wait(10)
            result = call("POST", "/ner", {"text": "b"})
        finally:
            release.set()
            thread.join(10)
        assert result["statusCode"] == 429, result
        assert error_of(result)["code"] == "throttled"
        assert result["headers"]["retry-after"] == "1"
        assert len(delays) == 2 and all(0 < d <= 2 for d in delays)  # two retries, backed off
        assert first["statusCode"] == 200 and json.loads(first["body"]) == {"held": True}

        # A retry that finds the endpoint free again answers normally.
        release.clear()
        entered.clear()
        thread = threading.Thread(target=lambda: first.update(call("POST", "/ner", {"text": "c"})))
        thread.start()
        assert entered.wait(10)
        instance.sleep = lambda delay: (release.set(), thread.join(10), None)[-1]
        assert call("POST", "/ner", {"text": "d"})["statusCode"] == 200
        instance.client.close()


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("POST", "/ner/render", 404, "not_found"),
        ("GET", "/", 404, "not_found"),
        ("POST", "/nerd", 404, "not_found"),
        ("GET", "/ner", 405, "method_not_allowed"),
        ("DELETE", "/qa/batch", 405, "method_not_allowed"),
        ("POST", "/health", 405, "method_not_allowed"),
    ],
)
def test_front_routes(
    container: FakeContainer, served: front.Front, method: str, path: str, status: int, code: str
) -> None:
    result = call(method, path, {"text": "a"} if method == "POST" else None)
    assert result["statusCode"] == status
    assert error_of(result)["code"] == code
    if status == 405:
        assert result["headers"]["allow"] in ("GET", "POST")
    assert container.seen == []


def test_front_rejects_bodies_and_events_it_cannot_read(
    container: FakeContainer, served: front.Front
) -> None:
    event = function_url_event("POST", "/ner", None)
    event["body"], event["isBase64Encoded"] = "!!not base64!!", True
    result = front.handler(event, LambdaContext())
    assert result["statusCode"] == 400 and error_of(result)["code"] == "invalid_body"
    event["body"], event["isBase64Encoded"] = '{"text": "\ud800"}', False
    assert error_of(front.handler(event, LambdaContext()))["code"] == "invalid_body"
    for bad in ({}, [], "x", None, {"version": "2.0", "requestContext": {}}):
        result = front.handler(bad, LambdaContext())
        assert result["statusCode"] == 400 and error_of(result)["code"] == "invalid_event"
    assert container.seen == []


def test_front_health_reports_its_endpoints_without_calling_them(
    container: FakeContainer, served: front.Front, runtime: str
) -> None:
    result = call("GET", "/health")
    assert result["statusCode"] == 200
    report = json.loads(result["body"])
    assert report["status"] == "ok" and report["design"] == 1
    assert report["services"] == ["ner", "qa"]
    assert report["details"]["ner"] == {"status": "configured", "endpoint": "ep-ner", "error": None}
    assert report["sagemaker_runtime"] == runtime and report["checks_endpoints"] is False
    assert container.seen == []


def test_front_without_a_region_answers_500_and_says_what_to_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    use_front(monkeypatch, AWS_REGION="")
    result = call("POST", "/ner", {"text": "Ada"})
    assert result["statusCode"] == 500
    error = error_of(result)
    assert error["code"] == "front_misconfigured" and "AWS_REGION" in error["message"]
    health = call("GET", "/health")
    assert health["statusCode"] == 503 and json.loads(health["body"])["status"] == "unavailable"


def test_front_handler_never_raises(served: front.Front, monkeypatch: pytest.MonkeyPatch) -> None:
    # A context powertools cannot read, and a Front that breaks: still an answer.
    result = front.handler(function_url_event("GET", "/health"), object())
    assert result["statusCode"] == 500 and error_of_any(result)["code"] == "internal_error"

    def broken(*args: Any) -> Any:
        raise RuntimeError("boom /var/task/app/front.py")

    monkeypatch.setattr(served, "serve", broken)
    result = call("POST", "/ner", {"text": "a"})
    assert result["statusCode"] == 500
    error = error_of(result)
    assert error["code"] == "internal_error" and "local" in error["message"]
    assert "boom" not in result["body"] and "Traceback" not in result["body"]


def error_of_any(result: dict[str, Any]) -> dict[str, str]:
    content = json.loads(result["body"])
    error: dict[str, str] = content["error"]
    return error


def test_front_answers_every_event_in_the_one_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    """The hardening suite's hostile events (tests/api): no exception, no 5xx, no leak."""
    with (
        fake_container() as container,
        stand_in({"ep-ner": container.url, "ep-qa": container.url}) as url,
    ):
        instance = use_front(monkeypatch, SAGEMAKER_RUNTIME_URL=url)

        @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
        @given(event=function_url_events())
        def fuzz(event: Any) -> None:
            assert_answer(front.handler(event, LambdaContext()))

        try:
            fuzz()
        finally:
            instance.client.close()
            close_clients()
        assert container.seen  # some events got through to the container


def test_front_writes_its_metrics_in_emf(
    container: FakeContainer, served: front.Front, capsys: pytest.CaptureFixture[str]
) -> None:
    cold_start.is_cold_start = True
    capsys.readouterr()
    assert call("POST", "/ner", {"text": "Ada"})["statusCode"] == 200
    container.respond = lambda request: (422, "application/json", SHAPED.encode())
    assert call("POST", "/qa", {"question": 1})["statusCode"] == 422
    assert call("GET", "/nope")["statusCode"] == 404
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]

    def metric_lines(name: str) -> list[dict[str, Any]]:
        return [
            line
            for line in lines
            if any(
                m["Name"] == name for d in line["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]
            )
        ]

    for line in lines:
        assert all(d["Namespace"] == "LambdaNlp" for d in line["_aws"]["CloudWatchMetrics"])
    latency = metric_lines("EndpointLatency")
    assert [line["endpoint"] for line in latency] == ["ner", "qa"]
    for line in latency:
        [spec] = line["_aws"]["CloudWatchMetrics"]
        assert {"Name": "EndpointLatency", "Unit": "Milliseconds"} in spec["Metrics"]
        # powertools writes every value as a list (one per call, e.g. throttled retries)
        assert line["service"] == "front" and len(line["EndpointLatency"]) == 1
        assert line["EndpointLatency"][0] > 0
        assert line["Requests"] == [1.0]
    errors = metric_lines("Errors")
    assert [(line["code"], line["service"]) for line in errors] == [
        ("validation_error", "front"),
        ("not_found", "front"),
    ]
    assert all(
        sorted(line["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]) == ["code", "service"]
        for line in errors
    )
    assert len(metric_lines("ColdStart")) == 1
    assert len(metric_lines("Requests")) == 3


def test_front_imports_nothing_heavy() -> None:
    """The front image has botocore and powertools only: no FastAPI, pydantic, spaCy, MXNet."""
    script = (
        "import sys, app.front\n"
        "heavy = ('fastapi', 'starlette', 'pydantic', 'mangum', 'spacy', 'mxnet', 'numpy', "
        "'gluonnlp', 'sentencepiece', 'boto3')\n"
        "print([m for m in sys.modules if m.split('.')[0] in heavy])\n"
    )
    env = {"PATH": "/usr/bin:/bin", "AWS_REGION": "us-east-1", "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        check=True,
    )
    assert out.stdout.strip() == "[]", out.stdout


def test_front_image_copies_every_product_module_the_front_imports() -> None:
    """images/front/Dockerfile copies app/__init__.py, errors.py, function_url.py and front.py
    only; the modules the front imports from the product must be among them (and import nothing
    more)."""
    copied = {"app", "app.errors", "app.function_url", "app.front"}
    dockerfile = (ROOT / "images/front/Dockerfile").read_text()
    assert (
        "COPY app/__init__.py app/errors.py app/function_url.py app/front.py /opt/app/app/"
        in dockerfile
    )
    for module in copied:
        path = ROOT / (module.replace(".", "/") + ("/__init__.py" if module == "app" else ".py"))
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                if name.split(".")[0] == "app":
                    assert name in copied, (module, name)


def test_front_client_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Read timeout above SageMaker's 60 s, a short connect timeout, botocore retries off."""
    settings = front.FrontSettings.from_env({"AWS_REGION": "eu-west-1"})
    assert (settings.read_timeout, settings.connect_timeout, settings.throttle_retries) == (
        70,
        5,
        2,
    )
    client = front.create_client(settings)
    try:
        config = client.meta.config
        assert config.read_timeout == 70 and config.connect_timeout == 5
        assert config.retries == {"mode": "standard", "total_max_attempts": 1}
        assert client.meta.region_name == "eu-west-1"
        assert client.meta.service_model.service_name == "sagemaker-runtime"
        assert client.meta.endpoint_url == "https://runtime.sagemaker.eu-west-1.amazonaws.com"
    finally:
        client.close()
    odd = front.FrontSettings.from_env(
        {
            "SAGEMAKER_READ_TIMEOUT": "soon",
            "SAGEMAKER_CONNECT_TIMEOUT": "-1",
            "SAGEMAKER_THROTTLE_RETRIES": "0",
            "NER_ENDPOINT_NAME": "  ",
        }
    )
    assert (odd.read_timeout, odd.connect_timeout, odd.throttle_retries) == (70, 5, 0)
    assert odd.endpoints == {"ner": None, "qa": None} and odd.region is None
