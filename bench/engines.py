"""QA engines under test, each with the same two calls: ``forward`` (B, T) ids and ``answer``.

- ``project``: this project's QaService (tokenise, windows, MXNet forward, decode) and QaModel.
- ``hf``: transformers ``pipeline("question-answering")`` on torch, and the bare model for forward.
- ``ort``: ONNX Runtime fp32 on the torch.onnx export, with the fast tokenizer's windows and a
  numpy decode (the same start x end search as the pipeline, top-1).
Frameworks are imported inside the constructors: each worker process loads one engine only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from bench.records import ModelPaths

Ids = npt.NDArray[np.integer[Any]]
Array = npt.NDArray[Any]

THREADS = 2
MAX_SEQ, DOC_STRIDE, MAX_QUESTION, MAX_ANSWER = 384, 128, 64, 15


class Engine(Protocol):
    def forward(self, ids: Ids) -> None: ...
    def answer(self, question: str, context: str) -> str: ...


class ProjectEngine:
    """The project's QA path (app.qa.service / app.qa.model)."""

    def __init__(self, model_dir: Path, precision: str) -> None:
        from app.config import Settings
        from app.qa.service import QaService

        settings = Settings(
            services=("qa",),
            qa_model_dir=model_dir,
            qa_precision=precision,  # type: ignore[arg-type]
            num_threads=THREADS,
        )
        self.service = QaService.load(settings)
        self.model: Any = self.service.model

    def forward(self, ids: Ids) -> None:
        self.model.forward(ids, np.zeros_like(ids), np.ones_like(ids))

    def answer(self, question: str, context: str) -> str:
        answers = self.service.answer(
            question,
            context,
            top_k=1,
            max_answer_length=MAX_ANSWER,
            doc_stride=DOC_STRIDE,
            allow_no_answer=False,
            deadline=None,
        )
        return answers[0].text if answers else ""


class ModelEngine:
    """The project's QaModel alone (forward only): for a venv without the app's other deps."""

    def __init__(self, model_dir: Path, precision: str) -> None:
        from app.qa.model import QaModel

        self.model = QaModel.load(model_dir, precision=precision, num_threads=THREADS)

    def forward(self, ids: Ids) -> None:
        self.model.forward(ids, np.zeros_like(ids), np.ones_like(ids))

    def answer(self, question: str, context: str) -> str:
        raise NotImplementedError("forward-only engine")


class HfEngine:
    """transformers' QA pipeline on torch (the semantics users know)."""

    def __init__(self, hf_dir: Path) -> None:
        import torch
        from transformers import pipeline

        torch.set_num_threads(THREADS)
        torch.set_num_interop_threads(1)
        self.torch = torch
        self.pipe = pipeline(
            "question-answering", model=str(hf_dir), tokenizer=str(hf_dir), device=-1
        )
        self.model = self.pipe.model

    def forward(self, ids: Ids) -> None:
        t = self.torch.from_numpy(ids.astype(np.int64))
        with self.torch.inference_mode():
            self.model(
                input_ids=t,
                attention_mask=self.torch.ones_like(t),
                token_type_ids=self.torch.zeros_like(t),
            )

    def answer(self, question: str, context: str) -> str:
        out = self.pipe(
            question=question,
            context=context,
            top_k=1,
            doc_stride=DOC_STRIDE,
            max_answer_len=MAX_ANSWER,
            max_seq_len=MAX_SEQ,
            max_question_len=MAX_QUESTION,
            handle_impossible_answer=False,
        )
        return str(out["answer"])


class OrtEngine:
    """ONNX Runtime fp32 with the fast tokenizer's overflowing windows and a numpy decode."""

    def __init__(self, hf_dir: Path, onnx_path: Path) -> None:
        import onnxruntime as ort
        from transformers import AutoTokenizer

        options = ort.SessionOptions()
        options.intra_op_num_threads = THREADS
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(
            str(onnx_path), options, providers=["CPUExecutionProvider"]
        )
        # transformers' Auto classes are untyped.
        self.tokenizer = AutoTokenizer.from_pretrained(str(hf_dir))  # type: ignore[no-untyped-call]

    def _run(self, ids: Array, mask: Array, types: Array) -> list[Array]:
        feeds = {
            "input_ids": ids.astype(np.int64),
            "attention_mask": mask.astype(np.int64),
            "token_type_ids": types.astype(np.int64),
        }
        return list(self.session.run(None, feeds))

    def forward(self, ids: Ids) -> None:
        self._run(ids, np.ones_like(ids), np.zeros_like(ids))

    def answer(self, question: str, context: str) -> str:
        q_ids = self.tokenizer(question, add_special_tokens=False)["input_ids"][:MAX_QUESTION]
        question = self.tokenizer.decode(q_ids)
        enc = self.tokenizer(
            question,
            context,
            truncation="only_second",
            max_length=MAX_SEQ,
            stride=DOC_STRIDE,
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
            padding="longest",
            return_tensors="np",
        )
        start, end = self._run(enc["input_ids"], enc["attention_mask"], enc["token_type_ids"])
        best, best_span = -np.inf, (0, 0)
        for w in range(start.shape[0]):
            is_context = np.array([s == 1 for s in enc.sequence_ids(w)])
            s_p = _softmax(np.where(is_context, start[w], -1e4))
            e_p = _softmax(np.where(is_context, end[w], -1e4))
            scores = np.triu(np.outer(s_p, e_p)) - np.triu(np.outer(s_p, e_p), MAX_ANSWER)
            i, j = np.unravel_index(int(np.argmax(scores)), scores.shape)
            if scores[i, j] > best:
                offsets = enc["offset_mapping"][w]
                best, best_span = scores[i, j], (int(offsets[i][0]), int(offsets[j][1]))
        return context[best_span[0] : best_span[1]]


def _softmax(x: Array) -> Array:
    e = np.exp(x - x.max())
    probabilities: Array = e / e.sum()
    return probabilities


def make_engine(name: str, paths: ModelPaths) -> Engine:
    """``project-fp32``, ``project-int8``, ``model-<precision>``, ``hf`` or ``ort``."""
    if name.startswith("model-"):
        return ModelEngine(paths.qa, name.split("-", 1)[1])
    if name.startswith("project-"):
        return ProjectEngine(paths.qa, name.split("-", 1)[1])
    if name == "hf":
        return HfEngine(paths.hf)
    if name == "ort":
        return OrtEngine(paths.hf, paths.onnx)
    raise ValueError(f"unknown engine {name!r}")
