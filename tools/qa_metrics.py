"""SQuAD-style answer metrics (exact match, token F1) and fp32-vs-INT8 comparison helpers."""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = frozenset(string.punctuation)


def normalize_answer(text: str) -> str:
    """Lower-case, drop punctuation and the articles a/an/the, collapse whitespace (SQuAD 1.1)."""
    lowered = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", lowered).split())


def exact_match(prediction: str, truth: str) -> float:
    """1.0 when the normalised texts are equal, else 0.0."""
    return float(normalize_answer(prediction) == normalize_answer(truth))


def f1_score(prediction: str, truth: str) -> float:
    """Token-overlap F1 of the normalised texts (1.0 when both are empty)."""
    pred, gold = normalize_answer(prediction).split(), normalize_answer(truth).split()
    if not pred or not gold:
        return float(pred == gold)
    common = sum((Counter(pred) & Counter(gold)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(gold)
    return 2 * precision * recall / (precision + recall)


def mean_percent(values: Sequence[float]) -> float:
    """Mean of 0..1 values as a percentage (0.0 for no values)."""
    return 100.0 * sum(values) / len(values) if values else 0.0


def agreement(a: Sequence[tuple[int, int]], b: Sequence[tuple[int, int]]) -> float:
    """Percentage of positions where two runs chose the same (start, length) span."""
    if len(a) != len(b):
        raise ValueError(f"cannot compare {len(a)} spans with {len(b)}")
    return mean_percent([float(x == y) for x, y in zip(a, b, strict=True)])


def cosine(a: npt.ArrayLike, b: npt.ArrayLike) -> float:
    """Cosine similarity of two arrays, flattened, in float64."""
    x = np.asarray(a, dtype=np.float64).ravel()
    y = np.asarray(b, dtype=np.float64).ravel()
    denominator = float(np.linalg.norm(x) * np.linalg.norm(y))
    if denominator == 0.0:
        return 1.0 if not x.any() and not y.any() else 0.0
    return float(x @ y) / denominator


def summarize(values: Sequence[float]) -> dict[str, Any]:
    """min / mean / p5 of a list of per-window values."""
    arr = np.asarray(values, dtype=np.float64)
    return {
        "mean": float(arr.mean()),
        "min": float(arr.min()),
        "p5": float(np.percentile(arr, 5)),
    }
