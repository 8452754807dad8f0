"""QA latency when the CPU is shared: precision x CPU limit x neighbour x OpenMP spin.

    python -m bench.contention --image TAG [--plan quick|full] [--json PATH]

The QA function image runs under the Lambda RIE as :func:`bench.containers.cold_start` runs it
(read-only root, tmpfs ``/tmp``, the port on 127.0.0.1) and answers function URL events with
~150-word contexts (:func:`bench.texts.pairs_for`), one request at a time, timed client-side.
Each container is one (precision, ``--cpus``, ``GOMP_SPINCOUNT``): ``QA_PRECISION`` and the spin
count go in as environment variables (no spin variable: the image's own rule,
:func:`app.qa.runtime.configure_threads`). Once it is warm it is measured beside an idle host,
then beside one busy core (a single-threaded busy loop on the host, killed after the cell).

:func:`verdict` turns the cells into the spin setting with the smallest worst-case ratio to the
best setting of each (precision, CPU, neighbour) cell, and compares INT8's tail under a busy
neighbour with fp32's; :func:`markdown` writes both out with the rule.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

from app.qa.runtime import SPIN
from bench.containers import MB_PER_VCPU, docker_status, free_port, image_size
from bench.load import post
from bench.machine import StealMeter, machine
from bench.records import Failed, JsonObject, Machine, Record, Skipped
from bench.texts import pairs_for
from bench.worker import function_url_event

RIE_PATH = "/2015-03-31/functions/function/invocations"
#: Context words per request (the bench's QA size).
WORDS = 150
PRECISIONS = ("fp32", "int8")
NEIGHBOURS = ("idle", "busy")
#: The default precision, whose tail under a busy neighbour is checked against fp32's.
DEFAULT_PRECISION = "int8"
#: Long enough for a QA init on a busy 2-core machine.
START_TIMEOUT_S = 240.0
REQUEST_TIMEOUT_S = 120.0
#: The busy neighbour: one single-threaded CPU-bound process on the host.
BUSY_LOOP = (sys.executable, "-c", "while True: pass")
#: Seconds the busy loop runs before the first timed request, so it is on a core already.
BUSY_SETTLE_S = 0.5


# --- records ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ContentionPlan(Record):
    """What one run measures: the settings crossed, and the requests per cell."""

    name: str
    precisions: tuple[str, ...]
    cpus: tuple[str, ...]  # docker --cpus values
    spins: tuple[str | None, ...]  # GOMP_SPINCOUNT values; None: not set (the image's rule)
    requests: int  # timed, per cell
    distinct: int  # distinct contexts, cycled; each is sent once untimed to warm the container

    @classmethod
    def from_json(cls, data: JsonObject) -> Self:
        return cls._from(
            data,
            precisions=tuple(data["precisions"]),
            cpus=tuple(data["cpus"]),
            spins=tuple(data["spins"]),
        )


QUICK = ContentionPlan("quick", PRECISIONS, ("2", "1.7"), (None, "1000"), requests=5, distinct=3)
FULL = ContentionPlan(
    "full",
    PRECISIONS,
    ("2", "1.7"),
    (None, "0", "1000", "10000", "100000"),
    requests=30,
    distinct=5,
)
PLANS = {"quick": QUICK, "full": FULL}


@dataclass(frozen=True)
class ContentionCell(Record):
    """One cell: sequential requests to a warm container, client-side latency in ms."""

    precision: str  # QA_PRECISION
    cpus: str  # docker --cpus
    memory_mb: int
    neighbour: str  # idle | busy
    spin: str | None  # GOMP_SPINCOUNT given to the container; None: not set
    effective_spin: str  # what the image runs with (its own rule when spin is None)
    p50_ms: float  # nearest-rank
    p99_ms: float  # nearest-rank: the slowest request when there are 100 or fewer
    samples_ms: tuple[float, ...]
    steal: float | None  # CPU steal during the cell (bench.machine)

    @classmethod
    def from_json(cls, data: JsonObject) -> Self:
        return cls._from(data, samples_ms=tuple(data["samples_ms"]))


@dataclass(frozen=True)
class CellFailed(Failed):
    """A container that did not start or answer, with the cell's settings."""

    precision: str
    cpus: str
    spin: str | None


