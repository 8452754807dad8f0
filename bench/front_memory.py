"""Design 1's front function across memory sizes: its cold start, its warm overhead per request
and its cost per request, and the memory size to make the template's default.

    python -m bench.front_memory [--plan quick|full] [--json PATH] [--out DIR]
    python -m bench.front_memory --from-json PATH [--out DIR]    # re-render, measure nothing

Lambda gives a function CPU in proportion to its memory (one vCPU per 1,769 MB), so the front's
memory sets how fast it starts and how much it adds to each request. The setting is
:mod:`bench.designs`'s Design 1, with NER behind the front (the lighter model: its endpoint
answers fastest, so the front's own share of a request shows most): the NER image started with
``serve`` (3008 MB and its CPU share), the SageMaker runtime stand-in
(``tools.sagemaker_runtime``) and ``lambda-nlp/front`` under the RIE, each front container
started with Lambda-like limits at the memory measured (``--memory`` and ``--cpus`` =
memory / 1769, :func:`bench.designs.lambda_flags`), all on a Docker network of the run's own.

Measured per memory size:

1. Cold start: :func:`bench.designs.front_cold`, ``docker run`` of the front to its first answer
   through the stand-in (endpoint already up), ``cold_reps`` times; the sizes rotate from one
   repetition to the next. A first, untimed cold start reads the image into the page cache.
2. Warm overhead, with one warm front per size, all up at once, and the bench's ~100-word NER
   text and rotations of it (:func:`bench.designs.ner_inputs`), in two regimes:

   - *sparse*: each round sends one input straight to the serving container's ``/invocations``
     and through every size's front, the order rotating from round to round, so machine noise
     falls on every size alike; the overhead of a request is its time through the front minus
     the direct call's in the same round (the paired hop of :mod:`bench.designs`). A front here
     gets a request every ~100 ms, so it never uses up its CPU quota: a lightly used
     environment.
   - *back-to-back*: blocks of requests sent to one front (or direct) one after the other, the
     blocks rotating over the sizes and the direct path; the overhead is the block's percentile
     minus the direct blocks' (unpaired). This is an environment kept busy by steady traffic
     (Lambda hands it the next request as soon as it is free), where a small CPU share is
     throttled (docker's CFS quota: ``--cpus`` x 100 ms of CPU per 100 ms period). The front's
     CPU time per request and the share of CFS periods throttled are read from its cgroup.

   Every answer through a front is checked equal to the direct one.
3. Cost per request (:func:`bench.cost.per_request`, ``bench/prices.json``): the front is billed
   for its own duration, and it waits for the endpoint, so the billed time is the whole request
   through the front: the mean over the back-to-back requests of each one's time, rounded up to
   the ms (Lambda's unit; client-side, so an upper bound by the RIE's local HTTP), at the size's
   memory, plus the per-request fee. Back-to-back, because cost matters at volume, and at volume
   environments are busy; the sparse figure is the lower bound. A share ``COLD_FRACTION`` of
   requests also pays the cold start as billed init (a container image's init is billed;
   ``docker run`` to the first answer is an upper bound on it). The endpoint's own cost (the
   SageMaker instance, fixed per hour) is the same at every front size and is left out.

:func:`recommend` applies the rule (written out in :data:`RULE`) and :func:`markdown` and
:func:`plot` show the curve.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self, TypeVar

import numpy as np

from bench import containers
from bench.containers import BASE_IMAGE, IMAGES, MB_PER_VCPU, image_size
from bench.cost import load_prices, per_request
from bench.designs import (
    ENDPOINTS,
    FRONT_IMAGE,
    MEMORY_MB,
    ROOT,
    START_TIMEOUT_S,
    Answer,
    Container,
    Stack,
    Target,
    cpus_for,
    docker,
    front_cold,
    front_env,
    input_words,
    lambda_flags,
    ner_inputs,
    serve_workers,
    start_runtime,
    wait_log,
    wait_ping,
    wait_ready,
)
from bench.load import same
from bench.machine import StealMeter, machine
from bench.records import ContainerRun, Failed, JsonObject, Machine, Prices, Record, Skipped

#: The memory sizes of the full plan, MB: Lambda's smallest, the template's default, powers of
#: two, one full vCPU, and the model functions' size.
SIZES_MB = (128, 256, 512, 1024, 1769, 3008)
TEMPLATE = ROOT / "template.yaml"
#: How close to the best a size must be, on cold start and on cost, to count as "near".
MARGIN = 0.10
#: The share of requests that start a new environment (bench.cost's default).
COLD_FRACTION = 0.01
SERVICE = "ner"
ROUTE = "/ner"
PLOT_NAME = "front_memory.png"
#: Extra endpoint time (ms) the rule is re-applied with: the front waits for the endpoint, so a
#: slower model (QA's endpoint answered in ~240 ms in the project's bench, NER's in ~13 ms)
#: lengthens every billed request by the same ms at every size.
SLOWER_ENDPOINT_MS = (50.0, 250.0)
T = TypeVar("T")

RULE = (
    "Each measured size's median cold start is divided by the best (smallest) median cold start "
    "of all sizes, and its cost per request by the cheapest. The recommended size is the "
    "smallest whose two ratios are both at most 1 + margin. When no size is within the margin "
    "on both, it is the best compromise: the size whose worse ratio of the two is the smallest "
    "(minimax), ties to the smaller size. Sizes whose cold start or warm requests failed are "
    "not ranked."
)


def progress(text: str) -> None:
    print(f"==> front-memory: {text}", flush=True)


# --- records ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FrontMemoryPlan(Record):
    """How much one run measures."""

    name: str
    sizes_mb: tuple[int, ...]
    cold_reps: int  # cold starts per size
    sparse_rounds: int  # timed rounds; each sends one input direct and through every front
    warmup_rounds: int  # untimed sparse rounds first
    busy_passes: int  # passes over the sizes and the direct path, one block each
    busy_block: int  # back-to-back requests per block

    @classmethod
    def from_json(cls, data: JsonObject) -> Self:
        return cls._from(data, sizes_mb=tuple(data["sizes_mb"]))


QUICK = FrontMemoryPlan(
    "quick",
    (128, 256, 1769),
    cold_reps=1,
    sparse_rounds=10,
    warmup_rounds=2,
    busy_passes=1,
    busy_block=15,
)
FULL = FrontMemoryPlan(
    "full",
    SIZES_MB,
    cold_reps=7,
    sparse_rounds=150,
    warmup_rounds=3,
    busy_passes=3,
    busy_block=80,
)
PLANS = {"quick": QUICK, "full": FULL}


@dataclass(frozen=True)
class MemoryPoint(Record):
    """One memory size: the raw samples and what is derived from them (see :func:`point`)."""

    memory_mb: int
    cpus: str  # docker --cpus: Lambda's share of the memory
    cold_s: tuple[float, ...]  # each cold start that answered 200, in the order run
    cold_failures: tuple[str, ...]
    cold_median_s: float | None
    sparse_ms: tuple[float, ...]  # per sparse round, through the front (client-side)
    sparse_direct_ms: tuple[float, ...]  # the same rounds, straight to /invocations
    sparse_p50_ms: float | None
    sparse_overhead_p50_ms: float | None  # paired: the front's time minus the direct call's
    sparse_overhead_p90_ms: float | None
    busy_ms: tuple[float, ...]  # back-to-back through the front, in the order run
    busy_p50_ms: float | None
    busy_overhead_p50_ms: float | None  # the front's percentile minus the direct blocks'
    busy_overhead_p90_ms: float | None
    cpu_ms_per_request: float | None  # the front's CPU time per back-to-back request (cgroup)
    throttled_share: float | None  # CFS periods throttled / periods run, back-to-back
    billed_ms: float | None  # mean of each request's ms rounded up, back-to-back (else sparse)
    cost_warm_per_m: float | None  # USD per million warm requests
    cost_per_m: float | None  # USD per million, COLD_FRACTION of them paying the cold start
    warm_error: str | None  # why warm requests were not measured, or their first error
    warm_errors: int  # non-200 answers through the front
    mismatches: int  # answers through the front that differ from the direct one

    @classmethod
    def from_json(cls, data: JsonObject) -> Self:
        return cls._from(
            data,
            cold_s=tuple(data["cold_s"]),
            cold_failures=tuple(data["cold_failures"]),
            sparse_ms=tuple(data["sparse_ms"]),
            sparse_direct_ms=tuple(data["sparse_direct_ms"]),
            busy_ms=tuple(data["busy_ms"]),
        )

    @property
    def ranked(self) -> bool:
        """Both figures the rule needs were measured."""
        return self.cold_median_s is not None and self.cost_per_m is not None


@dataclass(frozen=True)
class SizeScore(Record):
    """One size against the best of all sizes: its cold start and its cost as ratios."""

    memory_mb: int
    cold_ratio: float
    cost_ratio: float

    @property
    def worst(self) -> float:
        return max(self.cold_ratio, self.cost_ratio)


@dataclass(frozen=True)
class Recommendation(Record):
    """The rule (:data:`RULE`) applied to one run."""

    recommended_mb: int | None  # None: no size was ranked
    how: str  # "within margin" | "compromise" | "none"
    margin: float
    best_cold_mb: int | None
    best_cold_s: float | None
    cheapest_mb: int | None
    cheapest_per_m: float | None
    within: tuple[int, ...]  # sizes within the margin on both
    scores: tuple[SizeScore, ...]  # every ranked size, smallest memory first

    @classmethod
    def from_json(cls, data: JsonObject) -> Self:
        return cls._from(
            data,
            within=tuple(data["within"]),
            scores=tuple(SizeScore.from_json(s) for s in data["scores"]),
        )


@dataclass(frozen=True)
class FrontMemory(Record):
    """One run of the section. JSON: the fields, plus ``recommendation`` (derived, ignored on
    read: it is recomputed from the points)."""

    plan: FrontMemoryPlan
    machine: Machine
    date: str  # UTC, ISO 8601, at the start
    front_image: str
    endpoint_image: str
    endpoint_memory_mb: int
    endpoint_cpus: str
    serve_workers: int | None
    input_words: int  # mean words of the warm inputs
    distinct_inputs: int
    gb_second: float  # USD, from prices.json
    per_million_requests: float
    cold_fraction: float
    margin: float
    points: tuple[MemoryPoint, ...]  # smallest memory first
    busy_direct_ms: tuple[float, ...]  # the direct blocks, back-to-back, in the order run
    steal: float | None  # CPU steal over the run (bench.machine)
    load_avg: tuple[float, float]  # 1-minute load average at the start and the end
    elapsed_s: float
    template_default_mb: int | None = None  # template.yaml's FrontMemorySize default then

    @property
    def recommendation(self) -> Recommendation:
        return recommend(self.points, self.margin)

    @property
    def recommended_mb(self) -> int | None:
        return self.recommendation.recommended_mb

    def to_json(self) -> JsonObject:
        return {**super().to_json(), "recommendation": self.recommendation.to_json()}

    @classmethod
    def from_json(cls, data: JsonObject) -> Self:
        return cls._from(
            data,
            plan=FrontMemoryPlan.from_json(data["plan"]),
            machine=Machine.from_json(data["machine"]),
            points=tuple(MemoryPoint.from_json(p) for p in data["points"]),
            busy_direct_ms=tuple(data["busy_direct_ms"]),
            load_avg=tuple(data["load_avg"]),
        )


def section_from_json(data: JsonObject) -> FrontMemory | Skipped | Failed:
    if "skipped" in data:
        return Skipped.from_json(data)
    if "error" in data:
        return Failed.from_json(data)
    return FrontMemory.from_json(data)


# --- pure functions ---------------------------------------------------------------------------


def template_default(text: str) -> int | None:
    """The ``Default:`` of the ``FrontMemorySize`` parameter in a SAM template's text."""
    found = re.search(r"^( *)FrontMemorySize:\n((?:\1 +.*\n)*?)\1 +Default: *(\d+)", text, re.M)
    return int(found.group(3)) if found else None


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100), linear between samples (as :func:`bench.stats.summarize`)."""
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def billed_ms(samples_ms: Sequence[float]) -> float:
    """The mean billed duration: each request's ms rounded up to a whole ms (Lambda's unit)."""
    return sum(math.ceil(ms) for ms in samples_ms) / len(samples_ms)


def costs_per_m(
    billed_s: float,
    memory_mb: int,
    cold_s: float | None,
    gb_second: float,
    per_million_requests: float,
    cold_fraction: float = COLD_FRACTION,
) -> tuple[float, float]:
    """USD per million requests at ``memory_mb``: warm only, and with ``cold_fraction`` of the
    requests also billed ``cold_s`` of init (no cold start measured: the warm figure)."""
    warm = per_request(billed_s, memory_mb, gb_second, per_million_requests / 1e6)
    init = 0.0 if cold_s is None else per_request(cold_s, memory_mb, gb_second, 0.0)
    return warm * 1e6, (warm + cold_fraction * init) * 1e6


@dataclass(frozen=True)
class CpuStat:
    """A cgroup's CPU counters: CPU time used, CFS periods run and periods throttled."""

    usage_ns: int
    periods: int
    throttled: int


