"""Post-training INT8 quantization of the QA graph (MXNet 1.9 + oneDNN), any model family.

    python -m tools.quantize --model-dir DIR        (or `make quantize MODEL_DIR=DIR`)

writes ``DIR/int8/``: the quantized masked graph (``padded-symbol.json``; its weights are the
model's own, read from ``DIR`` at load, so no ``padded-0000.params`` is kept unless the recipe
changed them), calibrated with ``quantize_net_v2`` (smart mode, channel-wise, naive
min/max) on question/context windows made by the real tokenizer from English prose below (not
random ids; the family's own tokenizer and window layout), after oneDNN subgraph fusion; plus
``fidelity.json`` comparing INT8 with fp32.

Loading and running the artefact is the product's job (:mod:`app.qa.int8`); this module is the
offline tool that makes it.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from app.errors import ModelLoadError
from app.qa.int8 import BATCH_STEP, FORMS, load_int8
from app.qa.runtime import mxnet as _mx

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]
Array = npt.NDArray[Any]
FIDELITY_FILE = "fidelity.json"

# Calibration and fidelity text: plain prose with questions about it. Paragraphs are joined into
# contexts long enough to fill whole windows at the calibration length.
PARAGRAPHS: tuple[str, ...] = (
    "The Great Barrier Reef lies off the coast of Queensland, Australia. It stretches for more "
    "than 2,300 kilometres and is made of almost 3,000 individual reefs. Rising sea "
    "temperatures have caused several mass bleaching events since 1998.",
    "Johannes Gutenberg introduced movable-type printing to Europe around 1440 in Mainz. His "
    "press made books far cheaper, and by 1500 printers had produced about twenty million "
    "volumes across the continent.",
    "The city council approved the new tram line on Thursday after a vote of 31 to 12. "
    "Construction will begin next spring and is expected to cost 480 million dollars, most of "
    "it paid by the regional government.",
    "Insulin was first isolated in 1921 by Frederick Banting and Charles Best at the "
    "University of Toronto. Within two years it was being produced commercially, and diabetes "
    "stopped being a death sentence for millions of patients.",
    "Our return policy allows customers to send back unused items within 30 days of delivery. "
    "Refunds are issued to the original payment method, usually within five business days of "
    "the warehouse receiving the parcel.",
    "The Amazon River carries more water than any other river on Earth, discharging about "
    "209,000 cubic metres per second into the Atlantic Ocean. Its basin covers roughly seven "
    "million square kilometres.",
    "In the quarterly report, the company said revenue rose 14 percent to 2.3 billion euros, "
    "driven by strong demand in Asia. Its chief executive, Maria Lindqvist, warned that higher "
    "energy prices would weigh on margins.",
    "Beethoven completed his Ninth Symphony in 1824, when he was almost completely deaf. The "
    "final movement sets Friedrich Schiller's poem Ode to Joy for soloists and chorus.",
    "To reset the router, hold the small button on the back for ten seconds until the light "
    "turns orange. The device restarts with its factory settings, and the default password is "
    "printed on the label underneath.",
    "The Apollo 11 mission landed on the Moon on 20 July 1969. Neil Armstrong and Buzz Aldrin "
    "spent about two and a half hours outside the lunar module, while Michael Collins orbited "
    "above in the command module.",
)
QUESTIONS: tuple[str, ...] = (
    "How long is the Great Barrier Reef?",
    "Where did Gutenberg introduce printing?",
    "How much will the tram line cost?",
    "Who isolated insulin?",
    "How many days do customers have to return items?",
    "How much water does the Amazon discharge?",
    "Who is the chief executive?",
    "When did Beethoven complete his Ninth Symphony?",
    "How long should the reset button be held?",
    "Who orbited in the command module?",
)


@dataclass(frozen=True)
class Pair:
    """A question and a context built from the paragraphs."""

    question: str
    context: str


def calibration_pairs(count: int, paragraphs_per_context: int = 4, seed: int = 0) -> list[Pair]:
    """``count`` pairs; each context joins several paragraphs, the question's own among them."""
    rng = np.random.default_rng(seed)
    pairs = []
    for i in range(count):
        own = i % len(PARAGRAPHS)
        others = rng.permutation([p for p in range(len(PARAGRAPHS)) if p != own])
        chosen = [own, *others[: paragraphs_per_context - 1].tolist()]
        rng.shuffle(chosen)
        pairs.append(Pair(QUESTIONS[own], " ".join(PARAGRAPHS[p] for p in chosen)))
    return pairs


