"""In-process pieces for testing Design 1 without Docker: a fake model container in SageMaker
serving mode, the real SageMaker runtime stand-in (tools/sagemaker_runtime.py) in a thread, and
a real botocore ``sagemaker-runtime`` client pointed at it."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import botocore.session
from botocore.config import Config

from tools.sagemaker_runtime import SageMakerRuntime, parse_endpoints

REGION = "us-east-1"
# Dummy credentials: the stand-in needs a SigV4 header, it never checks the signature.
CREDENTIALS = {"aws_access_key_id": "test-key", "aws_secret_access_key": "test-secret"}


@dataclass
class Seen:
    """One request the fake container received."""

    path: str
    headers: dict[str, str]
    body: bytes


Responder = Callable[[Seen], tuple[int, str, bytes]]


def echo(request: Seen) -> tuple[int, str, bytes]:
    """The default answer: 200 JSON naming the route and echoing the body."""
    content = {
        "route": request.headers.get("x-amzn-sagemaker-custom-attributes"),
        "body": request.body.decode("utf-8", "replace"),
    }
    return 200, "application/json", json.dumps(content).encode()


@dataclass
class FakeContainer:
    """Plays ``POST /invocations`` of a serving-mode container; ``respond`` decides the answer."""

    respond: Responder = echo
    seen: list[Seen] = field(default_factory=list)
    url: str = ""


@contextmanager
def fake_container() -> Iterator[FakeContainer]:
    container = FakeContainer()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            request = Seen(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            container.seen.append(request)
            status, content_type, payload = container.respond(request)
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    container.url = f"http://127.0.0.1:{server.server_address[1]}"
    with _serving(server):
        yield container


@contextmanager
def stand_in(
    endpoints: dict[str, str], timeout: float = 60.0, max_concurrency: int = 0
) -> Iterator[str]:
    """The SageMaker runtime stand-in on 127.0.0.1:<free port>; yields its URL."""
    spec = ",".join(f"{name}={url}" for name, url in endpoints.items())
    server = SageMakerRuntime(
        ("127.0.0.1", 0), parse_endpoints(spec, max_concurrency), timeout, REGION
    )
    with _serving(server):
        yield f"http://127.0.0.1:{server.server_address[1]}"


@contextmanager
def _serving(server: ThreadingHTTPServer) -> Iterator[None]:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


#: Every client made here, so a test fixture can close their connection pools (close_clients).
_clients: list[Any] = []


def close_clients() -> None:
    while _clients:
        _clients.pop().close()


def runtime_client(url: str, read_timeout: float = 30.0, **config: Any) -> Any:
    """A real botocore ``sagemaker-runtime`` client for the stand-in at ``url``, no retries."""
    session = botocore.session.Session()
    client = session.create_client(
        "sagemaker-runtime",
        region_name=REGION,
        endpoint_url=url,
        config=Config(
            read_timeout=read_timeout,
            connect_timeout=5,
            retries={"mode": "standard", "total_max_attempts": 1},
            **config,
        ),
        **CREDENTIALS,
    )
    _clients.append(client)
    return client
