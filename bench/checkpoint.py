"""The benchmark's model: one random ALBERT-base-sized QA checkpoint shared by every engine.

Layout under the cache dir (built once, reused): ``hf/`` (transformers checkpoint and fast
tokenizer) and ``model/`` (the project's converted model dir), both from
``python -m tools.checkpoints --size base --converted``; ``model/int8/`` from
``python -m tools.quantize``; ``model.onnx`` (torch.onnx export of ``hf/``).
Weights are random (no model hub here): latency does not depend on the values, answers do.

The default precision is chosen per model by the INT8 accuracy gate, which a random model cannot
pass (it is confident about nothing). :func:`prepare_gated` builds the bench's second model, one
whose answers are real: ALBERT trained here with base's 12 layers at width 128
(``tools.train_qa --layers 12 --init-from`` the 4-layer model of ``make accuracy``:
10 + 15 min on 2 cores, cached), widened exactly to base's width
(``tools.widen``: every matrix product at base size, the same answers), converted and gated on its
held-out split (``tools.int8_gate``). ``QA_PRECISION=auto`` on it serves what the gate decided.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from bench.records import Fidelity, GatedModel, JsonObject, ModelPaths, TokenCount, TokenNote

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
        quantize(paths.qa, calib_windows=8 if quick else 16, fidelity_pairs=5 if quick else 20)
    if not paths.onnx.is_file():
        export_onnx(paths.hf, paths.onnx)
    return paths


def quantize(model_dir: Path, *, calib_windows: int, fidelity_pairs: int) -> None:
    """The INT8 artefact of ``model_dir``, without the accuracy gate (``tools.quantize``)."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "tools.quantize",
            "--model-dir",
            str(model_dir),
            "--calib-windows",
            str(calib_windows),
            "--fidelity-pairs",
            str(fidelity_pairs),
        ],
        check=True,
        cwd=ROOT,
    )


#: The gated model: base's depth trained here, then widened to base's width (tools.widen). A
#: 12-layer model at width 128 trained from noise for 15 min reached 7.8% held-out EM (2 cores,
#: AMD EPYC Zen 5, 2026-12-04): too few confident answers to judge. Warm-started from the 4-layer
#: model of `make accuracy` (the one shared layer fits any depth), 10 more minutes train it well.
GATED_LAYERS = 12
GATED_TRAIN_MINUTES = 10.0
SMALL_MINUTES = 15.0
#: The 4-layer start: `make accuracy`'s model when it is there, else trained under the gated dir.
ACCURACY_MODEL = ROOT / "models" / "trained-small"


#: Where it lives: inside the Docker build context (.dockerignore), since the bench's QA image
#: bakes it (mk/bench.mk BENCH_QA_MODEL), so the container sections measure the default too.
GATED_DIR = ROOT / "build" / "bench-models" / "gated"


def prepare_gated(root: Path = GATED_DIR, *, minutes: float = GATED_TRAIN_MINUTES) -> ModelPaths:
    """Train (or reuse), widen, convert and gate the bench's gate-checked model under ``root``;
    each step is skipped when its output is there (delete the folder to redo them all)."""
    paths = ModelPaths(hf=root / "hf", qa=root / "model", onnx=root / "model.onnx")
    threads = "2"

    def run(step: str, *args: str) -> None:
        print(f"==> gated model: {step}", flush=True)
        subprocess.run([sys.executable, "-m", *args], check=True, cwd=ROOT)

    small = ACCURACY_MODEL if (ACCURACY_MODEL / "hf" / "config.json").is_file() else root / "small"
    if not (small / "hf" / "config.json").is_file():
        run(
            f"training the 4-layer start, width 128, for {SMALL_MINUTES:g} min (tools.train_qa, "
            "as make accuracy does; cached afterwards)",
            "tools.train_qa",
            "--out",
            str(small),
            "--minutes",
            f"{SMALL_MINUTES:g}",
            "--threads",
            threads,
        )
    if not (root / "train" / "hf" / "config.json").is_file():
        run(
            f"training it on at {GATED_LAYERS} layers for {minutes:g} min (tools.train_qa "
            "--init-from; cached afterwards)",
            "tools.train_qa",
            "--out",
            str(root / "train"),
            "--layers",
            str(GATED_LAYERS),
            "--minutes",
            f"{minutes:g}",
            "--threads",
            threads,
            "--init-from",
            str(small / "hf"),
        )
    if not (paths.hf / WIDEN_RECORD).is_file():
        run(
            "widening it to ALBERT-base's width (tools.widen)",
            "tools.widen",
            "--from",
            str(root / "train" / "hf"),
            "--out",
            str(paths.hf),
        )
    if not (paths.qa / "config.json").is_file():
        run(
            "converting (tools.convert)",
            "tools.convert",
            "--from-hf",
            str(paths.hf),
            "--out",
            str(paths.qa),
        )
    if not (paths.qa / "int8" / "gate.json").is_file():
        run(
            "quantizing with the accuracy gate on the held-out split (tools.int8_gate)",
            "tools.int8_gate",
            "--model-dir",
            str(paths.qa),
            "--check-set",
            "heldout",
            "--threads",
            threads,
        )
    return paths


