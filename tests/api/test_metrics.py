"""CloudWatch embedded metric format (EMF) lines: printed per request, valid against the format.

The format's required keys (CloudWatch "Embedded metric format specification"): a root ``_aws``
object with ``Timestamp`` (epoch milliseconds) and ``CloudWatchMetrics``, a list of directives
with ``Namespace``, ``Dimensions`` (lists of dimension names) and ``Metrics`` (``Name`` and
``Unit``); every dimension and metric name is a member of the root object.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from app import metrics
from app.function_url import LambdaContext, function_url_event

UNITS = {"Count", "Milliseconds", "Seconds", "Bytes", "None"}


def emf_lines(out: str) -> list[dict[str, Any]]:
    lines = []
    for line in out.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            lines.append(json.loads(line))
    return lines


def check_emf(record: dict[str, Any]) -> dict[str, float]:
    """Assert the EMF specification's required keys; return {metric name: value}."""
    aws = record["_aws"]
    assert isinstance(aws["Timestamp"], int)
    assert abs(aws["Timestamp"] / 1000 - time.time()) < 300
    values: dict[str, float] = {}
    assert aws["CloudWatchMetrics"], record
    for directive in aws["CloudWatchMetrics"]:
        assert isinstance(directive["Namespace"], str) and directive["Namespace"]
        assert all(isinstance(d, list) and len(d) <= 30 for d in directive["Dimensions"])
        for dimension_set in directive["Dimensions"]:
            for name in dimension_set:
                assert isinstance(record[name], str), (name, record)
        for metric in directive["Metrics"]:
            assert metric["Unit"] in UNITS, metric
            value = record[metric["Name"]]
            number = value[0] if isinstance(value, list) else value
            assert isinstance(number, (int, float)), metric
            values[metric["Name"]] = float(sum(value) if isinstance(value, list) else value)
    return values


def dimensions(record: dict[str, Any]) -> set[str]:
    return {n for d in record["_aws"]["CloudWatchMetrics"] for s in d["Dimensions"] for n in s}


def test_ner_request_prints_emf(main_module: Any, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    text = "Ada Lovelace met Charles Babbage in London."
    result = main_module.handler(
        function_url_event("POST", "/ner", {"text": text}), LambdaContext()
    )
    assert result["statusCode"] == 200
    lines = emf_lines(capsys.readouterr().out)
    assert len(lines) == 1, lines
    values = check_emf(lines[0])
    assert values["Characters"] == len(text)
    assert values["Entities"] == len(json.loads(result["body"])["entities"]) == 3
    assert values["ModelLatency"] > 0
    assert lines[0]["service"] == "ner" and dimensions(lines[0]) == {"service"}
    assert lines[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "LambdaNlp"


def test_ner_batch_sums(main_module: Any, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    texts = ["Ada Lovelace was born in London.", "Paris is in France."]
    event = function_url_event("POST", "/ner/batch", {"texts": texts})
    assert main_module.handler(event, LambdaContext())["statusCode"] == 200
    (line,) = emf_lines(capsys.readouterr().out)
    assert check_emf(line)["Characters"] == sum(len(t) for t in texts)


def test_qa_request_prints_emf(qa_main: Any, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    body = {"question": "Who met Babbage?", "context": "Ada Lovelace met Charles Babbage."}
    result = qa_main.handler(function_url_event("POST", "/qa", body), LambdaContext())
    assert result["statusCode"] == 200, result
    (line,) = emf_lines(capsys.readouterr().out)
    values = check_emf(line)
    assert values["Windows"] == 1
    assert values["Tokens"] > 10
    assert values["ModelLatency"] > 0
    assert line["service"] == "qa"


def test_errors_are_counted_by_code(main_module: Any, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    event = function_url_event("POST", "/ner", {"txt": "typo"})
    assert main_module.handler(event, LambdaContext())["statusCode"] == 422
    event = {**function_url_event("POST", "/ner", None), "body": "%%%", "isBase64Encoded": True}
    assert main_module.handler(event, LambdaContext())["statusCode"] == 400
    lines = [line for line in emf_lines(capsys.readouterr().out) if "Errors" in line]
    assert [line["code"] for line in lines] == ["validation_error", "invalid_body"]
    for line in lines:
        assert check_emf(line) == {"Errors": 1.0}
        assert dimensions(line) == {"service", "code"}


def test_namespace_and_service_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "LambdaNlp/my-stack")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "front")
    publisher = metrics.Publisher()
    publisher.configure(("ner",))
    publisher.cold_start = True
    capsys.readouterr()
    publisher.publish(metrics.RequestMetrics(values={}))
    (line,) = emf_lines(capsys.readouterr().out)
    assert check_emf(line) == {"ColdStart": 1.0}
    assert line["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "LambdaNlp/my-stack"
    assert line["service"] == "front"


def test_warm_up_publishes_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    with metrics.publisher.paused():
        with metrics.request_scope() as request:
            request.add("Entities", 3)
        metrics.error("validation_error")
    assert emf_lines(capsys.readouterr().out) == []


def test_a_reused_buffer_carries_nothing_over(capsys: pytest.CaptureFixture[str]) -> None:
    publisher = metrics.Publisher()
    publisher.cold_start = False
    capsys.readouterr()
    publisher.publish(metrics.RequestMetrics(service="ner", error_codes=["validation_error"]))
    publisher.publish(metrics.RequestMetrics(service="ner", values={}, error_codes=[]))
    request = metrics.RequestMetrics(service="ner")
    request.add("Entities", 2)
    publisher.publish(request)
    errors, values = emf_lines(capsys.readouterr().out)
    assert check_emf(errors) == {"Errors": 1.0} and errors["code"] == "validation_error"
    assert check_emf(values) == {"Entities": 2.0}
    assert dimensions(values) == {"service"} and "code" not in values
