"""`make bench`'s model-family section: ALBERT, BERT, DistilBERT and RoBERTa in one run.

Each family is a random base-size checkpoint (tools.checkpoints), converted and quantized like a
user's, measured on the same ~150-word contexts as the main section against transformers'
question-answering pipeline on the same checkpoint:

- end to end p50 at fp32 and INT8 (forced: a random model cannot pass the accuracy gate, so this
  is INT8's speed, not a verdict on its accuracy);
- a fresh process's cold start (import, load, warm-up, first answer) at fp32;
- the QA image's size with the family's model directory in place of the bench model's;
- the cost per million requests at Lambda's 2-vCPU size, from those figures (bench.cost).

The answers' quality is the checkpoint's, not ours: the report quotes each family's published
SQuAD figures (:data:`PUBLISHED`) with their source. The orchestration is in bench.run
(``run_families``); this module prepares the models and renders the section.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.checkpoint import ROOT, quantize
from bench.records import JsonObject, ModelPaths

#: Row name -> (family, tools.checkpoints size, with an INT8 artefact). BERT-large is the
#: init-time case (1.3 GB of fp32 weights must load within Lambda's 10 s of init); fp32 only.
SPECS: dict[str, tuple[str, str, bool]] = {
    "albert": ("albert", "base", True),
    "bert": ("bert", "base", True),
    "distilbert": ("distilbert", "base", True),
    "roberta": ("roberta", "base", True),
    "bert-large": ("bert", "large", False),
}
FAMILIES = tuple(SPECS)
#: Lambda's memory size whose cost the section quotes: 2 vCPUs, what the bench measures with.
COST_MEMORY_MB = 3538
#: A popular hub checkpoint per family and its published SQuAD dev figures (EM, F1), as stated
#: on its model card: a user's accuracy comes from the checkpoint they pick.
PUBLISHED: dict[str, dict[str, Any]] = {
    "albert": {
        "checkpoint": "twmkn9/albert-base-v2-squad2",
        "layers": "12 (one shared), H 768",
        "squad": "2.0 dev (6,078-question subset)",
        "em": 78.71,
        "f1": 81.89,
        "source": "https://huggingface.co/twmkn9/albert-base-v2-squad2",
    },
    "bert": {
        "checkpoint": "bert-large-uncased-whole-word-masking-finetuned-squad",
        "layers": "24, H 1024 (the bench measures BERT-base: 12, H 768)",
        "squad": "1.1 dev",
        "em": 86.91,
        "f1": 93.15,
        "source": "https://huggingface.co/bert-large-uncased-whole-word-masking-finetuned-squad",
    },
    "distilbert": {
        "checkpoint": "distilbert-base-cased-distilled-squad",
        "layers": "6, H 768",
        "squad": "1.1 dev",
        "em": None,
        "f1": 87.1,
        "source": "https://huggingface.co/distilbert-base-cased-distilled-squad",
    },
    "roberta": {
        "checkpoint": "deepset/roberta-base-squad2",
        "layers": "12, H 768",
        "squad": "2.0 dev",
        "em": 79.87,
        "f1": 82.91,
        "source": "https://huggingface.co/deepset/roberta-base-squad2",
    },
}


def prepare_family(cache: Path, name: str, albert: ModelPaths) -> ModelPaths:
    """The row's random checkpoint (:data:`SPECS`), converted, with a forced INT8 artefact where
    the row has one (built once under ``cache/families``). ALBERT is the main section's model
    (``albert``)."""
    if name == "albert":
        return albert
    family, size, int8 = SPECS[name]
    root = cache / "families" / name
    paths = ModelPaths(hf=root / "hf", qa=root / "model", onnx=root / "model.onnx")
    if not (paths.qa / "config.json").is_file():
        print(f"==> families: building a random {family}-{size} checkpoint", flush=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "tools.checkpoints",
                "--out",
                str(root),
                "--size",
                size,
                "--family",
                family,
                "--converted",
            ],
            check=True,
            cwd=ROOT,
        )
    if int8 and not (paths.qa / "int8" / "padded-symbol.json").is_file():
        print(f"==> families: quantizing {family}-{size} (tools.quantize)", flush=True)
        quantize(paths.qa, calib_windows=16, fidelity_pairs=5)
    return paths


def dir_bytes(path: Path) -> int:
    """Bytes of the regular files under ``path`` (what a COPY of it adds to an image)."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def image_bytes(image: str) -> int | None:
    """The local image's size as the engine reports it, or None when it is not there."""
    done = subprocess.run(
        ["docker", "image", "inspect", "-f", "{{.Size}}", image],
        capture_output=True,
        text=True,
        check=False,
    )
    return int(done.stdout.strip()) if done.returncode == 0 and done.stdout.strip() else None


