"""fp32 vs INT8 accuracy of the project's QA service on the held-out split of the small model.

    python -m tools.int8_accuracy --work models/trained-small [--doc docs/int8-accuracy.md]

expects ``WORK/hf`` (tools/train_qa.py) and ``WORK/model`` converted from it with ``int8/``
(``tools.convert`` + ``tools.quantize``; ``make accuracy`` does all of it). It answers every
held-out question through ``app.qa.service.QaService`` at ``qa_precision`` fp32 and int8 and
through transformers' pipeline on the trained checkpoint, and reports exact match, F1, answer
agreement and start/end logit cosine over the same windows; writes ``WORK/int8-accuracy.json``
and the markdown report.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tools.int8_gate import CONFIDENT_SCORE
from tools.qa_corpus import HELDOUT_MODULUS, QaExample, describe
from tools.qa_metrics import agreement, cosine, exact_match, f1_score, mean_percent, summarize
from tools.train_qa import HF_DIR, TRAIN_CONTEXTS, TRAIN_INFO, corpus, predict_torch

RESULTS_FILE = "int8-accuracy.json"
#: GluonNLP's published BERT-base SQuAD 1.1 figures (model zoo / quantization docs), F1.
GLUONNLP_BERT_BASE_SQUAD11_F1 = {"fp32": 88.58, "int8": 88.10}
#: Below this fp32 exact match the report says the model has not learned enough to judge INT8.
MIN_USEFUL_EM = 50.0


@dataclass(frozen=True)
class Prediction:
    """One service answer."""

    text: str
    start: int
    length: int
    score: float = 0.0


def cpu_name() -> str:
    """The CPU's model name from lscpu (platform.processor() when lscpu is missing)."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return platform.processor() or "unknown"
    for line in out.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def cpu_flags() -> list[str]:
    """The vector extensions oneDNN cares about (AVX2, AVX-512 VNNI, AMX)."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8")
    except OSError:
        return []
    flags = next(
        (ln.split(":", 1)[1].split() for ln in text.splitlines() if ln.startswith("flags")), []
    )
    wanted = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_int8")
    return [f for f in wanted if f in flags]


def score_texts(predictions: Sequence[str], examples: Sequence[QaExample]) -> dict[str, float]:
    """Exact match and F1 in percent, overall."""
    pairs = list(zip(predictions, examples, strict=True))
    return {
        "exact_match": mean_percent([exact_match(p, e.answer_text) for p, e in pairs]),
        "f1": mean_percent([f1_score(p, e.answer_text) for p, e in pairs]),
    }


def by_subset(predictions: Sequence[str], examples: Sequence[QaExample]) -> dict[str, Any]:
    """Scores overall, on examples with only training templates, and with an unseen template."""
    out: dict[str, Any] = {"all": {"n": len(examples), **score_texts(predictions, examples)}}
    for name, keep in (("seen_templates", True), ("unseen_template", False)):
        idx = [i for i, e in enumerate(examples) if e.all_templates_seen == keep]
        out[name] = {
            "n": len(idx),
            **score_texts([predictions[i] for i in idx], [examples[i] for i in idx]),
        }
    return out


def run_service(service: Any, examples: Sequence[QaExample]) -> tuple[list[Prediction], float]:
    """The service's top answer for each example, and the seconds it took."""
    began = time.perf_counter()
    out = []
    for e in examples:
        answer = service.answer(e.question, e.context)[0]
        out.append(Prediction(answer.text, answer.start, answer.length, answer.score))
    return out, time.perf_counter() - began


def service_windows(service: Any, example: QaExample) -> tuple[np.ndarray[Any, Any], ...]:
    """(ids, types, mask) of the example's windows, exactly as the service builds them (its
    tokenizer, special ids and the family's window layout)."""
    from app.qa.features import build_windows

    s = service.settings
    windows = build_windows(
        service.tokenizer.encode(example.question),
        service.tokenizer.encode(example.context),
        cls_id=service.cls_id,
        sep_id=service.sep_id,
        pad_id=service.pad_id,
        max_seq_length=s.qa_max_seq_length,
        doc_stride=s.qa_doc_stride,
        max_question_length=s.qa_max_question_length,
        bucket_step=service.bucket_step,
        layout=service.layout,
    )
    return windows.input_ids, windows.token_type_ids, windows.attention_mask


