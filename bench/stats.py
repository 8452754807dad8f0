"""Latency summaries (seconds in, milliseconds out)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bench.records import AnswerLatency, Latency, QaRun


def summarize(seconds: Sequence[float]) -> Latency:
    """p50/p90/mean/min in ms and the sample count."""
    ms = np.asarray(seconds, dtype=np.float64) * 1000.0
    return Latency(
        p50_ms=float(np.percentile(ms, 50)),
        p90_ms=float(np.percentile(ms, 90)),
        mean_ms=float(ms.mean()),
        min_ms=float(ms.min()),
        n=int(ms.size),
    )


def pooled(runs: Sequence[QaRun]) -> QaRun:
    """One QA engine's rounds as one run: every statistic over all rounds' calls."""
    first = runs[0]
    samples = {k: tuple(s for r in runs for s in r.samples[k]) for k in first.samples}
    return QaRun(
        load_s=sorted(r.load_s for r in runs)[len(runs) // 2],
        forward={k: summarize(samples[f"forward/{k}"]) for k in first.forward},
        e2e={
            k: AnswerLatency.of(
                summarize(samples[f"e2e/{k}"]), sum(r.e2e[k].answer_found for r in runs)
            )
            for k in first.e2e
        },
        spawned=first.spawned,
        samples=samples,
        steal=tuple(s for r in runs for s in r.steal),
    )