@dataclass(frozen=True)
class ContentionSection(Record):
    """One run of the section. JSON: the fields, plus ``verdict`` (derived, ignored on read)."""

    image: str
    plan: ContentionPlan
    machine: Machine
    date: str  # UTC, ISO 8601, at the start
    words: int
    cells: tuple[ContentionCell, ...]
    failures: tuple[CellFailed, ...]
    steal: float | None  # CPU steal over the whole run
    elapsed_s: float

    def to_json(self) -> JsonObject:
        found = verdict(self.cells)
        return {**super().to_json(), "verdict": None if found is None else found.to_json()}

    @classmethod
    def from_json(cls, data: JsonObject) -> Self:
        return cls._from(
            data,
            plan=ContentionPlan.from_json(data["plan"]),
            machine=Machine.from_json(data["machine"]),
            cells=tuple(ContentionCell.from_json(c) for c in data["cells"]),
            failures=tuple(CellFailed.from_json(f) for f in data["failures"]),
        )


@dataclass(frozen=True)
class SpinScore(Record):
    """One spin setting's worst ratio to the best setting of the same cell, on p50 and p99."""

    spin: str | None
    worst_p50: float
    worst_p50_at: str  # the cell: "fp32, --cpus=2, busy"
    worst_p99: float
    worst_p99_at: str

    @property
    def worst(self) -> float:
        return max(self.worst_p50, self.worst_p99)


@dataclass(frozen=True)
class TailCheck(Record):
    """Busy p99 over idle p99, per precision, at one CPU limit and the recommended spin."""

    cpus: str
    ratios: Mapping[str, float]  # per precision


@dataclass(frozen=True)
class Verdict(Record):
    """The minimax spin setting, every complete setting's score, and the INT8 tail check."""

    recommended: str | None
    scores: tuple[SpinScore, ...]  # smallest worst ratio first
    incomplete: tuple[str | None, ...]  # settings missing from some cell: not ranked
    tail: tuple[TailCheck, ...]
    int8_tail_ok: bool | None  # None: a precision or a neighbour state is missing

    @classmethod
    def from_json(cls, data: JsonObject) -> Self:
        return cls._from(
            data,
            scores=tuple(SpinScore.from_json(s) for s in data["scores"]),
            incomplete=tuple(data["incomplete"]),
            tail=tuple(TailCheck.from_json(t) for t in data["tail"]),
        )


# --- pure functions ---------------------------------------------------------------------------