def _windows_at(model_dir: Path, pairs: Sequence[Pair], length: int) -> dict[str, Array]:
    """Windows of width ``length`` from ``pairs`` (real tokenizer and windowing).

    Returns (N, length) arrays ``input_ids``, ``token_type_ids``, ``attention_mask``.
    """
    from app.qa.features import build_windows
    from app.qa.modeldir import QaConfig
    from app.qa.tokenizer import load_tokenizer

    config = QaConfig.load(model_dir)
    tok = config.tokenizer
    tokenizer = load_tokenizer(config)
    rows: dict[str, list[Array]] = {
        "input_ids": [],
        "token_type_ids": [],
        "attention_mask": [],
    }
    for pair in pairs:
        w = build_windows(
            tokenizer.encode(pair.question),
            tokenizer.encode(pair.context),
            cls_id=tok.cls_token_id,
            sep_id=tok.sep_token_id,
            pad_id=tok.pad_token_id,
            max_seq_length=length,
            doc_stride=max(length // 3, 1),
            max_question_length=min(64, length // 4),
            layout=config.family.layout,
        )
        if w.input_ids.shape[1] != length:
            continue  # the context was too short to fill a window of this length
        for key, value in (
            ("input_ids", w.input_ids),
            ("token_type_ids", w.token_type_ids),
            ("attention_mask", w.attention_mask),
        ):
            rows[key].extend(value)
    if not rows["input_ids"]:
        raise ValueError(f"no calibration window fills {length} tokens; use a smaller length")
    return {k: np.stack(v).astype(np.int32) for k, v in rows.items()}


def _batches(arrays: Sequence[Array], batch: int) -> Iterator[list[Any]]:
    mx = _mx()
    for i in range(0, len(arrays[0]) - batch + 1, batch):
        yield [mx.nd.array(a[i : i + batch], dtype="float32") for a in arrays]


#: Layer kinds the accuracy-aware search (tools.int8_gate) may keep in fp32, by substrings of
#: their node names in the fp32 graph (app/qa/model.py's Gluon prefixes: ``qanet_layer_qkv_fwd``
#: for ALBERT's one shared layer, which every application of it carries, ``qanet_layer3_qkv_fwd``
#: for layer 3 of a BERT-shaped stack; each pattern matches the kind in every layer).
FALLBACK_GROUPS: dict[str, tuple[str, ...]] = {
    "qa_head": ("_qa_outputs_",),
    "embed_proj": ("_embeddings_proj_",),
    "attn_out": ("_attn_out_",),
    "qkv": ("_qkv_",),
    "ffn_in": ("_ffn_ffn_1_",),
    "ffn_out": ("_ffn_ffn_2_",),
}
#: Multiply-adds per token of each kind, from the architecture: hidden H, embedding E, FFN I,
#: L layers (applications of the shared layer or layers of their own: the same compute).
FALLBACK_MACS: dict[str, Callable[[int, int, int, int], int]] = {
    "qa_head": lambda h, e, i, layers: 2 * h,
    "embed_proj": lambda h, e, i, layers: e * h,
    "attn_out": lambda h, e, i, layers: h * h * layers,
    "qkv": lambda h, e, i, layers: 3 * h * h * layers,
    "ffn_in": lambda h, e, i, layers: h * i * layers,
    "ffn_out": lambda h, e, i, layers: i * h * layers,
}
#: Kinds that exist only when an architecture flag is true (default true: format 1 is ALBERT).
FALLBACK_NEEDS: dict[str, str] = {"embed_proj": "embedding_projection"}


def groups_present(arch: dict[str, Any]) -> list[str]:
    """The keys of :data:`FALLBACK_GROUPS` whose layers the graph of ``arch`` (config.json's
    ``architecture``) has: no ``embed_proj`` without an embedding projection (BERT and the
    others), where keeping it in fp32 would change nothing."""
    return [g for g in FALLBACK_GROUPS if arch.get(FALLBACK_NEEDS.get(g, ""), True) is not False]


def cheapest_first(model_dir: Path) -> list[str]:
    """The kinds of :data:`FALLBACK_GROUPS` this model has (:func:`groups_present`), by what each
    costs to keep in fp32 on it, cheapest first: the search keeps the first single kind that
    passes, so that one is also the cheapest. (The bench's base-shaped model passed with the FFN
    output, the dearest kind, in fp32 when the order was fixed: 1.8x the whole-graph INT8
    forward; docs/performance.md.)"""
    arch = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))["architecture"]
    shape = (
        int(arch["hidden_size"]),
        int(arch["embedding_size"]),
        int(arch["intermediate_size"]),
        int(arch["num_hidden_layers"]),
    )
    return sorted(groups_present(arch), key=lambda group: FALLBACK_MACS[group](*shape))


