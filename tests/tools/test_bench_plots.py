"""The bench's pictures: cost per design against requests, and Design 1 vs Design 2 latency."""

from __future__ import annotations

import dataclasses
import json
import struct
from pathlib import Path

import pytest

from bench.plots import (
    COST_MEMORY_MB,
    cold_bars,
    cost_curves,
    cost_plot,
    cost_row,
    designs_plot,
    instances,
    millions_label,
    monthly_costs,
    request_grid,
    workload_label,
)
from bench.records import BenchResults, CostSection, Designs, Failed, Skipped

REPORT = Path(__file__).resolve().parents[2] / "docs" / "bench" / "report.json"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def results() -> BenchResults:
    return BenchResults.from_json(json.loads(REPORT.read_text()))


def _png_size(path: Path) -> tuple[int, int]:
    """Width and height from the IHDR chunk; fails on anything that is not a PNG."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def _assert_readable_png(path: Path) -> None:
    assert path.is_file()
    width, height = _png_size(path)
    assert 600 <= width <= 1400 and 400 <= height <= 1400
    assert 20_000 < path.stat().st_size < 1_000_000


def test_cost_plot_renders_from_the_committed_report(results: BenchResults, tmp_path: Path) -> None:
    assert cost_plot(results, tmp_path) == "cost.png"
    _assert_readable_png(tmp_path / "cost.png")


def test_designs_plot_renders_from_the_committed_report(
    results: BenchResults, tmp_path: Path
) -> None:
    assert designs_plot(results, tmp_path) == "designs.png"
    _assert_readable_png(tmp_path / "designs.png")


def test_no_picture_without_its_section(results: BenchResults, tmp_path: Path) -> None:
    empty = dataclasses.replace(results, cost=CostSection(results.cost.prices, {}))
    assert cost_plot(empty, tmp_path) is None
    assert cost_plot(results, tmp_path, memory_mb=1) is None  # no row at that memory size
    for designs in (None, Skipped("--skip-containers"), Failed("no engine")):
        assert designs_plot(dataclasses.replace(results, designs=designs), tmp_path) is None
    assert not list(tmp_path.iterdir())


def test_costs_meet_at_the_recorded_break_even(results: BenchResults) -> None:
    for table in results.cost.tables.values():
        row = cost_row(table)
        assert row is not None and row.memory_mb == COST_MEMORY_MB
        be = row.break_even_design1
        assert be is not None
        on_demand, _, _, design1 = monthly_costs(table, row, be)
        assert on_demand == pytest.approx(design1, rel=0.01)
        # Lambda on demand is cheaper below, Design 1 above.
        below, above = monthly_costs(table, row, be / 2), monthly_costs(table, row, be * 1.5)
        assert below[0] < below[3] and above[0] > above[3]


def test_always_on_units_step_up_past_one_units_capacity(results: BenchResults) -> None:
    table = results.cost.tables["qa-150w-project-fp32"]
    row = cost_row(table)
    assert row is not None
    capacity, fixed = table.design1.capacity_month, table.design1.fixed_month
    assert instances(0, capacity) == 1 and instances(capacity, capacity) == 1
    assert instances(capacity * 1.001, capacity) == 2
    at = monthly_costs(table, row, capacity)[3]
    past = monthly_costs(table, row, capacity * 1.001)[3]
    assert past - at == pytest.approx(fixed, rel=0.01)
    env = row.modes.provisioned_capacity_month
    step = monthly_costs(table, row, env * 1.001)[2] - monthly_costs(table, row, env)[2]
    assert step == pytest.approx(row.modes.provisioned_fixed_month, rel=0.01)
    # Below any fixed cost's weight, on demand is the cheapest and SnapStart pays its cache.
    on_demand, snapstart, provisioned, design1 = monthly_costs(table, row, 1e4)
    assert on_demand < snapstart < provisioned < design1
    assert snapstart == pytest.approx(row.modes.snapstart_fixed_month, rel=0.02)


def test_the_grid_spans_the_range_and_holds_both_sides_of_each_step(
    results: BenchResults,
) -> None:
    table = results.cost.tables["qa-150w-project-fp32"]
    row = cost_row(table)
    assert row is not None
    grid = request_grid(table, row, span=(1e4, 1e9), points=50)
    assert grid[0] == pytest.approx(1e4) and grid[-1] == pytest.approx(1e9)
    assert list(grid) == sorted(set(grid))
    capacity = table.design1.capacity_month
    assert capacity in grid and 2 * capacity in grid
    assert any(capacity < n < capacity * 1.000001 for n in grid)
    curves = cost_curves(table, row, grid)
    assert len(curves.design1) == len(curves.on_demand) == len(grid)
    i = grid.index(capacity)
    assert curves.design1[i + 1] - curves.design1[i] == pytest.approx(
        table.design1.fixed_month, rel=0.01
    )


def test_labels(results: BenchResults) -> None:
    tables = results.cost.tables
    assert millions_label(7_629_716.7) == "7.6 M/month"
    assert millions_label(221_666_238.0) == "222 M/month"
    assert millions_label(450_000.0) == "0.45 M/month"
    assert workload_label("qa-150w-project-fp32", tables["qa-150w-project-fp32"]) == (
        "QA fp32, ~150-word context"
    )
    assert workload_label("ner-100w", tables["ner-100w"]) == "NER, ~100-word text"
    assert workload_label("qa-150w-project-int8-avx2", tables["qa-150w-project-int8-avx2"]) == (
        "QA INT8, ~150-word context"
    )
    assert workload_label("other-thing", tables["ner-100w"]) == tables["ner-100w"].workload


def test_cold_bars_take_the_medians_of_the_answered_runs(results: BenchResults) -> None:
    d = results.designs
    assert isinstance(d, Designs)
    bars = cold_bars(d)
    assert {b.design for b in bars} == {1, 2}
    assert len(bars) == 2 * len(d.hop) + len(d.cold.front if not isinstance(d.cold, Failed) else {})
    assert all(b.median_s > 0 and b.runs > 0 for b in bars)
    assert cold_bars(dataclasses.replace(d, cold=Failed("no engine"))) == []
