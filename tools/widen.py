"""Widen a trained ALBERT QA checkpoint to larger sizes without changing what it computes.

    python -m tools.widen --from DIR --out DIR [--hidden 768 --heads 12 --intermediate 3072]

Why: the benchmark needs a model of ALBERT-base's shape (12 layers, hidden 768, 12 heads, FFN
3072) whose INT8 accuracy gate can pass, and no model hub is reachable here. Training one of that
width on 2 cores is out of reach, but a narrow model with the same number of layers trains in
15 minutes (tools.train_qa --layers 12), and widening it exactly gives a model that runs every
matrix product at base size and answers like the trained one. Latency depends on the shapes, the
gate on the answers: both are then real.

How (function-preserving widening, after Net2WiderNet): every hidden unit is copied ``r`` times
(``r = hidden / old_hidden``), so a LayerNorm sees the same mean and variance and normalises to
copies of the same values. A linear layer that reads copied units divides its weights by ``r``;
one that writes them copies its rows. Attention heads are copied ``hidden_ratio / head_ratio``
times and each head's dimensions ``head_ratio`` times; the query is scaled so that the dot
product over the longer head, divided by the new ``sqrt(head_dim)``, equals the old score. The
FFN's intermediate units are copied ``intermediate / old_intermediate`` times (GELU acts on each
unit alone). The embeddings (size E) and the vocabulary are unchanged.

The widened checkpoint's logits are checked against the original's on real windows before it is
written (``widen.json`` records the largest difference).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[Any]

#: The widened model's logits must match the original's to this absolute tolerance.
TOLERANCE = 1e-3
LAYER = "albert.encoder.albert_layer_groups.0.albert_layers.0."
TOKENIZER_FILES = (
    "spiece.model",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
)


class WidenError(ValueError):
    """The requested sizes are not a whole-number widening of the checkpoint."""


@dataclass(frozen=True)
class Shape:
    hidden: int
    heads: int
    intermediate: int

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads


def _ratio(new: int, old: int, what: str) -> int:
    if new < old or new % old:
        raise WidenError(f"{what} {new} is not a whole multiple of the checkpoint's {old}")
    return new // old


def unit_maps(old: Shape, new: Shape) -> dict[str, Array]:
    """For each kind of vector, the old unit that each new unit copies.

    ``hidden``: the residual stream (tiled); ``heads``: query/key/value and the attention
    context (head ``n`` copies old head ``n % old.heads``, its dimension ``d`` copies old
    dimension ``d // head_ratio``); ``ffn``: the intermediate units (tiled).
    """
    _ratio(new.hidden, old.hidden, "hidden size")
    _ratio(new.intermediate, old.intermediate, "intermediate size")
    if new.hidden % new.heads or old.hidden % old.heads:
        raise WidenError("the hidden size must be a multiple of the number of heads")
    head_ratio = _ratio(new.head_dim, old.head_dim, "head size")
    _ratio(new.heads, old.heads, "number of heads")
    j = np.arange(new.hidden)
    head, dim = j // new.head_dim, j % new.head_dim
    return {
        "hidden": j % old.hidden,
        "heads": (head % old.heads) * old.head_dim + dim // head_ratio,
        "ffn": np.arange(new.intermediate) % old.intermediate,
    }


def _copies(unit_map: Array) -> Array:
    """How many new units copy each new unit's old unit (the divisor for readers of it)."""
    counts = np.bincount(unit_map)
    copies: Array = counts[unit_map].astype(np.float64)
    return copies


def _linear(
    weight: Array, bias: Array, out_map: Array | None, in_map: Array | None
) -> tuple[Array, Array]:
    """A Linear (weight out x in) reading units copied by ``in_map``, writing ``out_map``'s."""
    w = weight.astype(np.float64)
    b = bias.astype(np.float64)
    if in_map is not None:
        w = w[:, in_map] / _copies(in_map)[None, :]
    if out_map is not None:
        w, b = w[out_map], b[out_map]
    return w, b


def widen_state(state: dict[str, Array], old: Shape, new: Shape) -> dict[str, Array]:
    """The widened state dict (float32), keyed as transformers' AlbertForQuestionAnswering."""
    maps = unit_maps(old, new)
    hid, heads, ffn = maps["hidden"], maps["heads"], maps["ffn"]
    # q.k over a head of head_ratio x the dimensions is head_ratio x the old one; the score
    # divides by sqrt(new head_dim) where it divided by sqrt(old head_dim).
    head_ratio = new.head_dim // old.head_dim
    q_scale = np.sqrt(new.head_dim / old.head_dim) / head_ratio
    out: dict[str, Array] = {}

    def linear(name: str, out_map: Array | None, in_map: Array | None) -> None:
        w, b = _linear(state[name + ".weight"], state[name + ".bias"], out_map, in_map)
        out[name + ".weight"], out[name + ".bias"] = w, b

    def norm(name: str) -> None:
        out[name + ".weight"] = state[name + ".weight"][hid]
        out[name + ".bias"] = state[name + ".bias"][hid]

    for key, value in state.items():
        if key.startswith("albert.embeddings."):
            out[key] = value  # size E: unchanged
    linear("albert.encoder.embedding_hidden_mapping_in", hid, None)
    linear(LAYER + "attention.query", heads, hid)
    out[LAYER + "attention.query.weight"] *= q_scale
    out[LAYER + "attention.query.bias"] *= q_scale
    linear(LAYER + "attention.key", heads, hid)
    linear(LAYER + "attention.value", heads, hid)
    linear(LAYER + "attention.dense", hid, heads)
    norm(LAYER + "attention.LayerNorm")
    linear(LAYER + "ffn", ffn, hid)
    linear(LAYER + "ffn_output", hid, ffn)
    norm(LAYER + "full_layer_layer_norm")
    linear("qa_outputs", None, hid)
    missing = set(state) - set(out)
    if missing:
        raise WidenError(f"tensors this widening does not know: {sorted(missing)[:5]}")
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in out.items()}


