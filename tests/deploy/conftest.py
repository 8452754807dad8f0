"""Fixtures for the deployment tests: the template tools' virtualenv, a SigV4-checking HTTP server,
and an environment with no AWS credentials at all."""

from __future__ import annotations

import hmac
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.deploy.cfn import ROOT

# Fake credentials in AWS's documented example format: the account boundary is faked, nothing else.
ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SESSION_TOKEN = "FwoGZXIvYXdzEXAMPLETOKEN"
AUTH_HEADER = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/"
    r"(?P<service>[^/]+)/aws4_request, SignedHeaders=(?P<signed>[^,]+), Signature=(?P<sig>[0-9a-f]{64})$"
)


@pytest.fixture(scope="session")
def sam_venv() -> Path:
    """The virtualenv with cfn-lint and aws-sam-cli (SAM_VENV, default .venv-sam; built if missing)."""
    venv = Path(os.environ.get("SAM_VENV", ROOT / ".venv-sam"))
    if not (venv / "bin" / "cfn-lint").exists() or not (venv / "bin" / "sam").exists():
        subprocess.run(
            ["make", "-s", "sam-venv", f"SAM_VENV={venv}", f"PYTHON={sys.executable}"],
            cwd=ROOT,
            check=True,
        )
    return venv


@pytest.fixture
def no_aws_env(tmp_path: Path) -> dict[str, str]:
    """os.environ without any AWS credentials, profile, config or instance metadata."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        HOME=str(tmp_path),
        AWS_CONFIG_FILE=str(tmp_path / "no-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    return env


@pytest.fixture
def fake_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fake credentials in the environment, and nothing else botocore could pick up."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_SESSION_TOKEN", SESSION_TOKEN)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@dataclass
class Received:
    """What the SigV4 server saw and decided about one request."""

    path: str
    body: bytes
    verified: bool
    reason: str
    scope: dict[str, str] = field(default_factory=dict)


def verify_sigv4(
    method: str, path: str, headers: dict[str, str], body: bytes
) -> tuple[bool, str, dict[str, str]]:
    """Recompute the request's SigV4 signature with botocore and the fake secret; compare."""
    match = AUTH_HEADER.match(headers.get("authorization", ""))
    if match is None:
        return False, "no or malformed Authorization header", {}
    scope = match.groupdict()
    if scope["key"] != ACCESS_KEY or scope["service"] != "lambda":
        return False, "wrong access key or service", scope
    signed = scope["signed"].split(";")
    missing = [h for h in signed if h not in headers]
    if missing or "host" not in signed or "x-amz-date" not in signed:
        return False, f"signed headers missing: {missing}", scope
    request = AWSRequest(
        method=method,
        url=f"http://{headers['host']}{path}",
        data=body,
        headers={h: headers[h] for h in signed},
    )
    request.context["timestamp"] = headers["x-amz-date"]
    signer = SigV4Auth(
        Credentials(ACCESS_KEY, SECRET_KEY, SESSION_TOKEN), "lambda", scope["region"]
    )
    expected = signer.signature(
        signer.string_to_sign(request, signer.canonical_request(request)), request
    )
    if not hmac.compare_digest(expected, scope["sig"]):
        return False, "signature mismatch", scope
    return True, "ok", scope


@dataclass
class SigV4Server:
    url: str
    received: list[Received]


class _Handler(BaseHTTPRequestHandler):
    received: list[Received]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        headers = {k.lower(): v for k, v in self.headers.items()}
        if "authorization" not in headers:
            # Unsigned: answer like the app does for a bad body, so the client's error path shows.
            self.received.append(Received(self.path, body, False, "unsigned"))
            message = 'text: Field required. Send a JSON object such as {"text": "..."}.'
            self._reply(422, {"error": {"code": "validation_error", "message": message}})
            return
        ok, reason, scope = verify_sigv4("POST", self.path, headers, body)
        self.received.append(Received(self.path, body, ok, reason, scope))
        if ok:
            self._reply(200, {"entities": [], "echo": json.loads(body)})
        else:
            self._reply(403, {"Message": "Forbidden"})  # what a function URL says

    def _reply(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def sigv4_server() -> Iterator[SigV4Server]:
    """An HTTP server on 127.0.0.1 that accepts only requests SigV4-signed with the fake secret."""
    received: list[Received] = []
    handler = type("Handler", (_Handler,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield SigV4Server(f"http://127.0.0.1:{server.server_address[1]}", received)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
