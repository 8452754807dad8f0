"""The CPU-contention section's pure parts: percentiles, the image's spin rule, the minimax
verdict, the INT8 tail check, the order of containers, JSON and Markdown. Nothing is timed."""

from __future__ import annotations

import json

import pytest

from bench.contention import (
    FULL,
    QUICK,
    CellFailed,
    ContentionCell,
    ContentionPlan,
    ContentionSection,
    Verdict,
    image_spin,
    markdown,
    memory_for,
    nearest_rank,
    order,
    spin_scores,
    summarize_cell,
    tail_checks,
    verdict,
)
from bench.records import Machine, Skipped

#: p50 / p99 ms per (precision, cpus, neighbour) and spin, for a small made-up run.
TABLE: dict[tuple[str, str, str], dict[str | None, tuple[float, float]]] = {
    ("fp32", "2", "idle"): {None: (200, 220), "1000": (300, 330), "100000": (200, 230)},
    ("fp32", "2", "busy"): {None: (900, 2000), "1000": (450, 600), "100000": (950, 2100)},
    ("int8", "2", "idle"): {None: (100, 110), "1000": (150, 160), "100000": (100, 112)},
    ("int8", "2", "busy"): {None: (500, 1000), "1000": (220, 300), "100000": (520, 900)},
}


def _cell(precision: str, cpus: str, neighbour: str, spin: str | None) -> ContentionCell:
    p50, p99 = TABLE[precision, cpus, neighbour][spin]
    return ContentionCell(
        precision=precision,
        cpus=cpus,
        memory_mb=memory_for(cpus),
        neighbour=neighbour,
        spin=spin,
        effective_spin=spin or image_spin(),
        p50_ms=p50,
        p99_ms=p99,
        samples_ms=(p50, p99),
        steal=0.01,
    )


def _cells() -> list[ContentionCell]:
    return [_cell(*key, spin) for key, spins in TABLE.items() for spin in spins]


def _section(cells: list[ContentionCell]) -> ContentionSection:
    host = Machine(
        cpu="Test CPU",
        cores=2,
        isa=("avx2",),
        python="3.11",
        kernel="6",
        load_avg_start=(0.1, 0.1, 0.1),
        versions={},
    )
    plan = ContentionPlan(
        "test", ("fp32", "int8"), ("2",), (None, "1000", "100000"), requests=2, distinct=1
    )
    failed = CellFailed("docker run: no", "fp32", "1.7", "0")
    return ContentionSection(
        "lambda-nlp/qa:test", plan, host, "2026-12-04T21:00:00+00:00", 150, tuple(cells),
        (failed,), 0.02, 300.0,
    )  # fmt: skip


def test_nearest_rank_takes_a_measured_value_and_p99_of_30_is_the_slowest() -> None:
    values = [float(v) for v in range(30, 0, -1)]
    assert nearest_rank(values, 99) == 30.0
    assert nearest_rank(values, 50) == 15.0
    assert nearest_rank(list(range(1, 101)), 99) == 99
    assert nearest_rank([3.0, 1.0, 2.0, 5.0, 4.0], 50) == 3.0
    assert nearest_rank([7.0], 0) == 7.0
    with pytest.raises(ValueError):
        nearest_rank([], 50)


def test_the_image_spins_short_whatever_the_quota() -> None:
    assert image_spin() == "1000"


def test_a_cell_keeps_its_samples_in_ms_and_their_nearest_rank_percentiles() -> None:
    cell = summarize_cell("int8", "1.7", "busy", None, "1000", [0.3, 0.1, 0.2], steal=None)
    assert cell.samples_ms == (300.0, 100.0, 200.0)
    assert (cell.p50_ms, cell.p99_ms) == (200.0, 300.0)
    assert cell.memory_mb == 3008