def parse_cpu_stat(text: str, usage_ns: int | None = None) -> CpuStat | None:
    """A cgroup ``cpu.stat``: v2 carries ``usage_usec``; v1 does not, so its ``cpuacct.usage``
    (ns) comes as ``usage_ns``. None when the counters are not there."""
    values: dict[str, int] = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if value.strip().isdigit():
            values[key] = int(value)
    if usage_ns is None and "usage_usec" in values:
        usage_ns = values["usage_usec"] * 1000
    if usage_ns is None or "nr_periods" not in values or "nr_throttled" not in values:
        return None
    return CpuStat(usage_ns, values["nr_periods"], values["nr_throttled"])


def cpu_figures(
    before: CpuStat | None, after: CpuStat | None, requests: int
) -> tuple[float | None, float | None]:
    """CPU ms per request and the share of CFS periods throttled between two readings."""
    if before is None or after is None or requests <= 0:
        return None, None
    periods = after.periods - before.periods
    share = (after.throttled - before.throttled) / periods if periods > 0 else 0.0
    return (after.usage_ns - before.usage_ns) / 1e6 / requests, share


def point(
    memory_mb: int,
    *,
    cold: Sequence[float],
    sparse_ms: Sequence[float],
    sparse_direct_ms: Sequence[float],
    busy_ms: Sequence[float],
    busy_direct_ms: Sequence[float],
    gb_second: float,
    per_million_requests: float,
    cold_fraction: float = COLD_FRACTION,
    cold_failures: Sequence[str] = (),
    cpu_ms_per_request: float | None = None,
    throttled_share: float | None = None,
    warm_error: str | None = None,
    warm_errors: int = 0,
    mismatches: int = 0,
) -> MemoryPoint:
    """One size's record from its samples: ``sparse_ms[i]`` and ``sparse_direct_ms[i]`` are one
    round; ``busy_ms`` and ``busy_direct_ms`` are separate back-to-back blocks."""
    if len(sparse_ms) != len(sparse_direct_ms):
        raise ValueError("sparse_ms and sparse_direct_ms must pair up, one of each per round")
    cold_median = float(np.median(cold)) if cold else None
    paired = [f - d for f, d in zip(sparse_ms, sparse_direct_ms, strict=True)]
    unpaired = bool(busy_ms) and bool(busy_direct_ms)
    billed_from = busy_ms or sparse_ms
    billed = billed_ms(billed_from) if billed_from else None
    warm_cost: float | None = None
    cost: float | None = None
    if billed is not None:
        warm_cost, cost = costs_per_m(
            billed / 1000, memory_mb, cold_median, gb_second, per_million_requests, cold_fraction
        )
        if cold_median is None:
            cost = None  # not ranked: the cold start is half the rule
    return MemoryPoint(
        memory_mb=memory_mb,
        cpus=cpus_for(memory_mb),
        cold_s=tuple(round(s, 4) for s in cold),
        cold_failures=tuple(cold_failures),
        cold_median_s=cold_median,
        sparse_ms=tuple(round(ms, 2) for ms in sparse_ms),
        sparse_direct_ms=tuple(round(ms, 2) for ms in sparse_direct_ms),
        sparse_p50_ms=percentile(sparse_ms, 50) if sparse_ms else None,
        sparse_overhead_p50_ms=percentile(paired, 50) if paired else None,
        sparse_overhead_p90_ms=percentile(paired, 90) if paired else None,
        busy_ms=tuple(round(ms, 2) for ms in busy_ms),
        busy_p50_ms=percentile(busy_ms, 50) if busy_ms else None,
        busy_overhead_p50_ms=(
            percentile(busy_ms, 50) - percentile(busy_direct_ms, 50) if unpaired else None
        ),
        busy_overhead_p90_ms=(
            percentile(busy_ms, 90) - percentile(busy_direct_ms, 90) if unpaired else None
        ),
        cpu_ms_per_request=cpu_ms_per_request,
        throttled_share=throttled_share,
        billed_ms=billed,
        cost_warm_per_m=warm_cost,
        cost_per_m=cost,
        warm_error=warm_error,
        warm_errors=warm_errors,
        mismatches=mismatches,
    )


