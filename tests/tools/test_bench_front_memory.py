"""The front-memory section's pure parts: cost, the recommendation rule, a point's summary, JSON
and Markdown, and the plot from a hand-made section. Nothing is timed; no Docker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.front_memory import (
    FULL,
    PLOT_NAME,
    QUICK,
    CpuStat,
    FrontMemory,
    MemoryPoint,
    billed_ms,
    costs_per_m,
    cpu_figures,
    markdown,
    parse_cpu_stat,
    plot,
    point,
    recommend,
    rotated,
    section_from_json,
    template_default,
    with_slower_endpoint,
)
from bench.records import Failed, Machine, Skipped

GB_SECOND = 0.0000166667
PER_M = 0.20
DIRECT = [30.0, 31.0, 29.0]
#: memory MB -> (cold starts s, sparse ms per round, back-to-back ms), made up: the cold start
#: falls with the CPU share until one vCPU, the overhead falls too, the cost rises with memory.
SAMPLES: dict[int, tuple[list[float], list[float], list[float]]] = {
    128: ([4.1, 4.3, 4.0], [36.0, 37.0, 38.0], [95.0, 110.0, 140.0]),
    256: ([2.2, 2.1, 2.3], [35.0, 36.0, 37.0], [55.0, 60.0, 80.0]),
    512: ([1.2, 1.3, 1.2], [35.0, 36.0, 37.0], [42.0, 44.0, 50.0]),
    1024: ([0.85, 0.9, 0.8], [35.0, 36.0, 36.0], [37.0, 38.0, 40.0]),
    1769: ([0.7, 0.72, 0.69], [35.0, 35.0, 36.0], [35.0, 36.0, 37.0]),
    3008: ([0.69, 0.7, 0.71], [35.0, 35.0, 36.0], [35.0, 35.5, 36.0]),
}


def _point(mb: int, **changes: object) -> MemoryPoint:
    cold, sparse, busy = SAMPLES[mb]
    made = point(
        mb,
        cold=cold,
        sparse_ms=sparse,
        sparse_direct_ms=DIRECT,
        busy_ms=busy,
        busy_direct_ms=DIRECT,
        gb_second=GB_SECOND,
        per_million_requests=PER_M,
        cpu_ms_per_request=3.0,
        throttled_share=0.5 if mb < 512 else 0.0,
    )
    return MemoryPoint(**{**made.__dict__, **changes})


def _bare(mb: int, cold_s: float | None, cost: float | None) -> MemoryPoint:
    """A point carrying only what the rule reads."""
    return MemoryPoint(
        memory_mb=mb,
        cpus="0.10",
        cold_s=(),
        cold_failures=(),
        cold_median_s=cold_s,
        sparse_ms=(),
        sparse_direct_ms=(),
        sparse_p50_ms=None,
        sparse_overhead_p50_ms=None,
        sparse_overhead_p90_ms=None,
        busy_ms=(),
        busy_p50_ms=None,
        busy_overhead_p50_ms=None,
        busy_overhead_p90_ms=None,
        cpu_ms_per_request=None,
        throttled_share=None,
        billed_ms=None,
        cost_warm_per_m=cost,
        cost_per_m=cost,
        warm_error=None,
        warm_errors=0,
        mismatches=0,
    )


def _section(points: list[MemoryPoint]) -> FrontMemory:
    host = Machine(
        cpu="AMD EPYC (test)",
        cores=2,
        isa=("avx2",),
        python="3.11.9",
        kernel="6.1",
        load_avg_start=(1.0, 1.0, 1.0),
        versions={"numpy": "1.26.4"},
    )
    return FrontMemory(
        plan=FULL,
        machine=host,
        date="2026-11-25T12:00:00+00:00",
        front_image="lambda-nlp/front:latest",
        endpoint_image="lambda-nlp/ner:latest",
        endpoint_memory_mb=3008,
        endpoint_cpus="1.70",
        serve_workers=1,
        input_words=100,
        distinct_inputs=4,
        gb_second=GB_SECOND,
        per_million_requests=PER_M,
        cold_fraction=0.01,
        margin=0.10,
        points=tuple(points),
        busy_direct_ms=tuple(DIRECT),
        steal=0.003,
        load_avg=(1.5, 1.7),
        elapsed_s=321.0,
        template_default_mb=256,
    )


def test_costs_per_m_bills_memory_times_duration_plus_the_request_fee() -> None:
    warm, with_cold = costs_per_m(0.05, 1024, 2.0, GB_SECOND, PER_M, cold_fraction=0.01)
    assert warm == pytest.approx((1.0 * 0.05 * GB_SECOND + PER_M / 1e6) * 1e6)
    assert with_cold == pytest.approx(warm + 0.01 * 1.0 * 2.0 * GB_SECOND * 1e6)
    # No cold start measured: the warm figure.
    assert costs_per_m(0.05, 1024, None, GB_SECOND, PER_M)[1] == pytest.approx(warm)


def test_billed_ms_is_the_mean_of_each_request_rounded_up() -> None:
    assert billed_ms([10.1, 10.9, 12.0]) == pytest.approx((11 + 11 + 12) / 3)


def test_point_pairs_sparse_rounds_and_bills_the_back_to_back_requests() -> None:
    p = point(
        512,
        cold=[1.3, 1.1, 1.2],
        cold_failures=("boom",),
        sparse_ms=[40.2, 45.0, 50.0],
        sparse_direct_ms=[30.0, 30.0, 30.0],
        busy_ms=[60.0, 70.0, 80.5],
        busy_direct_ms=[30.0, 32.0, 34.0],
        gb_second=1e-5,
        per_million_requests=0.2,
    )
    assert p.cold_median_s == pytest.approx(1.2)
    assert p.sparse_overhead_p50_ms == pytest.approx(15.0)
    assert p.sparse_overhead_p90_ms == pytest.approx(19.0)  # 80% of the way from 15 to 20
    assert p.sparse_p50_ms == pytest.approx(45.0)
    assert p.busy_overhead_p50_ms == pytest.approx(70.0 - 32.0)
    assert p.busy_overhead_p90_ms == pytest.approx(78.4 - 33.6)
    assert p.billed_ms == pytest.approx((60 + 70 + 81) / 3)
    assert p.billed_ms is not None
    warm, with_cold = costs_per_m(p.billed_ms / 1000, 512, 1.2, 1e-5, 0.2)
    assert (p.cost_warm_per_m, p.cost_per_m) == pytest.approx((warm, with_cold))
    assert p.cpus == "0.29"
    assert p.cold_failures == ("boom",)
    assert p.ranked


def test_point_without_back_to_back_bills_the_sparse_requests() -> None:
    p = point(
        256,
        cold=[2.0],
        sparse_ms=[20.5, 21.5],
        sparse_direct_ms=[15.0, 15.0],
        busy_ms=[],
        busy_direct_ms=[15.0],
        gb_second=1e-5,
        per_million_requests=0.2,
    )
    assert p.billed_ms == pytest.approx(21.5)
    assert p.busy_overhead_p50_ms is None


def test_point_rejects_unpaired_sparse_samples() -> None:
    with pytest.raises(ValueError):
        point(
            512,
            cold=[1.0],
            sparse_ms=[40.0],
            sparse_direct_ms=[],
            busy_ms=[],
            busy_direct_ms=[],
            gb_second=1e-5,
            per_million_requests=0.2,
        )


def test_point_without_warm_or_cold_is_not_ranked() -> None:
    no_cold = point(
        128,
        cold=[],
        sparse_ms=[40.0],
        sparse_direct_ms=[30.0],
        busy_ms=[],
        busy_direct_ms=[],
        gb_second=1e-5,
        per_million_requests=0.2,
    )
    assert not no_cold.ranked
    no_warm = point(
        128,
        cold=[4.0],
        sparse_ms=[],
        sparse_direct_ms=[],
        busy_ms=[],
        busy_direct_ms=[],
        gb_second=1e-5,
        per_million_requests=0.2,
        warm_error="OOM",
    )
    assert not no_warm.ranked
    assert no_warm.cost_per_m is None


def test_cpu_stat_v1_and_v2_and_the_figures_between_two_readings() -> None:
    v1 = "nr_periods 10\nnr_throttled 4\nthrottled_time 123\n"
    assert parse_cpu_stat(v1, usage_ns=5_000_000) == CpuStat(5_000_000, 10, 4)
    assert parse_cpu_stat(v1) is None  # v1 without cpuacct.usage
    v2 = "usage_usec 7000\nuser_usec 5000\nnr_periods 3\nnr_throttled 1\nthrottled_usec 9\n"
    assert parse_cpu_stat(v2) == CpuStat(7_000_000, 3, 1)
    assert parse_cpu_stat("usage_usec 1\n") is None
    before, after = CpuStat(1_000_000, 10, 2), CpuStat(31_000_000, 30, 12)
    assert cpu_figures(before, after, 10) == pytest.approx((3.0, 0.5))
    assert cpu_figures(before, CpuStat(2_000_000, 10, 2), 1) == pytest.approx((1.0, 0.0))
    assert cpu_figures(None, after, 10) == (None, None)


def test_rule_takes_the_smallest_size_within_the_margin_on_both() -> None:
    points = [_bare(256, 2.0, 1.0), _bare(512, 1.05, 1.08), _bare(1024, 1.0, 1.09)]
    found = recommend(points, margin=0.10)
    assert found.how == "within margin"
    assert found.within == (512, 1024)
    assert found.recommended_mb == 512
    assert (found.best_cold_mb, found.cheapest_mb) == (1024, 256)


def test_rule_falls_back_to_the_smallest_worse_ratio() -> None:
    # Cold ratios 4, 2, 1; cost ratios 1, 1.5, 3: worse of each 4, 2, 3 -> 512.
    points = [_bare(128, 4.0, 1.0), _bare(512, 2.0, 1.5), _bare(3008, 1.0, 3.0)]
    found = recommend(points, margin=0.10)
    assert found.how == "compromise"
    assert found.within == ()
    assert found.recommended_mb == 512
    assert [s.worst for s in found.scores] == pytest.approx([4.0, 2.0, 3.0])


def test_rule_ties_go_to_the_smaller_size_and_unranked_sizes_are_left_out() -> None:
    points = [_bare(1024, 2.0, 1.0), _bare(256, 1.0, 2.0), _bare(128, None, 0.1)]
    found = recommend(points)
    assert [s.memory_mb for s in found.scores] == [256, 1024]
    assert found.recommended_mb == 256
    assert recommend([_bare(128, None, None)]).recommended_mb is None


def test_made_up_curve_recommends_a_middle_size() -> None:
    section = _section([_point(mb) for mb in SAMPLES])
    found = section.recommendation
    assert found.best_cold_mb in (1769, 3008)
    assert found.cheapest_mb in (128, 256)
    assert found.how == "compromise"
    assert section.recommended_mb == 512


def test_a_slower_endpoint_makes_memory_dearer_and_moves_the_pick_down() -> None:
    section = _section([_point(mb) for mb in SAMPLES])
    same_endpoint = with_slower_endpoint(section, 0.0)
    assert same_endpoint == section.recommendation
    slower = with_slower_endpoint(section, 250.0)
    scores = {s.memory_mb: s for s in slower.scores}
    assert scores[3008].cost_ratio > section.recommendation.scores[-1].cost_ratio
    assert slower.recommended_mb is not None and section.recommended_mb is not None
    assert slower.recommended_mb <= section.recommended_mb
    text = "\n".join(markdown(section))
    assert "| 250 ms |" in text and "**With a slower endpoint.**" in text


def test_json_round_trip_keeps_every_field_and_adds_the_recommendation() -> None:
    section = _section([_point(mb) for mb in SAMPLES])
    data = json.loads(json.dumps(section.to_json()))
    assert data["recommendation"]["recommended_mb"] == section.recommended_mb
    again = section_from_json(data)
    assert again == section
    assert isinstance(section_from_json(Skipped("no engine").to_json()), Skipped)
    assert isinstance(section_from_json(Failed("boom").to_json()), Failed)


def test_template_default_reads_the_front_memory_parameter() -> None:
    text = (
        "Parameters:\n"
        "  QaMemorySize:\n"
        "    Type: Number\n"
        "    Default: 3008\n"
        "  FrontMemorySize:\n"
        "    Type: Number\n"
        "    Default: 512\n"
        "    MinValue: 128\n"
    )
    assert template_default(text) == 512
    assert template_default("Parameters:\n  Other:\n    Default: 1\n") is None


def test_markdown_says_when_the_template_already_has_the_recommended_size() -> None:
    section = _section([_point(mb) for mb in SAMPLES])
    same = FrontMemory(**{**section.__dict__, "template_default_mb": section.recommended_mb})
    text = "\n".join(markdown(same))
    assert "The template's default (512 MB) already is that size." in text
    assert "| **512** (template default) |" in text


def test_plans() -> None:
    assert FULL.sizes_mb == (128, 256, 512, 1024, 1769, 3008)
    assert set(QUICK.sizes_mb) < set(FULL.sizes_mb)
    assert QUICK.cold_reps < FULL.cold_reps
    assert rotated([1, 2, 3], 4) == [2, 3, 1]


def test_markdown_has_a_row_per_size_and_the_recommendation_with_its_rule() -> None:
    section = _section([_point(mb) for mb in SAMPLES])
    text = "\n".join(markdown(section))
    for mb in SAMPLES:
        assert f"| {mb:,}" in text or f"| **{mb:,}**" in text
    assert "Recommended `FrontMemorySize`: **512 MB**" in text
    assert "| **512** |" in text
    assert "**Rule** (margin 10%)" in text
    assert "AMD EPYC (test)" in text and "2026-11-25" in text
    assert "256 MB): cold start 2.20 s -> 1.20 s" in text
    assert PLOT_NAME in text


def test_markdown_of_skipped_failed_and_failed_sizes() -> None:
    assert "Skipped: no engine." in markdown(Skipped("no engine"))
    assert any("boom" in line for line in markdown(Failed("boom")))
    broken = _point(128, warm_error="not ready: OOM", cost_per_m=None)
    text = "\n".join(markdown(_section([broken, _point(1769)])))
    assert "128 MB warm: not ready: OOM" in text
    assert "Recommended `FrontMemorySize`: **1,769 MB**" in text


def test_plot_renders_from_a_hand_made_section(tmp_path: Path) -> None:
    section = _section([_point(mb) for mb in SAMPLES])
    name = plot(section, tmp_path / "out")
    assert name == PLOT_NAME
    written = tmp_path / "out" / PLOT_NAME
    assert written.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert written.stat().st_size > 10_000
