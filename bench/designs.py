"""Design 1 against Design 2 on the same images (issue 16): the hop each adds per request,
throughput under concurrent clients, and the cold start of each.

    python -m bench.designs_cli [--quick | --plan quick|medium|full] [--json FILE]

Design 2 is a function image under the Lambda RIE: one Lambda environment, one request at a time,
with Lambda-like limits (read-only root, tmpfs ``/tmp``, user 993:990, 3008 MB and the CPU share
Lambda gives that memory, as :mod:`bench.containers` runs it). Design 1 is the same image started
with ``serve`` (SageMaker's contract: port 8080, ``GET /ping``, ``POST /invocations``, workers
from its CPUs) under the same limits, the SageMaker runtime stand-in
(``python -m tools.sagemaker_runtime`` on the local base image with ``tools/`` mounted read-only,
as docker-compose.yml's ``design1`` profile runs it) and the thin front function
(``lambda-nlp/front`` under the RIE, at the template's default memory and its CPU share).

Every container sits on one Docker network of this run's own; the host reaches them through
ports published on 127.0.0.1 (free ports). Every container and the network are removed when the
section ends, whatever happens. Missing engine or images: the section is skipped and says why.

What it measures, in one go:

1. The hop: sequential requests (the bench's ~100-word NER text, ~150-word QA contexts from
   :mod:`bench.texts`) through (a) the serving container's ``/invocations``, (b) a function URL
   event to the function's RIE, (c) the same event to the front's RIE -> stand-in -> serving
   container. Each round sends one input through every path, the order rotating from round to
   round, so machine noise falls on all three alike; every answer is checked equal to (a)'s.
2. Throughput: concurrent clients against one serving container (a SageMaker instance's worth,
   its default workers) and against one RIE container (one Lambda environment: it takes one
   invocation at a time, so the client queues the rest, as the local front door does); blocks
   alternate between the two (A B B A ...). Answers are checked against each target's own
   sequential answers to the same inputs.
3. Cold starts, run after run in turn: Design 2 ``docker run`` to the first 200 through the RIE;
   Design 1 ``docker run IMAGE serve`` to the TCP connect on 8080 (probed from before the run on
   the address of a holder container whose network namespace the serving container joins, so a
   probe never meets Docker's port proxy, which accepts before the application listens), to the
   first ``/ping`` 200 and to the first ``/invocations`` answer; and the front function's own cold
   start with the serving containers already up.
"""

from __future__ import annotations

import json
import os
import re
import socket
import statistics
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from bench import containers
from bench.containers import BASE_IMAGE, BODIES, IMAGES, MB_PER_VCPU, free_port, image_size
from bench.load import post, same
from bench.ner import TEXT_100_WORDS
from bench.records import (
    ContainerRun,
    DesignColdStarts,
    DesignHop,
    Designs,
    DesignsPlan,
    Failed,
    HopAdded,
    LoadRun,
    ServeColdRun,
    Skipped,
)
from bench.stats import summarize
from bench.texts import pairs_for
from bench.worker import function_url_event

T = TypeVar("T")

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ("ner", "qa")
ROUTES = {"ner": "/ner", "qa": "/qa"}
ENDPOINTS = {"ner": "lambda-nlp-ner", "qa": "lambda-nlp-qa"}
FRONT_IMAGE = os.environ.get("BENCH_FRONT_IMAGE", "lambda-nlp/front:latest")
#: The model containers' memory in both designs (the functions' memory in template.yaml).
MEMORY_MB = 3008
#: The front's memory: the template's FrontMemorySize default; Lambda's CPU share follows it.
FRONT_MEMORY_MB = int(os.environ.get("BENCH_FRONT_MEMORY_MB", "512"))
#: The front's cold start is also taken at one full vCPU (the template's default is 512 MB,
#: from bench/front_memory.py's curve).
FRONT_COLD_MEMORY_MB = tuple(dict.fromkeys((FRONT_MEMORY_MB, MB_PER_VCPU)))
CONCURRENCY = 8
RIE_PATH = "/2015-03-31/functions/function/invocations"
#: The three paths of the hop, in the order of the first round.
PATHS = ("serve", "design2", "design1")
#: Long enough for a QA init on busy shared cores (about 25 s seen), short enough to end.
START_TIMEOUT_S = 240.0
WORKERS_LINE = re.compile(r"with (\d+) worker")