def recommend(points: Sequence[MemoryPoint], margin: float = MARGIN) -> Recommendation:
    """:data:`RULE` applied to ``points``."""
    ranked = sorted((p for p in points if p.ranked), key=lambda p: p.memory_mb)
    if not ranked:
        return Recommendation(None, "none", margin, None, None, None, None, (), ())
    fastest = min(ranked, key=lambda p: (p.cold_median_s or 0.0, p.memory_mb))
    cheapest = min(ranked, key=lambda p: (p.cost_per_m or 0.0, p.memory_mb))
    best_cold = fastest.cold_median_s or 0.0
    best_cost = cheapest.cost_per_m or 0.0
    scores = tuple(
        SizeScore(
            memory_mb=p.memory_mb,
            cold_ratio=(p.cold_median_s or 0.0) / best_cold if best_cold > 0 else 1.0,
            cost_ratio=(p.cost_per_m or 0.0) / best_cost if best_cost > 0 else 1.0,
        )
        for p in ranked
    )
    # A small tolerance so a ratio of exactly 1 + margin (in decimal) counts as within.
    within = tuple(
        s.memory_mb
        for s in scores
        if s.cold_ratio <= 1 + margin + 1e-9 and s.cost_ratio <= 1 + margin + 1e-9
    )
    if within:
        chosen, how = within[0], "within margin"
    else:
        chosen, how = min(scores, key=lambda s: (s.worst, s.memory_mb)).memory_mb, "compromise"
    return Recommendation(
        recommended_mb=chosen,
        how=how,
        margin=margin,
        best_cold_mb=fastest.memory_mb,
        best_cold_s=fastest.cold_median_s,
        cheapest_mb=cheapest.memory_mb,
        cheapest_per_m=cheapest.cost_per_m,
        within=within,
        scores=scores,
    )