def nearest_rank(values: Sequence[float], percent: float) -> float:
    """The nearest-rank percentile: the smallest value with at least ``percent``% at or below it."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(percent * len(ordered) / 100))
    return ordered[min(rank, len(ordered)) - 1]


def memory_for(cpus: str) -> int:
    """The Lambda memory size that gives ``cpus`` vCPUs (1.7: 3008 MB, 2: 3538 MB)."""
    return math.ceil(float(cpus) * MB_PER_VCPU)


def image_spin() -> str:
    """The spin count the image sets when none is given (:data:`app.qa.runtime.SPIN`)."""
    return SPIN


def spin_label(spin: str | None) -> str:
    """``unset`` or the count as given (the JSON's verdict uses it)."""
    return "unset" if spin is None else spin


def _spin_text(spin: str | None) -> str:
    return "unset" if spin is None else f"{int(spin):,}"


def cell_label(precision: str, cpus: str, neighbour: str) -> str:
    return f"{precision}, --cpus={cpus}, {neighbour}"


def summarize_cell(
    precision: str,
    cpus: str,
    neighbour: str,
    spin: str | None,
    effective_spin: str,
    seconds: Sequence[float],
    steal: float | None = None,
) -> ContentionCell:
    """A cell from its requests' latencies in seconds."""
    ms = tuple(round(s * 1000.0, 3) for s in seconds)
    return ContentionCell(
        precision=precision,
        cpus=cpus,
        memory_mb=memory_for(cpus),
        neighbour=neighbour,
        spin=spin,
        effective_spin=effective_spin,
        p50_ms=nearest_rank(ms, 50),
        p99_ms=nearest_rank(ms, 99),
        samples_ms=ms,
        steal=steal,
    )


def _groups(cells: Sequence[ContentionCell]) -> dict[tuple[str, str, str], list[ContentionCell]]:
    groups: dict[tuple[str, str, str], list[ContentionCell]] = {}
    for cell in cells:
        groups.setdefault((cell.precision, cell.cpus, cell.neighbour), []).append(cell)
    return groups


def spin_scores(
    cells: Sequence[ContentionCell],
) -> tuple[list[SpinScore], list[str | None]]:
    """Each spin setting's worst ratio to the best setting of each (precision, CPU, neighbour)
    cell, on p50 and on p99, smallest worst of both first (ties: smaller p50 ratio); and the
    settings not measured in every cell, which are not ranked."""
    groups = _groups(cells)
    spins = list(dict.fromkeys(cell.spin for cell in cells))
    complete = [s for s in spins if all(any(c.spin == s for c in g) for g in groups.values())]
    scores: list[SpinScore] = []
    for spin in complete:
        worst: dict[str, tuple[float, str]] = {"p50": (0.0, ""), "p99": (0.0, "")}
        for key, group in groups.items():
            mine = next(c for c in group if c.spin == spin)
            for stat in ("p50", "p99"):
                best = min(_stat(c, stat) for c in group)
                ratio = _stat(mine, stat) / best
                if ratio > worst[stat][0]:
                    worst[stat] = (ratio, cell_label(*key))
        scores.append(
            SpinScore(spin, worst["p50"][0], worst["p50"][1], worst["p99"][0], worst["p99"][1])
        )
    scores.sort(key=lambda s: (s.worst, s.worst_p50))
    return scores, [s for s in spins if s not in complete]


def _stat(cell: ContentionCell, stat: str) -> float:
    return cell.p50_ms if stat == "p50" else cell.p99_ms


def tail_checks(cells: Sequence[ContentionCell], spin: str | None) -> list[TailCheck]:
    """Per CPU limit, busy p99 / idle p99 of each precision, at spin setting ``spin``."""
    at = {(c.precision, c.cpus, c.neighbour): c for c in cells if c.spin == spin}
    checks: list[TailCheck] = []
    for cpus in dict.fromkeys(c.cpus for c in cells):
        ratios = {
            precision: at[precision, cpus, "busy"].p99_ms / at[precision, cpus, "idle"].p99_ms
            for precision in dict.fromkeys(c.precision for c in cells)
            if (precision, cpus, "busy") in at and (precision, cpus, "idle") in at
        }
        checks.append(TailCheck(cpus, ratios))
    return checks


def verdict(cells: Sequence[ContentionCell]) -> Verdict | None:
    """The spin setting with the smallest worst-case ratio (minimax), and whether INT8's p99
    grows no more than fp32's under a busy neighbour at that setting, at every CPU limit."""
    if not cells:
        return None
    scores, incomplete = spin_scores(cells)
    if not scores:
        return Verdict(None, (), tuple(incomplete), (), None)
    chosen = scores[0].spin
    tail = tail_checks(cells, chosen)
    held = [
        check.ratios[DEFAULT_PRECISION] <= check.ratios["fp32"]
        for check in tail
        if DEFAULT_PRECISION in check.ratios and "fp32" in check.ratios
    ]
    ok = all(held) if held and len(held) == len(tail) else None
    return Verdict(spin_label(chosen), tuple(scores), tuple(incomplete), tuple(tail), ok)


# --- Markdown ---------------------------------------------------------------------------------


def _ms(value: float) -> str:
    return f"{value:,.0f}"


def _spin_row_label(spin: str | None, cells: Sequence[ContentionCell]) -> str:
    if spin is not None:
        return _spin_text(spin)
    chosen = dict.fromkeys(f"{int(c.effective_spin):,}" for c in cells if c.spin is None)
    return f"unset (image: {' / '.join(chosen)})"


def _latency_lines(section: ContentionSection) -> list[str]:
    lines: list[str] = []
    columns = [(cpus, n) for cpus in section.plan.cpus for n in NEIGHBOURS]
    at = {(c.precision, c.cpus, c.neighbour, c.spin): c for c in section.cells}
    for precision in section.plan.precisions:
        lines += [
            f"**{precision}**, p50 / p99 ms:",
            "",
            "| `GOMP_SPINCOUNT` | " + " | ".join(f"`--cpus={c}`, {n}" for c, n in columns) + " |",
            "|---" + "|---:" * len(columns) + "|",
        ]
        for spin in section.plan.spins:
            mine = [c for c in section.cells if c.precision == precision and c.spin == spin]
            values = []
            for cpus, neighbour in columns:
                cell = at.get((precision, cpus, neighbour, spin))
                values.append("–" if cell is None else f"{_ms(cell.p50_ms)} / {_ms(cell.p99_ms)}")
            lines.append(f"| {_spin_row_label(spin, mine)} | " + " | ".join(values) + " |")
        lines.append("")
    return lines


def _twin_lines(section: ContentionSection) -> list[str]:
    """Unset and the explicit value the image would choose run the same configuration."""
    at = {(c.precision, c.cpus, c.neighbour, c.spin): c for c in section.cells}
    pairs: list[str] = []
    for cell in section.cells:
        twin = at.get((cell.precision, cell.cpus, cell.neighbour, cell.effective_spin))
        if cell.spin is None and twin is not None:
            pairs.append(
                f"{cell_label(cell.precision, cell.cpus, cell.neighbour)} "
                f"{cell.p50_ms / twin.p50_ms:.2f} / {cell.p99_ms / twin.p99_ms:.2f}"
            )
    if not pairs:
        return []
    return [
        "Noise: `unset` and the explicit value the image then chooses are the same configuration "
        "in separate containers; unset over explicit, p50 / p99: " + "; ".join(pairs) + ".",
        "",
    ]


def _verdict_lines(found: Verdict | None) -> list[str]:
    if found is None or found.recommended is None:
        return ["No verdict: no spin setting was measured in every cell.", ""]
    lines = [
        "**Spin verdict.** Rule: in each (precision, CPU limit, neighbour) cell, every spin "
        "setting's p50 and its p99 are divided by the best p50 and the best p99 of all settings in "
        "that cell; a setting's score is the worst of those ratios over all cells, p50 and p99 "
        "alike; the recommended setting has the smallest score (minimax: the least loss "
        "anywhere measured), ties to the smaller worst p50 ratio. Settings missing from any cell "
        "are not ranked. `unset` is the image's own rule, so its winning keeps the default.",
        "",
        "| `GOMP_SPINCOUNT` | worst p50 ratio | in | worst p99 ratio | in | score |",
        "|---|---:|---|---:|---|---:|",
    ]
    for score in found.scores:
        lines.append(
            f"| {_spin_text(score.spin)} | {score.worst_p50:.2f} | {score.worst_p50_at} "
            f"| {score.worst_p99:.2f} | {score.worst_p99_at} | {score.worst:.2f} |"
        )
    lines.append("")
    runner = found.scores[1] if len(found.scores) > 1 else None
    best = found.scores[0]
    margin = f"; next: {_spin_text(runner.spin)} at {runner.worst:.2f}" if runner else ""
    setting = (
        "`GOMP_SPINCOUNT` unset (the image's rule)"
        if best.spin is None
        else f"`GOMP_SPINCOUNT={best.spin}`"
    )
    lines += [
        f"Recommended: **{setting}** (score {best.worst:.2f}{margin}).",
        "",
    ]
    if found.incomplete:
        missing = ", ".join(_spin_text(s) for s in found.incomplete)
        lines += [f"Not ranked (a cell failed): {missing}.", ""]
    precisions = list(dict.fromkeys(p for t in found.tail for p in t.ratios))
    lines += [
        f"**INT8's tail beside a busy core**, at spin {_spin_text(best.spin)}: busy p99 / idle "
        "p99 per "
        "precision. Rule: INT8 (the default precision) passes when its ratio is no larger than "
        "fp32's at every CPU limit.",
        "",
        "| CPU limit | " + " | ".join(precisions) + " | INT8 no worse |",
        "|---" + "|---:" * len(precisions) + "|---|",
    ]
    for check in found.tail:
        ratios = [f"{check.ratios[p]:.2f}" if p in check.ratios else "–" for p in precisions]
        ok = (
            "–"
            if not {"fp32", DEFAULT_PRECISION} <= check.ratios.keys()
            else ("yes" if check.ratios[DEFAULT_PRECISION] <= check.ratios["fp32"] else "no")
        )
        lines.append(f"| `--cpus={check.cpus}` | " + " | ".join(ratios) + f" | {ok} |")
    result = {True: "yes", False: "no", None: "not measured"}[found.int8_tail_ok]
    lines += ["", f"INT8's tail degrades no worse than fp32's: **{result}**.", ""]
    return lines


def markdown(section: ContentionSection | Skipped) -> list[str]:
    """The section's tables and the spin verdict, as lines of Markdown."""
    lines = ["## QA latency with the CPU shared", ""]
    if isinstance(section, Skipped):
        return [*lines, f"Skipped: {section.reason}.", ""]
    plan = section.plan
    steals = [c.steal for c in section.cells if c.steal is not None]
    steal = (
        f" CPU steal: {section.steal:.1%} over the run, at most {max(steals):.1%} in a cell."
        if section.steal is not None and steals
        else ""
    )
    lines += [
        f"End-to-end latency of `POST /qa` with ~{section.words}-word contexts through the Lambda "
        f"RIE (image `{section.image}`), measured client-side, one request at a time, for each "
        "precision, CPU limit (`--cpus=2`: whole CPUs; `--cpus=1.7`: a 3008 MB function), "
        "neighbour (idle, or one single-threaded busy loop on the host) and OpenMP spin count "
        "(`GOMP_SPINCOUNT`, ~100 spins per µs). One container per precision, CPU limit and spin "
        f"count, warmed with its {plan.distinct} distinct contexts once each, then "
        f"{plan.requests} timed requests idle and {plan.requests} beside the busy loop. p50 and "
        f"p99 are nearest-rank (with {plan.requests} requests the p99 is the slowest one).",
        "",
        f"Measured on {section.machine.cpu} ({section.machine.cores} CPUs), {section.date}, "
        f"plan {plan.name}, {section.elapsed_s:.0f} s.{steal}",
        "",
    ]
    for failure in section.failures:
        lines += [
            f"Failed: {failure.precision}, `--cpus={failure.cpus}`, spin "
            f"{_spin_text(failure.spin)}: {failure.error}",
            "",
        ]
    lines += _latency_lines(section)
    lines += _twin_lines(section)
    lines += _verdict_lines(verdict(section.cells))
    return lines


# --- measuring --------------------------------------------------------------------------------


def progress(text: str) -> None:
    print(f"==> contention: {text}", flush=True)


def _docker(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def _call(url: str, event: Mapping[str, Any]) -> tuple[int, float, str]:
    """One invocation: the function URL status (0: no answer), seconds, the body's start."""
    status, raw, seconds = post(url, dict(event), REQUEST_TIMEOUT_S)
    try:
        result = json.loads(raw)
    except ValueError:
        result = None
    if status != 200 or not isinstance(result, dict) or "statusCode" not in result:
        return (0 if status == 0 else 502), seconds, raw[:200].decode(errors="replace")
    return int(result["statusCode"]), seconds, str(result.get("body") or "")[:200]


@contextmanager
def function_container(image: str, cpus: str, env: Mapping[str, str]) -> Iterator[str]:
    """The image under the RIE with ``--cpus``; yields the invoke URL; removed on leaving."""
    port = free_port()
    flags = ["--read-only", "--tmpfs", "/tmp:rw,size=512m", f"--cpus={cpus}"]
    flags += [f"--memory={memory_for(cpus)}m", "-p", f"127.0.0.1:{port}:8080"]
    for key, value in env.items():
        flags += ["-e", f"{key}={value}"]
    run = _docker("run", "-d", "--rm", *flags, image)
    if run.returncode != 0:
        raise RuntimeError(f"docker run: {run.stderr.strip()[-300:]}")
    container = run.stdout.strip()
    try:
        yield f"http://127.0.0.1:{port}{RIE_PATH}"
    finally:
        _docker("rm", "-f", container)


def warm(url: str, events: Sequence[Mapping[str, Any]]) -> None:
    """Each event once, untimed; the first is retried until the RIE answers and must be 200."""
    deadline = time.time() + START_TIMEOUT_S
    status, _, text = 0, 0.0, ""
    while status == 0 and time.time() < deadline:
        status, _, text = _call(url, events[0])
        if status == 0:
            time.sleep(0.1)
    if status != 200:
        raise RuntimeError(f"first answer {status or 'none'}: {text}")
    for event in events[1:]:
        status, _, text = _call(url, event)
        if status != 200:
            raise RuntimeError(f"warm-up answered {status}: {text}")


def timed(url: str, events: Sequence[Mapping[str, Any]], count: int) -> list[float]:
    """``count`` sequential requests cycling through ``events``; seconds each (all must be 200)."""
    seconds: list[float] = []
    for i in range(count):
        status, took, text = _call(url, events[i % len(events)])
        if status != 200:
            raise RuntimeError(f"request {i} answered {status}: {text}")
        seconds.append(took)
    return seconds


@contextmanager
def busy_neighbour() -> Iterator[None]:
    """A single-threaded busy loop on the host for the block's duration, killed on leaving."""
    loop = subprocess.Popen(BUSY_LOOP, stdin=subprocess.DEVNULL)
    try:
        time.sleep(BUSY_SETTLE_S)
        yield
    finally:
        loop.kill()
        loop.wait()


def measure_container(
    image: str,
    precision: str,
    cpus: str,
    spin: str | None,
    events: Sequence[Mapping[str, Any]],
    requests: int,
) -> list[ContentionCell]:
    """One container: warm, then the idle cell, then the busy cell."""
    env = {"QA_PRECISION": precision}
    if spin is not None:
        env["GOMP_SPINCOUNT"] = spin
    effective = spin if spin is not None else image_spin()
    cells: list[ContentionCell] = []
    with function_container(image, cpus, env) as url:
        warm(url, events)
        for neighbour in NEIGHBOURS:
            meter = StealMeter()
            if neighbour == "busy":
                with busy_neighbour():
                    seconds = timed(url, events, requests)
            else:
                seconds = timed(url, events, requests)
            cell = summarize_cell(
                precision, cpus, neighbour, spin, effective, seconds, meter.share()
            )
            progress(
                f"  {neighbour}: p50 {cell.p50_ms:.0f} ms, p99 {cell.p99_ms:.0f} ms"
                f" ({requests} requests)"
            )
            cells.append(cell)
    return cells


def order(plan: ContentionPlan) -> list[tuple[str, str, str | None]]:
    """(precision, cpus, spin) per container. The spins of one (precision, CPU) run back to
    back, so the settings the verdict compares are minutes apart; their order rotates from one
    group to the next, so no setting always goes first."""
    containers: list[tuple[str, str, str | None]] = []
    for group, (precision, cpus) in enumerate((p, c) for p in plan.precisions for c in plan.cpus):
        shift = group % len(plan.spins)
        spins = plan.spins[shift:] + plan.spins[:shift]
        containers += [(precision, cpus, spin) for spin in spins]
    return containers


def run_contention(image: str, plan: str) -> ContentionSection | Skipped:
    """Measure every cell of ``plan`` (quick or full) on ``image``; Skipped without an engine or
    the image. A container that fails is recorded and the run goes on."""
    chosen = PLANS[plan]
    reason = docker_status()
    if reason:
        return Skipped(reason)
    if image_size(image) is None:
        return Skipped(f"image {image} not built")
    started = time.perf_counter()
    date = datetime.now(UTC).isoformat(timespec="seconds")
    host = machine()
    meter = StealMeter()
    events = [
        function_url_event("/qa", {"question": p.question, "context": p.context})
        for p in pairs_for(WORDS, chosen.distinct)
    ]
    cells: list[ContentionCell] = []
    failures: list[CellFailed] = []
    containers = order(chosen)
    for i, (precision, cpus, spin) in enumerate(containers, 1):
        progress(
            f"[{i}/{len(containers)}] {precision}, --cpus={cpus}, GOMP_SPINCOUNT "
            f"{spin_label(spin)} ({time.perf_counter() - started:.0f} s)"
        )
        try:
            cells += measure_container(image, precision, cpus, spin, events, chosen.requests)
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
            progress(f"  failed: {exc}")
            failures.append(CellFailed(str(exc)[-300:], precision, cpus, spin))
    ordered = sorted(
        cells,
        key=lambda c: (
            chosen.precisions.index(c.precision),
            chosen.cpus.index(c.cpus),
            chosen.spins.index(c.spin),
            NEIGHBOURS.index(c.neighbour),
        ),
    )
    return ContentionSection(
        image=image,
        plan=chosen,
        machine=host,
        date=date,
        words=WORDS,
        cells=tuple(ordered),
        failures=tuple(failures),
        steal=meter.share(),
        elapsed_s=round(time.perf_counter() - started, 1),
    )


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.contention", description=__doc__)
    parser.add_argument("--image", required=True, help="the QA function image's tag")
    parser.add_argument("--plan", choices=sorted(PLANS), default="full")
    parser.add_argument(
        "--json", type=Path, default=Path("build/contention.json"), help="where the JSON goes"
    )
    parser.add_argument(
        "--markdown-from", type=Path, help="print the Markdown of a saved JSON; measure nothing"
    )
    args = parser.parse_args()
    if args.markdown_from:
        data = json.loads(args.markdown_from.read_text())
        print("\n".join(markdown(_section_or_skipped(data))))
        return 0
    section = run_contention(args.image, args.plan)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(section.to_json(), indent=1) + "\n")
    if isinstance(section, ContentionSection):
        progress(f"done in {section.elapsed_s:.0f} s; wrote {args.json}")
    print("\n".join(markdown(section)))
    return 0


def _section_or_skipped(data: JsonObject) -> ContentionSection | Skipped:
    return Skipped.from_json(data) if "skipped" in data else ContentionSection.from_json(data)


if __name__ == "__main__":
    sys.exit(main())
