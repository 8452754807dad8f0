"""The QA service: question + context in, answers (spans of the context) out.

Glue between the tokenizer, the windows, the MXNet model (:mod:`app.qa.model`, the only module
that imports mxnet) and the decoder. Free of FastAPI; the ``/qa`` routes sit on top of it.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from app import limits, metrics
from app.config import Settings
from app.errors import (
    BadRequestError,
    DeadlineExceededError,
)
from app.qa.decode import Answer, decode_answers
from app.qa.families import Layout
from app.qa.features import Windows, bucket_step, build_windows, count_windows, seq_buckets
from app.qa.tokenizer import Tokenizer, load_tokenizer

if TYPE_CHECKING:
    from app.qa.model import QaModel

#: Windows per forward call. Measured here on ALBERT-base fp32 (2 threads), batch 4 saved about
#: a third per window at 64 tokens and nothing at 384, while its first call at 384 cost 18 s, far
#: over the 10 s Lambda init budget for warm-up. So one window per call: every bucket is warmed at
#: batch 1 only and a long request can stop after any window when its deadline nears.
CHUNK_WINDOWS = 1


class QuestionContext(Protocol):
    """One question/context pair of a batch: :class:`QaItem`, or the API's request item."""

    @property
    def question(self) -> str: ...

    @property
    def context(self) -> str: ...


@dataclass(frozen=True)
class QaItem:
    """One question/context pair of a batch."""

    question: str
    context: str


