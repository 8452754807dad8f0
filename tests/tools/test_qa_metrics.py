"""SQuAD-style metrics and the fp32/INT8 comparison helpers."""

from __future__ import annotations

import numpy as np
import pytest

from tools.qa_metrics import agreement, cosine, exact_match, f1_score, normalize_answer


def test_normalize_answer_follows_squad() -> None:
    assert normalize_answer("The  Zorath River.") == "zorath river"
    assert normalize_answer("an Apple, a day") == "apple day"
    assert normalize_answer("48,200") == "48200"
    assert normalize_answer("  ") == ""


def test_exact_match() -> None:
    assert exact_match("the Velmora", "Velmora") == 1.0
    assert exact_match("Velmora.", "velmora") == 1.0
    assert exact_match("Velmora Bank", "Velmora") == 0.0


def test_f1_token_overlap() -> None:
    assert f1_score("Ada Baker", "Ada Baker") == 1.0
    assert f1_score("Ada", "Ada Baker") == pytest.approx(2 * 1.0 * 0.5 / 1.5)
    assert f1_score("14 March 1874", "March 1874 was") == pytest.approx(
        2 * (2 / 3) * (2 / 3) / (4 / 3)
    )
    assert f1_score("Tarsk", "Velmora") == 0.0
    assert f1_score("", "") == 1.0
    assert f1_score("the", "Velmora") == 0.0


def test_agreement_compares_spans() -> None:
    assert agreement([(0, 3), (5, 2)], [(0, 3), (5, 2)]) == 100.0
    assert agreement([(0, 3), (5, 2), (1, 1), (2, 2)], [(0, 3), (5, 3), (1, 1), (9, 2)]) == 50.0
    assert agreement([], []) == 0.0
    with pytest.raises(ValueError):
        agreement([(0, 1)], [])


def test_cosine() -> None:
    a = np.array([[1.0, 2.0], [3.0, -4.0]])
    assert cosine(a, a * 3) == pytest.approx(1.0)
    assert cosine(a, -a) == pytest.approx(-1.0)
    assert cosine([1.0, 0.0], [0.0, 1.0]) == pytest.approx(0.0)
    assert cosine([0.0], [0.0]) == 1.0
