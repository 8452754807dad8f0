"""Question/context windows for extractive QA (pure numpy).

Windowing follows the transformers QA pipeline with a fast tokenizer (``truncation="only_second"``,
``stride=doc_stride``, ``return_overflowing_tokens=True``): each window is
``[CLS] question [SEP]*seps_between context-slice [SEP]`` (the family's
:class:`~app.qa.families.Layout`: one separator for BERT, DistilBERT and ALBERT, two for RoBERTa's
``<s> q </s></s> c </s>``); a slice holds ``budget = max_seq_length - len(question) -
layout.specials`` context tokens and the next slice starts ``budget - doc_stride`` tokens later, so
consecutive windows share ``doc_stride`` tokens. The context tokens and the closing separator have
token type ``layout.context_type_id`` (1; RoBERTa 0), everything before them type 0. Unlike the
pipeline, the question is cut to ``max_question_length`` tokens (the pipeline's fast path ignores
that setting and fails instead).

All windows of one request form one (W, T) batch, padded only up to the longest window rounded up
to a bucket (:func:`seq_buckets`), so a short request never pays for 384 tokens.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from app.qa.families import Layout
from app.qa.tokenizer import Encoding

IntArray = npt.NDArray[np.int32]
BoolArray = npt.NDArray[np.bool_]
# Every bucket is a graph shape. INT8 warms each bucket during init (its quantized graph's first
# call at a new shape costs 1.6-2.1x; about 0.17 s per bucket at base size), so its buckets are
# every BUCKET_STEP tokens: a window pads to at most 63 extra tokens. Steps of 128 (64, 128, 256,
# 384) padded a 404-token context's second window from ~160 to 256 tokens; steps of 64 took the
# gate-checked model's ~150-word answer from 0.257x to 0.247x the pipeline (0.513x to 0.475x
# capped at AVX2), AMD EPYC Zen 5, 2026-12-05, for two more buckets to warm. fp32
# needs no warm-up per shape once its graph has run (a new shape's first call costs 0.9-1.2x a
# steady forward, and each cached shape up to 384 tokens adds 1-14 MB), so it pads to the next
# FP32_BUCKET_STEP: a 300-token window runs as 320, not 384 (docs/performance.md, "Padding").
BUCKET_STEP = 64
SMALL_BUCKET = 64
FP32_BUCKET_STEP = 32
#: The default window layout, ``[CLS] q [SEP] c [SEP]`` with context type 1 (BERT, ALBERT).
BERT_LAYOUT = Layout()


def bucket_step(precision: str) -> int:
    """The bucket step of a precision: FP32_BUCKET_STEP for fp32, BUCKET_STEP for INT8."""
    return FP32_BUCKET_STEP if precision == "fp32" else BUCKET_STEP


def seq_buckets(max_seq_length: int, step: int = BUCKET_STEP) -> tuple[int, ...]:
    """Padded sequence lengths: multiples of ``step`` up to ``max_seq_length`` (always last).

    With a step above SMALL_BUCKET, SMALL_BUCKET comes first (64, 128, 256, 384 for a step of
    128); INT8's step is 64: 64, 128, 192, 256, 320, 384.
    """
    small = (SMALL_BUCKET,) if step > SMALL_BUCKET and max_seq_length > SMALL_BUCKET else ()
    return (*small, *range(step, max_seq_length, step), max_seq_length)


def bucket_for(length: int, max_seq_length: int, step: int = BUCKET_STEP) -> int:
    """Smallest bucket >= ``length``."""
    for bucket in seq_buckets(max_seq_length, step):
        if bucket >= length:
            return bucket
    raise ValueError(f"window of {length} tokens exceeds max_seq_length {max_seq_length}")


def window_starts(n_context: int, budget: int, doc_stride: int) -> list[int]:
    """First context token of every window (as tokenizers' overflow with stride)."""
    if budget <= doc_stride:
        raise ValueError(
            f"doc_stride {doc_stride} must be smaller than the {budget} context tokens per window"
        )
    starts = [0]
    while starts[-1] + budget < n_context:
        starts.append(starts[-1] + budget - doc_stride)
    return starts


@dataclass(frozen=True)
class Windows:
    """One request's windows as a padded batch, W windows of T tokens.

    input_ids, token_type_ids, attention_mask: (W, T) int32 model inputs.
    p_mask: (W, T) bool, True where a token cannot be part of an answer (question, specials,
        padding); the [CLS] at index 0 is True too (decode reads it for the null score).
    offsets: (W, T, 2) int32 character span of each context token in the context, -1 elsewhere.
    words: (W, T) int32 context word index of each context token, -1 elsewhere.
    max_context: (W, T) bool, True where this window gives the token its widest surrounding
        context among all windows (SQuAD's ``check_is_max_context``).
    lengths: (W,) int32 unpadded window lengths.
    step: the bucket step the windows were padded with (:func:`seq_buckets`).
    """

    input_ids: IntArray
    token_type_ids: IntArray
    attention_mask: IntArray
    p_mask: BoolArray
    offsets: IntArray
    words: IntArray
    max_context: BoolArray
    lengths: IntArray
    step: int = BUCKET_STEP

    @property
    def count(self) -> int:
        """Number of windows W."""
        return int(self.input_ids.shape[0])

    def take(self, index: slice) -> Windows:
        """A sub-batch of windows, trimmed of padding columns no window in it needs."""
        lengths = self.lengths[index]
        width = bucket_for(int(lengths.max()), self.input_ids.shape[1], self.step)
        return Windows(
            input_ids=self.input_ids[index, :width],
            token_type_ids=self.token_type_ids[index, :width],
            attention_mask=self.attention_mask[index, :width],
            p_mask=self.p_mask[index, :width],
            offsets=self.offsets[index, :width],
            words=self.words[index, :width],
            max_context=self.max_context[index, :width],
            lengths=lengths,
            step=self.step,
        )


def count_windows(
    n_question: int,
    n_context: int,
    *,
    max_seq_length: int,
    doc_stride: int,
    max_question_length: int,
    layout: Layout = BERT_LAYOUT,
) -> int:
    """How many windows :func:`build_windows` would make (cheap; for limits before any work)."""
    budget = max_seq_length - min(n_question, max_question_length) - layout.specials
    return len(window_starts(n_context, budget, doc_stride))


def build_windows(
    question: Encoding,
    context: Encoding,
    *,
    cls_id: int,
    sep_id: int,
    pad_id: int,
    max_seq_length: int,
    doc_stride: int,
    max_question_length: int,
    bucket_step: int = BUCKET_STEP,
    layout: Layout = BERT_LAYOUT,
) -> Windows:
    """Windows of ``[CLS] question [SEP]*layout.seps_between context-slice [SEP]``, padded to a
    bucket of ``bucket_step`` (:func:`seq_buckets`)."""
    q_ids = question.ids[:max_question_length]
    n_q = len(q_ids)
    budget = max_seq_length - n_q - layout.specials
    n_c = len(context.ids)
    starts = window_starts(n_c, budget, doc_stride)
    spans = [(s, min(s + budget, n_c)) for s in starts]
    lengths = np.array([n_q + layout.specials + (e - s) for s, e in spans], dtype=np.int32)
    width = bucket_for(int(lengths.max()), max_seq_length, bucket_step)
    w = len(spans)

    input_ids = np.full((w, width), pad_id, dtype=np.int32)
    token_type_ids = np.zeros((w, width), dtype=np.int32)
    attention_mask = np.zeros((w, width), dtype=np.int32)
    p_mask = np.ones((w, width), dtype=np.bool_)
    offsets = np.full((w, width, 2), -1, dtype=np.int32)
    words = np.full((w, width), -1, dtype=np.int32)
    max_context = np.zeros((w, width), dtype=np.bool_)

    c_ids = np.asarray(context.ids, dtype=np.int32)
    c_offsets = np.asarray(context.offsets, dtype=np.int32).reshape(-1, 2)
    c_words = np.asarray(context.words, dtype=np.int32)
    best = _max_context_window(spans, n_c)
    head = np.asarray([cls_id, *q_ids, *[sep_id] * layout.seps_between], dtype=np.int32)
    first = len(head)  # column of the first context token
    for row, (s, e) in enumerate(spans):
        n = e - s
        input_ids[row, :first] = head
        input_ids[row, first : first + n] = c_ids[s:e]
        input_ids[row, first + n] = sep_id
        token_type_ids[row, first : first + n + 1] = layout.context_type_id
        attention_mask[row, : first + n + 1] = 1
        p_mask[row, first : first + n] = False
        offsets[row, first : first + n] = c_offsets[s:e]
        words[row, first : first + n] = c_words[s:e]
        max_context[row, first : first + n] = best[s:e] == row
    return Windows(
        input_ids,
        token_type_ids,
        attention_mask,
        p_mask,
        offsets,
        words,
        max_context,
        lengths,
        bucket_step,
    )


def _max_context_window(spans: list[tuple[int, int]], n_context: int) -> npt.NDArray[np.intp]:
    """(n_context,) index of the window where each context token has the most context.

    Score of token p in window [s, e): min(p - s, e - 1 - p) + 0.01 * (e - s); first window wins ties.
    """
    positions = np.arange(n_context)
    scores = np.full((len(spans), n_context), -np.inf)
    for row, (s, e) in enumerate(spans):
        inside = positions[s:e]
        scores[row, s:e] = np.minimum(inside - s, e - 1 - inside) + 0.01 * (e - s)
    if n_context == 0:
        return np.zeros(0, dtype=np.intp)
    best: npt.NDArray[np.intp] = np.argmax(scores, axis=0)
    return best