def with_slower_endpoint(section: FrontMemory, extra_ms: float) -> Recommendation:
    """The rule re-applied as if the endpoint took ``extra_ms`` longer: every back-to-back
    request through a front (the billed ones) lengthened by it. The wait uses no CPU, so a small
    size would be throttled less than measured: this leans, if anything, to the large sizes."""
    points = [
        point(
            p.memory_mb,
            cold=p.cold_s,
            cold_failures=p.cold_failures,
            sparse_ms=[ms + extra_ms for ms in p.sparse_ms],
            sparse_direct_ms=[ms + extra_ms for ms in p.sparse_direct_ms],
            busy_ms=[ms + extra_ms for ms in p.busy_ms],
            busy_direct_ms=[ms + extra_ms for ms in section.busy_direct_ms],
            gb_second=section.gb_second,
            per_million_requests=section.per_million_requests,
            cold_fraction=section.cold_fraction,
            warm_error=p.warm_error,
        )
        for p in section.points
    ]
    return recommend(points, section.margin)


# --- Markdown and the plot --------------------------------------------------------------------


def _num(value: float | None, fmt: str) -> str:
    return "–" if value is None else format(value, fmt)


def _pair(p50: float | None, p90: float | None) -> str:
    return "–" if p50 is None else f"{p50:.1f} / {_num(p90, '.1f')}"


