"""The benchmark's model: one random ALBERT-base-sized QA checkpoint shared by every engine.

Layout under the cache dir (built once, reused): ``hf/`` (transformers checkpoint and fast
tokenizer) and ``model/`` (the project's converted model dir), both from
``python -m tools.checkpoints --size base --converted``; ``model/int8/`` from
``python -m tools.quantize``; ``model.onnx`` (torch.onnx export of ``hf/``).
Weights are random (no model hub here): latency does not depend on the values, answers do.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench.records import Fidelity, ModelPaths, TokenCount, TokenNote

ROOT = Path(__file__).resolve().parent.parent


def prepare(cache: Path, *, quick: bool) -> ModelPaths:
    """Build what is missing; return the paths each engine needs."""
    paths = ModelPaths(hf=cache / "hf", qa=cache / "model", onnx=cache / "model.onnx")
    if not (paths.qa / "config.json").is_file():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "tools.checkpoints",
                "--out",
                str(cache),
                "--size",
                "base",
                "--converted",
            ],
            check=True,
            cwd=ROOT,
        )
    if not (paths.qa / "int8" / "padded-symbol.json").is_file():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "tools.quantize",
                "--model-dir",
                str(paths.qa),
                "--calib-windows",
                "8" if quick else "16",
                "--fidelity-pairs",
                "5" if quick else "20",
            ],
            check=True,
            cwd=ROOT,
        )
    if not paths.onnx.is_file():
        export_onnx(paths.hf, paths.onnx)
    return paths


def export_onnx(hf: Path, onnx: Path) -> None:
    """torch.onnx export (TorchScript exporter) with dynamic batch and sequence axes."""
    import torch
    from transformers import AlbertForQuestionAnswering

    model = AlbertForQuestionAnswering.from_pretrained(hf).eval()
    model.config.return_dict = False
    ids = torch.ones(1, 128, dtype=torch.int64)
    axes = {0: "batch", 1: "seq"}
    names = ["input_ids", "attention_mask", "token_type_ids"]
    with torch.no_grad():
        torch.onnx.export(
            model,
            (ids, torch.ones_like(ids), torch.zeros_like(ids)),
            str(onnx),
            input_names=names,
            output_names=["start_logits", "end_logits"],
            dynamic_axes={n: axes for n in [*names, "start_logits", "end_logits"]},
            opset_version=17,
            dynamo=False,
        )


def token_note(paths: ModelPaths) -> TokenNote:
    """Context tokens and tokens per word per context size, with the checkpoint's tokenizer.

    Latency per word compares with a real checkpoint only as far as tokens per word do (the
    real ALBERT vocabulary has 30k pieces), so the report prints them beside per-word figures.
    """
    from transformers import AutoTokenizer

    from bench.texts import pairs_for

    # transformers' Auto classes are untyped.
    tok = AutoTokenizer.from_pretrained(str(paths.hf))  # type: ignore[no-untyped-call]
    sizes = {}
    for words in (50, 150, 400, 800, 1500):
        pairs = pairs_for(words, 3)  # the bench's first contexts of this size
        tokens = [len(tok(p.context, add_special_tokens=False)["input_ids"]) for p in pairs]
        n_words = sum(p.context_words for p in pairs)
        sizes[str(words)] = TokenCount(
            context_tokens=round(sum(tokens) / len(tokens)),
            tokens_per_word=round(sum(tokens) / n_words, 2),
        )
    return TokenNote(pieces=len(tok), sizes=sizes)


def fidelity(paths: ModelPaths) -> Fidelity | None:
    """The INT8 artefact's fidelity report (tools.quantize), when it has one."""
    path = paths.qa / "int8" / "fidelity.json"
    return Fidelity.from_json(json.loads(path.read_text())) if path.is_file() else None