def logit_fidelity(fp32: Any, int8: Any, examples: Sequence[QaExample]) -> dict[str, Any]:
    """Cosine of start and end logits (real tokens only), fp32 vs INT8, over the same windows."""
    starts: tuple[list[np.ndarray[Any, Any]], list[np.ndarray[Any, Any]]] = ([], [])
    ends: tuple[list[np.ndarray[Any, Any]], list[np.ndarray[Any, Any]]] = ([], [])
    per_window: dict[str, list[float]] = {"start": [], "end": []}
    argmax_same = {"start": 0, "end": 0}
    max_abs_error = 0.0
    windows = 0
    tokens: list[int] = []
    for e in examples:
        ids, types, mask = service_windows(fp32, e)
        for row in range(ids.shape[0]):
            one = (ids[row : row + 1], types[row : row + 1], mask[row : row + 1])
            valid = mask[row] != 0
            ref = fp32.model.forward(*one)
            got = int8.model.forward(*one)
            windows += 1
            tokens.append(int(valid.sum()))
            for k, (kind, store) in enumerate((("start", starts), ("end", ends))):
                a, b = ref[k][0][valid], got[k][0][valid]
                store[0].append(a)
                store[1].append(b)
                per_window[kind].append(cosine(a, b))
                argmax_same[kind] += int(np.argmax(a) == np.argmax(b))
                max_abs_error = max(max_abs_error, float(np.abs(a - b).max()))
    return {
        "windows": windows,
        "window_tokens_p50": float(np.median(tokens)) if tokens else 0.0,
        "start_cosine": cosine(np.concatenate(starts[0]), np.concatenate(starts[1])),
        "end_cosine": cosine(np.concatenate(ends[0]), np.concatenate(ends[1])),
        "start_cosine_per_window": summarize(per_window["start"]),
        "end_cosine_per_window": summarize(per_window["end"]),
        "start_argmax_agreement": 100.0 * argmax_same["start"] / max(windows, 1),
        "end_argmax_agreement": 100.0 * argmax_same["end"] / max(windows, 1),
        "max_abs_error": max_abs_error,
        "max_abs_logit": float(max(np.abs(np.concatenate(starts[0] + ends[0])).max(), 0.0)),
    }