def _table(section: FrontMemory, found: Recommendation) -> list[str]:
    scores = {s.memory_mb: s for s in found.scores}
    lines = [
        "| memory MB | vCPUs | cold start s: median (range, n) | overhead ms, sparse: p50 / p90 "
        "| overhead ms, back-to-back: p50 / p90 | CPU ms per request (throttled periods) "
        "| billed ms | USD per M, warm | USD per M, with cold | cold / best | cost / cheapest |",
        "|---:|---:|---|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for p in section.points:
        mark = "**" if p.memory_mb == found.recommended_mb else ""
        default = " (template default)" if p.memory_mb == section.template_default_mb else ""
        cold = (
            "–"
            if p.cold_median_s is None
            else f"{p.cold_median_s:.2f} ({min(p.cold_s):.2f}–{max(p.cold_s):.2f}, {len(p.cold_s)})"
        )
        if p.cold_failures:
            cold += f"; {len(p.cold_failures)} failed"
        cpu = (
            "–"
            if p.cpu_ms_per_request is None
            else f"{p.cpu_ms_per_request:.1f} ({_num(p.throttled_share, '.0%')})"
        )
        score = scores.get(p.memory_mb)
        lines.append(
            f"| {mark}{p.memory_mb:,}{mark}{default} | {p.cpus} | {cold} "
            f"| {_pair(p.sparse_overhead_p50_ms, p.sparse_overhead_p90_ms)} "
            f"| {_pair(p.busy_overhead_p50_ms, p.busy_overhead_p90_ms)} | {cpu} "
            f"| {_num(p.billed_ms, '.1f')} | {_num(p.cost_warm_per_m, '.3f')} "
            f"| {_num(p.cost_per_m, '.3f')} "
            f"| {_num(None if score is None else score.cold_ratio, '.2f')} "
            f"| {_num(None if score is None else score.cost_ratio, '.2f')} |"
        )
    return lines


def _recommendation_lines(section: FrontMemory, found: Recommendation) -> list[str]:
    lines = [f"**Rule** (margin {found.margin:.0%}): {RULE}", ""]
    if found.recommended_mb is None:
        return [*lines, "No recommendation: no size has both a cold start and a cost.", ""]
    chosen = next(s for s in found.scores if s.memory_mb == found.recommended_mb)
    best = (
        f"Fastest cold start: {found.best_cold_mb:,} MB ({_num(found.best_cold_s, '.2f')} s); "
        f"cheapest: {found.cheapest_mb:,} MB ({_num(found.cheapest_per_m, '.3f')} USD per "
        "million)."
    )
    if found.how == "within margin":
        why = (
            f"{found.recommended_mb:,} MB is the smallest size within {found.margin:.0%} of both "
            f"(cold start {chosen.cold_ratio:.2f}x the best, cost {chosen.cost_ratio:.2f}x the "
            f"cheapest); within on both: {', '.join(f'{mb:,}' for mb in found.within)} MB."
        )
    else:
        ranked = sorted(found.scores, key=lambda s: (s.worst, s.memory_mb))
        runner = ranked[1] if len(ranked) > 1 else None
        nxt = (
            f"; next: {runner.memory_mb:,} MB at {runner.worst:.2f}x" if runner is not None else ""
        )
        why = (
            f"No size is within {found.margin:.0%} of both, so the compromise: "
            f"{found.recommended_mb:,} MB has the smallest worse ratio, {chosen.worst:.2f}x "
            f"(cold start {chosen.cold_ratio:.2f}x the best, cost {chosen.cost_ratio:.2f}x the "
            f"cheapest){nxt}."
        )
    lines += [
        best,
        "",
        f"Recommended `FrontMemorySize`: **{found.recommended_mb:,} MB**. {why}",
        "",
    ]
    current = section.template_default_mb
    if current == found.recommended_mb:
        return [*lines, f"The template's default ({current} MB) already is that size.", ""]
    default = next((p for p in section.points if p.memory_mb == current), None)
    pick = next((p for p in section.points if p.memory_mb == found.recommended_mb), None)
    if (
        default is not None
        and pick is not None
        and pick is not default
        and default.cold_median_s is not None
        and pick.cold_median_s is not None
        and default.cost_per_m is not None
        and pick.cost_per_m is not None
    ):
        lines += [
            f"Against the template's default ({current} MB): cold start "
            f"{default.cold_median_s:.2f} s -> {pick.cold_median_s:.2f} s, cost "
            f"{default.cost_per_m:.3f} -> {pick.cost_per_m:.3f} USD per million requests "
            f"({pick.cost_per_m - default.cost_per_m:+.3f}).",
            "",
        ]
    return lines


def _sensitivity_lines(section: FrontMemory) -> list[str]:
    """The rule re-applied with a slower endpoint behind the front (:func:`with_slower_endpoint`)."""
    if section.recommended_mb is None:
        return []
    lines = [
        "**With a slower endpoint.** The front waits for the endpoint, so the endpoint's time is "
        "billed at the front's memory and a slower model makes the large sizes dearer. The rule "
        "re-applied with every billed request lengthened by the endpoint's extra time (QA's "
        "endpoint answered in ~240 ms in the project's bench, NER's in ~13 ms):",
        "",
        "| endpoint slower by | recommended | how | cold / best | cost / cheapest | cheapest |",
        "|---:|---:|---|---:|---:|---:|",
    ]
    for extra in (0.0, *SLOWER_ENDPOINT_MS):
        found = section.recommendation if extra == 0 else with_slower_endpoint(section, extra)
        chosen = next((s for s in found.scores if s.memory_mb == found.recommended_mb), None)
        if chosen is None:
            continue
        lines.append(
            f"| {extra:.0f} ms | {found.recommended_mb:,} MB | {found.how} "
            f"| {chosen.cold_ratio:.2f} | {chosen.cost_ratio:.2f} | {found.cheapest_mb:,} MB |"
        )
    return [*lines, ""]


def markdown(section: FrontMemory | Skipped | Failed) -> list[str]:
    """The section's table and the recommendation with its rule, as lines of Markdown."""
    lines = ["## Design 1's front function: memory size", ""]
    if isinstance(section, Skipped):
        return [*lines, f"Skipped: {section.reason}.", ""]
    if isinstance(section, Failed):
        return [*lines, f"Not measured: {section.error}", ""]
    plan = section.plan
    steal = "" if section.steal is None else f", CPU steal {section.steal:.1%}"
    gb_second = f"{section.gb_second:.10f}".rstrip("0")
    direct = (
        ""
        if not section.busy_direct_ms
        else f" (direct, back-to-back: p50 {percentile(section.busy_direct_ms, 50):.1f} ms)"
    )
    lines += [
        f"The front ({section.front_image}) under the Lambda RIE at each memory size, with "
        f"`--memory` and Lambda's CPU share (`--cpus` = memory / {MB_PER_VCPU}), in front of "
        f"the SageMaker runtime stand-in and the NER image in serving mode "
        f"({section.endpoint_image}, {section.endpoint_memory_mb} MB, {section.endpoint_cpus} "
        f"CPUs, {section.serve_workers} worker(s)){direct}. NER is the model behind it: the "
        "lighter model, whose endpoint answers fastest, so the front's own share shows most.",
        "",
        f"- **Cold start**: `docker run` of the front to its first answer through it (endpoint "
        f"up), {plan.cold_reps} per size, the sizes' order rotating per repetition.",
        f"- **Overhead, sparse**: {plan.sparse_rounds} rounds (after {plan.warmup_rounds} "
        f"untimed), each sending one of {section.distinct_inputs} ~{section.input_words}-word "
        "NER texts straight to the endpoint and through every size's warm front, in rotating "
        "order; a request's overhead is its time through the front minus the direct call's in "
        "the same round (the RIE, the handler and botocore, the stand-in's hop, all on one "
        "machine: no real network). Each front idles between its requests: a lightly used "
        "environment.",
        f"- **Overhead, back-to-back**: {plan.busy_passes} pass(es) of {plan.busy_block}-request "
        "blocks, one block per size and one direct, rotating; a block's p50 (p90) minus the "
        "direct blocks' p50 (p90). An environment kept busy by steady traffic, where a small CPU "
        "share runs out of quota (CFS: `--cpus` x 100 ms of CPU per 100 ms). The front's CPU "
        "time per request and the share of CFS periods throttled are from its cgroup.",
        f"- **Cost** (bench/cost.py `per_request`, {gb_second} USD per GB-s, "
        f"{section.per_million_requests} USD per million requests): the front is billed for its "
        "whole request, waiting for the endpoint included, so the billed ms is the mean of the "
        "back-to-back requests' times through the front, each rounded up to the ms (at volume, "
        f"environments are busy); *with cold*: {section.cold_fraction:.0%} of requests also pay "
        "the cold start as billed init. The endpoint's own cost is the same at every size and "
        "left out.",
        "",
        "Caveat: `--cpus` throttles the front's init here as much as its requests. On Lambda, "
        "third-party measurements report init code running faster than handler code at small "
        "memory sizes (not an AWS-documented guarantee), so real cold starts at the small sizes "
        "may be shorter than these; the warm overhead and the cost are throttled on Lambda too.",
        "",
        f"Measured on {section.machine.cpu} ({section.machine.cores} CPUs, shared), "
        f"{section.date}, plan {plan.name}, {section.elapsed_s:.0f} s; 1-minute load average "
        f"{section.load_avg[0]:.2f} -> {section.load_avg[1]:.2f}{steal}.",
        "",
    ]
    found = section.recommendation
    lines += _table(section, found)
    lines.append("")
    notes = []
    for p in section.points:
        if p.warm_error:
            notes.append(f"{p.memory_mb} MB warm: {p.warm_error}")
        if p.warm_errors or p.mismatches:
            notes.append(
                f"{p.memory_mb} MB: {p.warm_errors} error(s), {p.mismatches} answer(s) differing "
                "from the direct call"
            )
        notes += [f"{p.memory_mb} MB cold start failed: {f}" for f in p.cold_failures[:2]]
    if notes:
        lines += [f"- {n}" for n in notes] + [""]
    lines += _recommendation_lines(section, found)
    lines += _sensitivity_lines(section)
    lines += [f"![The front's cold start, warm overhead and cost against memory]({PLOT_NAME})", ""]
    return lines


def plot(section: FrontMemory, out: Path) -> str:
    """``front_memory.png`` in ``out``: cold start, warm overhead (sparse and back-to-back, p50
    and p90) and cost per million against memory, the recommended size marked; returns the
    file's name."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    found = section.recommendation
    points = section.points
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2), sharex=True)
    cold_ax, warm_ax, cost_ax = axes

    def series(values: Sequence[float | None]) -> tuple[list[int], list[float]]:
        pairs = [(p.memory_mb, v) for p, v in zip(points, values, strict=True) if v is not None]
        return [x for x, _ in pairs], [y for _, y in pairs]

    xs, ys = series([p.cold_median_s for p in points])
    cold_ax.plot(xs, ys, marker="o", color="tab:blue", label="median")
    for p in points:
        cold_ax.scatter([p.memory_mb] * len(p.cold_s), p.cold_s, s=10, color="tab:blue", alpha=0.4)
    cold_ax.set(ylabel="seconds", title="Cold start (docker run to first answer)")
    for label, values, style, color in (
        ("sparse p50", [p.sparse_overhead_p50_ms for p in points], "-", "tab:orange"),
        ("sparse p90", [p.sparse_overhead_p90_ms for p in points], "--", "tab:orange"),
        ("back-to-back p50", [p.busy_overhead_p50_ms for p in points], "-", "tab:purple"),
        ("back-to-back p90", [p.busy_overhead_p90_ms for p in points], "--", "tab:purple"),
    ):
        xs, ys = series(values)
        warm_ax.plot(xs, ys, marker="o", linestyle=style, color=color, label=label)
    warm_ax.set(ylabel="ms", title="Warm overhead per request (front - direct)")
    for label, values, style in (
        (f"with {section.cold_fraction:.0%} cold", [p.cost_per_m for p in points], "-"),
        ("warm only", [p.cost_warm_per_m for p in points], ":"),
    ):
        xs, ys = series(values)
        cost_ax.plot(xs, ys, marker="o", linestyle=style, color="tab:green", label=label)
    cost_ax.set(ylabel="USD per million requests", title="Front's cost per request")
    for ax in axes:
        ax.set_xscale("log", base=2)
        ax.set_xticks([p.memory_mb for p in points])
        ax.set_xticklabels([str(p.memory_mb) for p in points], fontsize=8)
        ax.set_xlabel("memory MB (vCPUs = MB / 1769)")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        if found.recommended_mb is not None:
            ax.axvline(found.recommended_mb, color="tab:red", linestyle="--", linewidth=1)
            first = found.recommended_mb == min(p.memory_mb for p in points)
            ax.annotate(
                f"recommended: {found.recommended_mb} MB",
                xy=(found.recommended_mb, 0.03),
                xycoords=("data", "axes fraction"),
                xytext=(4 if first else -4, 0),
                textcoords="offset points",
                ha="left" if first else "right",
                va="bottom",
                fontsize=7,
                color="tab:red",
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8},
            )
        ax.legend(fontsize=7, loc="best")
    fig.suptitle(
        f"Design 1 front function vs memory ({section.machine.cpu}, {section.date[:10]}, "
        f"plan {section.plan.name}; NER endpoint behind it)",
        fontsize=9,
    )
    fig.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / PLOT_NAME, dpi=90)
    plt.close(fig)
    return PLOT_NAME


# --- measuring --------------------------------------------------------------------------------


def rotated(items: Sequence[T], by: int) -> list[T]:
    """``items`` rotated left by ``by``: a different one first from one round to the next."""
    shift = by % len(items) if items else 0
    return [*items[shift:], *items[:shift]]


def _run_text(run: ContainerRun | Failed) -> str:
    if isinstance(run, Failed):
        return f"failed: {run.error[-200:]}"
    if run.status == 200:
        return f"{run.seconds:.2f} s"
    return f"{run.seconds:.2f} s, status {run.status}: {run.body[:120]}"


def measure_cold(
    stack: Stack, image: str, runtime: Container, plan: FrontMemoryPlan, started: float
) -> tuple[dict[int, list[float]], dict[int, list[str]]]:
    """``plan.cold_reps`` cold starts per size, the sizes rotating; seconds of those answered
    200, and the failures."""
    prime = front_cold(stack, image, runtime, -1, MB_PER_VCPU)
    progress(f"untimed cold start (page cache): {_run_text(prime)}")
    seconds: dict[int, list[float]] = {mb: [] for mb in plan.sizes_mb}
    failures: dict[int, list[str]] = {mb: [] for mb in plan.sizes_mb}
    for rep in range(plan.cold_reps):
        for mb in rotated(plan.sizes_mb, rep):
            run = front_cold(stack, image, runtime, rep, mb)
            if isinstance(run, ContainerRun) and run.status == 200:
                seconds[mb].append(run.seconds)
            else:
                failures[mb].append(_run_text(run))
            progress(
                f"cold start {rep + 1}/{plan.cold_reps} at {mb} MB: {_run_text(run)} "
                f"({time.perf_counter() - started:.0f} s)"
            )
    return seconds, failures


def cgroup_cpu(container: str) -> CpuStat | None:
    """The container's CPU counters from the host's cgroup files (v1 cgroupfs or systemd, or
    v2); None where they cannot be read."""
    found = docker("inspect", "-f", "{{.Id}}", container)
    ident = found.stdout.strip()
    if found.returncode != 0 or not ident:
        return None
    root = Path("/sys/fs/cgroup")
    v1 = [("docker", ident), ("system.slice", f"docker-{ident}.scope")]
    for parent, leaf in v1:
        stat, usage = root / "cpu" / parent / leaf / "cpu.stat", root / "cpuacct" / parent / leaf
        try:
            return parse_cpu_stat(
                stat.read_text(), int((usage / "cpuacct.usage").read_text().strip())
            )
        except (OSError, ValueError):
            continue
    for parent, leaf in (("system.slice", f"docker-{ident}.scope"), ("docker", ident)):
        try:
            return parse_cpu_stat((root / parent / leaf / "cpu.stat").read_text())
        except OSError:
            continue
    return None


@dataclass
class Front:
    """One warm front and what its requests gave, filled as they run."""

    target: Target
    name: str
    sparse_ms: list[float] = field(default_factory=list)
    sparse_direct_ms: list[float] = field(default_factory=list)
    busy_ms: list[float] = field(default_factory=list)
    cpu: CpuStat | None = CpuStat(0, 0, 0)  # summed over the back-to-back blocks; None: unread
    errors: int = 0
    first_error: str | None = None
    mismatches: int = 0

    def take(self, answer: Answer, reference: Any) -> bool:
        """Count ``answer``; True when it is a 200 (its time is then the caller's to keep)."""
        if answer.status != 200:
            self.errors += 1
            self.first_error = self.first_error or f"{answer.status}: {answer.text[:160]}"
            return False
        self.mismatches += not same(answer.body, reference)
        return True


def start_fronts(
    stack: Stack,
    image: str,
    runtime: Container,
    inputs: Sequence[dict[str, Any]],
    sizes: Sequence[int],
) -> tuple[dict[int, Front], dict[int, str]]:
    """One warm front per size, all up at once; the sizes whose front never answered."""
    fronts: dict[int, Front] = {}
    failed: dict[int, str] = {}
    for mb in sizes:
        try:
            box = stack.start(
                f"warm-front-{mb}", image, flags=lambda_flags(mb), env=front_env(runtime.name, mb)
            )
            fronts[mb] = Front(Target(box.url, ROUTE, rie=True), box.name)
        except RuntimeError as exc:
            failed[mb] = str(exc)[-300:]
    deadline = time.time() + START_TIMEOUT_S
    for mb, front in list(fronts.items()):
        try:
            wait_ready(front.target, inputs[0], deadline)
        except (RuntimeError, OSError) as exc:
            failed[mb] = f"not ready: {str(exc)[-300:]}"
            del fronts[mb]
    return fronts, failed


def measure_sparse(
    fronts: Mapping[int, Front],
    direct: Target,
    inputs: Sequence[dict[str, Any]],
    plan: FrontMemoryPlan,
) -> None:
    """Rounds of one input direct and through every front, the order rotating."""
    paths: list[int | None] = [None, *fronts]  # None: the direct call
    for r in range(plan.warmup_rounds + plan.sparse_rounds):
        body = inputs[r % len(inputs)]
        answers: dict[int | None, Answer] = {}
        for path in rotated(paths, r):
            answers[path] = direct(body) if path is None else fronts[path].target(body)
        reference = answers[None]
        if r < plan.warmup_rounds or reference.status != 200:
            continue  # no pair this round
        for mb, front in fronts.items():
            if front.take(answers[mb], reference.body):
                front.sparse_ms.append(answers[mb].seconds * 1000)
                front.sparse_direct_ms.append(reference.seconds * 1000)


def measure_busy(
    fronts: Mapping[int, Front],
    direct: Target,
    inputs: Sequence[dict[str, Any]],
    references: Sequence[Any],
    plan: FrontMemoryPlan,
) -> list[float]:
    """Blocks of back-to-back requests, one per front and one direct per pass, rotating; the
    fronts' CPU counters read around their blocks. The direct blocks' ms."""
    direct_ms: list[float] = []
    paths: list[int | None] = [None, *fronts]
    for n in range(plan.busy_passes):
        for path in rotated(paths, n):
            front = None if path is None else fronts[path]
            before = None if front is None else cgroup_cpu(front.name)
            for i in range(plan.busy_block):
                k = i % len(inputs)
                if front is None:
                    answer = direct(inputs[k])
                    if answer.status == 200:
                        direct_ms.append(answer.seconds * 1000)
                    continue
                answer = front.target(inputs[k])
                if front.take(answer, references[k]):
                    front.busy_ms.append(answer.seconds * 1000)
            if front is not None:
                after = cgroup_cpu(front.name)
                total = front.cpu
                front.cpu = (
                    None
                    if total is None or before is None or after is None
                    else CpuStat(
                        total.usage_ns + after.usage_ns - before.usage_ns,
                        total.periods + after.periods - before.periods,
                        total.throttled + after.throttled - before.throttled,
                    )
                )
    return direct_ms


def measure(plan: FrontMemoryPlan, images: Mapping[str, str]) -> FrontMemory:
    started = time.perf_counter()
    date = datetime.now(UTC).isoformat(timespec="seconds")
    host = machine()
    meter = StealMeter()
    load_start = os.getloadavg()[0]
    prices: Prices = load_prices()
    gb_second = prices["lambda"]["gb_second"]
    per_million = prices["lambda"]["per_million_requests"]
    inputs = ner_inputs()
    stack = Stack()
    stack.prefix = stack.network = f"lambda-nlp-bench-front-memory-{os.getpid()}"
    with stack:
        progress(
            f"starting {images[SERVICE]} with serve ({MEMORY_MB} MB, {cpus_for(MEMORY_MB)} CPUs) "
            f"and the SageMaker runtime stand-in on network {stack.network}"
        )
        serve = stack.start("ner-serve", images[SERVICE], ["serve"], lambda_flags(MEMORY_MB))
        runtime = start_runtime(
            stack, images["base"], f"{ENDPOINTS[SERVICE]}=http://{serve.name}:8080"
        )
        deadline = time.time() + START_TIMEOUT_S
        wait_ping(serve, deadline)
        wait_log(runtime, "listening", deadline)
        direct = Target(serve.url, ROUTE, rie=False)
        wait_ready(direct, inputs[0], deadline)
        references = []
        for body in inputs:
            answer = direct(body)
            if answer.status != 200:
                raise RuntimeError(f"the endpoint answered {answer.status}: {answer.text}")
            references.append(answer.body)
        workers = serve_workers(serve)
        progress(
            f"endpoint up ({time.perf_counter() - started:.0f} s, {workers} worker(s)); cold "
            f"starts: {plan.cold_reps} per size at {', '.join(map(str, plan.sizes_mb))} MB"
        )
        cold, cold_failures = measure_cold(stack, images["front"], runtime, plan, started)
        fronts, failed = start_fronts(stack, images["front"], runtime, inputs, plan.sizes_mb)
        progress(
            f"warm fronts up: {', '.join(map(str, fronts))} MB"
            + (f"; not up: {', '.join(map(str, failed))} MB" if failed else "")
            + f". Sparse: {plan.sparse_rounds} rounds (+{plan.warmup_rounds} untimed) x "
            f"{len(fronts) + 1} paths ({time.perf_counter() - started:.0f} s)"
        )
        measure_sparse(fronts, direct, inputs, plan)
        progress(
            f"back-to-back: {plan.busy_passes} pass(es) x {len(fronts) + 1} blocks of "
            f"{plan.busy_block} ({time.perf_counter() - started:.0f} s)"
        )
        busy_direct = measure_busy(fronts, direct, inputs, references, plan)
    points = []
    for mb in plan.sizes_mb:
        front = fronts.get(mb)
        cpu_ms, throttled = (
            (None, None)
            if front is None
            else cpu_figures(CpuStat(0, 0, 0), front.cpu, len(front.busy_ms))
        )
        found = point(
            mb,
            cold=cold[mb],
            cold_failures=cold_failures[mb],
            sparse_ms=front.sparse_ms if front else (),
            sparse_direct_ms=front.sparse_direct_ms if front else (),
            busy_ms=front.busy_ms if front else (),
            busy_direct_ms=busy_direct,
            gb_second=gb_second,
            per_million_requests=per_million,
            cold_fraction=COLD_FRACTION,
            cpu_ms_per_request=cpu_ms,
            throttled_share=throttled,
            warm_error=failed.get(mb) or (front.first_error if front else None),
            warm_errors=front.errors if front else 0,
            mismatches=front.mismatches if front else 0,
        )
        progress(
            f"{mb} MB: cold {_num(found.cold_median_s, '.2f')} s; overhead sparse "
            f"{_pair(found.sparse_overhead_p50_ms, found.sparse_overhead_p90_ms)} ms, "
            f"back-to-back {_pair(found.busy_overhead_p50_ms, found.busy_overhead_p90_ms)} ms; "
            f"CPU {_num(found.cpu_ms_per_request, '.1f')} ms per request, throttled "
            f"{_num(found.throttled_share, '.0%')}; {_num(found.cost_per_m, '.3f')} USD per M"
        )
        points.append(found)
    return FrontMemory(
        plan=plan,
        machine=host,
        date=date,
        front_image=images["front"],
        endpoint_image=images[SERVICE],
        endpoint_memory_mb=MEMORY_MB,
        endpoint_cpus=cpus_for(MEMORY_MB),
        serve_workers=workers,
        input_words=round(sum(input_words(SERVICE, b) for b in inputs) / len(inputs)),
        distinct_inputs=len(inputs),
        gb_second=gb_second,
        per_million_requests=per_million,
        cold_fraction=COLD_FRACTION,
        margin=MARGIN,
        points=tuple(points),
        busy_direct_ms=tuple(round(ms, 2) for ms in busy_direct),
        steal=meter.share(),
        load_avg=(load_start, os.getloadavg()[0]),
        elapsed_s=round(time.perf_counter() - started, 1),
        template_default_mb=template_default(TEMPLATE.read_text()) if TEMPLATE.exists() else None,
    )


def run_front_memory(plan: str) -> FrontMemory | Skipped | Failed:
    """Measure the ``plan`` (quick or full); Skipped without an engine or the images, Failed
    (with the error's last line) when the setting itself did not come up."""
    chosen = PLANS[plan]
    reason = containers.docker_status()
    if reason:
        return Skipped(reason)
    images = {SERVICE: IMAGES[SERVICE], "front": FRONT_IMAGE, "base": BASE_IMAGE}
    missing = [tag for tag in images.values() if image_size(tag) is None]
    if missing:
        return Skipped(f"image(s) not built: {', '.join(missing)} (make images DESIGN=1)")
    try:
        return measure(chosen, images)
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        return Failed(f"{type(exc).__name__}: {str(exc)[-300:]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.front_memory", description=__doc__)
    parser.add_argument("--plan", choices=sorted(PLANS), default="full")
    parser.add_argument(
        "--json", type=Path, default=Path("build/front_memory.json"), help="where the JSON goes"
    )
    parser.add_argument("--out", type=Path, default=Path("build"), help="where the PNG goes")
    parser.add_argument(
        "--from-json", type=Path, help="render a saved JSON (Markdown and PNG); measure nothing"
    )
    args = parser.parse_args(argv)
    if args.from_json:
        section = section_from_json(json.loads(args.from_json.read_text()))
    else:
        section = run_front_memory(args.plan)
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(section.to_json(), indent=1) + "\n")
        progress(f"wrote {args.json}")
    if isinstance(section, FrontMemory):
        name = plot(section, args.out)
        progress(f"wrote {args.out / name}; elapsed {section.elapsed_s:.0f} s")
    print("\n".join(markdown(section)))
    return 0 if isinstance(section, FrontMemory) else 1


if __name__ == "__main__":
    sys.exit(main())
