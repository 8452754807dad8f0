"""Turn start/end logits of QA windows into answers (pure numpy).

Semantics follow transformers' question-answering pipeline (``postprocess``/``decode_spans``):
per window, a softmax over the context tokens and [CLS]; span score = p_start * p_end for
``start <= end < start + max_answer_length``; the best ``2 * top_k + 10`` spans per window (``top_k``
when ``align_to_words`` is off); spans with the same lower-cased text add up their scores; the
no-answer score is the smallest p_start[CLS] * p_end[CLS] over windows.

Differences, on purpose: answers have surrounding whitespace trimmed (offsets stay exact, so
``context[start:start + length] == text`` always; answers that are all whitespace are dropped);
``null_threshold`` shifts how the no-answer ranks (0 reproduces the pipeline); ``max_context_only``
applies SQuAD's max-context rule (a span must start in the window where its first token has the
most context); logits may be +-inf or huge.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from app.qa.features import Windows

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Answer:
    """An answer: ``context[start:start + length] == text``. No answer is ``("", 0, 0, score)``."""

    text: str
    start: int
    length: int
    score: float

    @property
    def end(self) -> int:
        """Character index one past the answer."""
        return self.start + self.length

    @property
    def is_no_answer(self) -> bool:
        """True for the explicit no-answer (empty text at 0)."""
        return self.length == 0


def masked_softmax(logits: npt.ArrayLike, allowed: npt.NDArray[np.bool_]) -> FloatArray:
    """Softmax over the last axis of (W, T) ``logits`` restricted to ``allowed``; 0 elsewhere.

    Stable for huge values: +inf counts as the largest value, NaN and -inf as impossible; a row
    whose allowed logits are all -inf becomes uniform over its allowed positions.
    """
    x = np.asarray(logits, dtype=np.float64)
    x = np.where(np.isnan(x), -np.inf, x)
    x = np.where(np.isposinf(x), np.finfo(np.float64).max, x)
    x = np.where(allowed, x, -np.inf)
    row_max = x.max(axis=-1, keepdims=True)
    dead = np.isneginf(row_max)
    x = np.where(dead & allowed, 0.0, x)
    row_max = np.where(dead, 0.0, row_max)
    e = np.exp(x - row_max)
    total = e.sum(axis=-1, keepdims=True)
    probs: FloatArray = np.divide(e, total, out=np.zeros_like(e), where=total > 0)
    return probs


@lru_cache(maxsize=64)
def _band(length: int, max_answer_length: int) -> npt.NDArray[np.bool_]:
    """(T, T) True where start <= end < start + max_answer_length (read-only, cached)."""
    band = np.triu(np.ones((length, length), dtype=np.bool_))
    band &= np.tril(band, max_answer_length - 1)
    band.flags.writeable = False
    return band


def decode_spans(
    p_start: FloatArray,
    p_end: FloatArray,
    allowed_start: npt.NDArray[np.bool_],
    allowed_end: npt.NDArray[np.bool_],
    *,
    top_k: int,
    max_answer_length: int,
) -> list[tuple[int, int, float]]:
    """Best ``top_k`` (start, end, score) of one window, best first.

    p_start, p_end: (T,) probabilities; allowed_*: (T,) where a span may start/end.
    """
    outer = np.outer(np.where(allowed_start, p_start, 0.0), np.where(allowed_end, p_end, 0.0))
    valid = _band(len(p_start), max_answer_length) & np.outer(allowed_start, allowed_end)
    flat_scores = np.where(valid, outer, -1.0).ravel()
    n_valid = int(valid.sum())
    k = min(top_k, n_valid)
    if k == 0:
        return []
    best = np.argpartition(-flat_scores, k - 1)[:k]
    best = best[np.argsort(-flat_scores[best], kind="stable")]
    starts, ends = np.unravel_index(best, outer.shape)
    return [
        (int(s), int(e), float(flat_scores[i])) for s, e, i in zip(starts, ends, best, strict=True)
    ]


def _char_span(windows: Windows, row: int, s: int, e: int, align_to_words: bool) -> tuple[int, int]:
    """Context characters of tokens s..e of a window (whole words, within the window, if asked)."""
    if not align_to_words:
        return int(windows.offsets[row, s, 0]), int(windows.offsets[row, e, 1])
    words = windows.words[row]
    first = int(np.argmax(words == words[s]))
    last = len(words) - 1 - int(np.argmax(words[::-1] == words[e]))
    return int(windows.offsets[row, first, 0]), int(windows.offsets[row, last, 1])


def _trimmed(context: str, start: int, end: int, score: float) -> Answer | None:
    text = context[start:end]
    stripped = text.lstrip()
    start += len(text) - len(stripped)
    text = stripped.rstrip()
    if not text:
        return None
    return Answer(text, start, len(text), score)


def decode_answers(
    context: str,
    windows: Windows,
    start_logits: npt.ArrayLike,
    end_logits: npt.ArrayLike,
    *,
    top_k: int = 1,
    max_answer_length: int = 15,
    allow_no_answer: bool = False,
    null_threshold: float = 0.0,
    align_to_words: bool = True,
    max_context_only: bool = False,
) -> list[Answer]:
    """Up to ``top_k`` answers, best first, from (W, T) start/end logits of ``windows``.

    With ``allow_no_answer`` the explicit no-answer ``Answer("", 0, 0, null_score)`` takes part in
    the ranking: it is placed above a span when ``null_score - span_score > null_threshold``.
    """
    start_logits = np.asarray(start_logits)[:, : windows.input_ids.shape[1]]
    end_logits = np.asarray(end_logits)[:, : windows.input_ids.shape[1]]
    context_tokens = ~windows.p_mask
    softmax_allowed = context_tokens.copy()
    softmax_allowed[:, 0] = True  # [CLS] takes part: its probability is the no-answer evidence
    p_start = masked_softmax(start_logits, softmax_allowed)
    p_end = masked_softmax(end_logits, softmax_allowed)
    null_score = float(np.min(p_start[:, 0] * p_end[:, 0]))

    per_window = top_k * 2 + 10 if align_to_words else top_k
    allowed_start = context_tokens & windows.max_context if max_context_only else context_tokens
    # Candidate spans in pipeline order; the same lower-cased text adds up its scores.
    spans_by_text: dict[str, int] = {}
    char_spans: list[tuple[int, int]] = []
    scores: list[float] = []
    for row in range(windows.count):
        spans = decode_spans(
            p_start[row],
            p_end[row],
            allowed_start[row],
            context_tokens[row],
            top_k=per_window,
            max_answer_length=max_answer_length,
        )
        for s, e, score in spans:
            a, b = _char_span(windows, row, s, e, align_to_words)
            key = context[a:b].lower()
            if key in spans_by_text:
                scores[spans_by_text[key]] += score
            else:
                spans_by_text[key] = len(scores)
                char_spans.append((a, b))
                scores.append(score)

    answers = [
        answer
        for (a, b), score in zip(char_spans, scores, strict=True)
        if (answer := _trimmed(context, a, b, score)) is not None
    ]
    ranked: list[tuple[float, int, Answer]] = [(-x.score, i, x) for i, x in enumerate(answers)]
    if allow_no_answer:
        no_answer = Answer("", 0, 0, null_score)
        ranked.append((-(null_score - null_threshold), len(answers), no_answer))
    ranked.sort(key=lambda item: (item[0], item[1]))
    return [answer for _, _, answer in ranked[:top_k]]
