"""Design 1 end to end: the NER and QA images in SageMaker serving mode (``serve``), the SageMaker
runtime stand-in, and the thin front function under the RIE, against Design 2 on the same inputs.

The compose project of the session (Design 2, tests/containers/conftest.py) gets Design 1's
services (profile ``design1``) for this module, which removes them when it ends.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import load_event
from tests.containers.harness import (
    DESIGN1_PROFILE,
    DESIGN1_SERVICES,
    LAMBDA_RUN_FLAGS,
    PROJECT,
    HttpAnswer,
    Stack,
    health_event,
    http,
    in_process_results,
    run,
    wait_until_answering,
)

JSON = {"content-type": "application/json"}
ATTRIBUTES = "X-Amzn-SageMaker-Custom-Attributes"
NER_TEXTS = [
    "Ada Lovelace was born in London in 1815.",
    "Grace Hopper joined the US Navy in 1943 and worked on the Harvard Mark I.",
    "",
]
QA_ITEM = {
    "question": "Where was Ada Lovelace born?",
    "context": "Ada Lovelace was born in London in 1815. She worked with Charles Babbage.",
}
#: (path, body) pairs both designs must answer identically, errors included.
CASES: list[tuple[str, bytes]] = [
    ("/ner", json.dumps({"text": NER_TEXTS[0]}).encode()),
    ("/ner", json.dumps({"text": NER_TEXTS[1], "labels": ["PERSON", "ORG"]}).encode()),
    ("/ner/batch", json.dumps({"texts": NER_TEXTS}).encode()),
    ("/ner", b'{"text": '),  # 400 invalid_json
    ("/ner", b'{"text": 1}'),  # 422 validation_error
    ("/ner", b'{"text": "a", "typo": 1}'),  # 422: unknown fields are rejected
    ("/ner", json.dumps({"text": "a" * 100_001}).encode()),  # 413 payload_too_large
    ("/ner/batch", json.dumps({"texts": ["a"] * 65}).encode()),  # 413 NER_MAX_BATCH_TEXTS
    ("/qa", json.dumps(QA_ITEM).encode()),
    ("/qa", json.dumps({**QA_ITEM, "top_k": 3, "allow_no_answer": True}).encode()),
    ("/qa/batch", json.dumps({"items": [QA_ITEM, {**QA_ITEM, "question": "When?"}]}).encode()),
    ("/qa", b"[]"),  # 422
    ("/qa", json.dumps({"question": "Why?", "context": "b " * 60_000}).encode()),  # 413
]


def _text_of(answer: HttpAnswer) -> str:
    return answer.body.decode("utf-8", "replace")[:400]


def _same_answer(got: tuple[int, Any], want: tuple[int, Any], what: str) -> None:
    """Equal status and JSON; QA scores within 1e-5 (two processes run the same model)."""
    assert got[0] == want[0], (what, got, want)
    got_body, want_body = got[1], want[1]
    if isinstance(want_body, dict) and ("answers" in want_body or "results" in want_body):
        assert _without_scores(got_body) == _without_scores(want_body), what
        assert _scores(got_body) == pytest.approx(_scores(want_body), abs=1e-5), what
    else:
        assert got_body == want_body, what


def _answers(body: dict[str, Any]) -> list[dict[str, Any]]:
    if "results" in body:
        return [a for r in body["results"] for a in r.get("answers", [])]
    return list(body.get("answers", []))


def _scores(body: dict[str, Any]) -> list[float]:
    return [a["score"] for a in _answers(body)]


def _without_scores(body: dict[str, Any]) -> Any:
    text = json.dumps(body, sort_keys=True)
    copy = json.loads(text)
    for answer in _answers(copy):
        answer.pop("score")
    return copy


def _event(path: str, body: bytes) -> dict[str, Any]:
    event = load_event("ner.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["body"] = body.decode()
    return event


def _lambda_answer(result: dict[str, Any]) -> tuple[int, Any]:
    return result["statusCode"], json.loads(result["body"])


def _http_answer(answer: HttpAnswer) -> tuple[int, Any]:
    return answer.status, json.loads(answer.body)


@pytest.fixture(scope="module")
def design1(stack: Stack, front_image: str) -> Iterator[Stack]:
    """Design 1's services in the session's compose project, answering, for this module."""
    stack.compose_run("up", "-d", "--no-build", *DESIGN1_SERVICES, profile=DESIGN1_PROFILE)
    try:
        deadline = time.monotonic() + 240
        for path, body in (("/ner", {"text": "Ada"}), ("/qa", QA_ITEM)):
            last: Any = None
            while time.monotonic() < deadline:
                try:
                    answer = http("POST", stack.design1_url + path, json.dumps(body).encode(), JSON)
                    last = (answer.status, _text_of(answer))
                    if answer.status == 200:
                        break
                except OSError as exc:  # the front door is not listening yet
                    last = str(exc)
                time.sleep(1)
            else:
                raise RuntimeError(f"Design 1 {path} did not answer 200 within 240 s: {last}")
        yield stack
    except BaseException:
        print(stack.logs()[-20000:])
        raise
    finally:
        stack.compose_run("rm", "-s", "-f", *DESIGN1_SERVICES, profile=DESIGN1_PROFILE)


# --- the images in serving mode --------------------------------------------------------------


def test_design1_serving_containers_ping_200(design1: Stack) -> None:
    for host, service in (("ner-serve", "ner"), ("qa-serve", "qa")):
        answer = design1.http_inside("GET", f"http://{host}:8080/ping")
        assert answer.status == 200, _text_of(answer)
        assert json.loads(answer.body) == {"status": "ok", "services": [service]}


def test_design1_serving_containers_run_like_the_functions(design1: Stack) -> None:
    for name in ("ner-serve", "qa-serve"):
        info = json.loads(run(["docker", "inspect", design1.container(name)]).stdout)[0]
        host = info["HostConfig"]
        assert host["ReadonlyRootfs"] is True and "/tmp" in host["Tmpfs"]
        assert host["Memory"] == 3008 * 1024 * 1024 and host["NanoCpus"] == 2_000_000_000
        assert info["Config"]["User"] == "993:990" and info["Config"]["Cmd"] == ["serve"]
        assert list(info["NetworkSettings"]["Networks"]) == [design1.functions_network]
        assert not host["PortBindings"]  # reachable only through the stand-in


def test_design1_invocations_answer_like_the_ner_function_and_the_app(design1: Stack) -> None:
    """``/invocations`` (route by header, and by body) == the RIE function == the in-process app
    (whose entities are spaCy's own, tests/api)."""
    cases = [(p, b) for p, b in CASES if p.startswith("/ner")]
    events = [_event(path, body) for path, body in cases]
    expected = in_process_results(dict(os.environ, SERVICES="ner"), events)
    for (path, body), event, reference in zip(cases, events, expected, strict=True):
        want = _lambda_answer(reference)
        rie = _lambda_answer(design1.invoke("ner", event))
        assert rie == want, path
        by_header = design1.http_inside(
            "POST",
            "http://ner-serve:8080/invocations",
            body,
            {**JSON, ATTRIBUTES: f"route={path}"},
        )
        assert _http_answer(by_header) == want, (path, body[:80])
        by_body = design1.http_inside("POST", "http://ner-serve:8080/invocations", body, JSON)
        assert _http_answer(by_body) == want, (path, body[:80])
    statuses = [r["statusCode"] for r in expected]
    assert 200 in statuses and {400, 413, 422} <= set(statuses)


def test_design1_invocations_answer_like_the_qa_function(design1: Stack) -> None:
    cases = [(p, b) for p, b in CASES if p.startswith("/qa")]
    for path, body in cases:
        want = _lambda_answer(design1.invoke("qa", _event(path, body)))
        got = design1.http_inside(
            "POST", "http://qa-serve:8080/invocations", body, {**JSON, ATTRIBUTES: f"route={path}"}
        )
        _same_answer(_http_answer(got), want, f"{path} {body[:60]!r}")
    batch = json.dumps({"items": [QA_ITEM]}).encode()
    got = design1.http_inside("POST", "http://qa-serve:8080/invocations", batch, JSON)
    assert got.status == 200 and len(json.loads(got.body)["results"]) == 1


def test_design1_qa_without_a_model_pings_503_and_answers_503(
    design1: Stack, images: dict[str, str]
) -> None:
    """No model: /ping says why (SageMaker would never put it InService) and /invocations
    answers what the Design 2 function answers, 503 naming `make models`."""
    name = f"{PROJECT}-qa-serve-no-model"
    subprocess.run(["docker", "rm", "-f", name], capture_output=True)
    cmd = ["docker", "run", "-d", "--name", name, "--network", design1.functions_network]
    run([*cmd, *LAMBDA_RUN_FLAGS, images["qa-no-model"], "serve"])
    try:
        deadline, ping = time.monotonic() + 120, None
        while time.monotonic() < deadline:
            try:
                ping = design1.http_inside("GET", f"http://{name}:8080/ping", timeout=10)
                if json.loads(ping.body).get("error", {}).get("code") != "model_loading":
                    break
            except RuntimeError:  # not listening yet
                pass
            time.sleep(0.5)
        assert ping is not None and ping.status == 503, ping
        assert json.loads(ping.body)["error"]["code"] == "model_unavailable"
        body = json.dumps(QA_ITEM).encode()
        got = design1.http_inside("POST", f"http://{name}:8080/invocations", body, JSON)
        assert got.status == 503
        error = json.loads(got.body)["error"]
        assert error["code"] == "model_unavailable" and "make models" in error["message"]
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)