def quantize_block(
    block: Any, calib_data: Any, num_examples: int, exclude: Sequence[str] = ()
) -> Any:
    """``block`` (a hybridized Gluon block that has run) quantized with this project's recipe:
    ``quantize_net_v2``, INT8 chosen per layer (``auto``), smart mode, channel-wise weights, naive
    min/max calibration on ``calib_data`` (an ``mx.io`` iterator named after the block's inputs);
    layers whose names match ``exclude`` stay fp32. ``bench.gemm_floor`` times layers made so."""
    mx = _mx()
    from mxnet.contrib.quantization import quantize_net_v2

    with warnings.catch_warnings():
        # The quantized SymbolBlock cannot infer its float inputs' dtype; they are float32.
        warnings.filterwarnings("ignore", "Cannot decide type", UserWarning)
        return quantize_net_v2(
            block,
            quantized_dtype="auto",
            quantize_mode="smart",
            quantize_granularity="channel-wise",
            exclude_layers_match=list(exclude) or None,
            calib_mode="naive",
            calib_data=calib_data,
            num_calib_examples=num_examples,
            ctx=mx.cpu(),
        )


def quantize(
    model_dir: Path,
    *,
    calib_length: int = 128,
    calib_windows: int = 32,
    batch: int = 4,
    pairs: Sequence[Pair] | None = None,
    calib_source: str = "built-in prose",
    fp32_groups: Sequence[str] = (),
) -> Path:
    """Quantize the masked graph of ``model_dir``'s fp32 model into ``model_dir/int8``.

    ``pairs`` replaces the built-in prose as calibration text (``calib_source`` names it in
    quantize.json); ``fp32_groups`` (keys of :data:`FALLBACK_GROUPS`) stay in fp32.
    """
    from app.qa.model import QaModel

    mx = _mx()
    unknown = sorted(set(fp32_groups) - set(FALLBACK_GROUPS))
    if unknown:
        raise ValueError(f"unknown fp32 groups {unknown}; known: {sorted(FALLBACK_GROUPS)}")
    exclude = [match for group in fp32_groups for match in FALLBACK_GROUPS[group]]
    model = QaModel.load(model_dir, precision="fp32")
    chosen = list(pairs) if pairs is not None else calibration_pairs(max(calib_windows, 8))
    data = _windows_at(model_dir, chosen, calib_length)
    out = model_dir / "int8"
    out.mkdir(parents=True, exist_ok=True)
    for form in FORMS:
        graph = model.graph_padded
        arrays = [data["input_ids"], data["token_type_ids"], data["attention_mask"]]
        arrays = [a[:calib_windows] for a in arrays]
        n = (len(arrays[0]) // batch) * batch
        if n == 0:
            raise ValueError(f"too few calibration windows for {form} at length {calib_length}")
        graph(*next(_batches(arrays, batch)))  # export needs a graph that has run
        # A named iterator: the generic wrapper would take a 2-input batch for data + label.
        calib = mx.io.NDArrayIter(
            data={f"data{i}": a[:n].astype(np.float32) for i, a in enumerate(arrays)},
            batch_size=batch,
        )
        qnet = quantize_block(graph, calib, n, exclude)
        qnet.hybridize(static_alloc=True, static_shape=True)
        qnet(*next(_batches(arrays, batch)))
        qnet.export(str(out / form), epoch=0)
        _drop_copied_weights(out / f"{form}-0000.params", graph.collect_params())
    (out / "quantize.json").write_text(
        json.dumps(
            {
                "calib_length": calib_length,
                "calib_windows": calib_windows,
                "calib_source": calib_source,
                "fp32_groups": list(fp32_groups),
                "quantized_dtype": "auto",
                "quantize_mode": "smart",
                "granularity": "channel-wise",
                "calib_mode": "naive",
                "mxnet": mx.__version__,
            },
            indent=2,
        )
        + "\n"
    )
    return out


def _drop_copied_weights(params_file: Path, fp32_params: Any) -> None:
    """Delete the exported weights when each is the fp32 model's own, bit for bit (the quantized
    ops quantize fp32 weights at their first call): :func:`app.qa.int8.load_int8` then reads the
    model's, and the artefact costs no second copy of them. Kept if any differs."""
    mx = _mx()
    saved = mx.nd.load(str(params_file))
    own = {name: p.data().asnumpy() for name, p in fp32_params.items()}
    for key, value in saved.items():
        name = key.split(":", 1)[-1]
        if name not in own or not np.array_equal(own[name], value.asnumpy()):
            log.info("INT8 weights differ from the model's (%s): kept in %s", name, params_file)
            return
    params_file.unlink()


def cosine(a: Array, b: Array) -> float:
    """Cosine similarity of two arrays, flattened."""
    a64, b64 = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    return float(a64 @ b64 / (np.linalg.norm(a64) * np.linalg.norm(b64)))


def fidelity(
    model_dir: Path, *, pairs: int = 20, lengths: Sequence[int] = (128,)
) -> dict[str, Any]:
    """INT8 vs fp32 on held-out pairs: logits cosine / max abs error, and answer agreement."""
    from app.config import Settings
    from app.qa.service import QaService

    settings = Settings(services=("qa",), qa_model_dir=model_dir, qa_precision="fp32")
    service = QaService.load(settings)
    model = service.model
    runner = load_int8(model_dir / "int8", model.net.collect_params())
    held_out = calibration_pairs(pairs, seed=1234)
    logits: dict[str, dict[str, float]] = {}
    for length in lengths:
        data = _windows_at(model_dir, held_out, length)
        arrays = (data["input_ids"], data["token_type_ids"], data["attention_mask"])
        chunks = range(0, len(arrays[0]), BATCH_STEP)  # the service's chunk size
        ref = np.concatenate(
            [np.stack(model.forward(*(a[c : c + BATCH_STEP] for a in arrays))) for c in chunks],
            axis=1,
        )
        got = np.concatenate(
            [np.stack(runner(*(a[c : c + BATCH_STEP] for a in arrays))) for c in chunks], axis=1
        )
        valid = np.broadcast_to(data["attention_mask"][None] != 0, ref.shape)
        logits[str(length)] = {
            "windows": int(ref.shape[1]),
            "cosine": cosine(ref[valid], got[valid]),
            "max_abs_error": float(np.abs(ref[valid] - got[valid]).max()),
            "max_abs_logit": float(np.abs(ref[valid]).max()),
        }
    agree, spans = 0, []
    for pair in held_out:
        model.int8_runner = None
        a = service.answer(pair.question, pair.context)[0]
        model.int8_runner = runner
        b = service.answer(pair.question, pair.context)[0]
        model.int8_runner = None
        agree += int((a.start, a.length) == (b.start, b.length))
        spans.append({"fp32": a.text, "int8": b.text})
    return {
        "logits": logits,
        "answers_agree": agree,
        "answers_total": len(held_out),
        "examples": spans[:5],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.quantize", description=__doc__)
    parser.add_argument("--model-dir", required=True, type=Path, metavar="DIR")
    parser.add_argument("--calib-length", type=int, default=128)
    parser.add_argument("--calib-windows", type=int, default=32)
    parser.add_argument("--fidelity-pairs", type=int, default=20)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        started = time.perf_counter()
        out = quantize(
            args.model_dir, calib_length=args.calib_length, calib_windows=args.calib_windows
        )
        print(f"quantized into {out} in {time.perf_counter() - started:.1f}s; checking fidelity")
        report = fidelity(args.model_dir, pairs=args.fidelity_pairs)
    except (ModelLoadError, ValueError) as exc:
        print(f"quantize failed: {exc}", file=sys.stderr)
        return 2
    (out / FIDELITY_FILE).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k != "examples"}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
