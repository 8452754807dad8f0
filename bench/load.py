"""Bounded load on the local compose stack: concurrent clients, answers vs sequential, RSS.

Loopback only, a fixed number of requests, and it stops by itself. Several distinct inputs per
function go out interleaved from concurrent clients, so an answer that leaked from one request
into another shows up as a mismatch with the sequential answer to the same input. The resident
memory of the function's runtime process (read from the host with ``docker top``) is taken
after a warm-up pass and again after the load, to show that it does not grow with requests.

Used by ``make bench`` (thousands of requests; figures in the report) and by
``tests/containers/test_hardening.py`` (hundreds, asserted).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import statistics
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.containers import free_port
from bench.records import LoadRun, Skipped

ROOT = Path(__file__).resolve().parents[1]

_CONTEXT = (
    "Ada Lovelace was an English mathematician, born in London in 1815. She worked with "
    "Charles Babbage on his proposed mechanical computer, the Analytical Engine, and wrote "
    "what is often called the first computer program. She died in 1852 and was buried in "
    "Hucknall, Nottinghamshire."
)
#: Distinct inputs per function (path, JSON body); they go out round-robin.
CASES: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "ner": [
        ("/ner", {"text": "Ada Lovelace was born in London in 1815."}),
        ("/ner", {"text": "Angela Merkel met Emmanuel Macron in Paris on Monday."}),
        ("/ner", {"text": "Apple paid $3 billion for Beats Electronics in May 2014."}),
        ("/ner", {"text": "The Danube flows through Vienna, Bratislava and Budapest."}),
        ("/ner", {"text": _CONTEXT, "labels": ["PERSON"]}),
        ("/ner/batch", {"texts": ["Tim Berners-Lee worked at CERN.", "", "Oslo in winter."]}),
    ],
    "qa": [
        ("/qa", {"question": "Where was Ada Lovelace born?", "context": _CONTEXT}),
        ("/qa", {"question": "Who did she work with?", "context": _CONTEXT}),
        ("/qa", {"question": "When did she die?", "context": _CONTEXT, "top_k": 3}),
        ("/qa", {"question": "What is the capital?", "context": "Oslo is the capital of Norway."}),
    ],
}


def post(url: str, body: dict[str, Any], timeout: float = 120) -> tuple[int, bytes, float]:
    """POST JSON; (status, body, seconds), 4xx/5xx included, connection errors as status 0."""
    data = json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, headers={"content-type": "application/json"}, method="POST"
    )
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read(), time.perf_counter() - started
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), time.perf_counter() - started
    except (urllib.error.URLError, OSError) as exc:
        return 0, str(exc).encode(), time.perf_counter() - started


def same(a: Any, b: Any) -> bool:
    """JSON equality, floats within 1e-5 relative (scores of the same input on the same graph)."""
    if isinstance(a, float) or isinstance(b, float):
        return (
            isinstance(a, int | float)
            and isinstance(b, int | float)
            and math.isclose(a, b, rel_tol=1e-5)
        )
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def runtime_rss_mb(container: str) -> float | None:
    """Resident memory of the function's Python runtime process (not the RIE) in a container."""
    top = subprocess.run(
        ["docker", "top", container, "-eo", "pid,rss,args"], capture_output=True, text=True
    )
    for line in top.stdout.splitlines()[1:]:
        _pid, rss, args = line.split(None, 2)
        program = os.path.basename(args.strip().split(" ", 1)[0])
        if program.startswith("python") and "awslambdaric" in args:
            return int(rss) / 1024
    return None


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure_load(
    base_url: str,
    function: str,
    container: str | None,
    total: int,
    concurrency: int = 8,
    warmup: int = 30,
) -> LoadRun:
    """``total`` requests from ``concurrency`` clients to one function, checked and measured."""
    cases = CASES[function]
    reference = []
    for path, body in cases:
        status, raw, _ = post(base_url + path, body)
        if status != 200:
            raise RuntimeError(
                f"{function} {path} answered {status} before the load: {raw[:300]!r}"
            )
        reference.append(json.loads(raw))
    for i in range(warmup):
        path, body = cases[i % len(cases)]
        post(base_url + path, body)
    rss_before = runtime_rss_mb(container) if container else None

    def one(i: int) -> tuple[int, bool, float, bytes]:
        path, body = cases[i % len(cases)]
        status, raw, seconds = post(base_url + path, body)
        matches = status == 200 and same(json.loads(raw), reference[i % len(cases)])
        return status, matches, seconds, raw[:200]

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(one, range(total)))
    elapsed = time.perf_counter() - started
    rss_after = runtime_rss_mb(container) if container else None
    errors = [(status, raw) for status, _, _, raw in results if status != 200]
    latencies = [seconds * 1000 for _, _, seconds, _ in results]
    return LoadRun(
        function=function,
        requests=total,
        distinct_inputs=len(cases),
        concurrency=concurrency,
        errors=len(errors),
        error_samples=tuple(f"{s}: {r.decode(errors='replace')}" for s, r in errors[:3]),
        mismatches=sum(1 for status, ok, _, _ in results if status == 200 and not ok),
        seconds=round(elapsed, 2),
        requests_per_s=round(total / elapsed, 1),
        p50_ms=round(statistics.median(latencies), 1),
        p90_ms=round(_percentile(latencies, 0.9), 1),
        p99_ms=round(_percentile(latencies, 0.99), 1),
        rss_before_mb=None if rss_before is None else round(rss_before, 1),
        rss_after_mb=None if rss_after is None else round(rss_after, 1),
        rss_growth_mb=None
        if rss_before is None or rss_after is None
        else round(rss_after - rss_before, 1),
    )