QUICK = DesignsPlan(
    hop_rounds={"ner": 10, "qa": 3}, load={"ner": 40, "qa": 8}, load_blocks=1, cold_reps=1
)
MEDIUM = DesignsPlan(
    hop_rounds={"ner": 60, "qa": 12}, load={"ner": 240, "qa": 40}, load_blocks=2, cold_reps=2
)
FULL = DesignsPlan(
    hop_rounds={"ner": 100, "qa": 20}, load={"ner": 400, "qa": 64}, load_blocks=2, cold_reps=3
)
PLANS = {"full": FULL, "medium": MEDIUM, "quick": QUICK}


def progress(text: str) -> None:
    print(f"==> designs: {text}", flush=True)


def cpus_for(memory_mb: int) -> str:
    """Lambda's CPU share for ``memory_mb``, as :func:`bench.containers.cold_start` sets it."""
    return f"{min(memory_mb / MB_PER_VCPU, 6):.2f}"


def lambda_flags(memory_mb: int) -> list[str]:
    """Lambda-like limits: read-only root, a tmpfs /tmp, the non-root user, memory and CPUs."""
    return [
        "--read-only",
        "--tmpfs",
        "/tmp:rw,size=512m",
        "--user",
        "993:990",
        f"--memory={memory_mb}m",
        f"--cpus={cpus_for(memory_mb)}",
    ]


def function_env(name: str, memory_mb: int, timeout_s: int) -> dict[str, str]:
    return {
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
        "AWS_LAMBDA_FUNCTION_TIMEOUT": str(timeout_s),
    }


def front_env(runtime: str, memory_mb: int = FRONT_MEMORY_MB) -> dict[str, str]:
    """The front function's environment, as docker-compose.yml's ``front`` service has it."""
    return {
        **function_env("lambda-nlp-front", memory_mb, 90),
        "NER_ENDPOINT_NAME": ENDPOINTS["ner"],
        "QA_ENDPOINT_NAME": ENDPOINTS["qa"],
        "SAGEMAKER_RUNTIME_URL": f"http://{runtime}:8080",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "local-stand-in",
        "AWS_SECRET_ACCESS_KEY": "local-stand-in",
        "POWERTOOLS_SERVICE_NAME": "front",
        "POWERTOOLS_METRICS_NAMESPACE": "LambdaNlp",
    }


# --- inputs -----------------------------------------------------------------------------------


def ner_inputs(count: int = 4) -> list[dict[str, Any]]:
    """The bench's ~100-word NER text and rotations of its sentences: same words and entities,
    different offsets, so an answer crossed between concurrent requests shows."""
    sentences = re.split(r"(?<=\.)\s+", TEXT_100_WORDS)
    return [{"text": " ".join(sentences[i:] + sentences[:i])} for i in range(count)]


def qa_inputs(count: int = 4) -> list[dict[str, Any]]:
    """``count`` different question/context pairs of about 150 context words."""
    return [{"question": p.question, "context": p.context} for p in pairs_for(150, count)]


def input_words(service: str, body: Mapping[str, Any]) -> int:
    return len(str(body["text" if service == "ner" else "context"]).split())


# --- containers -------------------------------------------------------------------------------


def docker(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
    )


