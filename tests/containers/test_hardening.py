"""Issue 7 through the containers: fuzzing, limits, load, faults and security defaults end to end.

Everything goes through the real images on the compose stack (RIE, awslambdaric, Mangum) and,
for HTTP, through the function-URL front door. The in-process half is tests/api/.
"""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
)

from bench.load import run_load
from tests.containers.conftest import ARTIFACTS
from tests.containers.harness import (
    LAMBDA_RUN_FLAGS,
    PROJECT,
    ROOT,
    Stack,
    health_event,
    http,
    run,
    wait_until_answering,
)

JSON = {"content-type": "application/json"}
# What must never reach a client: tracebacks, source paths, module internals.
LEAKS = re.compile(r"Traceback|File \"|/var/task|/var/runtime|site-packages|\.py\b")


def no_leak(body: bytes) -> None:
    text = body.decode(errors="replace")
    assert not LEAKS.search(text), text[:500]


def error_shape(status: int, body: bytes) -> dict[str, Any]:
    assert 400 <= status < 600, status
    payload = json.loads(body)
    assert set(payload) == {"error"} and set(payload["error"]) == {"code", "message"}, payload
    assert payload["error"]["message"], payload
    no_leak(body)
    error: dict[str, Any] = payload["error"]
    return error


# --- 1. schema fuzzing through the front door ------------------------------------------------


def test_hardening_schema_fuzz_through_front_door(stack: Stack) -> None:
    """schemathesis on the served OpenAPI schema: /ner* reach the NER function, /qa* the QA one."""
    schema = schemathesis.openapi.from_url(f"{stack.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/ner", "/ner/batch", "/qa", "/qa/batch", "/health"}
    statuses: Counter[str] = Counter()
    for operation, mode in itertools.product(operations, list(GenerationMode)):

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
        def fuzz(case: Any) -> None:
            response = case.call(base_url=stack.url, timeout=120)
            statuses[str(response.status_code)] += 1
            case.validate_response(
                response,
                checks=[not_a_server_error, response_schema_conformance, content_type_conformance],
            )
            if response.status_code >= 400:
                error_shape(response.status_code, response.content)

        try:
            fuzz()
        except Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE  # GET routes have no input to break
    total = sum(statuses.values())
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "schema-fuzz-front-door.json").write_text(
        json.dumps({"requests": total, "by_status": statuses}, indent=2) + "\n"
    )
    assert total >= 150 and not [s for s in statuses if s.startswith("5")], statuses


# --- 2. limits end to end --------------------------------------------------------------------


def _text_body(chars: int) -> bytes:
    return json.dumps({"text": "a" * chars}).encode()


@pytest.mark.parametrize(
    ("path", "body", "status", "code", "names"),
    [
        # Over the function URL payload limit: the front door answers, as a function URL would.
        ("/ner", b"x" * (6 * 1024 * 1024 + 1), 413, "payload_too_large", "6291456"),
        # Under 6 MB as a body, over it once wrapped in the invocation event.
        ("/ner", _text_body(6 * 1024 * 1024 - 200), 413, "payload_too_large", "per invocation"),
        # Near the limit but inside it: the app's own text limit, named.
        ("/ner", _text_body(5_900_000), 413, "payload_too_large", "NER_MAX_TEXT_CHARS"),
        ("/ner", b'{"text": ' + b"[" * 200_000 + b"]" * 200_000 + b"}", 400, "invalid_json", ""),
        (
            "/ner/batch",
            json.dumps({"texts": ["a"] * 10_000}).encode(),
            413,
            "payload_too_large",
            "NER_MAX_BATCH_TEXTS",
        ),
        (
            "/qa",
            json.dumps({"question": "What?", "context": "word " * 20_000}).encode(),
            413,
            "payload_too_large",
            "QA_MAX_WINDOWS",
        ),
        (
            "/qa",
            json.dumps({"question": "x" * 5_000, "context": "Oslo."}).encode(),
            413,
            "payload_too_large",
            "QA_MAX_QUESTION_CHARS",
        ),
        ("/qa", b"\xff\xfe\x00junk", 400, "invalid_json", ""),
    ],
    ids=[
        "over-6MB",
        "6MB-with-envelope",
        "5.9MB-text",
        "deep-json",
        "batch-count",
        "qa-windows",
        "qa-question",
        "binary-junk",
    ],
)
def test_hardening_limits_through_front_door(
    stack: Stack, path: str, body: bytes, status: int, code: str, names: str
) -> None:
    answer = http("POST", stack.url + path, body, JSON)
    error = error_shape(answer.status, answer.body)
    assert (answer.status, error["code"]) == (status, code), error
    assert names in error["message"], error


