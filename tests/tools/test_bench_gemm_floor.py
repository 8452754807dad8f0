"""bench.gemm_floor: every engine runs for real in its own process, uncapped and capped at AVX2,
and the table turns medians into GOPS and the INT8 / fp32 ratios docs/performance.md quotes."""

from __future__ import annotations

from bench import gemm_floor


def test_a_tiny_run_measures_every_engine_under_every_cap() -> None:
    results = gemm_floor.measure(tokens=8, reps=2, threads=1)
    assert set(results) == set(gemm_floor.CAPS)
    for engines in results.values():
        assert set(engines) == set(gemm_floor.ENGINES)
        for times in engines.values():
            assert set(times) == set(gemm_floor.CHAINS)
            assert all(ms > 0 for ms in times.values())


def test_the_table_gives_gops_and_ratios() -> None:
    ms = {"768 -> 768": 1.0, "768 -> 3072 -> 768 (FFN)": 8.0}
    results = {
        "uncapped": {
            "mxnet-int8": ms,
            "mxnet-fp32": {k: v * 4 for k, v in ms.items()},
            "torch-fp32": {k: v * 2 for k, v in ms.items()},
        }
    }
    lines = gemm_floor.table(results, tokens=100).splitlines()
    # 2 * 100 * 768 * 768 multiply-adds in 1 ms: 118 GOPS; the FFN is 8x the work in 8 ms.
    assert lines[2] == (
        "| uncapped | 768 -> 768 | 1.000 ms (118 GOPS) | 4.000 ms (29 GOPS) | 2.000 ms (59 GOPS) "
        "| 0.50x | 0.25x |"
    )
    assert lines[3].startswith("| uncapped | 768 -> 3072 -> 768 (FFN) | 8.000 ms (118 GOPS) |")


def test_the_report_renders_the_section_from_its_json_or_says_why_it_failed() -> None:
    import dataclasses
    import json
    from pathlib import Path

    from bench.records import BenchResults
    from bench.report import gemm_floor_section

    root = Path(__file__).resolve().parents[2]
    committed = BenchResults.from_json(json.loads((root / "docs/bench/report.json").read_text()))
    ms = {name: 1.0 for name in gemm_floor.CHAINS}
    data = {
        "tokens": 384,
        "threads": 2,
        "results": {"AVX2": {engine: ms for engine in gemm_floor.ENGINES}},
    }
    results = dataclasses.replace(committed, gemm_floor=data)
    again = BenchResults.from_json(json.loads(json.dumps(results.to_json())))
    text = "\n".join(gemm_floor_section(again))
    assert "## The GEMM floor" in text and "at 384 tokens, 2 threads" in text
    assert "| AVX2 | 768 -> 768 | 1.000 ms (453 GOPS) |" in text
    failed = dataclasses.replace(committed, gemm_floor={"failed": "torch: no module"})
    assert gemm_floor_section(failed)[-1] == "Failed: torch: no module."
    assert gemm_floor_section(dataclasses.replace(committed, gemm_floor=None)) == []