@dataclass(frozen=True)
class Container:
    name: str
    port: int | None  # on 127.0.0.1, to the container's 8080

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class Stack:
    """A Docker network of this run's own and the containers started on it; leaving the block
    removes every container (even one whose ``docker run`` failed half way) and the network."""

    def __init__(self) -> None:
        self.prefix = f"lambda-nlp-bench-designs-{os.getpid()}"
        self.network = self.prefix
        self.names: list[str] = []

    def __enter__(self) -> Stack:
        made = docker("network", "create", self.network)
        if made.returncode != 0:
            raise RuntimeError(f"docker network create: {made.stderr.strip()[-300:]}")
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        for name in reversed(self.names):
            docker("rm", "-f", name)
        self.names.clear()
        docker("network", "rm", self.network)

    def start(
        self,
        role: str,
        image: str,
        args: Sequence[str] = (),
        flags: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        publish: bool = True,
        network: str | None = None,
    ) -> Container:
        """``docker run -d`` on the network (or ``network``), 8080 published on a free port."""
        name = f"{self.prefix}-{role}"
        port = free_port() if publish else None
        command = ["run", "-d", "--name", name, "--network", network or self.network]
        if port is not None:
            command += ["-p", f"127.0.0.1:{port}:8080"]
        for key, value in (env or {}).items():
            command += ["-e", f"{key}={value}"]
        self.names.append(name)
        done = docker(*command, *flags, image, *args)
        if done.returncode != 0:
            raise RuntimeError(f"docker run {role} ({image}): {done.stderr.strip()[-300:]}")
        return Container(name, port)

    def remove(self, container: Container) -> None:
        docker("rm", "-f", container.name)
        if container.name in self.names:
            self.names.remove(container.name)


def logs(container: Container) -> str:
    done = docker("logs", container.name)
    return done.stdout + done.stderr


def serve_workers(container: Container) -> int | None:
    """The worker count the serving container announced (``serve: listening ... N worker(s)``)."""
    found = WORKERS_LINE.search(logs(container))
    return int(found.group(1)) if found else None


def started_at(container: Container) -> float:
    """The container's ``State.StartedAt`` as a Unix time (docker gives nanoseconds)."""
    text = docker("inspect", "-f", "{{.State.StartedAt}}", container.name).stdout.strip()
    whole, _, fraction = text.rstrip("Z").partition(".")
    moment = datetime.fromisoformat(whole + "+00:00").timestamp()
    return moment + (float("0." + fraction) if fraction else 0.0)


def address(container: Container) -> str:
    """The container's address on its network (the host routes to it on Linux)."""
    fmt = "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}"
    return docker("inspect", "-f", fmt, container.name).stdout.split()[0]


# --- calls ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """One call: the function URL status through an RIE, the HTTP status of ``/invocations``
    (0: no answer), the parsed body, and the seconds from the client's send (queueing included)."""

    status: int
    body: Any
    seconds: float
    text: str


