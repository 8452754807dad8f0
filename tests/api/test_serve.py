"""The SageMaker serving mode (``python -m app.serve``, what ``docker run IMAGE serve`` runs),
in a real uvicorn subprocess: /ping, and /invocations answering exactly as the image's routes.
The container tests run the same through the images."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.serve import default_workers

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def call(
    port: int, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    data = (
        None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    )
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=data,
        method=method,
        headers={"content-type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


class Server:
    def __init__(self, env: dict[str, str]) -> None:
        self.port = _free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app.serve"],
            cwd=ROOT,
            env={**os.environ, **env, "SAGEMAKER_BIND_TO_PORT": str(self.port)},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.pings: list[int] = []

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.process.communicate()[0]
            try:
                status, _ = call(self.port, "GET", "/ping")
            except OSError:
                time.sleep(0.05)
                continue
            self.pings.append(status)
            if status == 200:
                return
            time.sleep(0.05)
        raise AssertionError(f"/ping never answered 200: {self.pings}")

    def stop(self) -> str:
        self.process.terminate()
        try:
            out, _ = self.process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, _ = self.process.communicate()
        return out


@pytest.fixture(scope="module")
def ner_server() -> Iterator[Server]:
    server = Server({"SERVICES": "ner", "SERVE_WORKERS": "1"})
    server.wait_ready()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def qa_server(qa_model_dir: Path) -> Iterator[Server]:
    server = Server({"SERVICES": "qa", "QA_MODEL_DIR": str(qa_model_dir)})
    server.wait_ready()
    yield server
    server.stop()


TEXT = "Ada Lovelace met Charles Babbage in London in 1833."


def test_ping_says_ok_once_loaded(ner_server: Server) -> None:
    assert set(ner_server.pings) <= {200, 503}
    assert call(ner_server.port, "GET", "/ping") == (200, {"status": "ok", "services": ["ner"]})


@pytest.mark.parametrize(
    ("body", "route", "headers"),
    [
        ({"text": TEXT}, "/ner", None),
        ({"text": TEXT, "labels": ["PERSON"]}, "/ner", None),
        ({"texts": [TEXT, "Paris is in France."]}, "/ner/batch", None),
        (
            {"texts": [TEXT]},
            "/ner/batch",
            {"X-Amzn-SageMaker-Custom-Attributes": "route=/ner/batch"},
        ),
        ({"text": ""}, "/ner", None),
        ({"txt": TEXT}, "/ner", None),
        ({"text": "x" * 100_001}, "/ner", None),
        ({"texts": []}, "/ner/batch", None),
        (b"{not json", "/ner", None),
    ],
)
def test_ner_invocations_answer_as_the_route(
    ner_server: Server, body: Any, route: str, headers: dict[str, str] | None
) -> None:
    expected = call(ner_server.port, "POST", route, body)
    assert call(ner_server.port, "POST", "/invocations", body, headers) == expected


def test_invocations_route_must_be_served(ner_server: Server) -> None:
    status, body = call(
        ner_server.port,
        "POST",
        "/invocations",
        {"question": "q", "context": "c"},
        {"X-Amzn-SageMaker-Custom-Attributes": "route=/qa"},
    )
    assert status == 400 and body["error"]["code"] == "invalid_route"
    assert "/ner, /ner/batch" in body["error"]["message"]
    status, body = call(ner_server.port, "GET", "/invocations")
    assert status == 405 and body["error"]["code"] == "method_not_allowed"


def test_qa_invocations_answer_as_the_route(qa_server: Server) -> None:
    single = {"question": "Who met Babbage?", "context": "Ada Lovelace met Charles Babbage."}
    batch = {"items": [single, {"question": "Where?", "context": "It was in London."}]}
    for body, route in [(single, "/qa"), (batch, "/qa/batch"), ({"question": ""}, "/qa")]:
        expected = call(qa_server.port, "POST", route, body)
        assert call(qa_server.port, "POST", "/invocations", body) == expected
    status, answer = call(qa_server.port, "POST", "/invocations", single)
    assert status == 200
    (first,) = answer["answers"]
    assert single["context"][first["start"] : first["start"] + first["length"]] == first["text"]


def test_serve_prints_emf_lines(qa_server: Server) -> None:
    body = {"question": "Who met Babbage?", "context": "Ada Lovelace met Charles Babbage."}
    assert call(qa_server.port, "POST", "/invocations", body)[0] == 200
    out = qa_server.stop()
    records = [json.loads(x) for x in out.splitlines() if x.startswith("{") and '"_aws"' in x]
    assert any("Windows" in r and "ModelLatency" in r for r in records), out[-2000:]


def test_a_busy_port_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "app.serve"],
            cwd=ROOT,
            env={**os.environ, "SERVICES": "ner", "SAGEMAKER_BIND_TO_PORT": str(port)},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert f"cannot listen on port '{port}'" in result.stderr


def test_workers_follow_the_cpus() -> None:
    assert default_workers(("ner",), 4) == 4
    assert default_workers(("qa",), 4) == 1
    assert default_workers(("ner", "qa"), 2) == 1


def test_ping_waits_for_every_worker() -> None:
    """Two workers: once /ping says 200, any worker SageMaker reaches can answer."""
    server = Server({"SERVICES": "ner", "SERVE_WORKERS": "2"})
    try:
        server.wait_ready()
        answers = [call(server.port, "POST", "/invocations", {"text": TEXT}) for _ in range(30)]
        assert {status for status, _ in answers} == {200}, answers
    finally:
        server.stop()


def test_workers_ready_counts_live_workers_only(tmp_path: Path) -> None:
    from app.serve import WorkersReady

    ready = WorkersReady(str(tmp_path), workers=2)
    assert not ready()
    ready.mark()
    assert not ready()
    (tmp_path / "999999999").touch()  # a worker that died
    assert not ready()
    (tmp_path / str(os.getppid())).touch()
    assert ready()
    assert WorkersReady(None, workers=4)()
