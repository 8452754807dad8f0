"""Span decoding on hand-made logits (no model)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from app.qa.decode import Answer, decode_answers, decode_spans, masked_softmax
from app.qa.features import Windows, build_windows
from app.qa.tokenizer import Encoding

LOW = -20.0


def _context_windows(
    words: list[str],
    *,
    gap: str = " ",
    max_seq_length: int = 384,
    doc_stride: int = 128,
    pieces_per_word: int = 1,
) -> tuple[str, Windows]:
    """Context of ``words`` joined by ``gap``; each word split into ``pieces_per_word`` tokens."""
    offsets, word_ids, pos = [], [], 0
    for i, word in enumerate(words):
        cut = max(1, len(word) // pieces_per_word)
        bounds = [pos + k * cut for k in range(pieces_per_word)] + [pos + len(word)]
        for a, b in itertools.pairwise(bounds):
            offsets.append((a, b))
            word_ids.append(i)
        pos += len(word) + len(gap)
    context = gap.join(words)
    enc = Encoding(list(range(10, 10 + len(offsets))), offsets, word_ids)
    q = Encoding([7, 8], [(0, 1), (1, 2)], [0, 1])
    w = build_windows(
        q,
        enc,
        cls_id=2,
        sep_id=3,
        pad_id=0,
        max_seq_length=max_seq_length,
        doc_stride=doc_stride,
        max_question_length=64,
    )
    return context, w


def _logits(w: Windows, peaks: dict[tuple[int, int], float]) -> np.ndarray:
    x = np.full(w.input_ids.shape, LOW, dtype=np.float32)
    for (row, col), value in peaks.items():
        x[row, col] = value
    return x


FIRST = 4  # column of the first context token: [CLS] q q [SEP]


@pytest.mark.parametrize("big", [1e30, 3e38, np.inf])
def test_decode_softmax_is_stable_for_huge_logits(big: float) -> None:
    x = np.array([[big, 0.0, -big, 1.0]])
    allowed = np.array([[True, True, True, False]])
    p = masked_softmax(x, allowed)
    assert np.isfinite(p).all()
    assert p[0, 0] == pytest.approx(1.0) and p[0, 3] == 0.0
    assert p.sum() == pytest.approx(1.0)


def test_decode_softmax_handles_minus_inf_and_nan() -> None:
    x = np.array([[-np.inf, 0.0, np.nan], [-np.inf, -np.inf, 5.0]])
    allowed = np.array([[True, True, True], [True, True, False]])
    p = masked_softmax(x, allowed)
    assert p[0].tolist() == [0.0, 1.0, 0.0]
    assert p[1].tolist() == [0.5, 0.5, 0.0]  # nothing possible: uniform over allowed


def test_decode_spans_respect_order_and_max_answer_length() -> None:
    p = np.full(10, 0.1)
    allowed = np.ones(10, dtype=bool)
    spans = decode_spans(p, p, allowed, allowed, top_k=100, max_answer_length=3)
    assert len(spans) == 10 + 9 + 8
    assert all(0 <= e - s < 3 for s, e, _ in spans)


def test_decode_spans_top_k_best_first() -> None:
    start = np.array([0.1, 0.6, 0.3])
    end = np.array([0.1, 0.2, 0.7])
    allowed = np.ones(3, dtype=bool)
    spans = decode_spans(start, end, allowed, allowed, top_k=2, max_answer_length=5)
    assert [(s, e) for s, e, _ in spans] == [(1, 2), (2, 2)]
    assert spans[0][2] == pytest.approx(0.42)


def test_decode_answer_text_matches_offsets() -> None:
    context, w = _context_windows(["alpha", "beta", "gamma", "delta"])
    start = _logits(w, {(0, FIRST + 1): 10.0})
    end = _logits(w, {(0, FIRST + 2): 10.0})
    [answer] = decode_answers(context, w, start, end)
    assert answer.text == "beta gamma"
    assert context[answer.start : answer.end] == answer.text
    assert answer.score == pytest.approx(1.0, abs=1e-6)


def test_decode_trims_whitespace_keeping_offsets_valid() -> None:
    # Tokens whose offsets include surrounding whitespace (as Metaspace tokens do).
    context = "  alpha   beta  "
    enc = Encoding([10, 11], [(0, 7), (7, 14)], [0, 1])
    w = build_windows(
        Encoding([7], [(0, 1)], [0]),
        enc,
        cls_id=2,
        sep_id=3,
        pad_id=0,
        max_seq_length=64,
        doc_stride=16,
        max_question_length=8,
    )
    start = _logits(w, {(0, 3): 10.0})
    end = _logits(w, {(0, 4): 10.0})
    [answer] = decode_answers(context, w, start, end)
    assert answer.text == "alpha   beta"
    assert context[answer.start : answer.start + answer.length] == answer.text


def test_decode_align_to_words_expands_to_whole_words() -> None:
    context, w = _context_windows(["alphabet", "soup"], pieces_per_word=2)
    start = _logits(w, {(0, FIRST + 1): 10.0})  # second piece of "alphabet"
    end = _logits(w, {(0, FIRST + 1): 10.0})
    [aligned] = decode_answers(context, w, start, end, align_to_words=True)
    [raw] = decode_answers(context, w, start, end, align_to_words=False)
    assert aligned.text == "alphabet"
    assert raw.text == "abet" and raw.start == 4


def test_decode_no_answer_wins_when_cls_dominates() -> None:
    context, w = _context_windows(["alpha", "beta"])
    start = _logits(w, {(0, 0): 10.0, (0, FIRST): 2.0})
    end = _logits(w, {(0, 0): 10.0, (0, FIRST): 2.0})
    answers = decode_answers(context, w, start, end, top_k=2, allow_no_answer=True)
    assert answers[0] == Answer("", 0, 0, answers[0].score) and answers[0].is_no_answer
    assert answers[1].text == "alpha"
    # A threshold above the margin lets the span win.
    margin = answers[0].score - answers[1].score
    shifted = decode_answers(
        context, w, start, end, top_k=10, allow_no_answer=True, null_threshold=margin + 0.01
    )
    assert shifted[0].text == "alpha"
    assert [a.is_no_answer for a in shifted].index(True) > 0
    assert all(not a.is_no_answer for a in decode_answers(context, w, start, end, top_k=2))


def test_decode_null_score_is_the_minimum_over_windows() -> None:
    context, w = _context_windows([f"w{i}" for i in range(200)], max_seq_length=64, doc_stride=16)
    assert w.count > 2
    start = _logits(w, {(row, 0): 5.0 - row for row in range(w.count)})
    end = _logits(w, {(row, 0): 5.0 - row for row in range(w.count)})
    answers = decode_answers(context, w, start, end, top_k=50, allow_no_answer=True)
    null = next(a for a in answers if a.is_no_answer)
    p_last = masked_softmax(start[-1:], ~w.p_mask[-1:] | (np.arange(w.input_ids.shape[1]) == 0))
    assert null.score == pytest.approx(float(p_last[0, 0]) ** 2, rel=1e-6)


def test_decode_same_text_from_overlapping_windows_adds_scores() -> None:
    context, w = _context_windows([f"w{i}" for i in range(80)], max_seq_length=64, doc_stride=30)
    # Context token 40 appears in two windows; give it the peak in both.
    hits = {}
    for row in range(w.count):
        cols = np.flatnonzero(w.input_ids[row] == 10 + 40)
        if cols.size:
            hits[(row, int(cols[0]))] = 10.0
    assert len(hits) == 2
    start, end = _logits(w, hits), _logits(w, hits)
    [answer] = decode_answers(context, w, start, end)
    assert answer.text == "w40"
    assert answer.score > 1.5  # two windows of ~1.0 each


def test_decode_max_context_only_drops_spans_starting_off_centre() -> None:
    context, w = _context_windows([f"w{i}" for i in range(80)], max_seq_length=64, doc_stride=30)
    row0_tokens = w.input_ids[0] - 10
    # The last context token of window 0 has more context in window 1.
    last_col = int(np.flatnonzero(~w.p_mask[0])[-1])
    token = int(row0_tokens[last_col])
    start = _logits(w, {(0, last_col): 10.0})
    end = _logits(w, {(0, last_col): 10.0})
    [plain] = decode_answers(context, w, start, end)
    assert plain.text == f"w{token}"
    [strict] = decode_answers(context, w, start, end, max_context_only=True)
    assert strict.text != f"w{token}"


def test_decode_answers_with_all_minus_inf_logits_are_still_valid() -> None:
    context, w = _context_windows(["alpha", "beta"])
    x = np.full(w.input_ids.shape, -np.inf, dtype=np.float32)
    answers = decode_answers(context, w, x, x, top_k=3, allow_no_answer=True)
    assert answers
    for a in answers:
        assert context[a.start : a.start + a.length] == a.text
