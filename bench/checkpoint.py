"""The benchmark's model: one random ALBERT-base-sized QA checkpoint shared by every engine.

Layout under the cache dir (built once, reused): ``hf/`` (transformers checkpoint and fast
tokenizer) and ``model/`` (the project's converted model dir), both from
``python -m tests.qa.checkpoints --size base --converted``; ``model/int8/`` from
``python -m app.qa.quantize``; ``model.onnx`` (torch.onnx export of ``hf/``).
Weights are random (no model hub here): latency does not depend on the values, answers do.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def prepare(cache: Path, *, quick: bool) -> dict[str, str | None]:
    """Build what is missing; return the paths each engine needs."""
    hf, model, onnx = cache / "hf", cache / "model", cache / "model.onnx"
    if not (model / "config.json").is_file():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "tests.qa.checkpoints",
                "--out",
                str(cache),
                "--size",
                "base",
                "--converted",
            ],
            check=True,
            cwd=ROOT,
        )
    if not (model / "int8" / "padded-symbol.json").is_file():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "app.qa.quantize",
                "--model-dir",
                str(model),
                "--calib-windows",
                "8" if quick else "16",
                "--fidelity-pairs",
                "5" if quick else "20",
            ],
            check=True,
            cwd=ROOT,
        )
    if not onnx.is_file():
        export_onnx(hf, onnx)
    return {"hf": str(hf), "qa": str(model), "onnx": str(onnx)}


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
