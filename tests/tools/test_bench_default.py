"""The bench's default-precision section: its record survives JSON, and the report and the
targets judge `auto` on the gate-checked model against the pipeline on the same checkpoint."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from bench.records import (
    AnswerLatency,
    BenchResults,
    DefaultPrecision,
    Failed,
    GatedModel,
    QaRun,
    TokenCount,
    TokenNote,
)
from bench.report import default_precision_section, targets
from bench.run import default_engines

ROOT = Path(__file__).resolve().parents[2]


def _run(p50_ms: float) -> QaRun:
    e2e = AnswerLatency(p50_ms, p50_ms * 1.1, p50_ms, p50_ms * 0.9, 9, answer_found=3)
    return QaRun(load_s=1.0, forward={}, e2e={"150": e2e}, spawned=0.0)


def _default(auto_ms: float, passed: bool = True) -> DefaultPrecision:
    model = GatedModel(
        layers=12,
        hidden=768,
        heads=12,
        intermediate=3072,
        vocab=700,
        trained_width=128,
        train_minutes=10.0,
        torch_heldout_em=19.5,
        widen_logit_difference=8e-5,
        gate_passed=passed,
        gate_reason="accuracy gate passed: EM 20.00 vs 19.50 fp32",
        recipe="calibration prose-128, every layer INT8",
        serving="int8" if passed else "fp32",
    )
    qa = {
        "project-auto": _run(auto_ms),
        "project-fp32": _run(200.0),
        "transformers": _run(400.0),
        "project-auto-avx2": Failed("DNNL_MAX_CPU_ISA refused"),
    }
    tokens = TokenNote(pieces=700, sizes={"150": TokenCount(382, 2.55)})
    return DefaultPrecision(model=model, qa=qa, tokens=tokens)


def _committed() -> BenchResults:
    return BenchResults.from_json(json.loads((ROOT / "docs/bench/report.json").read_text()))


def test_the_section_survives_json_and_says_what_auto_serves_and_why() -> None:
    section = _default(80.0)
    results = dataclasses.replace(_committed(), default_precision=section)
    again = BenchResults.from_json(json.loads(json.dumps(results.to_json())))
    assert again.default_precision == section
    text = "\n".join(default_precision_section(again))
    assert "`auto` serves **INT8** for this model" in text
    assert "382 context tokens (2.55 per word)" in text
    assert "| project-auto | 80 | 88 | 0.20 |" in text
    assert "| project-auto-avx2 | failed: DNNL_MAX_CPU_ISA refused | | |" in text


def test_the_targets_judge_auto_against_the_pipeline_on_the_same_model() -> None:
    met = dataclasses.replace(_committed(), default_precision=_default(80.0))
    rows = [line for line in targets(met) if "default precision (auto" in line]
    assert rows and "80 ms vs 400 ms (0.20)" in rows[0] and "**met**" in rows[0]
    missed = dataclasses.replace(_committed(), default_precision=_default(150.0, passed=False))
    rows = [line for line in targets(missed) if "default precision (auto" in line]
    assert "auto serves FP32" in rows[0] and "**not met**" in rows[0]


def test_a_run_without_the_section_says_so() -> None:
    text = default_precision_section(dataclasses.replace(_committed(), default_precision=None))
    assert text[-1] == "Not measured: not in this run."


def test_the_capped_engines_run_only_where_the_cap_changes_something() -> None:
    capped = default_engines(["avx2", "avx512f"])
    assert capped["project-auto-avx2"] == ("project-auto", {"DNNL_MAX_CPU_ISA": "AVX2"})
    kind, env = capped["transformers-avx2"]
    assert kind == "hf" and env["ATEN_CPU_CAPABILITY"] == "avx2"
    assert env["MKL_ENABLE_INSTRUCTIONS"] == env["ONEDNN_MAX_CPU_ISA"] == "AVX2"
    engines = default_engines(["avx2"])
    assert "project-auto-avx2" not in engines and "transformers-avx2" not in engines
    assert engines["project-auto"] == ("project-auto", {}) and "transformers" in engines


def test_the_capped_project_is_judged_against_the_pipeline_capped_alike() -> None:
    section = _default(80.0)
    qa = dict(section.qa, **{"project-auto-avx2": _run(150.0), "transformers-avx2": _run(600.0)})
    results = dataclasses.replace(
        _committed(), default_precision=dataclasses.replace(section, qa=qa)
    )
    text = "\n".join(default_precision_section(results))
    assert "| project-auto-avx2 | 150 | 165 | 0.38; 0.25 vs the pipeline capped alike |" in text
    assert "| transformers-avx2 | 600 | 660 | 1.50 |" in text
    rows = [line for line in targets(results) if "capped at AVX2 too" in line]
    assert len(rows) == 1 and "150 ms vs 600 ms (0.25)" in rows[0] and "**met**" in rows[0]
    rows = [line for line in targets(results) if "default precision (auto" in line]
    assert "150 ms vs 400 ms (0.38)" in rows[1] and "**met**" in rows[1]