def evaluate(work: Path, *, threads: int, limit: int | None) -> dict[str, Any]:
    """Everything in the report, as a JSON-able dict."""
    from app.config import Settings
    from app.qa.service import QaService

    examples = corpus("heldout")[:limit] if limit else corpus("heldout")
    hf, model_dir = work / HF_DIR, work / "model"
    print(f"==> {len(examples)} held-out questions; loading the fp32 and INT8 services", flush=True)
    services = {
        p: QaService.load(
            Settings(services=("qa",), qa_model_dir=model_dir, qa_precision=p, num_threads=threads)
        )
        for p in ("fp32", "int8")
    }
    predictions: dict[str, list[Prediction]] = {}
    seconds: dict[str, float] = {}
    for precision, service in services.items():
        print(f"==> answering through QaService ({precision})", flush=True)
        predictions[precision], seconds[precision] = run_service(service, examples)
    print("==> start/end logits, fp32 vs INT8, over the same windows", flush=True)
    fidelity = logit_fidelity(services["fp32"], services["int8"], examples)

    print("==> the transformers (torch) model on the same questions", flush=True)
    import torch
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    torch.set_num_threads(threads)
    began = time.perf_counter()
    with torch.inference_mode():
        torch_texts = predict_torch(
            AutoModelForQuestionAnswering.from_pretrained(str(hf)).eval(),
            AutoTokenizer.from_pretrained(str(hf), use_fast=True),  # type: ignore[no-untyped-call]
            examples,
        )
    seconds["torch"] = time.perf_counter() - began

    texts = {p: [x.text for x in predictions[p]] for p in predictions}
    spans = {p: [(x.start, x.length) for x in predictions[p]] for p in predictions}
    scores = {
        "torch": by_subset(torch_texts, examples),
        "fp32": by_subset(texts["fp32"], examples),
        "int8": by_subset(texts["int8"], examples),
    }
    em_loss = scores["fp32"]["all"]["exact_match"] - scores["int8"]["all"]["exact_match"]
    agree = agreement(spans["fp32"], spans["int8"])
    # On a model that is often wrong, low-margin (wrong) answers flip most easily: agreement on the
    # answers fp32 gets right says how INT8 treats the answers that count.

    def agreement_on(indices: Sequence[int]) -> float:
        return agreement([spans["fp32"][i] for i in indices], [spans["int8"][i] for i in indices])

    right = [i for i, e in enumerate(examples) if exact_match(texts["fp32"][i], e.answer_text)]
    agree_right = agreement_on(right)
    sure = [i for i, x in enumerate(predictions["fp32"]) if x.score >= CONFIDENT_SCORE]
    agree_sure = agreement_on(sure)
    em_sure = mean_percent(
        [float(exact_match(texts["fp32"][i], examples[i].answer_text)) for i in sure]
    )
    info = json.loads((work / TRAIN_INFO).read_text(encoding="utf-8"))
    quantize_json = model_dir / "int8" / "quantize.json"
    import mxnet
    import transformers

    disagreements = [
        {"question": e.question, "truth": e.answer_text, "fp32": a.text, "int8": b.text}
        for e, a, b in zip(examples, predictions["fp32"], predictions["int8"], strict=True)
        if (a.start, a.length) != (b.start, b.length)
    ]
    return {
        "date": dt.date.today().isoformat(),
        "cpu": cpu_name(),
        "cpu_flags": cpu_flags(),
        "threads": threads,
        "versions": {
            "mxnet": mxnet.__version__,
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "python": platform.python_version(),
        },
        "model_version": services["fp32"].version,
        "training": {k: v for k, v in info.items() if k != "loss_curve"},
        "quantization": json.loads(quantize_json.read_text()) if quantize_json.is_file() else {},
        "heldout_questions": len(examples),
        "heldout_contexts": len({e.context for e in examples}),
        "scores": scores,
        "int8_em_loss": em_loss,
        "answer_agreement": agree,
        "answer_agreement_where_fp32_right": {"n": len(right), "percent": agree_right},
        "answer_agreement_where_fp32_confident": {
            "min_score": CONFIDENT_SCORE,
            "n": len(sure),
            "percent": agree_sure,
            "fp32_exact_match": em_sure,
        },
        # The pipeline keeps a leading space the service trims (app/qa/decode.py).
        "torch_vs_fp32_text_agreement": mean_percent(
            [float(a.strip() == b.strip()) for a, b in zip(torch_texts, texts["fp32"], strict=True)]
        ),
        "logits": fidelity,
        "seconds": seconds,
        # The verdict is the accuracy gate's (tools/int8_gate.py, int8/gate.json), which
        # QA_PRECISION=auto reads; make accuracy runs it on this held-out split.
        "gate": _gate(model_dir),
        "disagreements": disagreements[:20],
        "corpus": describe(),
    }


def _gate(model_dir: Path) -> dict[str, Any]:
    """The INT8 artefact's accuracy gate, or why there is none."""
    from app.qa.int8 import GATE_FILE

    path = model_dir / "int8" / GATE_FILE
    if not path.is_file():
        return {"passed": None, "reason": f"no accuracy gate ran ({path} is missing)"}
    gate: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return gate


def _repeats(seen: int, available: int) -> str:
    """How often a run saw each window of a pool, in words."""
    if seen <= available:
        return "no example repeated"
    return f"{seen / available:.1f} passes"


def _curriculum(t: dict[str, Any]) -> str:
    """The training windows the run saw, by curriculum stage."""
    short = int(t.get("short_windows_seen", 0))
    full = int(t["windows_seen"]) - short
    text = (
        f"{full} full-length windows seen out of {t['train_windows_available']} "
        f"({_repeats(full, int(t['train_windows_available']))})"
    )
    if not short:
        return text
    share = 100 * t["options"]["curriculum"]
    return (
        f"short contexts (10-40 words: two or three subjects, two facts each) mixed in with a "
        f"falling share, from every batch at the start to none at {share:g}% of the budget "
        f"({short} windows seen out of {t['short_windows_available']}, "
        f"{_repeats(short, int(t['short_windows_available']))}), and {text}"
    )


