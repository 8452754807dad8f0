"""The bench's QA rounds: each engine's rounds pool into one run over all their calls."""

from __future__ import annotations

import json

import numpy as np

from bench.records import AnswerLatency, Latency, QaRun
from bench.run import FULL, _per_round
from bench.stats import pooled, summarize


def _run(forward_s: list[float], e2e_s: list[float], found: int, load_s: float) -> QaRun:
    return QaRun(
        load_s=load_s,
        forward={"128": summarize(forward_s)},
        e2e={"150": AnswerLatency.of(summarize(e2e_s), answer_found=found)},
        spawned=100.0 + load_s,
        samples={"forward/128": tuple(forward_s), "e2e/150": tuple(e2e_s)},
    )


def test_bench_rounds_pool_every_call_not_the_rounds_medians() -> None:
    rounds = [
        _run([0.10, 0.11, 0.12], [0.40, 0.41], 1, 2.0),
        _run([0.30, 0.31, 0.32], [0.50, 0.90], 0, 1.0),
        _run([0.13, 0.14, 0.15], [0.42, 0.43], 2, 3.0),
    ]
    run = pooled(rounds)
    calls = [0.10, 0.11, 0.12, 0.30, 0.31, 0.32, 0.13, 0.14, 0.15]
    assert run.forward["128"] == summarize(calls)
    assert run.forward["128"].p50_ms == np.median(calls) * 1000  # 140 ms, not the median p50
    assert run.e2e["150"].n == 6 and run.e2e["150"].answer_found == 3
    assert run.load_s == 2.0  # the median round's
    # The pooled run survives report.json.
    again = QaRun.from_json(json.loads(json.dumps(run.to_json())))
    assert again == run
    assert isinstance(again.forward["128"], Latency)


def test_bench_a_run_from_before_the_rounds_still_reads() -> None:
    old = _run([0.1, 0.2], [0.3], 0, 1.0).to_json()
    del old["samples"]
    assert QaRun.from_json(old).samples == {}


def test_bench_full_plan_splits_its_repetitions_over_three_rounds() -> None:
    assert FULL.qa_rounds == 3
    assert _per_round(FULL.forward_reps, 3) * 3 == FULL.forward_reps
    assert [_per_round(reps, 3) for _, reps in FULL.sizes] == [3, 3, 2, 1, 1]


def test_bench_measures_fp32_capped_at_avx2_only_where_the_cap_changes_something() -> None:
    from bench.run import QA_ENGINES, qa_engines

    assert qa_engines(["avx", "avx2", "fma"]) == QA_ENGINES
    capped = qa_engines(["avx2", "avx512f", "avx512_vnni"])
    assert capped["project-fp32-avx2"] == ("project-fp32", {"DNNL_MAX_CPU_ISA": "AVX2"})