def run_load(
    base_url: str,
    function: str,
    container: str | None,
    total: int,
    concurrency: int = 8,
    warmup: int = 30,
) -> dict[str, Any]:
    """:func:`measure_load` as its JSON object (what tests/containers/test_hardening.py asserts
    on and saves)."""
    return measure_load(base_url, function, container, total, concurrency, warmup).to_json()


def compose_command() -> list[str]:
    """``docker compose`` (v2) when the plugin exists, else Debian's ``docker-compose`` (v1)."""
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    exe = shutil.which("docker-compose")
    if exe is None:
        raise RuntimeError("no docker compose: run scripts/ensure-docker.sh")
    return [exe]


def _wait_healthy(url: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/health", timeout=30) as response:
                health = json.loads(response.read())
            if health.get("status") == "ok":
                return
            last = json.dumps(health)[:400]
        except (urllib.error.URLError, OSError, ValueError) as exc:
            last = str(exc)
        time.sleep(0.5)
    raise RuntimeError(f"stack at {url} not healthy within {timeout}s: {last}")


def run_stack_load(
    images: Mapping[str, str], totals: Mapping[str, int], concurrency: int = 8
) -> dict[str, LoadRun] | Skipped:
    """Start docker-compose.yml with ``images`` in its own project, load each function, stop it."""
    port = free_port()
    project = f"lambda-nlp-bench-{os.getpid()}"
    env = {**os.environ, "NER_IMAGE": images["ner"], "QA_IMAGE": images["qa"], "PORT": str(port)}
    compose = [*compose_command(), "-p", project]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*compose, *args], env=env, cwd=ROOT, capture_output=True, text=True)

    up = run("up", "-d", "--no-build")
    try:
        if up.returncode != 0:
            return Skipped(f"compose up failed: {up.stderr.strip()[-300:]}")
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(url)
        out: dict[str, LoadRun] = {}
        for function, total in totals.items():
            container = run("ps", "-q", function).stdout.strip() or None
            print(f"    load {function}: {total} requests, {concurrency} clients", flush=True)
            out[function] = measure_load(url, function, container, total, concurrency)
        return out
    except RuntimeError as exc:
        return Skipped(str(exc))
    finally:
        run("down", "--remove-orphans")