WIDEN_RECORD = "widen.json"


def gated_model(paths: ModelPaths) -> GatedModel:
    """What the gated model is and what the gate decided, from the files prepare_gated wrote."""
    from app.qa.int8 import read_gate

    def read(path: Path) -> JsonObject:
        data: JsonObject = json.loads(path.read_text(encoding="utf-8"))
        return data

    train = read(paths.hf.parent / "train" / "train.json")
    widen = read(paths.hf / WIDEN_RECORD)
    config = read(paths.hf / "config.json")
    gate = read_gate(paths.qa / "int8")
    gate_json = read(paths.qa / "int8" / "gate.json")
    recipe = gate_json.get("recipe") or {}
    groups = recipe.get("fp32_groups") or []
    return GatedModel(
        layers=int(config["num_hidden_layers"]),
        hidden=int(config["hidden_size"]),
        heads=int(config["num_attention_heads"]),
        intermediate=int(config["intermediate_size"]),
        vocab=int(config["vocab_size"]),
        trained_width=int(widen["from_shape"]["hidden"]),
        train_minutes=round(float(train["train_seconds"]) / 60, 1),
        torch_heldout_em=float(train["torch_heldout"]["exact_match"]),
        widen_logit_difference=float(widen["largest_logit_difference"]),
        gate_passed=bool(gate.passed),
        gate_reason=gate.reason,
        recipe=f"calibration {recipe.get('calibration', '?')}, "
        + (f"fp32 groups: {', '.join(groups)}" if groups else "every layer INT8"),
        serving="int8" if gate.passed else "fp32",
    )


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


def token_note(paths: ModelPaths, words: Sequence[int] = (50, 150, 400, 800, 1500)) -> TokenNote:
    """Context tokens and tokens per word per context size, with the checkpoint's tokenizer.

    Latency per word compares with a real checkpoint only as far as tokens per word do (the
    real ALBERT vocabulary has 30k pieces), so the report prints them beside per-word figures.
    """
    from transformers import AutoTokenizer

    from bench.texts import pairs_for

    # transformers' Auto classes are untyped.
    tok = AutoTokenizer.from_pretrained(str(paths.hf))  # type: ignore[no-untyped-call]
    sizes = {}
    for size in words:
        pairs = pairs_for(size, 3)  # the bench's first contexts of this size
        tokens = [len(tok(p.context, add_special_tokens=False)["input_ids"]) for p in pairs]
        n_words = sum(p.context_words for p in pairs)
        sizes[str(size)] = TokenCount(
            context_tokens=round(sum(tokens) / len(tokens)),
            tokens_per_word=round(sum(tokens) / n_words, 2),
        )
    return TokenNote(pieces=len(tok), sizes=sizes)


def fidelity(paths: ModelPaths) -> Fidelity | None:
    """The INT8 artefact's fidelity report (tools.quantize), when it has one."""
    path = paths.qa / "int8" / "fidelity.json"
    return Fidelity.from_json(json.loads(path.read_text())) if path.is_file() else None


def main(argv: list[str] | None = None) -> int:
    """python -m bench.checkpoint: build (or reuse) the gated model; print its model dir."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench.checkpoint", description=main.__doc__)
    parser.add_argument("--root", type=Path, default=GATED_DIR)
    parser.add_argument("--minutes", type=float, default=GATED_TRAIN_MINUTES)
    args = parser.parse_args(argv)
    paths = prepare_gated(args.root, minutes=args.minutes)
    model = gated_model(paths)
    print(f"gated model {paths.qa}: auto serves {model.serving.upper()} ({model.gate_reason})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
