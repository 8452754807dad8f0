"""Latency summaries (seconds in, milliseconds out)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bench.records import Latency


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
