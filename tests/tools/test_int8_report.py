"""Wording helpers of the INT8 accuracy report (tools/int8_accuracy.py)."""

from __future__ import annotations

from tools.int8_accuracy import (
    _activation,
    _confidence_note,
    _curriculum,
    _gate_lines,
    _vnni_note,
)


def test_curriculum_counts_short_and_full_windows_apart() -> None:
    t = {
        "windows_seen": 300,
        "short_windows_seen": 200,
        "short_windows_available": 150,
        "train_windows_available": 1000,
        "options": {"curriculum": 0.5},
    }
    text = _curriculum(t)
    assert "short contexts" in text
    assert "to none at 50% of the budget" in text
    assert "200 windows seen out of 150, 1.3 passes" in text
    assert text.endswith("and 100 full-length windows seen out of 1000 (no example repeated)")
    plain = {"windows_seen": 80, "train_windows_available": 40, "options": {"curriculum": 0.0}}
    assert _curriculum(plain) == "80 full-length windows seen out of 40 (2.0 passes)"


def test_vnni_note_names_the_avx2_path_only_without_vnni() -> None:
    assert "vpmaddubsw" in _vnni_note(["avx2"])
    assert "AVX-512" in _vnni_note(["avx2"])
    assert "vpmaddubsw" not in _vnni_note(["avx2", "avx512f", "avx512_vnni"])


def test_activation_comes_from_train_json_and_old_files_still_read() -> None:
    arch = {"hidden_act": "gelu_new"}
    fused = {"training_activation": "gelu_pytorch_tanh", "architecture": arch, "options": {}}
    assert "fused kernel" in _activation(fused) and "`gelu_new`" in _activation(fused)
    plain = {"training_activation": "gelu_new", "architecture": arch, "options": {}}
    assert _activation(plain) == "Activation `gelu_new`. "
    # Session 6's train.json: no training_activation, fused GELU came with sinusoidal_positions.
    old = {"architecture": arch, "options": {"sinusoidal_positions": True}}
    assert "fused kernel" in _activation(old)
    assert _activation({"architecture": arch, "options": {}}) == "Activation `gelu_new`. "


def test_confidence_note_counts_the_unsure_rest() -> None:
    r = {
        "heldout_questions": 600,
        "answer_agreement_where_fp32_confident": {"min_score": 0.1, "n": 103, "percent": 98.06},
    }
    note = _confidence_note(r)
    assert "(103 questions), INT8 agrees on 98.06%" in note and "the other 497" in note
    assert _confidence_note({"heldout_questions": 600}) == ""


def test_gate_lines_give_the_rule_the_verdict_and_each_recipe_tried() -> None:
    figures = {"em_loss": 0.5, "f1_loss": 0.2, "confident_agreement": 100.0}
    attempt = {"figures": figures, "int8_forward_ms_384": 24.0, "fp32_forward_ms_384": 70.0}
    gate = {
        "passed": True,
        "reason": "passed: EM 20.00 vs 20.50 fp32",
        "thresholds": {"min_questions": 500, "max_em_loss": 1.0, "max_f1_loss": 1.0,
                       "min_confident_agreement": 99.0, "confident_score": 0.1},
        "recipe": {"calibration": "prose-128", "fp32_groups": ["ffn_out"]},
        "search": [
            {**attempt, "passed": False, "recipe": {"calibration": "prose-128", "fp32_groups": []},
             "figures": {**figures, "confident_agreement": None}},
            {**attempt, "passed": True,
             "recipe": {"calibration": "prose-128", "fp32_groups": ["ffn_out"]}},
        ],
    }  # fmt: skip
    text = "\n".join(_gate_lines(gate, "auto serves INT8"))
    assert "On this model it passed: EM 20.00 vs 20.50 fp32; auto serves INT8." in text
    assert "at least 99% of those fp32 is confident about (score >= 0.1)" in text
    assert "kept in fp32: ffn_out (2 recipe(s) tried)" in text
    assert "| prose-128, fp32: nothing | fail | +0.50 / +0.20 | - | 24.0 ms (fp32 70.0) |" in text
    assert "| prose-128, fp32: ffn_out | pass |" in text
    none = _gate_lines({"passed": None, "reason": "no accuracy gate ran"}, "auto serves fp32")
    assert none == [
        "**The accuracy gate** (`tools/int8_gate.py`, run by `make accuracy` on this held-out "
        "split; its verdict is `int8/gate.json`): INT8 passes when, on at least 500 questions, it "
        "loses at most 1 point of EM and 1 of F1 and keeps the answer on at least 99% of those "
        "fp32 is confident about (score >= 0.1). On this model it no accuracy gate ran; auto "
        "serves fp32."
    ]