# --- the thin front under the RIE, through the stand-in ---------------------------------------


def test_design1_front_answers_like_design2(design1: Stack) -> None:
    """The same requests through Design 1's front door and Design 2's: same status and JSON."""
    extra = [
        ("/ner", json.dumps({"text": "a"}).encode(), {"content-type": "text/plain"}),
        ("/qa/batch", b'{"items": "x"}', JSON),
    ]
    for path, body, headers in [(p, b, JSON) for p, b in CASES] + extra:
        design2 = http("POST", design1.url + path, body, headers)
        got = http("POST", design1.design1_url + path, body, headers)
        _same_answer(_http_answer(got), _http_answer(design2), f"{path} {body[:60]!r}")
        assert got.headers["content-type"] == "application/json"
        assert got.headers.get("x-request-id")


def test_design1_front_maps_its_own_errors(design1: Stack) -> None:
    # Straight to the front's RIE: events a function URL could deliver.
    bad_base64 = _event("/ner", b"")
    bad_base64["body"], bad_base64["isBase64Encoded"] = "!!not base64!!", True
    not_found = _event("/ner/render", b'{"text": "a"}')
    wrong_method = _event("/qa", b"")
    wrong_method["requestContext"]["http"]["method"] = "GET"
    for event, status, code in (
        (bad_base64, 400, "invalid_body"),
        (not_found, 404, "not_found"),
        (wrong_method, 405, "method_not_allowed"),
    ):
        result = design1.invoke("front", event)
        assert result["statusCode"] == status, result
        assert json.loads(result["body"])["error"]["code"] == code
    assert json.loads(design1.invoke_raw("front", b"{}"))["statusCode"] == 400
    # /health: the front's own state, through Design 1's front door.
    health = http("GET", design1.design1_url + "/health")
    assert health.status == 200, health.body
    front = health.json()["functions"]["front"]["body"]
    assert front["status"] == "ok" and front["design"] == 1
    assert front["details"]["ner"]["endpoint"] == "lambda-nlp-ner"
    assert front["sagemaker_runtime"] == "http://sagemaker-runtime:8080"