def _vnni_note(flags: Sequence[str]) -> str:
    """What the CPU's int8 instructions mean for the INT8 figures."""
    if any(f in flags for f in ("avx512_vnni", "avx_vnni", "amx_int8")):
        return "The CPU has VNNI/AMX int8 instructions."
    return (
        "The CPU has neither AVX-512 nor VNNI, so oneDNN's int8 GEMM runs on AVX2 "
        "(`vpmaddubsw`, whose 16-bit intermediate sums can saturate); the INT8 figures are as "
        "measured on this CPU, the kind Lambda runs on."
    )


def _row(name: str, s: dict[str, Any]) -> str:
    cells = [f"{s[p]['exact_match']:.2f} / {s[p]['f1']:.2f}" for p in ("torch", "fp32", "int8")]
    return f"| {name} ({s['fp32']['n']}) | " + " | ".join(cells) + " |"


def _activation(t: dict[str, Any]) -> str:
    """The training activation; train.json files from before session 7 lack it, but every such
    file with ``sinusoidal_positions`` came from the commit that also brought the fused GELU."""
    act = t.get("training_activation") or (
        "gelu_pytorch_tanh" if t["options"].get("sinusoidal_positions") else None
    )
    saved = t["architecture"].get("hidden_act", "gelu_new")
    if act == "gelu_pytorch_tanh":
        return (
            f"The tanh-GELU ran as torch's fused kernel (the same function, saved as `{saved}`). "
        )
    return f"Activation `{act or saved}`. "


def _confidence_note(r: dict[str, Any]) -> str:
    sure = r.get("answer_agreement_where_fp32_confident")
    if not sure or not sure["n"]:
        return ""
    rest = r["heldout_questions"] - sure["n"]
    return (
        f" Where fp32's answer scores at least {sure['min_score']} ({sure['n']} questions), INT8 "
        f"agrees on {sure['percent']:.2f}%; the disagreements sit in the other {rest}, the answers "
        "fp32 itself barely prefers over the next span."
    )


def _gate_lines(gate: dict[str, Any], consequence: str) -> list[str]:
    """The accuracy gate's rule, verdict and recipe, as report lines."""
    t = gate.get("thresholds", {})
    rule = (
        f"INT8 passes when, on at least {t.get('min_questions', 500)} questions, it loses at most "
        f"{t.get('max_em_loss', 1.0):g} point of EM and {t.get('max_f1_loss', 1.0):g} of F1 and "
        f"keeps the answer on at least {t.get('min_confident_agreement', 99.0):g}% of those fp32 "
        f"is confident about (score >= {t.get('confident_score', 0.1):g})"
    )
    lines = [
        f"**The accuracy gate** (`tools/int8_gate.py`, run by `make accuracy` on this held-out "
        f"split; its verdict is `int8/gate.json`): {rule}. On this model it {gate['reason']}; "
        f"{consequence}.",
    ]
    recipe = gate.get("recipe") or {}
    if recipe:
        kept = ", ".join(recipe.get("fp32_groups") or []) or "nothing"
        lines += [
            "",
            f"Recipe: calibration {recipe.get('calibration')}, kept in fp32: {kept} "
            f"({len(gate.get('search', []))} recipe(s) tried).",
        ]
    search = gate.get("search") or []
    if len(search) > 1:
        lines += [
            "",
            "| recipe tried | verdict | EM / F1 loss | confident agreement | INT8 forward, 384 tokens |",
            "|---|---|---|---|---|",
        ]
        for attempt in search:
            f, rec = attempt["figures"], attempt["recipe"]
            conf = f["confident_agreement"]
            lines.append(
                f"| {rec['calibration']}, fp32: {', '.join(rec['fp32_groups']) or 'nothing'} | "
                f"{'pass' if attempt['passed'] else 'fail'} | {f['em_loss']:+.2f} / "
                f"{f['f1_loss']:+.2f} | {'-' if conf is None else f'{conf:.1f}%'} | "
                f"{attempt['int8_forward_ms_384']:.1f} ms (fp32 {attempt['fp32_forward_ms_384']:.1f}) |"
            )
    return lines


