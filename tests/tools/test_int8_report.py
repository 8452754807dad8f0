"""Wording helpers of the INT8 accuracy report (tools/int8_accuracy.py)."""

from __future__ import annotations

from tools.int8_accuracy import _curriculum, _vnni_note


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
