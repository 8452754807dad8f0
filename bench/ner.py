"""NER: handler overhead vs bare spaCy, batch throughput, and what loading only ``ner`` saves.

The handler's overhead is about 1 ms on 9-10 ms, so on a shared machine one pass of sequential
blocks can move it by several points. It is measured in ``rounds``: in each round every single-
text path runs once per iteration, interleaved (the order rotates from round to round), and the
round's overhead is the ratio of its p50s. The figure is the median over rounds, with every
round's value beside it. Process CPU time is taken too: it leaves out the time other jobs hold
the cores, so its overhead is the steadier check on a busy machine. Each round also reads the
CPU steal (bench.machine.StealMeter) beside its figures.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from typing import Any

from bench.machine import StealMeter
from bench.records import Latency, NerOverhead, NerRound, NerRun, NerSpec, Throughput
from bench.stats import summarize

TEXT_100_WORDS = (
    "On Tuesday, Siemens announced that Roland Busch would open a research centre in Munich "
    "with the Technical University of Munich, backed by 250 million euros from the Bavarian "
    "government. Speaking in Berlin, Chancellor Olaf Scholz said the project would create "
    "1,200 jobs by 2028. Analysts at Goldman Sachs in London expect similar investments from "
    "BMW and Infineon. The announcement followed a visit by Ursula von der Leyen to the "
    "company's plant in Erlangen last March. Microsoft and Google already run laboratories in "
    "the city, and the European Commission has promised further funding through the Horizon "
    "Europe programme before the end of the year."
)


def _timed(fn: Callable[[], Any], reps: int) -> Latency:
    fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return summarize(times)


def _single_rounds(
    paths: dict[str, Callable[[], Any]], *, rounds: int, reps: int
) -> tuple[dict[str, Latency], NerOverhead]:
    """Every path ``reps`` times per round, interleaved; pooled summaries and per-round overhead.

    The overhead of a round is handler p50 / bare ner-only p50 - 1, in wall-clock time and in
    process CPU time. Returns (summary per path over all rounds, the overhead figures).
    """
    names = list(paths)
    for fn in paths.values():
        fn()
    wall: dict[str, list[float]] = {name: [] for name in names}
    per_round: list[NerRound] = []
    for index in range(rounds):
        order = names[index % len(names) :] + names[: index % len(names)]
        w: dict[str, list[float]] = {name: [] for name in names}
        cpu: dict[str, list[float]] = {name: [] for name in names}
        meter = StealMeter()
        for _ in range(reps):
            for name in order:
                c0, t0 = time.process_time(), time.perf_counter()
                paths[name]()
                w[name].append(time.perf_counter() - t0)
                cpu[name].append(time.process_time() - c0)
        for name in names:
            wall[name].extend(w[name])
        p50 = {name: statistics.median(v) * 1000 for name, v in w.items()}
        cpu50 = {name: statistics.median(v) * 1000 for name, v in cpu.items()}
        per_round.append(
            NerRound(
                bare_ner_only_ms=p50["bare_ner_only"],
                handler_ms=p50["handler"],
                overhead=p50["handler"] / p50["bare_ner_only"] - 1,
                cpu_bare_ner_only_ms=cpu50["bare_ner_only"],
                cpu_handler_ms=cpu50["handler"],
                cpu_overhead=cpu50["handler"] / cpu50["bare_ner_only"] - 1,
                steal=meter.share(),
            )
        )
    overheads = [r.overhead for r in per_round]
    cpu_overheads = [r.cpu_overhead for r in per_round]
    overhead = NerOverhead(
        rounds=rounds,
        reps_per_round=reps,
        median=statistics.median(overheads),
        min=min(overheads),
        max=max(overheads),
        median_ms=statistics.median(r.handler_ms - r.bare_ner_only_ms for r in per_round),
        cpu_median=statistics.median(cpu_overheads),
        cpu_min=min(cpu_overheads),
        cpu_max=max(cpu_overheads),
        per_round=tuple(per_round),
    )
    return {name: summarize(v) for name, v in wall.items()}, overhead


def run_ner(spec: NerSpec, spawned: float) -> NerRun:
    """Measure in one process (``spawned``: when the parent spawned it)."""
    os.environ.setdefault("SERVICES", "ner")
    reps, n_texts, model = spec.reps, spec.batch_texts, spec.model
    t0 = time.perf_counter()
    import spacy

    from app.ner.service import NerService

    import_s = time.perf_counter() - t0
    loads: dict[str, list[float]] = {"full": [], "ner_only": []}
    for _ in range(3):
        t0 = time.perf_counter()
        full = spacy.load(model)
        loads["full"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        service = NerService.load(model)
        loads["ner_only"].append(time.perf_counter() - t0 - service.load_seconds["warmup"])
    ner_only = service._nlp

    import app.main
    from app.function_url import LambdaContext, function_url_event

    event = function_url_event("POST", "/ner", {"text": TEXT_100_WORDS}, request_id="bench")
    context = LambdaContext(aws_request_id="bench")

    def via_handler() -> None:
        response = app.main.handler(event, context)
        if response["statusCode"] != 200:
            raise RuntimeError(response["body"])

    single, overhead = _single_rounds(
        {
            "bare_full": lambda: full(TEXT_100_WORDS),
            "bare_ner_only": lambda: ner_only(TEXT_100_WORDS),
            "service_extract": lambda: service.extract(TEXT_100_WORDS),
            "handler": via_handler,
        },
        rounds=spec.rounds,
        reps=max(5, reps // 2),
    )
    texts = [TEXT_100_WORDS] * n_texts
    words = sum(len(t.split()) for t in texts)
    batch_event = function_url_event("POST", "/ner/batch", {"texts": texts}, request_id="bench")

    def batch_handler() -> None:
        if app.main.handler(batch_event, context)["statusCode"] != 200:
            raise RuntimeError("batch failed")

    batch_reps = max(3, reps // 40)
    batch = {
        "pipe_full": _timed(lambda: list(full.pipe(texts, batch_size=32)), batch_reps),
        "pipe_ner_only": _timed(lambda: list(ner_only.pipe(texts, batch_size=32)), batch_reps),
        "handler_batch": _timed(batch_handler, batch_reps),
    }
    return NerRun(
        text_words=len(TEXT_100_WORDS.split()),
        batch_texts=n_texts,
        import_spacy_s=import_s,
        load_s={k: min(v) for k, v in loads.items()},
        components={"full": tuple(full.pipe_names), "ner_only": tuple(ner_only.pipe_names)},
        single=single,
        overhead=overhead,
        batch={name: Throughput.of(item, words) for name, item in batch.items()},
        spawned=spawned,
    )
