"""Wording helpers of the INT8 accuracy report (tools/int8_accuracy.py)."""

from __future__ import annotations

from tools.int8_accuracy import _activation, _confidence_note, _curriculum, _vnni_note


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