def render(r: dict[str, Any]) -> str:
    """The markdown report for ``r`` (the JSON of :func:`evaluate`)."""
    t, s, lg = r["training"], r["scores"], r["logits"]
    arch = t["architecture"]
    values = r["corpus"]["values"]
    gate = r.get("gate") or {"passed": None, "reason": "no accuracy gate in this run"}
    consequence = {
        True: "`QA_PRECISION=auto` (the default) serves INT8 for this model",
        False: "`QA_PRECISION=auto` (the default) serves fp32 for this model",
        None: "`QA_PRECISION=auto` (the default) serves fp32 for this model",
    }[gate["passed"]]
    confidence, warning_tail = _confidence_note(r), ""
    if s["fp32"]["all"]["exact_match"] < MIN_USEFUL_EM:
        # What the confident subset shows belongs with the warning, not after the verdict.
        warning_tail, confidence = confidence, ""
    d_em = s["int8"]["all"]["exact_match"] - s["fp32"]["all"]["exact_match"]
    d_f1 = s["int8"]["all"]["f1"] - s["fp32"]["all"]["f1"]
    g = GLUONNLP_BERT_BASE_SQUAD11_F1
    q = r["quantization"]
    lines = [
        "# INT8 accuracy on a trained ALBERT QA model",
        "",
        f"Generated by `make accuracy` (`tools/int8_accuracy.py`) on {r['date']}. Re-run it after any",
        "change to the graph (`app/qa/model.py`) or the quantizer (`tools/quantize.py`); with the",
        "trained checkpoint cached it converts, quantizes and evaluates again in a few minutes.",
        "",
        "No trained ALBERT QA weights are reachable from these machines, so a small ALBERT was",
        "trained here (`tools/train_qa.py`) on a synthetic extractive-QA corpus, converted with",
        "`tools.convert`, quantized with `tools.quantize`, and run through the project's own",
        "`QaService` at `QA_PRECISION` fp32 and int8.",
        "",
        "## Result",
        "",
        *(
            [
                f"> **A weak model** (fp32 held-out EM {s['fp32']['all']['exact_match']:.2f} < "
                f"{MIN_USEFUL_EM:g}): most of its answers are wrong and near-ties, so overall "
                "answer agreement says little about INT8; the gate below judges what does, the "
                "EM and F1 lost and the answers fp32 is confident about. A real SQuAD checkpoint "
                "settles more (`make models` gates it on SQuAD dev); a longer training run helps "
                "(`make accuracy ACCURACY_RETRAIN=1 ACCURACY_MINUTES=...`)." + warning_tail,
                "",
            ]
            if s["fp32"]["all"]["exact_match"] < MIN_USEFUL_EM
            else []
        ),
        "| held-out questions | transformers (torch) EM / F1 | MXNet fp32 EM / F1 | MXNet INT8 EM / F1 |",
        "|---|---|---|---|",
        _row("all", {p: s[p]["all"] for p in s}),
        _row("training templates only", {p: s[p]["seen_templates"] for p in s}),
        _row("an unseen sentence or question template", {p: s[p]["unseen_template"] for p in s}),
        "",
        "| fp32 vs INT8 | value |",
        "|---|---|",
        f"| exact match change (INT8 - fp32) | {d_em:+.2f} points |",
        f"| F1 change (INT8 - fp32) | {d_f1:+.2f} points |",
        f"| answer agreement (same start and length) | {r['answer_agreement']:.2f}% |",
        *(
            [
                f"| answer agreement where fp32 is right ({right['n']} questions) | "
                f"{right['percent']:.2f}% |"
            ]
            if (right := r.get("answer_agreement_where_fp32_right"))
            else []
        ),
        *(
            [
                f"| answer agreement where fp32's answer scores >= {sure['min_score']} "
                f"(p_start x p_end; {sure['n']} questions, fp32 EM {sure['fp32_exact_match']:.1f}) | "
                f"{sure['percent']:.2f}% |"
            ]
            if (sure := r.get("answer_agreement_where_fp32_confident"))
            else []
        ),
        f"| start logit cosine, all real tokens ({lg['windows']} windows) | {lg['start_cosine']:.5f} |",
        f"| end logit cosine, all real tokens | {lg['end_cosine']:.5f} |",
        f"| per-window cosine, start: mean / p5 / min | {lg['start_cosine_per_window']['mean']:.5f} / "
        f"{lg['start_cosine_per_window']['p5']:.5f} / {lg['start_cosine_per_window']['min']:.5f} |",
        f"| per-window cosine, end: mean / p5 / min | {lg['end_cosine_per_window']['mean']:.5f} / "
        f"{lg['end_cosine_per_window']['p5']:.5f} / {lg['end_cosine_per_window']['min']:.5f} |",
        f"| same argmax token, start / end | {lg['start_argmax_agreement']:.2f}% / {lg['end_argmax_agreement']:.2f}% |",
        f"| max abs logit error (largest logit) | {lg['max_abs_error']:.3f} ({lg['max_abs_logit']:.2f}) |",
        f"| transformers vs MXNet fp32, same answer text | {r['torch_vs_fp32_text_agreement']:.2f}% |",
        "",
        *_gate_lines(gate, consequence),
        *([confidence.strip()] if confidence.strip() else []),
        "",
        "For scale, GluonNLP's published post-training INT8 result for BERT-base on SQuAD 1.1 (its "
        f"model zoo / quantization docs, MXNet + oneDNN) is F1 {g['fp32']:.2f} fp32 vs "
        f"{g['int8']:.2f} INT8 ({g['int8'] - g['fp32']:+.2f}). Those figures come from a different "
        "model and data set and were not re-measured here.",
        "",
        "## Setup",
        "",
        f"- CPU: {r['cpu']} ({', '.join(r['cpu_flags']) or 'no AVX2'}), {r['threads']} threads; "
        + ", ".join(f"{k} {v}" for k, v in r["versions"].items())
        + ". "
        + _vnni_note(r["cpu_flags"]),
        f"- Model: ALBERT, vocabulary {arch['vocab_size']} (SentencePiece trained on the training "
        f"split), E{arch['embedding_size']} H{arch['hidden_size']}, {arch['num_attention_heads']} "
        f"heads, one shared layer applied {arch['num_hidden_layers']} times, FFN "
        f"{arch['intermediate_size']}, `{arch['hidden_act']}`; model version {r['model_version']}.",
        f"- Training: {t['train_seconds'] / 60:.1f} min of training ({t['total_seconds'] / 60:.1f} min "
        f"in all, with the vocabulary and the held-out check) on {t['threads']} threads, "
        f"{t['steps']} steps of batch {t['options']['batch_size']}: {_curriculum(t)}; AdamW at "
        f"peak lr {t['options']['learning_rate']:g} with linear warm-up "
        f"({100 * t['options']['warmup_fraction']:g}%) and decay over the time budget, gradient "
        f"norm clipped at 1; final loss {t['final_loss']:.3f}. "
        + (
            "Position embeddings started from sinusoids. "
            if t["options"].get("sinusoidal_positions")
            else ""
        )
        + _activation(t)
        + f"torch {t['torch']}.",
        f"- Quantization: `python -m tools.quantize` defaults ({', '.join(f'{k} {v}' for k, v in q.items() if k != 'mxnet')}),"
        " calibrated on the quantizer's own built-in prose, not on this corpus.",
        f"- Evaluation: {r['heldout_questions']} held-out questions over {r['heldout_contexts']} "
        "contexts; the service's defaults (384-token windows, stride 128, answers up to 15 tokens, "
        'no null answer); transformers\' `pipeline("question-answering")` with the same settings. '
        "Exact match and F1 use SQuAD 1.1 normalisation (lower case, no punctuation or articles). "
        f"Seconds: {', '.join(f'{k} {v:.0f}' for k, v in r['seconds'].items())}.",
        "",
        "## The corpus",
        "",
        "Encyclopaedia-style paragraphs (about 90-220 words"
        + (
            f"; {r['logits']['window_tokens_p50']:.0f} tokens per window at the median with this "
            "vocabulary"
            if r["logits"].get("window_tokens_p50")
            else ""
        )
        + ") about one or two "
        "invented people, an organisation and one or two towns, written by `tools/qa_corpus.py` "
        "(nothing downloaded). Each context has 2-4 facts per entity from "
        f"{len(r['corpus']['relations'])} relations ({', '.join(r['corpus']['relations'])}), "
        f"each fact a sentence from a template ({r['corpus']['sentence_templates']} sentence and "
        f"{r['corpus']['question_templates']} question templates), mixed with distractor sentences "
        f"({r['corpus']['distractor_templates']} templates) that carry the same kinds of values "
        "(dates, numbers, people, towns, rivers, organisations) without answering anything. Each "
        "question asks about one fact; its answer is an exact span of the context.",
        "",
        "The held-out split tests generalisation, not memorisation:",
        "",
        f"- **unseen values**: each value (first name, surname, profession, town, river, organisation "
        f"name, year, number) belongs to one split by a stable hash (1 in {HELDOUT_MODULUS} held "
        "out), so no held-out answer or subject ever appears in training text. Held out: "
        + ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in values["heldout"].items())
        + "; training: "
        + ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in values["train"].items())
        + ".",
        f"- **unseen templates**: {r['corpus']['heldout_only_sentence_templates']} sentence and "
        f"{r['corpus']['heldout_only_question_templates']} question templates (one of each per "
        "relation: new word orders over known words) appear only in the held-out split; the table's "
        "second and third rows split the questions by whether they met one.",
        f"- sizes: {t['train_questions']} training questions over {TRAIN_CONTEXTS} "
        f"contexts, plus {t.get('short_windows_available', 0)} short curriculum questions (the run "
        f"saw {t['windows_seen']} windows in all); {r['heldout_questions']} held-out "
        f"questions over {r['heldout_contexts']} contexts. The torch model's held-out EM at the end "
        f"of training was {t['torch_heldout']['exact_match']:.2f}.",
        "",
        "The vocabulary is a SentencePiece BPE model with ALBERT's special pieces and `nmt_nfkc`; "
        'sentencepiece 0.2\'s unigram trainer degenerated on this templated text (it split "is" '
        'into "i" + "s"), so BPE was used. The service and `AlbertTokenizerFast` both load it. '
        "It is kept small so that entity values split into pieces alike in both splits: with "
        "3000 pieces every training first name, surname and profession was a single piece while "
        "held-out ones took 3-5, and the model learned those pieces instead of reading answers "
        "off the context (0% held-out exact match on the relations whose answers are names or "
        "towns).",
        "",
        "## Re-running",
        "",
        "```",
        "make accuracy                     # trains once (about 15 min), then reuses models/trained-small/hf",
        "make accuracy ACCURACY_RETRAIN=1  # trains again",
        "```",
        "",
        f"The full results, with up to 20 disagreeing answers, are in `models/trained-small/{RESULTS_FILE}`.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.int8_accuracy", description=__doc__)
    parser.add_argument("--work", type=Path, default=Path("models/trained-small"), metavar="DIR")
    parser.add_argument("--doc", type=Path, default=Path("docs/int8-accuracy.md"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--limit", type=int, default=None, help="first N held-out questions only")
    parser.add_argument(
        "--render-only", action="store_true", help="rewrite the doc from WORK's results JSON"
    )
    args = parser.parse_args(argv)
    if args.render_only:
        report = json.loads((args.work / RESULTS_FILE).read_text(encoding="utf-8"))
        args.doc.write_text(render(report), encoding="utf-8")
        print(f"wrote {args.doc}")
        return 0
    report = evaluate(args.work, threads=args.threads, limit=args.limit)
    (args.work / RESULTS_FILE).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    args.doc.write_text(render(report), encoding="utf-8")
    s = report["scores"]
    print(
        "EM / F1: torch {:.2f} / {:.2f}, fp32 {:.2f} / {:.2f}, int8 {:.2f} / {:.2f}; agreement "
        "{:.2f}%; cosine start {:.5f} end {:.5f}".format(
            s["torch"]["all"]["exact_match"],
            s["torch"]["all"]["f1"],
            s["fp32"]["all"]["exact_match"],
            s["fp32"]["all"]["f1"],
            s["int8"]["all"]["exact_match"],
            s["int8"]["all"]["f1"],
            report["answer_agreement"],
            report["logits"]["start_cosine"],
            report["logits"]["end_cosine"],
        )
    )
    print(f"wrote {args.work / RESULTS_FILE} and {args.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