def test_hardening_long_single_tokens_are_served(stack: Stack) -> None:
    ner = http("POST", stack.url + "/ner", _text_body(90_000), JSON)
    assert ner.status == 200 and ner.json()["entities"] == []
    context = "Oslo " + "x" * 3_000 + " is the capital of Norway."
    qa = http(
        "POST",
        stack.url + "/qa",
        json.dumps({"question": "Capital?", "context": context}).encode(),
        JSON,
    )
    assert qa.status == 200, qa.body[:300]
    for answer in qa.json()["answers"]:
        assert context[answer["start"] : answer["start"] + answer["length"]] == answer["text"]


# --- 3. bounded load -------------------------------------------------------------------------


def test_hardening_load_answers_match_sequential_and_memory_stays_flat(stack: Stack) -> None:
    """8 concurrent clients, hundreds of requests per function (the bench runs thousands)."""
    results = {}
    for function, total in (("ner", 1_000), ("qa", 400)):
        result = run_load(stack.url, function, stack.container(function), total, concurrency=8)
        results[function] = result
        assert result["errors"] == 0, result["error_samples"]
        assert result["mismatches"] == 0, result
        assert result["rss_growth_mb"] is not None and result["rss_growth_mb"] < 16, result
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "load.json").write_text(json.dumps(results, indent=2) + "\n")


# --- 4. faults -------------------------------------------------------------------------------


def _runtime_pid(container: str) -> str:
    top = run(["docker", "top", container, "-eo", "pid,args"]).stdout.splitlines()[1:]
    pids = [line.split()[0] for line in top if line.split()[1].endswith("python3")]
    assert len(pids) == 1, top
    return pids[0]


def test_hardening_runtime_killed_mid_request_is_replaced(stack: Stack) -> None:
    """SIGKILL of the runtime during a request: a clear 502 for it, then a fresh init serves."""
    container = stack.container("ner")
    before = _runtime_pid(container)
    answers: list[Any] = []
    long_text = json.dumps({"text": "Ada Lovelace lived in London. " * 3_300}).encode()
    client = threading.Thread(
        target=lambda: answers.append(http("POST", stack.url + "/ner", long_text, JSON))
    )
    client.start()
    time.sleep(0.3)
    run(["kill", "-9", before])
    client.join(timeout=120)
    killed = answers[0]
    error = error_shape(killed.status, killed.body)
    assert killed.status == 502 and error["code"] == "function_error", error
    after = http("POST", stack.url + "/ner", json.dumps({"text": "Ada in Paris."}).encode(), JSON)
    assert after.status == 200 and after.json()["entities"], after.body[:300]
    assert _runtime_pid(container) != before


def test_hardening_killed_container_is_restarted(stack: Stack) -> None:
    """The whole container dies (RIE included): compose's restart policy brings it back."""
    container = stack.container("qa")
    restarts = int(run(["docker", "inspect", "-f", "{{.RestartCount}}", container]).stdout)
    rie_pid = run(["docker", "inspect", "-f", "{{.State.Pid}}", container]).stdout.strip()
    run(["kill", "-9", rie_pid])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = run(["docker", "inspect", "-f", "{{.RestartCount}} {{.State.Running}}", container])
        if state.stdout.split() == [str(restarts + 1), "true"]:
            break
        time.sleep(0.2)
    else:
        pytest.fail(f"qa container not restarted: {state.stdout}")
    wait_until_answering(stack, "qa")
    body = {"question": "Capital?", "context": "Oslo is the capital of Norway."}
    answer = http("POST", stack.url + "/qa", json.dumps(body).encode(), JSON)
    assert answer.status == 200 and answer.json()["answers"], answer.body[:300]