@dataclass(frozen=True)
class FamilyRow:
    """One family's figures (milliseconds, seconds, MB, dollars)."""

    family: str
    layers: int
    hidden: int
    tokens_150w: int | None
    fp32_ms: float | None
    int8_ms: float | None
    pipeline_ms: float | None
    cold_s: float | None
    init_s: float | None  # spawn to loaded and warmed: what Lambda's 10 s init pays
    pipeline_cold_s: float | None
    model_mb: float
    image_mb: float | None
    cost_per_m: float | None
    int8_cost_per_m: float | None

    def to_json(self) -> JsonObject:
        return dict(self.__dict__)


def architecture(model_dir: Path) -> tuple[int, int]:
    """Layers and hidden size from a converted model's config.json."""
    arch = json.loads((model_dir / "config.json").read_text())["architecture"]
    return int(arch["num_hidden_layers"]), int(arch["hidden_size"])


def estimated_image_mb(
    image_total: int | None, baked_model: Path, family_model: Path
) -> float | None:
    """The QA image's size with ``family_model`` baked instead of ``baked_model``: the model is
    one COPY layer, so the rest of the image is the same bytes."""
    if image_total is None or not baked_model.is_dir():
        return None
    return round((image_total - dir_bytes(baked_model) + dir_bytes(family_model)) / 1e6, 1)


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f} ms"


def _ratio(a: float | None, b: float | None) -> str:
    return "–" if a is None or not b else f"{a / b:.2f}x"


def _s(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f} s"


def _mb(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f} MB"


def _dollars(value: float | None) -> str:
    return "–" if value is None else f"${value:.2f}"


def section(data: Mapping[str, Any] | None) -> list[str]:
    """The report's "Model families" section from ``run_families``' JSON."""
    lines = ["## Model families (random base-size checkpoints, same contexts)", ""]
    if not data:
        return [*lines, "Not measured in this run.", ""]
    if "skipped" in data or "failed" in data:
        return [*lines, f"Not measured: {data.get('skipped') or data.get('failed')}", ""]
    lines += [
        "End to end on the ~150-word contexts (p50), 2 threads; the pipeline is transformers' "
        "on the same checkpoint. INT8 is forced (a random model cannot pass the accuracy gate): "
        f"its speed, not its accuracy. Cost per million requests on demand at {COST_MEMORY_MB} "
        "MB (2 vCPUs), 1% cold starts.",
        "",
        "| family | layers × width | tokens | fp32 | INT8 | pipeline | fp32 / pipeline | "
        "INT8 / pipeline | init (fp32) | cold start (fp32) | pipeline cold | model | QA image | "
        "$/M fp32 | $/M INT8 |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in data.get("rows", []):
        lines.append(
            f"| {row['family']} | {row['layers']} × {row['hidden']} | "
            f"{row['tokens_150w'] or '–'} | {_ms(row['fp32_ms'])} | {_ms(row['int8_ms'])} | "
            f"{_ms(row['pipeline_ms'])} | {_ratio(row['fp32_ms'], row['pipeline_ms'])} | "
            f"{_ratio(row['int8_ms'], row['pipeline_ms'])} | {_s(row.get('init_s'))} | "
            f"{_s(row['cold_s'])} | "
            f"{_s(row['pipeline_cold_s'])} | {_mb(row['model_mb'])} | "
            f"{_mb(row['image_mb'])} | "
            f"{_dollars(row['cost_per_m'])} | {_dollars(row['int8_cost_per_m'])} |"
        )
    errors = data.get("errors") or {}
    for name, message in errors.items():
        lines.append(f"- {name}: {message}")
    lines += [
        "",
        "Published accuracy of a popular checkpoint per family (the figures this project does "
        "not measure: it proves logits within 1e-4 of transformers, so a converted checkpoint "
        "scores what its card says):",
        "",
        "| family | checkpoint | size | SQuAD | EM | F1 |",
        "|---|---|---|---|---|---|",
    ]
    for family, card in PUBLISHED.items():
        em = "not stated" if card["em"] is None else f"{card['em']:.2f}"
        lines.append(
            f"| {family} | [{card['checkpoint']}]({card['source']}) | {card['layers']} | "
            f"{card['squad']} | {em} | {card['f1']:.2f} |"
        )
    return [*lines, ""]
