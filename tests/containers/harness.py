"""Drives the real images: builds, the compose stack, and invocations through the RIE.

The functions run on the stack's internal network (no outbound traffic, as configured for
Lambda-like runs); the tests reach each RIE from inside the front door container, which sits on
that network and on a second, published one. Plain HTTP goes through the published front door.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
INVOKE_PATH = "/2015-03-31/functions/function/invocations"
BASE_IMAGE = "lambda-nlp/lambda-python:3.11"
BUILD_IMAGE = "lambda-nlp/build-python:3.11"
NER_IMAGE = "lambda-nlp/ner:test"
QA_IMAGE = "lambda-nlp/qa:test"
QA_NO_MODEL_IMAGE = "lambda-nlp/qa:test-no-model"
FRONT_IMAGE = "lambda-nlp/front:test"
#: Design 1's services in docker-compose.yml (profile design1).
DESIGN1_PROFILE = "design1"
DESIGN1_SERVICES = ("ner-serve", "qa-serve", "sagemaker-runtime", "front", "frontdoor-design1")
# One compose project per test session: several sessions may share the engine.
PROJECT = f"lambda-nlp-test-{os.getpid()}"
# The way Lambda runs a function: read-only root, writable /tmp, non-root, 3008 MB, 2 vCPUs.
LAMBDA_RUN_FLAGS = [
    "--read-only",
    "--tmpfs",
    "/tmp",
    "--user",
    "993:990",
    "--memory",
    "3008m",
    "--cpus",
    "2",
]
# Runs inside the front door container: posts stdin to an RIE and prints the raw answer.
INVOKE_SCRIPT = (
    "import sys, urllib.request\n"
    "req = urllib.request.Request(sys.argv[1], data=sys.stdin.buffer.read(), method='POST')\n"
    "with urllib.request.urlopen(req, timeout=float(sys.argv[2])) as r:\n"
    "    sys.stdout.buffer.write(r.read())\n"
)
# Runs inside the front door container: one HTTP request (stdin is the body), status and body
# printed as JSON, so the tests reach services on the internal network (e.g. /ping, /invocations).
HTTP_SCRIPT = (
    "import base64, json, sys, urllib.error, urllib.request\n"
    "method, url, timeout, headers = sys.argv[1], sys.argv[2], float(sys.argv[3]), "
    "json.loads(sys.argv[4])\n"
    "data = sys.stdin.buffer.read() if method not in ('GET', 'HEAD') else None\n"
    "req = urllib.request.Request(url, data=data, headers=headers, method=method)\n"
    "try:\n"
    "    with urllib.request.urlopen(req, timeout=timeout) as r:\n"
    "        status, body = r.status, r.read()\n"
    "except urllib.error.HTTPError as e:\n"
    "    status, body = e.code, e.read()\n"
    "print(json.dumps({'status': status, 'body': base64.b64encode(body).decode()}))\n"
)


def run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run a command, failing with its output when it fails."""
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, **kwargs)
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(cmd)} exited {result.returncode}:\n{result.stdout[-3000:]}\n"
            f"{result.stderr[-3000:]}"
        )
    return result


def build_image(dockerfile: str, tag: str, **build_args: str) -> None:
    """docker build with the local bases (layers are cached, so a rebuild is quick)."""
    args = {"BASE_IMAGE": BASE_IMAGE, "BUILD_IMAGE": BUILD_IMAGE, **build_args}
    cmd = ["docker", "build", "-q", "-f", dockerfile, "-t", tag]
    for key, value in args.items():
        cmd += ["--build-arg", f"{key}={value}"]
    run([*cmd, "."])