def test_design1_front_missing_endpoint_is_503(design1: Stack, front_image: str) -> None:
    """A front whose endpoint does not exist (not deployed, or not InService yet)."""
    name = f"{PROJECT}-front-missing"
    subprocess.run(["docker", "rm", "-f", name], capture_output=True)
    env = {
        "NER_ENDPOINT_NAME": "lambda-nlp-missing",
        "QA_ENDPOINT_NAME": "lambda-nlp-qa",
        "SAGEMAKER_RUNTIME_URL": "http://sagemaker-runtime:8080",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "local-stand-in",
        "AWS_SECRET_ACCESS_KEY": "local-stand-in",
    }
    cmd = ["docker", "run", "-d", "--name", name, "--network", design1.functions_network]
    for key, value in env.items():
        cmd += ["-e", f"{key}={value}"]
    run([*cmd, *LAMBDA_RUN_FLAGS, front_image])
    try:
        wait_until_answering(design1, name)
        result = design1.invoke(name, _event("/ner", b'{"text": "Ada"}'))
        assert result["statusCode"] == 503, result
        error = json.loads(result["body"])["error"]
        assert error["code"] == "endpoint_unavailable" and "lambda-nlp-missing" in error["message"]
        result = design1.invoke(name, _event("/qa", json.dumps(QA_ITEM).encode()))
        assert result["statusCode"] == 200, result
        logs = run(["docker", "logs", name]).stdout
        assert '"message":"endpoint_error"' in logs and "ValidationError" in logs
        assert '"EndpointLatency"' in logs and '"Errors"' in logs  # EMF lines
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)


def test_design1_front_image_is_thin(design1: Stack, front_image: str) -> None:
    script = (
        "import importlib.util as u; "
        "print([m for m in ('fastapi', 'starlette', 'pydantic', 'mangum', 'spacy', 'mxnet', "
        "'numpy', 'gluonnlp') if u.find_spec(m)]); "
        "import botocore, aws_lambda_powertools, app.errors; print(botocore.__version__)"
    )
    cmd = ["docker", "run", "--rm", *LAMBDA_RUN_FLAGS, "--entrypoint", "python3", front_image]
    out = run([*cmd, "-c", script]).stdout.split("\n")
    assert out[0] == "[]" and out[1] == "1.43.11", out
    listing = run(
        ["docker", "run", "--rm", "--entrypoint", "ls", front_image, "/var/task/app"]
    ).stdout.split()
    assert sorted(name for name in listing if name.endswith(".py")) == [
        "__init__.py",
        "errors.py",
        "front.py",
        "function_url.py",
    ]
    config = json.loads(run(["docker", "image", "inspect", front_image]).stdout)[0]["Config"]
    assert config["Cmd"] == ["app.front.handler"]
    assert config["Entrypoint"] == ["/lambda-entrypoint.sh"]
    top = run(["docker", "top", design1.container("front"), "-eo", "pid,uid"]).stdout
    assert {line.split()[1] for line in top.splitlines()[1:]} == {"993"}, top
    result = design1.invoke("front", health_event())
    assert result["statusCode"] == 200, result