def _corrupt_model(kind: str, src: Path, out: Path) -> Path:
    out.mkdir()
    for name in ("config.json", "model.params", "spiece.model"):
        (out / name).write_bytes((src / name).read_bytes())
    if kind == "truncated-params":
        params = (out / "model.params").read_bytes()
        (out / "model.params").write_bytes(params[: len(params) // 3])
    elif kind == "bad-config":
        (out / "config.json").write_text('{"hidden_size": "large",')
    elif kind == "bad-spiece":
        (out / "spiece.model").write_bytes(b"not a sentencepiece model")
    out.chmod(0o755)
    for path in out.iterdir():
        path.chmod(0o644)
    return out


@pytest.mark.parametrize("kind", ["truncated-params", "bad-config", "bad-spiece"])
def test_hardening_corrupt_qa_model_is_explained_not_crash_looping(
    stack: Stack, images: dict[str, str], qa_test_model: Path, tmp_path: Path, kind: str
) -> None:
    model = _corrupt_model(kind, qa_test_model, tmp_path / "model")
    name = f"{PROJECT}-qa-{kind}"
    subprocess.run(["docker", "rm", "-f", name], capture_output=True)
    cmd = ["docker", "run", "-d", "--name", name, "--network", stack.functions_network]
    cmd += ["-v", f"{model}:/opt/models/qa:ro", *LAMBDA_RUN_FLAGS, images["qa-no-model"]]
    run(cmd)
    try:
        wait_until_answering(stack, name)
        health = stack.invoke(name, health_event())
        event = json.loads((ROOT / "events/qa.json").read_text())
        result = stack.invoke(name, event)
        error = error_shape(result["statusCode"], result["body"].encode())
        assert result["statusCode"] == 503 and error["code"] == "model_unavailable", error
        detail = json.loads(health["body"])["details"]["qa"]
        assert detail["status"] == "unavailable" and detail["error"], detail
        assert str(model) not in detail["error"]
        # Still the first runtime process: init failed softly, no crash loop.
        assert run(["docker", "inspect", "-f", "{{.State.Running}}", name]).stdout.strip() == "true"
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)


# --- 5. security defaults --------------------------------------------------------------------


def test_hardening_functions_run_as_non_root(stack: Stack) -> None:
    for name in ("ner", "qa", "frontdoor"):
        top = run(["docker", "top", stack.container(name), "-eo", "pid,uid,args"]).stdout
        uids = {line.split()[1] for line in top.splitlines()[1:]}
        assert uids == {"993"}, top


def test_hardening_images_carry_no_credentials(images: dict[str, str]) -> None:
    secret_env = re.compile(
        r"^(AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN)|.*PASSWORD|.*TOKEN)="
    )
    key_pattern = r"AKIA[0-9A-Z]{16}|aws_secret_access_key|BEGIN (RSA |EC |OPENSSH )?PRIVATE KEY"
    for name in ("ner", "qa"):
        config = json.loads(run(["docker", "image", "inspect", images[name]]).stdout)[0]["Config"]
        assert not [e for e in config["Env"] if secret_env.match(e)], config["Env"]
        script = (
            "ls -d /root/.aws /home/*/.aws /root/.docker /root/.netrc 2>/dev/null; "
            f"grep -rIlE '{key_pattern}' /var/task/app /opt /etc 2>/dev/null; true"
        )
        found = run(["docker", "run", "--rm", "--entrypoint", "sh", images[name], "-c", script])
        assert found.stdout.strip() == "", found.stdout


def test_hardening_dockerfiles_install_only_from_hash_locked_files() -> None:
    dockerfiles = [*ROOT.glob("images/*/Dockerfile"), *ROOT.glob("images/base/*.Dockerfile")]
    installs = 0
    for dockerfile in dockerfiles:
        text = dockerfile.read_text().replace("\\\n", " ")
        for command in re.findall(r"pip install[^&;\n]*", text):
            installs += 1
            assert "--require-hashes" in command and " -r " in command, (dockerfile, command)
            # exactly the lock: pip resolves nothing, so an upstream release cannot change it
            assert "--no-deps" in command, (dockerfile, command)
        # ... and what was installed is checked to be the lock's whole closure
        if "pip install" in text:
            assert re.search(r"python3\.11 \S*check-closure\.py /", text), dockerfile
    assert installs >= 4
    for lock in ROOT.glob("images/**/*.txt"):
        pins = [line for line in lock.read_text().splitlines() if re.match(r"^[A-Za-z0-9]", line)]
        for pin in pins:
            assert "==" in pin, (lock, pin)
        if pins:
            assert "--hash=sha256:" in lock.read_text(), lock


def test_hardening_errors_leak_nothing_through_front_door(stack: Stack) -> None:
    requests = [
        ("POST", "/ner", b"{", JSON),
        ("POST", "/ner", b'{"text": 1}', JSON),
        ("POST", "/ner", b'{"text": "a"}', {"content-type": "text/plain"}),
        ("POST", "/qa", b'{"question": "", "context": ""}', JSON),
        ("GET", "/nope/../../etc/passwd", None, {}),
        ("DELETE", "/ner", None, {}),
        ("POST", "/qa/batch", b'{"items": "x"}', JSON),
    ]
    for method, path, body, headers in requests:
        answer = http(method, stack.url + path, body, headers)
        error_shape(answer.status, answer.body)
        assert answer.status < 500, (path, answer.body[:300])