def make_tiny_qa_model(out: Path) -> Path:
    """A random tiny ALBERT QA checkpoint converted to the project's model dir (made once)."""
    model_dir = out / "model"
    if not (model_dir / "config.json").is_file():
        # Build aside and rename into place, so concurrent sessions never see a partial dir.
        scratch = out.with_name(f"{out.name}.tmp-{os.getpid()}")
        shutil.rmtree(scratch, ignore_errors=True)
        cmd = [
            sys.executable,
            "-m",
            "tools.checkpoints",
            "--out",
            str(scratch),
            "--size",
            "tiny",
        ]
        run([*cmd, "--converted"])
        shutil.rmtree(out, ignore_errors=True)
        try:
            scratch.rename(out)
        except OSError:  # another session won the race; its checkpoint is as good
            shutil.rmtree(scratch, ignore_errors=True)
    return model_dir


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class HttpAnswer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def http(
    method: str,
    url: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 120,
) -> HttpAnswer:
    """Plain HTTP without raising on 4xx/5xx."""
    request = urllib.request.Request(url, data=body, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return HttpAnswer(response.status, dict(response.headers.items()), response.read())
    except urllib.error.HTTPError as exc:
        return HttpAnswer(exc.code, dict(exc.headers.items()), exc.read())


@dataclass
class Stack:
    """A running compose stack (project ``lambda-nlp-test``) and ways to talk to it."""

    compose: list[str]
    env: dict[str, str]
    port: int
    started_at: float
    first_answer_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """The front door, e.g. http://127.0.0.1:PORT."""
        return f"http://127.0.0.1:{self.port}"

    def compose_run(
        self, *args: str, profile: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """``compose -p PROJECT [--profile P] args``; ``profile`` enables Design 1's services."""
        profiles = ["--profile", profile] if profile else []
        return run([*self.compose, "-p", PROJECT, *profiles, *args], env=self.env)

    def container(self, service: str) -> str:
        """The container id of a compose service."""
        return self.compose_run("ps", "-q", service).stdout.strip()

    @property
    def functions_network(self) -> str:
        return f"{PROJECT}_functions"

    @property
    def design1_url(self) -> str:
        """Design 1's front door (the front function behind it), e.g. http://127.0.0.1:PORT."""
        return f"http://127.0.0.1:{self.env['DESIGN1_PORT']}"

    def http_inside(
        self,
        method: str,
        url: str,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        timeout: float = 120,
    ) -> HttpAnswer:
        """One HTTP request from inside the front door container (on the internal network)."""
        cmd = ["docker", "exec", "-i", self.container("frontdoor"), "python3", "-c", HTTP_SCRIPT]
        cmd += [method, url, str(timeout), json.dumps(headers or {})]
        result = subprocess.run(cmd, input=body, capture_output=True, timeout=timeout + 30)
        if result.returncode != 0:
            raise RuntimeError(f"{method} {url} failed: {result.stderr.decode()[-2000:]}")
        answer = json.loads(result.stdout)
        return HttpAnswer(answer["status"], {}, base64.b64decode(answer["body"]))

    def invoke_raw(self, host: str, payload: bytes, timeout: float = 120) -> bytes:
        """Post a payload to the RIE at ``host:8080`` from inside the front door container."""
        cmd = ["docker", "exec", "-i", self.container("frontdoor"), "python3", "-c"]
        cmd += [INVOKE_SCRIPT, f"http://{host}:8080{INVOKE_PATH}", str(timeout)]
        result = subprocess.run(cmd, input=payload, capture_output=True, timeout=timeout + 30)
        if result.returncode != 0:
            raise RuntimeError(f"invoke {host} failed: {result.stderr.decode()[-2000:]}")
        return result.stdout

    def invoke(self, host: str, event: dict[str, Any]) -> dict[str, Any]:
        """Invoke a function with an event through its RIE; the Lambda result as a dict."""
        answer: dict[str, Any] = json.loads(self.invoke_raw(host, json.dumps(event).encode()))
        return answer

    def logs(self) -> str:
        return self.compose_run("logs", "--no-color").stdout


def health_event() -> dict[str, Any]:
    """A minimal function URL event for GET /health."""
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/health",
        "rawQueryString": "",
        "headers": {"host": "localhost"},
        "requestContext": {
            "http": {"method": "GET", "path": "/health", "protocol": "HTTP/1.1", "sourceIp": "::1"},
            "requestId": "health",
            "routeKey": "$default",
            "stage": "$default",
        },
        "isBase64Encoded": False,
    }


def wait_until_answering(stack: Stack, host: str, timeout: float = 180) -> float:
    """Seconds until the function at ``host`` answers /health with 200 through its RIE."""
    started = time.monotonic()
    payload = json.dumps(health_event()).encode()
    last = ""
    while time.monotonic() - started < timeout:
        try:
            answer = json.loads(stack.invoke_raw(host, payload, timeout=60))
            if answer.get("statusCode") == 200:
                return time.monotonic() - started
            last = str(answer)[:500]
        except (RuntimeError, ValueError, subprocess.TimeoutExpired) as exc:
            last = str(exc)[-1500:]
            if "HTTP Error 502" in last:  # the runtime exited: init failed, waiting cannot help
                logs = subprocess.run(["docker", "logs", host], capture_output=True, text=True)
                raise RuntimeError(f"{host} fails to start:\n{logs.stdout[-4000:]}") from exc
        time.sleep(0.2)
    raise RuntimeError(f"{host} did not answer /health within {timeout}s: {last}")


def in_process_results(env: dict[str, str], events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run the same events through app.main.handler in a fresh host process (the reference)."""
    script = (
        "import json, sys\n"
        "from tests.conftest import LambdaContext\n"
        "from app.main import handler\n"
        "events = json.load(sys.stdin)\n"
        "print(json.dumps([handler(e, LambdaContext()) for e in events]))\n"
    )
    result = run([sys.executable, "-c", script], input=json.dumps(events), env=env)
    results: list[dict[str, Any]] = json.loads(result.stdout.strip().splitlines()[-1])
    return results


def runtime_pid(container: str) -> str:
    """The pid of the function's Python runtime (awslambdaric) inside a container under the RIE.

    A new pid means the runtime died and the RIE started another (which runs init again).
    """
    top = run(["docker", "top", container, "-eo", "pid,args"]).stdout.splitlines()[1:]
    pids = [line.split()[0] for line in top if line.split()[1].endswith("python3")]
    if len(pids) != 1:
        raise RuntimeError(f"expected one python3 runtime in {container}: {top}")
    return pids[0]
