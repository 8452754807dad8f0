"""The bench's CPU-steal readings: /proc/stat parsed, shares per round, and the report's lines."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from bench.machine import STEAL_NOTABLE, CpuTicks, StealMeter, cpu_ticks
from bench.records import AnswerLatency, BenchResults, NerRound, NerRun, QaRun
from bench.report import _overhead_lines, _qa_steal_lines
from bench.stats import pooled, summarize

ROOT = Path(__file__).resolve().parents[2]
#: user nice system idle iowait irq softirq steal guest guest_nice
STAT = "cpu  {user} 0 100 {idle} 0 0 0 {steal} 7 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n"


def _stat(path: Path, user: int, idle: int, steal: int) -> Path:
    path.write_text(STAT.format(user=user, idle=idle, steal=steal))
    return path


def test_bench_cpu_ticks_reads_the_aggregate_line_without_guest_or_idle_time(
    tmp_path: Path,
) -> None:
    stat = _stat(tmp_path / "stat", user=1000, idle=800, steal=100)
    # guest (7) is already inside user; idle (800) is time nothing wanted the CPU.
    assert cpu_ticks(stat) == CpuTicks(steal=100, busy=1000 + 100 + 100)
    (tmp_path / "old").write_text("cpu  1 2 3 4\n")  # a kernel without the steal field
    assert cpu_ticks(tmp_path / "old") is None
    assert cpu_ticks(tmp_path / "missing") is None
    assert cpu_ticks() is not None  # this machine's own /proc/stat


def test_bench_steal_meter_is_the_stolen_share_of_the_ticks_in_between(tmp_path: Path) -> None:
    stat = _stat(tmp_path / "stat", user=1000, idle=800, steal=100)
    meter = StealMeter(stat)
    # 1,000 busy ticks later, 100 of them stolen; idle time in between does not dilute it.
    _stat(stat, user=1900, idle=5800, steal=200)
    assert meter.share() == 0.1
    assert StealMeter(tmp_path / "missing").share() is None
    # No tick in between (a stretch too short to read) is no figure, not a division by zero.
    assert StealMeter(stat).share() is None


def _run(steal: float | None) -> QaRun:
    return QaRun(
        load_s=1.0,
        forward={"128": summarize([0.1])},
        e2e={"150": AnswerLatency.of(summarize([0.3]), answer_found=1)},
        spawned=0.0,
        samples={"forward/128": (0.1,), "e2e/150": (0.3,)},
        steal=(steal,),
    )


def _committed() -> BenchResults:
    return BenchResults.from_json(json.loads((ROOT / "docs/bench/report.json").read_text()))


def test_bench_qa_steal_per_round_is_pooled_in_order_and_reported() -> None:
    quiet = pooled([_run(0.001), _run(None), _run(0.004)])
    assert quiet.steal == (0.001, None, 0.004)
    assert QaRun.from_json(json.loads(json.dumps(quiet.to_json()))) == quiet
    busy = pooled([_run(0.0), _run(STEAL_NOTABLE + 0.01), _run(0.0)])
    results = dataclasses.replace(_committed(), qa={"project-fp32": quiet, "ort-fp32": busy})
    lines = _qa_steal_lines(results)
    assert "project-fp32 0.1% / – / 0.4%; ort-fp32 0.0% / 3.0% / 0.0%." in lines[1]
    assert lines[2].startswith("At or above 2% in a round of ort-fp32:")
    calm = dataclasses.replace(results, qa={"project-fp32": quiet})
    assert len(_qa_steal_lines(calm)) == 2  # the readings, no warning


def test_bench_report_from_before_the_steal_readings_has_no_steal_lines() -> None:
    old = QaRun.from_json({k: v for k, v in _run(0.5).to_json().items() if k != "steal"})
    assert old.steal == ()
    assert _qa_steal_lines(dataclasses.replace(_committed(), qa={"project-fp32": old})) == []
    round_json = {
        "bare_ner_only_ms": 1.0,
        "handler_ms": 1.1,
        "overhead": 0.1,
        "cpu_bare_ner_only_ms": 1.0,
        "cpu_handler_ms": 1.1,
        "cpu_overhead": 0.1,
    }
    assert NerRound.from_json(round_json).steal is None


def test_bench_ner_overhead_rounds_show_their_steal() -> None:
    ner = _committed().ner
    assert isinstance(ner, NerRun) and ner.overhead is not None
    rounds = tuple(
        dataclasses.replace(r, steal=0.03 if i == 0 else None)
        for i, r in enumerate(ner.overhead.per_round)
    )
    ner = dataclasses.replace(ner, overhead=dataclasses.replace(ner.overhead, per_round=rounds))
    first = _overhead_lines(ner)[0]
    assert f"{rounds[0].overhead:.1%} (steal 3.0%), {rounds[1].overhead:.1%}," in first