def _parse(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


class FifoLock:
    """A lock taken in the order it was asked for (``threading.Lock`` lets a thread starve)."""

    def __init__(self) -> None:
        self._turn = threading.Condition()
        self._next = 0
        self._serving = 0

    def __enter__(self) -> None:
        with self._turn:
            ticket = self._next
            self._next += 1
            self._turn.wait_for(lambda: self._serving == ticket)

    def __exit__(self, *exc: object) -> None:
        with self._turn:
            self._serving += 1
            self._turn.notify_all()


class Target:
    """One way in: the serving container's ``/invocations`` or an RIE's invoke endpoint. An RIE
    takes one invocation at a time (it breaks under concurrent ones), so calls to it queue here,
    first come first served, as the local front door queues them (one environment)."""

    def __init__(self, url: str, route: str, rie: bool) -> None:
        self.url = url + (RIE_PATH if rie else "/invocations")
        self.route = route
        self.rie = rie
        self.lock = FifoLock()

    def __call__(self, body: dict[str, Any], timeout: float = 120) -> Answer:
        started = time.perf_counter()
        if not self.rie:
            status, raw, _ = post(self.url, body, timeout)
            text = raw[:200].decode(errors="replace")
            return Answer(status, _parse(raw), time.perf_counter() - started, text)
        with self.lock:
            status, raw, _ = post(self.url, function_url_event(self.route, body), timeout)
        seconds = time.perf_counter() - started
        result = _parse(raw)
        if status != 200 or not isinstance(result, dict) or "statusCode" not in result:
            text = raw[:200].decode(errors="replace")
            return Answer(status if status != 200 else 502, None, seconds, text)
        text = str(result.get("body") or "")
        return Answer(int(result["statusCode"]), _parse(text.encode()), seconds, text[:200])


def get_status(url: str, timeout: float = 5) -> int:
    """GET; the status, 0 when nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as exc:
        exc.close()
        return int(exc.code)
    except (urllib.error.URLError, OSError):
        return 0


def wait_ping(container: Container, deadline: float) -> float:
    """Poll ``GET /ping`` until 200; the time.time() of that answer."""
    last = 0
    while time.time() < deadline:
        last = get_status(container.url + "/ping")
        if last == 200:
            return time.time()
        if last == 404:  # the RIE answers: an image from before the serving mode
            break
        time.sleep(0.02)
    raise RuntimeError(
        f"{container.name}: no /ping 200 (last {last}) within the deadline; an image built before "
        f"the serving mode? (make bench-qa-image, make images DESIGN=1). Log: {logs(container)[-400:]}"
    )


def wait_answer(target: Target, body: dict[str, Any], deadline: float) -> Answer:
    """Call until something answers (connection errors retried, until ``deadline``)."""
    while True:
        answer = target(body, timeout=max(1.0, deadline - time.time()))
        if answer.status != 0 or time.time() >= deadline:
            return answer
        time.sleep(0.05)


def wait_ready(target: Target, body: dict[str, Any], deadline: float, in_a_row: int = 4) -> None:
    """Call until ``in_a_row`` answers in a row are 200: a serving container's /ping 200 comes
    from one worker, and another may still be loading (503)."""
    row = 0
    while row < in_a_row:
        answer = wait_answer(target, body, deadline)
        row = row + 1 if answer.status == 200 else 0
        if row == 0 and (answer.status != 503 or time.time() >= deadline):
            raise RuntimeError(f"answered {answer.status}: {answer.text}")
        if row == 0:
            time.sleep(0.1)


def wait_log(container: Container, text: str, deadline: float) -> None:
    while time.time() < deadline:
        if text in logs(container):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{container.name} did not log {text!r}: {logs(container)[-400:]}")


# --- 1. the hop -------------------------------------------------------------------------------


def measure_hop(
    service: str, targets: Mapping[str, Target], inputs: Sequence[dict[str, Any]], rounds: int
) -> DesignHop:
    """``rounds`` rounds, each one input through every path, the order rotating."""
    warmup = 2
    seconds: dict[str, list[float]] = {path: [] for path in PATHS}
    paired: dict[str, list[float]] = {path: [] for path in PATHS[1:]}
    errors: list[str] = []
    mismatches = 0
    for r in range(warmup + rounds):
        body = inputs[r % len(inputs)]
        order = PATHS[r % len(PATHS) :] + PATHS[: r % len(PATHS)]
        answers = {path: targets[path](body) for path in order}
        if r < warmup:
            continue
        for path, answer in answers.items():
            if answer.status == 200:
                seconds[path].append(answer.seconds)
            else:
                errors.append(f"{path}: {answer.status} {answer.text}")
        reference = answers["serve"]
        for path in PATHS[1:]:
            answer = answers[path]
            if reference.status == 200 and answer.status == 200:
                mismatches += not same(answer.body, reference.body)
                paired[path].append(answer.seconds - reference.seconds)
    if any(not values for values in seconds.values()):
        raise RuntimeError(f"{service}: a path never answered 200: {errors[:2]}")
    paths = {path: summarize(values) for path, values in seconds.items()}
    serve = paths["serve"]
    added = {}
    for path in PATHS[1:]:
        diffs = [x * 1000 for x in paired[path]] or [0.0]
        added[path] = HopAdded(
            p50_ms=paths[path].p50_ms - serve.p50_ms,
            p90_ms=paths[path].p90_ms - serve.p90_ms,
            paired_median_ms=statistics.median(diffs),
            paired_p25_ms=_percentile(diffs, 0.25),
            paired_p75_ms=_percentile(diffs, 0.75),
        )
    return DesignHop(
        service=service,
        input_words=round(statistics.mean(input_words(service, body) for body in inputs)),
        distinct_inputs=len(inputs),
        rounds=rounds,
        warmup_rounds=warmup,
        paths=paths,
        added=added,
        errors=len(errors),
        error_samples=tuple(errors[:3]),
        mismatches=mismatches,
    )


# --- 2. throughput under concurrent clients ---------------------------------------------------


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure_throughput(
    service: str,
    targets: Mapping[str, Target],
    inputs: Sequence[dict[str, Any]],
    total: int,
    blocks: int,
    concurrency: int = CONCURRENCY,
) -> dict[str, LoadRun]:
    """``total`` requests per design from ``concurrency`` clients, in ``blocks`` alternating
    blocks (A B B A ...); answers checked against each design's own sequential answers."""
    reference: dict[str, list[Any]] = {}
    for design, target in targets.items():
        answers = [target(body) for body in inputs]  # the reference, and a warm-up
        bad = [a for a in answers if a.status != 200]
        if bad:
            raise RuntimeError(
                f"{service} {design}: {bad[0].status} before the load: {bad[0].text}"
            )
        reference[design] = [a.body for a in answers]
    results: dict[str, list[tuple[Answer, bool]]] = {design: [] for design in targets}
    elapsed = dict.fromkeys(targets, 0.0)
    designs = list(targets)
    bounds = [total * b // blocks for b in range(blocks + 1)]
    for b in range(blocks):
        for design in designs if b % 2 == 0 else designs[::-1]:
            target = targets[design]

            def one(i: int, target: Target = target, design: str = design) -> tuple[Answer, bool]:
                answer = target(inputs[i % len(inputs)])
                ok = answer.status == 200 and same(answer.body, reference[design][i % len(inputs)])
                return answer, ok

            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=concurrency) as pool:
                results[design] += pool.map(one, range(bounds[b], bounds[b + 1]))
            elapsed[design] += time.perf_counter() - started
    out: dict[str, LoadRun] = {}
    for design, items in results.items():
        errors = [a for a, _ in items if a.status != 200]
        latencies = [a.seconds * 1000 for a, _ in items]
        out[design] = LoadRun(
            function=f"{service}-{design}",
            requests=len(items),
            distinct_inputs=len(inputs),
            concurrency=concurrency,
            errors=len(errors),
            error_samples=tuple(f"{a.status}: {a.text}" for a in errors[:3]),
            mismatches=sum(1 for a, ok in items if a.status == 200 and not ok),
            seconds=round(elapsed[design], 2),
            requests_per_s=round(len(items) / elapsed[design], 2),
            p50_ms=round(statistics.median(latencies), 1),
            p90_ms=round(_percentile(latencies, 0.9), 1),
            p99_ms=round(_percentile(latencies, 0.99), 1),
            rss_before_mb=None,
            rss_after_mb=None,
            rss_growth_mb=None,
        )
    return out


# --- 3. cold starts ---------------------------------------------------------------------------


class ConnectProbe(threading.Thread):
    """Tries a TCP connect to ``host:port`` every few ms from before the container starts,
    until one is accepted: when it was, and when the last refusal came."""

    def __init__(self, host: str, port: int, deadline: float) -> None:
        super().__init__(daemon=True)
        self.host, self.port, self.deadline = host, port, deadline
        self.connected: float | None = None
        self.last_refused: float | None = None
        self.unreachable = ""
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set() and time.time() < self.deadline:
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    self.connected = time.time()
                    return
            except ConnectionRefusedError:
                self.last_refused = time.time()
                time.sleep(0.002)
            except OSError as exc:  # timeout, no route: the host cannot reach container addresses
                self.unreachable = str(exc)
                return


def container_run(
    answer: Answer, seconds: float, memory_mb: int, body: str | None = None
) -> ContainerRun:
    return ContainerRun(
        seconds=seconds,
        status=answer.status,
        cpus=cpus_for(memory_mb),
        memory_mb=memory_mb,
        body=(body if body is not None else answer.text)[:160],
    )


def design2_cold(stack: Stack, image: str, service: str, run: int) -> ContainerRun | Failed:
    """``docker run`` the function image to its first answer through the RIE."""
    route, body = BODIES[service]
    started = time.time()
    try:
        box = stack.start(
            f"cold-{service}-rie-{run}",
            image,
            flags=lambda_flags(MEMORY_MB),
            env=function_env(f"lambda-nlp-{service}", MEMORY_MB, 60),
        )
        try:
            answer = wait_answer(Target(box.url, route, rie=True), body, started + START_TIMEOUT_S)
            return container_run(answer, time.time() - started, MEMORY_MB)
        finally:
            stack.remove(box)
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        return Failed(str(exc)[-300:])


def design1_cold(
    stack: Stack, image: str, service: str, run: int, holder: Container, host: str | None
) -> ServeColdRun | Failed:
    """``docker run IMAGE serve`` in ``holder``'s network namespace: to the TCP connect on 8080
    (probed on ``host``, the holder's address), the first /ping 200 and the first answer."""
    route, body = BODIES[service]
    started = time.time()
    deadline = started + START_TIMEOUT_S
    probe = ConnectProbe(host, 8080, deadline) if host else None
    if probe:
        probe.start()
    try:
        box = stack.start(
            f"cold-{service}-serve-{run}",
            image,
            args=["serve"],
            flags=lambda_flags(MEMORY_MB),
            publish=False,
            network=f"container:{holder.name}",
        )
        try:
            box_started = started_at(box) - started
            ping = wait_ping(holder, deadline) - started
            target = Target(holder.url, route, rie=False)
            answer = first = wait_answer(target, body, deadline)
            # With several workers, /ping 200 comes from whichever worker took the connection;
            # another may still be loading (503): retry as a client would, and say so.
            while answer.status == 503 and time.time() < deadline:
                time.sleep(0.02)
                answer = target(body)
            answered = time.time() - started
            if answer.status != 200:
                return Failed(f"/invocations answered {answer.status}: {answer.text}")
            if probe:
                probe.join(timeout=1)
            connected = probe.connected if probe else None
            last_refused = probe.last_refused if probe else None
            return ServeColdRun(
                started_s=box_started,
                connect_s=None if connected is None else connected - started,
                # No refusal after the container started: the socket was already bound at the
                # first probe, so "start -> connect" is an upper bound.
                connect_at_first_probe=last_refused is None or last_refused < started + box_started,
                ping_s=ping,
                answer_s=answered,
                workers=serve_workers(box),
                first_status=first.status,
            )
        finally:
            stack.remove(box)
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        return Failed(str(exc)[-300:])
    finally:
        if probe:
            probe.stop.set()
            probe.join(timeout=2)


def front_cold(
    stack: Stack, image: str, runtime: Container, run: int, memory_mb: int
) -> ContainerRun | Failed:
    """``docker run`` the front to its first answer through the stand-in (endpoints up)."""
    route, body = BODIES["ner"]
    started = time.time()
    try:
        box = stack.start(
            f"cold-front-{memory_mb}-{run}",
            image,
            flags=lambda_flags(memory_mb),
            env=front_env(runtime.name, memory_mb),
        )
        try:
            answer = wait_answer(Target(box.url, route, rie=True), body, started + START_TIMEOUT_S)
            return container_run(answer, time.time() - started, memory_mb)
        finally:
            stack.remove(box)
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        return Failed(str(exc)[-300:])


def _seconds(run: ContainerRun | ServeColdRun | Failed) -> str:
    if isinstance(run, Failed):
        return f"failed: {run.error[:120]}"
    if isinstance(run, ContainerRun):
        return f"{run.seconds:.2f} s (status {run.status})"
    connect = "–" if run.connect_s is None else f"{run.connect_s:.3f}"
    first = "" if run.first_status == 200 else f" (the first /invocations: {run.first_status})"
    return f"connect {connect} s, /ping {run.ping_s:.2f} s, answer {run.answer_s:.2f} s{first}"


def measure_cold(
    stack: Stack, images: Mapping[str, str], runtime: Container, reps: int
) -> DesignColdStarts:
    holder = stack.start(
        "holder", images["base"], flags=["--entrypoint", "/bin/sleep"], args=["infinity"]
    )
    try:
        host: str | None = address(holder)
    except (IndexError, subprocess.TimeoutExpired):
        host = None
    design2: dict[str, list[ContainerRun | Failed]] = {s: [] for s in SERVICES}
    design1: dict[str, list[ServeColdRun | Failed]] = {s: [] for s in SERVICES}
    front: dict[int, list[ContainerRun | Failed]] = {mb: [] for mb in FRONT_COLD_MEMORY_MB}
    for run in range(reps):
        for service in SERVICES:
            d2 = design2_cold(stack, images[service], service, run)
            progress(f"cold start {run + 1}/{reps}, Design 2 {service} (RIE): {_seconds(d2)}")
            d1 = design1_cold(stack, images[service], service, run, holder, host)
            progress(f"cold start {run + 1}/{reps}, Design 1 {service} (serve): {_seconds(d1)}")
            design2[service].append(d2)
            design1[service].append(d1)
        for mb, runs in front.items():
            f = front_cold(stack, images["front"], runtime, run, mb)
            progress(f"cold start {run + 1}/{reps}, Design 1 front at {mb} MB: {_seconds(f)}")
            runs.append(f)
    stack.remove(holder)
    return DesignColdStarts(
        design2={s: tuple(runs) for s, runs in design2.items()},
        design1={s: tuple(runs) for s, runs in design1.items()},
        front={str(mb): tuple(runs) for mb, runs in front.items()},
    )


# --- the section ------------------------------------------------------------------------------


def _guard(measure: Callable[[], T]) -> T | Failed:
    """One item's record, or Failed with the error's last line: the other items still run."""
    try:
        return measure()
    except Exception as exc:
        return Failed(f"{type(exc).__name__}: {str(exc)[-300:]}")


def start_runtime(stack: Stack, base_image: str, endpoints: str) -> Container:
    """The SageMaker runtime stand-in (tools.sagemaker_runtime on the local base image, tools/
    mounted read-only) routing ``endpoints`` (``name=url,...``), as docker-compose.yml runs it."""
    return stack.start(
        "sagemaker-runtime",
        base_image,
        ["-m", "tools.sagemaker_runtime"],
        [
            "--read-only",
            "--user",
            "993:990",
            "--volume",
            f"{ROOT / 'tools'}:/opt/lambda-nlp/tools:ro",
            "--workdir",
            "/opt/lambda-nlp",
            "--entrypoint",
            "/var/lang/bin/python3",
        ],
        {
            "PYTHONDONTWRITEBYTECODE": "1",
            "SAGEMAKER_ENDPOINTS": endpoints,
            "SAGEMAKER_INVOCATION_TIMEOUT": "60",
            "AWS_REGION": "us-east-1",
        },
        publish=False,
    )


def measure(plan: DesignsPlan, images: Mapping[str, str]) -> Designs:
    started = time.perf_counter()
    load_start = os.getloadavg()[0]
    model_flags = lambda_flags(MEMORY_MB)
    inputs = {"ner": ner_inputs(), "qa": qa_inputs()}
    with Stack() as stack:
        progress(
            f"starting both designs on network {stack.network}: serve and RIE containers of "
            f"{images['ner']} and {images['qa']} ({MEMORY_MB} MB, {cpus_for(MEMORY_MB)} CPUs "
            f"each), the SageMaker runtime stand-in, the front ({FRONT_MEMORY_MB} MB)"
        )
        serve = {s: stack.start(f"{s}-serve", images[s], ["serve"], model_flags) for s in SERVICES}
        rie = {
            s: stack.start(
                f"{s}-rie",
                images[s],
                (),
                model_flags,
                function_env(f"lambda-nlp-{s}", MEMORY_MB, 60),
            )
            for s in SERVICES
        }
        endpoints = ",".join(f"{ENDPOINTS[s]}=http://{serve[s].name}:8080" for s in SERVICES)
        runtime = start_runtime(stack, images["base"], endpoints)
        front = stack.start(
            "front", images["front"], (), lambda_flags(FRONT_MEMORY_MB), front_env(runtime.name)
        )
        deadline = time.time() + START_TIMEOUT_S
        for s in SERVICES:
            wait_ping(serve[s], deadline)
        wait_log(runtime, "listening", deadline)
        targets = {
            s: {
                "serve": Target(serve[s].url, ROUTES[s], rie=False),
                "design2": Target(rie[s].url, ROUTES[s], rie=True),
                "design1": Target(front.url, ROUTES[s], rie=True),
            }
            for s in SERVICES
        }
        for s in SERVICES:
            for path, target in targets[s].items():
                try:
                    wait_ready(target, inputs[s][0], deadline)
                except RuntimeError as exc:
                    raise RuntimeError(f"{s} {path}: {exc}") from exc
        workers = {s: serve_workers(serve[s]) for s in SERVICES}
        progress(f"all paths answer ({time.perf_counter() - started:.0f} s); workers {workers}")
        hop: dict[str, DesignHop | Failed] = {}
        for s in SERVICES:
            rounds = plan.hop_rounds[s]
            progress(f"the hop, {s}: {rounds} rounds x 3 paths (+2 warm-up rounds), interleaved")
            hop[s] = _guard(partial(measure_hop, s, targets[s], inputs[s], rounds))
        load: dict[str, dict[str, LoadRun] | Failed] = {}
        for s in SERVICES:
            total = plan.load[s]
            progress(
                f"throughput, {s}: {total} requests per design, {CONCURRENCY} clients, "
                f"{plan.load_blocks} alternating block(s)"
            )
            pair = {"design1": targets[s]["serve"], "design2": targets[s]["design2"]}
            load[s] = _guard(
                partial(measure_throughput, s, pair, inputs[s], total, plan.load_blocks)
            )
        stack.remove(front)
        progress(f"cold starts: {plan.cold_reps} run(s) of each, in turn")
        cold = _guard(lambda: measure_cold(stack, images, runtime, plan.cold_reps))
    return Designs(
        images=dict(images),
        memory_mb=MEMORY_MB,
        cpus=cpus_for(MEMORY_MB),
        front_memory_mb=FRONT_MEMORY_MB,
        front_cpus=cpus_for(FRONT_MEMORY_MB),
        serve_workers=workers,
        concurrency=CONCURRENCY,
        hop=hop,
        load=load,
        cold=cold,
        load_avg=(load_start, os.getloadavg()[0]),
        elapsed_s=time.perf_counter() - started,
    )


def run_designs(plan: DesignsPlan) -> Designs | Skipped | Failed:
    """The section, skipped (no engine, an image missing) or failed with the reason."""
    reason = containers.docker_status()
    if reason:
        return Skipped(reason)
    images = {**IMAGES, "front": FRONT_IMAGE, "base": BASE_IMAGE}
    missing = [tag for tag in images.values() if image_size(tag) is None]
    if missing:
        return Skipped(
            f"image(s) not built: {', '.join(missing)} (make images DESIGN=1, make bench-qa-image)"
        )
    return _guard(lambda: measure(plan, images))