def test_minimax_picks_the_setting_whose_worst_ratio_anywhere_is_smallest() -> None:
    scores, incomplete = spin_scores(_cells())
    assert incomplete == []
    # 1000 is 1.5x the best idle p50 (fp32: 300 / 200) but best beside the busy core; the long
    # spins are fastest idle and lose 3.3x (unset: 2000 / 600) and 3.5x (2100 / 600) p99 busy.
    assert [s.spin for s in scores] == ["1000", None, "100000"]
    best = scores[0]
    assert best.worst_p50 == pytest.approx(1.5)
    assert best.worst_p50_at == "fp32, --cpus=2, idle"
    assert best.worst_p99 == pytest.approx(330 / 220)
    assert best.worst == pytest.approx(1.5)
    assert scores[2].worst_p99 == pytest.approx(3.5)
    assert scores[2].worst_p99_at == "fp32, --cpus=2, busy"


def test_a_setting_missing_from_a_cell_is_not_ranked() -> None:
    cells = [c for c in _cells() if not (c.spin == "1000" and c.neighbour == "busy")]
    cells = [c for c in cells if not (c.spin == "1000" and c.precision == "int8")]
    scores, incomplete = spin_scores(cells)
    assert incomplete == ["1000"]
    assert "1000" not in [s.spin for s in scores]


def test_int8_tail_check_compares_busy_over_idle_p99_at_the_recommended_spin() -> None:
    found = verdict(_cells())
    assert isinstance(found, Verdict)
    assert found.recommended == "1000"
    (check,) = found.tail
    assert check.cpus == "2"
    assert check.ratios["fp32"] == pytest.approx(600 / 330)
    assert check.ratios["int8"] == pytest.approx(300 / 160)
    assert found.int8_tail_ok is False  # 1.875 > 1.82
    (long,) = tail_checks(_cells(), "100000")
    assert long.ratios["int8"] < long.ratios["fp32"]


def test_no_cells_no_verdict_and_unset_is_named_unset() -> None:
    assert verdict([]) is None
    only_unset = [c for c in _cells() if c.spin is None]
    found = verdict(only_unset)
    assert found is not None and found.recommended == "unset"
    assert found.scores[0].worst == 1.0


def test_containers_group_by_precision_and_cpu_and_rotate_the_spins() -> None:
    containers = order(FULL)
    assert len(containers) == 2 * 2 * 5 == len(set(containers))
    groups = [containers[i : i + 5] for i in range(0, 20, 5)]
    assert [(g[0][0], g[0][1]) for g in groups] == [
        ("fp32", "2"), ("fp32", "1.7"), ("int8", "2"), ("int8", "1.7"),
    ]  # fmt: skip
    assert [g[0][2] for g in groups] == [None, "0", "1000", "10000"]
    assert all({c[2] for c in g} == set(FULL.spins) for g in groups)
    assert len(order(QUICK)) == 8
    assert QUICK.requests < FULL.requests


def test_the_section_survives_json_with_its_verdict_alongside() -> None:
    section = _section(_cells())
    data = json.loads(json.dumps(section.to_json()))
    assert data["verdict"]["recommended"] == "1000"
    assert ContentionSection.from_json(data) == section
    assert Verdict.from_json(data["verdict"]) == verdict(section.cells)


def test_markdown_names_what_was_measured_the_rule_and_the_verdict() -> None:
    text = "\n".join(markdown(_section(_cells())))
    assert "~150-word contexts" in text and "Test CPU" in text and "2026-12-04" in text
    assert "p99 is the slowest one" in text
    assert "| unset (image: 1,000) | 200 / 220 | 900 / 2,000 |" in text
    assert "| 1,000 | 300 / 330 | 450 / 600 |" in text
    assert "minimax" in text
    assert "Recommended: **`GOMP_SPINCOUNT=1000`**" in text
    assert "INT8's tail degrades no worse than fp32's: **no**" in text
    assert "Failed: fp32, `--cpus=1.7`, spin 0: docker run: no" in text
    # unset runs the same configuration as the explicit 1,000: a noise reading.
    assert "fp32, --cpus=2, busy 2.00 / 3.33" in text
    assert markdown(Skipped("no engine"))[-2] == "Skipped: no engine."
