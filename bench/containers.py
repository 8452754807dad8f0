"""Container images: sizes, and cold start under the RIE with Lambda-like CPU and memory limits.

The images come from the images helper (`make images`); tags can be overridden with
BENCH_NER_IMAGE, BENCH_QA_IMAGE and BENCH_BASE_IMAGE. Missing engine or images: the section says
so and is skipped (the bench is not a test).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request

from bench.records import (
    ContainerRun,
    Containers,
    Failed,
    FunctionImageSize,
    ImageColdStart,
    ImageSize,
    ImageSizes,
    Skipped,
)
from bench.worker import function_url_event

IMAGES = {
    "ner": os.environ.get("BENCH_NER_IMAGE", "lambda-nlp/ner:latest"),
    "qa": os.environ.get("BENCH_QA_IMAGE", "lambda-nlp/qa:latest"),
}
BASE_IMAGE = os.environ.get("BENCH_BASE_IMAGE", "lambda-nlp/lambda-python:3.11")
BODIES = {
    "ner": ("/ner", {"text": "Ada Lovelace met Charles Babbage in London."}),
    "qa": ("/qa", {"question": "Who wrote it?", "context": "Ada Lovelace wrote it."}),
}
MB_PER_VCPU = 1769


def _docker(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def docker_status() -> str | None:
    """None when the engine answers, else why not."""
    if shutil.which("docker") is None:
        return "docker CLI not installed"
    if _docker("info", timeout=20).returncode != 0:
        return "Docker engine not running (start dockerd, then re-run)"
    return None


def image_size(tag: str) -> int | None:
    done = _docker("image", "inspect", "--format", "{{.Size}}", tag)
    return int(done.stdout.strip()) if done.returncode == 0 else None


def sizes() -> ImageSizes:
    base = image_size(BASE_IMAGE)
    functions = {}
    for name, tag in IMAGES.items():
        size = image_size(tag)
        added = None if size is None or base is None else size - base
        functions[name] = FunctionImageSize(tag=tag, bytes=size, added_bytes=added)
    return ImageSizes(ImageSize(tag=BASE_IMAGE, bytes=base), functions)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cold_start(name: str, memory_mb: int, timeout_s: float = 90) -> ContainerRun | Failed:
    """`docker run` to the first 200 answer through the RIE; read-only root, /tmp tmpfs."""
    tag, port = IMAGES[name], free_port()
    cpus = f"{min(memory_mb / MB_PER_VCPU, 6):.2f}"
    path, body = BODIES[name]
    payload = json.dumps(function_url_event(path, body)).encode()
    url = f"http://127.0.0.1:{port}/2015-03-31/functions/function/invocations"
    started = time.perf_counter()
    run = _docker(
        "run",
        "-d",
        "--rm",
        f"--cpus={cpus}",
        f"--memory={memory_mb}m",
        "--read-only",
        "--tmpfs",
        "/tmp:rw,size=512m",
        "-p",
        f"127.0.0.1:{port}:8080",
        tag,
    )
    if run.returncode != 0:
        return Failed(run.stderr.strip()[-300:])
    container = run.stdout.strip()
    try:
        while time.perf_counter() - started < timeout_s:
            try:
                request = urllib.request.Request(url, data=payload, method="POST")
                with urllib.request.urlopen(request, timeout=timeout_s) as response:
                    result = json.loads(response.read())
                elapsed = time.perf_counter() - started
                return ContainerRun(
                    seconds=elapsed,
                    status=result.get("statusCode"),
                    cpus=cpus,
                    memory_mb=memory_mb,
                    body=str(result.get("body", ""))[:160],
                )
            except (ConnectionError, OSError):
                time.sleep(0.05)
        return Failed(f"no answer within {timeout_s} s")
    finally:
        _docker("rm", "-f", container)


def run_containers(reps: int, memory_mb: int) -> Containers | Skipped:
    """Image sizes and cold starts (median of ``reps``), or the reason they were skipped."""
    reason = docker_status()
    if reason:
        return Skipped(reason)
    measured = sizes()
    starts: dict[str, ImageColdStart | Skipped] = {}
    for name, tag in IMAGES.items():
        if measured.functions[name].bytes is None:
            starts[name] = Skipped(f"image {tag} not built (run make images)")
            continue
        runs = tuple(cold_start(name, memory_mb) for _ in range(reps))
        ok = sorted(r.seconds for r in runs if isinstance(r, ContainerRun) and r.status == 200)
        starts[name] = ImageColdStart(
            runs=runs, median_s=ok[len(ok) // 2] if ok else None, memory_mb=memory_mb
        )
    return Containers(sizes=measured, cold_start=starts)
