"""SageMaker serving mode: ``docker run IMAGE serve`` (Design 1, docs/design1.md).

SageMaker starts a hosting container with the argument ``serve`` and expects it to accept
connections on port 8080 within 250 ms, to answer ``GET /ping`` (2 s per ping) and
``POST /invocations`` (60 s per request). So the socket is bound first, before any heavy import;
the kernel queues connections from then on. The server (uvicorn) starts next and answers /ping
with 503 while the model loads in a thread, then 200. ``/invocations`` is the image's own route
(:mod:`app.api.sagemaker`), served by the same ``create_app`` as the Lambda handler.

Workers come from the container's CPUs (``SERVE_WORKERS`` overrides): the NER image runs one
process per CPU (spaCy uses one core per call); the QA image runs one process whose MXNet uses
every CPU for each forward. Within a process, model calls run one at a time in a thread while
the event loop keeps answering /ping; the other requests wait their turn. So an instance serves
``workers`` requests at once and queues the rest (SageMaker allows 60 s per request).
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

PORT_VARIABLE = "SAGEMAKER_BIND_TO_PORT"


def bind(port: int) -> socket.socket:
    """A listening socket on all interfaces: connections are accepted (queued) from now on."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("0.0.0.0", port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def default_workers(services: tuple[str, ...], cpus: int) -> int:
    """One process per CPU for NER; one process using every CPU when QA is served."""
    return 1 if "qa" in services else max(1, cpus)


READY_DIR_VARIABLE = "LAMBDA_NLP_SERVE_READY_DIR"
WORKERS_VARIABLE = "LAMBDA_NLP_SERVE_WORKERS"


class WorkersReady:
    """Whether every worker process has loaded its models.

    SageMaker may send the first ``/invocations`` right after one ``/ping`` 200, and any worker
    may take it; so a worker answers 200 only once all of them are ready. Each worker marks
    itself ready with a file named after its pid in a directory the parent made; a worker that
    died (its pid is gone) does not count.
    """

    def __init__(self, directory: str | None, workers: int) -> None:
        self.directory = directory
        self.workers = workers

    def mark(self) -> None:
        if self.directory:
            with open(os.path.join(self.directory, str(os.getpid())), "w"):
                pass

    def __call__(self) -> bool:
        if not self.directory:
            return True
        alive = 0
        for name in os.listdir(self.directory):
            try:
                os.kill(int(name), 0)
            except (ValueError, ProcessLookupError):
                continue
            except PermissionError:
                pass
            alive += 1
        return alive >= self.workers


def create_serving_app() -> FastAPI:
    """The app of one worker: routes, /ping and /invocations; the model loads in a thread."""
    import threading

    from app.api import sagemaker
    from app.config import get_settings
    from app.services import Services
    from app.web import create_app

    settings = get_settings()
    services = Services(enabled=settings.services)
    app = create_app(settings, services)
    peers = WorkersReady(
        os.environ.get(READY_DIR_VARIABLE), int(os.environ.get(WORKERS_VARIABLE, "1"))
    )
    app.add_middleware(sagemaker.SageMakerContract, services=services, workers_ready=peers)

    def load() -> None:
        services.load_enabled(settings)
        if services.ready:
            peers.mark()

    threading.Thread(target=load, name="model-load", daemon=True).start()
    return app


def main(argv: list[str] | None = None) -> int:
    port_text = os.environ.get(PORT_VARIABLE, "8080")
    try:
        sock = bind(int(port_text))
    except (ValueError, OSError) as exc:
        print(
            f"serve: cannot listen on port {port_text!r} ({exc}); set {PORT_VARIABLE} to a free port",
            file=sys.stderr,
        )
        return 2

    import uvicorn
    from pydantic import ValidationError

    from app.config import get_settings
    from app.cpus import cpu_quota_threads

    try:
        settings = get_settings()
    except ValidationError as exc:
        print(f"serve: the configuration is invalid: {exc}", file=sys.stderr)
        return 2
    workers = settings.serve_workers or default_workers(settings.services, cpu_quota_threads())
    print(
        f"serve: listening on 0.0.0.0:{port_text} with {workers} worker(s) for "
        f"{', '.join(settings.services)}; GET /ping, POST /invocations",
        file=sys.stderr,
        flush=True,
    )
    # Where each worker marks itself ready (/ping answers 200 only when all are).
    try:
        os.environ[READY_DIR_VARIABLE] = tempfile.mkdtemp(prefix="lambda-nlp-ready-")
        os.environ[WORKERS_VARIABLE] = str(workers)
    except OSError as exc:
        print(
            f"serve: no writable temporary directory ({exc}); each worker's /ping reports only "
            "its own readiness",
            file=sys.stderr,
        )
    config = uvicorn.Config(
        "app.serve:create_serving_app",
        factory=True,
        workers=workers,
        log_level=settings.log_level.lower(),
        access_log=False,
        # SageMaker keeps connections open between invocations; its own timeout is 60 s.
        timeout_keep_alive=75,
    )
    server = uvicorn.Server(config)
    if workers > 1:
        from uvicorn.supervisors import Multiprocess

        Multiprocess(config, sockets=[sock]).run()
    else:
        server.run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