class QaService:
    """Answers questions with one loaded model; safe to call from several threads."""

    def __init__(
        self,
        model: QaModel,
        tokenizer: Tokenizer,
        settings: Settings,
        *,
        name: str,
        version: str,
        special_ids: tuple[int, int, int],
        layout: Layout | None = None,
        load_seconds: dict[str, float] | None = None,
        chunk_windows: int = CHUNK_WINDOWS,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.settings = settings
        self.name = name
        self.version = version
        self.cls_id, self.sep_id, self.pad_id = special_ids
        self.layout = layout or model.config.family.layout
        #: QA_MAX_SEQ_LENGTH, capped at the longest window the model's positions hold.
        self.max_seq_length = max_window(settings, model.config.architecture.max_tokens)
        self.load_seconds: dict[str, float] = dict(load_seconds or {})
        self.bucket_step = bucket_step(model.precision)
        self.buckets = seq_buckets(self.max_seq_length, self.bucket_step)
        self.chunk_windows = chunk_windows
        self._forward_lock = threading.Lock()
        # Last measured forward seconds per window, per bucket: the deadline estimate.
        self._seconds_per_window: dict[int, float] = {}

    @classmethod
    def load(cls, settings: Settings) -> QaService:
        """Load tokenizer, config and model from ``settings.qa_model_dir``; warm it up."""
        t0 = time.perf_counter()
        model_dir = Path(settings.qa_model_dir)
        # The model's version hashes its small files, and its weights only in a directory whose
        # config predates params_sha256 (~50 MB for ALBERT-base): on the other CPU while mxnet
        # imports (hashlib releases the GIL); a failure is raised by the synchronous retry below.
        fingerprint: list[str] = []
        hasher = threading.Thread(
            target=_fingerprint_into, args=(fingerprint, model_dir), name="qa-fingerprint"
        )
        hasher.start()
        from app.qa.model import QaModel
        from app.qa.modeldir import QaConfig
        from app.qa.runtime import import_framework

        import_framework(settings.num_threads)
        t1 = time.perf_counter()
        config = QaConfig.load(model_dir)
        tok = config.tokenizer
        tokenizer = load_tokenizer(config)
        special_ids = (tok.cls_token_id, tok.sep_token_id, tok.pad_token_id)
        model = QaModel.load(
            model_dir, precision=settings.qa_precision, num_threads=settings.num_threads
        )
        t2 = time.perf_counter()
        longest = max_window(settings, config.architecture.max_tokens)
        model.warmup(warm_lengths(model.precision, longest), [1])
        t3 = time.perf_counter()
        hasher.join()
        return cls(
            model,
            tokenizer,
            settings,
            name=f"{config.family_name}-qa-{model.precision}",
            version=fingerprint[0] if fingerprint else _fingerprint(model_dir),
            special_ids=special_ids,
            layout=config.family.layout,
            load_seconds={
                "import": round(t1 - t0, 4),
                "load": round(t2 - t1, 4),
                "warmup": round(t3 - t2, 4),
            },
        )

    @property
    def serving(self) -> dict[str, Any]:
        """The precision in force, why (the INT8 accuracy gate's verdict), its figures, and a
        warning when INT8 was forced past a gate that did not pass."""
        model = self.model
        out: dict[str, Any] = {"precision": model.precision, "reason": model.precision_reason}
        if model.precision_warning:
            out["warning"] = model.precision_warning
        if model.gate_figures:
            keep = ("questions", "em_loss", "f1_loss", "agreement", "confident_agreement")
            out["gate"] = {k: model.gate_figures[k] for k in keep if k in model.gate_figures}
        return out

    def answer(
        self,
        question: str,
        context: str,
        *,
        top_k: int = 1,
        max_answer_length: int | None = None,
        doc_stride: int | None = None,
        allow_no_answer: bool = False,
        deadline: float | None = None,
        align_to_words: bool = True,
    ) -> list[Answer]:
        """Up to ``top_k`` answers, best first; each satisfies ``context[start:end] == text``.

        ``deadline`` is a ``time.monotonic()`` value: work stops with DeadlineExceededError before
        a chunk of windows that would not finish in time.
        """
        stride = doc_stride or self.settings.qa_doc_stride
        windows = self._windows(question, context, stride)
        metrics.add("Windows", windows.count)
        metrics.add("Tokens", int(windows.attention_mask.sum()))
        start_logits, end_logits = self._forward(windows, deadline)
        return decode_answers(
            context,
            windows,
            start_logits,
            end_logits,
            top_k=top_k,
            max_answer_length=max_answer_length or self.settings.qa_max_answer_length,
            allow_no_answer=allow_no_answer,
            null_threshold=self.settings.qa_null_threshold,
            align_to_words=align_to_words,
        )

    def answer_batch(
        self,
        items: Sequence[QuestionContext],
        *,
        top_k: int = 1,
        max_answer_length: int | None = None,
        doc_stride: int | None = None,
        allow_no_answer: bool = False,
        deadline: float | None = None,
        align_to_words: bool = True,
    ) -> list[list[Answer]]:
        """:meth:`answer` for each item, in order, under one deadline."""
        return [
            self.answer(
                item.question,
                item.context,
                top_k=top_k,
                max_answer_length=max_answer_length,
                doc_stride=doc_stride,
                allow_no_answer=allow_no_answer,
                deadline=deadline,
                align_to_words=align_to_words,
            )
            for item in items
        ]

    def _windows(self, question: str, context: str, doc_stride: int) -> Windows:
        s = self.settings
        if not question.strip():
            raise BadRequestError("The question is empty; send a question with some words.")
        q = self.tokenizer.encode(question)
        c = self.tokenizer.encode(context)
        if not c.ids:
            raise BadRequestError("The context has no text to search; send a non-empty context.")
        n_q = min(len(q.ids), s.qa_max_question_length)
        budget = self.max_seq_length - n_q - self.layout.specials
        if doc_stride >= budget:
            raise BadRequestError(
                f"doc_stride {doc_stride} must be smaller than the {budget} context tokens a "
                f"window holds with this question; use doc_stride below {budget}."
            )
        n_windows = count_windows(
            len(q.ids),
            len(c.ids),
            max_seq_length=self.max_seq_length,
            doc_stride=doc_stride,
            max_question_length=s.qa_max_question_length,
            layout=self.layout,
        )
        limits.check_windows(len(c.ids), n_windows, budget - doc_stride, s)
        return build_windows(
            q,
            c,
            cls_id=self.cls_id,
            sep_id=self.sep_id,
            pad_id=self.pad_id,
            max_seq_length=self.max_seq_length,
            doc_stride=doc_stride,
            max_question_length=s.qa_max_question_length,
            bucket_step=self.bucket_step,
            layout=self.layout,
        )

    def _forward(
        self, windows: Windows, deadline: float | None
    ) -> tuple[np.ndarray[Any, np.dtype[np.float32]], np.ndarray[Any, np.dtype[np.float32]]]:
        """(W, T) start and end logits, computed in chunks of ``chunk_windows`` windows.

        A remainder smaller than a chunk runs one window at a time: only batch sizes 1 and
        ``chunk_windows`` are warmed up.
        """
        width = windows.input_ids.shape[1]
        start = np.full((windows.count, width), -np.inf, dtype=np.float32)
        end = np.full((windows.count, width), -np.inf, dtype=np.float32)
        first = 0
        while first < windows.count:
            size = self.chunk_windows if windows.count - first >= self.chunk_windows else 1
            chunk = windows.take(slice(first, first + size))
            bucket = chunk.input_ids.shape[1]
            if deadline is not None:
                estimate = self._seconds_per_window.get(bucket, 0.0) * chunk.count
                if time.monotonic() + estimate > deadline:
                    raise DeadlineExceededError(
                        f"The answer would not be ready before the function times out (stopped "
                        f"after {first} of {windows.count} windows). Send a shorter context, or "
                        "raise the function timeout."
                    )
            began = time.perf_counter()
            with self._forward_lock:
                s_logits, e_logits = self.model.forward(
                    chunk.input_ids, chunk.token_type_ids, chunk.attention_mask
                )
            self._seconds_per_window[bucket] = (time.perf_counter() - began) / chunk.count
            start[first : first + chunk.count, :bucket] = s_logits
            end[first : first + chunk.count, :bucket] = e_logits
            first += size
        return start, end


def max_window(settings: Settings, max_tokens: int) -> int:
    """The longest window: QA_MAX_SEQ_LENGTH, or fewer when the model's position table holds
    fewer tokens (``Architecture.max_tokens``: RoBERTa's 514 positions hold 512)."""
    return min(settings.qa_max_seq_length, max_tokens)


#: fp32's warm-up length: the cheapest shape that runs the graph's first call.
WARM_UP_TOKENS = 16


def warm_lengths(precision: str, max_seq_length: int) -> list[int]:
    """The sequence lengths init runs once, so that no request pays a first call.

    fp32: one short window of :data:`WARM_UP_TOKENS`. The graph's first call costs 1.55-1.61x a
    steady forward (lazy op wrappers, the kernel library, the cached graph), but after it a new
    shape's first call costs 0.89-1.21x (measured here, docs/performance.md "Cold start"), so the
    first call need not be at a bucket a request uses: at 16 tokens it took 0.17-0.23 s instead
    of 0.34-0.49 s at 128, and the buckets' first calls after it were 0.89-1.02x.
    INT8: every bucket. Its quantized graph's first call at a new shape costs 1.6-2.1x.
    """
    buckets = seq_buckets(max_seq_length, bucket_step(precision))
    return list(buckets) if precision == "int8" else [WARM_UP_TOKENS]


def _fingerprint_into(out: list[str], model_dir: Path) -> None:
    # On failure QaService.load hashes again in its own thread, and raises there.
    with contextlib.suppress(OSError):
        out.append(_fingerprint(model_dir))


#: Files a model's version covers besides its weights (the tokenizer file is one of the last two).
_VERSIONED = ("config.json", "spiece.model", "tokenizer.json")


def _fingerprint(model_dir: Path) -> str:
    """Short content hash of config, vocabulary and weights.

    The weights enter through ``params_sha256`` in config.json, which the converter writes, so
    init reads a few small files whatever the model's size (a BERT-large ``model.params`` is
    1.3 GB: hashing it took longer than Lambda's 10 s init allows). A config without it (written
    before it existed) has ``model.params`` hashed too, as before (about 50 ms for ALBERT-base).
    """
    digest = hashlib.sha256()
    names = list(_VERSIONED)
    if b'"params_sha256"' not in (model_dir / "config.json").read_bytes():
        names.append("model.params")
    for name in names:
        path = model_dir / name
        if path.exists():
            with path.open("rb") as f:
                digest.update(hashlib.file_digest(f, "sha256").digest())
    return digest.hexdigest()[:12]