def _shape(config: dict[str, Any]) -> Shape:
    return Shape(config["hidden_size"], config["num_attention_heads"], config["intermediate_size"])


def _check_config(config: dict[str, Any]) -> None:
    if config.get("model_type") != "albert":
        raise WidenError(f"model_type {config.get('model_type')!r}: only ALBERT widens here")
    if config.get("num_hidden_groups", 1) != 1 or config.get("inner_group_num", 1) != 1:
        raise WidenError("only ALBERT's one shared layer (num_hidden_groups = inner_group_num = 1)")


def largest_logit_difference(original: Path, widened: Path, windows: int = 8) -> float:
    """Largest |start/end logit| difference between the two checkpoints on ``windows`` texts."""
    import torch
    from transformers import AlbertForQuestionAnswering, AutoTokenizer

    from bench.texts import pairs_for

    # transformers' Auto classes are untyped.
    tokenizer = AutoTokenizer.from_pretrained(str(original))  # type: ignore[no-untyped-call]
    a = AlbertForQuestionAnswering.from_pretrained(original).eval()
    b = AlbertForQuestionAnswering.from_pretrained(widened).eval()
    worst = 0.0
    with torch.no_grad():
        for pair in pairs_for(150, windows):
            enc = tokenizer(
                pair.question,
                pair.context,
                truncation="only_second",
                max_length=384,
                return_tensors="pt",
            )
            x, y = a(**enc), b(**enc)
            for name in ("start_logits", "end_logits"):
                diff = (getattr(x, name) - getattr(y, name)).abs().max().item()
                worst = max(worst, float(diff))
    return worst


def widen(src: Path, out: Path, new: Shape) -> dict[str, Any]:
    """Write the widened checkpoint (config, safetensors, tokenizer) to ``out``; its record."""
    from safetensors.numpy import load_file, save_file

    config = json.loads((src / "config.json").read_text(encoding="utf-8"))
    _check_config(config)
    old = _shape(config)
    state = load_file(str(src / "model.safetensors"))
    widened = widen_state(state, old, new)
    out.mkdir(parents=True, exist_ok=True)
    config.update(
        hidden_size=new.hidden, num_attention_heads=new.heads, intermediate_size=new.intermediate
    )
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    save_file(widened, str(out / "model.safetensors"), metadata={"format": "pt"})
    for name in TOKENIZER_FILES:
        if (src / name).is_file():
            shutil.copy2(src / name, out / name)
    diff = largest_logit_difference(src, out)
    record = {
        "from": str(src),
        "from_shape": vars(old),
        "shape": vars(new),
        "largest_logit_difference": diff,
        "tolerance": TOLERANCE,
    }
    if diff > TOLERANCE:
        raise WidenError(
            f"the widened model's logits differ from the original's by {diff:.2g} "
            f"(> {TOLERANCE:g}): the widening is wrong for this checkpoint"
        )
    (out / "widen.json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.widen", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--from",
        dest="src",
        type=Path,
        required=True,
        metavar="DIR",
        help="a transformers ALBERT QA checkpoint (config.json, model.safetensors)",
    )
    parser.add_argument("--out", type=Path, required=True, metavar="DIR")
    parser.add_argument("--hidden", type=int, default=768)
    parser.add_argument("--heads", type=int, default=12)
    parser.add_argument("--intermediate", type=int, default=3072)
    args = parser.parse_args(argv)
    try:
        record = widen(args.src, args.out, Shape(args.hidden, args.heads, args.intermediate))
    except (WidenError, FileNotFoundError) as err:
        print(f"tools.widen: {err}", file=sys.stderr)
        return 2
    print(
        f"widened {args.src} {record['from_shape']} -> {args.out} {record['shape']}; "
        f"largest logit difference {record['largest_logit_difference']:.2g}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
