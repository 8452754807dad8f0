"""Train a small ALBERT extractive-QA model on CPU from the synthetic corpus (tools/qa_corpus.py).

    python -m tools.train_qa --out models/trained-small [--minutes 13] [--force]

writes ``OUT/hf``: a transformers checkpoint (``AlbertForQuestionAnswering``, safetensors, and an
``AlbertTokenizerFast`` over a SentencePiece vocabulary trained here on the training split) that
``python -m tools.convert --from-hf OUT/hf --out DIR`` accepts, and ``OUT/train.json`` (sizes,
time, loss curve, held-out exact match of the torch model). When ``OUT/hf`` is complete it is
reused, not retrained (``--force`` retrains). Nothing is downloaded.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tools.qa_corpus import QaExample, describe, generate
from tools.qa_metrics import exact_match, f1_score

HF_DIR = "hf"
TRAIN_INFO = "train.json"
SEED = 0
#: Contexts per split: enough that the time budget sees each training example about once.
TRAIN_CONTEXTS = 10000
#: Short training contexts (two or three subjects, two facts each) for the first CURRICULUM share of the time budget: they
#: teach "find the question's subject, take the value of the asked relation" in cheap steps.
SHORT_CONTEXTS = 8000
CURRICULUM = 0.5
HELDOUT_CONTEXTS = 200
QUESTIONS_PER_CONTEXT = 3
MAX_SEQ_LENGTH = 384
DOC_STRIDE = 128

#: Fixed parts of the architecture; depth and width are TrainOptions (recorded in train.json).
ARCHITECTURE: dict[str, Any] = {
    "embedding_size": 128,
    "num_attention_heads": 4,
    "hidden_act": "gelu_new",  # ALBERT's default: the activation the INT8 path must handle
    "max_position_embeddings": 512,
    "type_vocab_size": 2,
    "layer_norm_eps": 1e-12,
}

#: The activation training runs: torch's fused tanh-GELU, the same function as gelu_new (within
#: 2.4e-7). The checkpoint is saved with gelu_new; train.json records this one.
TRAINING_ACT = "gelu_pytorch_tanh"


@dataclass(frozen=True)
class TrainOptions:
    """What the training run does; recorded in train.json."""

    minutes: float = 15.0
    max_steps: int = 100_000
    #: One shared ALBERT layer applied ``layers`` times; FFN width 4 x hidden.
    layers: int = 4
    hidden: int = 128
    batch_size: int = 16
    learning_rate: float = 2e-3
    warmup_fraction: float = 0.05
    #: Share of the budget over which short contexts (SHORT_CONTEXTS) fade out: a batch is short
    #: with probability 1 - progress / curriculum, so full-length windows are mixed in from the start.
    curriculum: float = CURRICULUM
    #: Start the (learned) position embeddings from sinusoids instead of noise, so what short
    #: contexts teach about relative positions carries over to the positions only long ones reach.
    sinusoidal_positions: bool = True
    weight_decay: float = 0.01
    #: Small enough that entity values are split into several pieces in both splits: at 3000 every
    #: training first name, surname and profession was one piece while held-out ones were 3-5, so
    #: the model learned the pieces, not how to read an answer off the context (0% held-out EM on
    #: those relations). At 700, mean pieces per value: training/held-out first names 2.8/3.2,
    #: towns 4.2/4.2, professions 4.3/5.1.
    vocab_size: int = 700
    threads: int = 2
    seed: int = SEED
    #: Held-out questions checked with the torch model at the end (None: all of them).
    heldout_limit: int | None = None
    #: Start from this trained checkpoint (its weights and vocabulary) instead of from noise. ALBERT
    #: shares one layer across depth, so a checkpoint of the same width fits any ``layers``: a
    #: 4-layer model warm-starts a 12-layer one (the bench's base-depth model, bench/checkpoint.py).
    init_from: Path | None = None

    def architecture(self) -> dict[str, Any]:
        """AlbertConfig keywords (without the vocabulary size)."""
        return {
            **ARCHITECTURE,
            "hidden_size": self.hidden,
            "num_hidden_layers": self.layers,
            "intermediate_size": 4 * self.hidden,
        }


def corpus(split: str) -> list[QaExample]:
    """The examples of a split, exactly as training and evaluation use them."""
    if split == "train-short":
        return list(
            generate(
                "train", SHORT_CONTEXTS, questions_per_context=QUESTIONS_PER_CONTEXT, short=True
            )
        )
    if split == "train":
        return list(generate("train", TRAIN_CONTEXTS, questions_per_context=QUESTIONS_PER_CONTEXT))
    if split == "heldout":
        return list(
            generate("heldout", HELDOUT_CONTEXTS, questions_per_context=QUESTIONS_PER_CONTEXT)
        )
    raise ValueError(f"unknown split {split!r}")


def vocabulary_texts(examples: Sequence[QaExample]) -> list[str]:
    """What the vocabulary is trained on: each distinct context sentence once, and the questions."""
    sentences = {s for e in examples for s in re.split(r"(?<=[.?!]) ", e.context)}
    return sorted(sentences) + [e.question for e in examples]


def train_sentencepiece(texts: Sequence[str], out_dir: Path, vocab_size: int) -> Path:
    """An ALBERT-style ``spiece.model`` (pad 0, unk 1, [CLS] 2, [SEP] 3, [MASK] 4, nmt_nfkc).

    BPE, not ALBERT's unigram: sentencepiece 0.2's unigram trainer degenerates on this templated
    corpus (it splits even "is" and "by" into single letters, doubling the sequence length),
    while BPE learns whole words. Both load the same way in AlbertTokenizer(Fast) and the service.
    """
    import sentencepiece as spm

    from tools.spm_util import ALBERT_PIECES

    out_dir.mkdir(parents=True, exist_ok=True)
    lines = out_dir / "spm-corpus.txt"
    # ALBERT lower-cases before SentencePiece, so the vocabulary is lower-case.
    lines.write_text("\n".join(t.lower() for t in texts) + "\n", encoding="utf-8")
    prefix = out_dir / "spiece"
    spm.SentencePieceTrainer.train(
        input=str(lines),
        model_prefix=str(prefix),
        model_type="bpe",
        vocab_size=vocab_size,
        hard_vocab_limit=False,
        character_coverage=1.0,
        input_sentence_size=200_000,
        shuffle_input_sentence=True,
        num_threads=2,
        **ALBERT_PIECES,
    )
    lines.unlink()
    return prefix.with_suffix(".model")


@dataclass(frozen=True)
class Feature:
    """One tokenized window with its answer's token positions (0, 0 when outside it)."""

    input_ids: list[int]
    token_type_ids: list[int]
    start: int
    end: int


def featurize(tokenizer: Any, examples: Sequence[QaExample]) -> list[Feature]:
    """Windows like the service's ([CLS] question [SEP] context [SEP], stride 128, 384 tokens)."""
    enc = tokenizer(
        [e.question for e in examples],
        [e.context for e in examples],
        truncation="only_second",
        max_length=MAX_SEQ_LENGTH,
        stride=DOC_STRIDE,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
    )
    features = []
    for i, ids in enumerate(enc["input_ids"]):
        example = examples[enc["overflow_to_sample_mapping"][i]]
        sequence_ids = enc.sequence_ids(i)
        offsets = enc["offset_mapping"][i]
        start = end = 0
        context_tokens = [t for t, s in enumerate(sequence_ids) if s == 1]
        first, last = context_tokens[0], context_tokens[-1]
        if offsets[first][0] <= example.answer_start and offsets[last][1] >= example.answer_end:
            start = next(t for t in context_tokens if offsets[t][1] > example.answer_start)
            end = next(t for t in reversed(context_tokens) if offsets[t][0] < example.answer_end)
        features.append(Feature(list(ids), list(enc["token_type_ids"][i]), start, end))
    return features


def batches(features: Sequence[Feature], batch_size: int, rng: random.Random) -> Iterator[Any]:
    """Endless batches (tensors), shuffled, grouped by length so little padding is computed."""
    import torch

    order = list(range(len(features)))
    while True:
        rng.shuffle(order)
        group = batch_size * 32
        for g in range(0, len(order), group):
            chunk = sorted(order[g : g + group], key=lambda i: len(features[i].input_ids))
            blocks = [chunk[b : b + batch_size] for b in range(0, len(chunk), batch_size)]
            rng.shuffle(blocks)
            for block in blocks:
                width = max(len(features[i].input_ids) for i in block)
                ids = torch.zeros((len(block), width), dtype=torch.long)
                types = torch.zeros_like(ids)
                mask = torch.zeros_like(ids)
                for row, i in enumerate(block):
                    f = features[i]
                    n = len(f.input_ids)
                    ids[row, :n] = torch.tensor(f.input_ids)
                    types[row, :n] = torch.tensor(f.token_type_ids)
                    mask[row, :n] = 1
                starts = torch.tensor([features[i].start for i in block])
                ends = torch.tensor([features[i].end for i in block])
                yield ids, types, mask, starts, ends


def predict_torch(
    model: Any, tokenizer: Any, examples: Sequence[QaExample], *, max_answer_length: int = 15
) -> list[str]:
    """Answers of a transformers model through transformers' own question-answering pipeline."""
    from transformers import pipeline

    qa = pipeline("question-answering", model=model, tokenizer=tokenizer, device="cpu")
    out = []
    for e in examples:
        result = qa(
            question=e.question,
            context=e.context,
            max_seq_len=MAX_SEQ_LENGTH,
            doc_stride=DOC_STRIDE,
            max_answer_len=max_answer_length,
        )
        out.append(str(result["answer"]))
    return out


def score(predictions: Sequence[str], examples: Sequence[QaExample]) -> dict[str, float]:
    """Exact match and F1 (percent)."""
    n = max(len(examples), 1)
    return {
        "exact_match": 100.0
        * sum(exact_match(p, e.answer_text) for p, e in zip(predictions, examples, strict=True))
        / n,
        "f1": 100.0
        * sum(f1_score(p, e.answer_text) for p, e in zip(predictions, examples, strict=True))
        / n,
    }


def sinusoids(positions: int, width: int) -> Any:
    """The Transformer's sinusoidal position table (positions x width; entries of std ~0.71)."""
    import torch

    pos = torch.arange(positions, dtype=torch.float64)[:, None]
    rate = torch.exp(-torch.arange(0, width, 2, dtype=torch.float64) * (9.21034 / width))
    table = torch.zeros((positions, width), dtype=torch.float64)
    table[:, 0::2] = torch.sin(pos * rate)
    table[:, 1::2] = torch.cos(pos * rate)
    return table


def train(out: Path, options: TrainOptions) -> dict[str, Any]:
    """Train into ``out/hf`` (via a temporary directory) and write ``out/train.json``."""
    import torch
    from transformers import AlbertConfig, AlbertForQuestionAnswering, AlbertTokenizerFast

    torch.set_num_threads(options.threads)
    torch.set_flush_denormal(True)
    torch.manual_seed(options.seed)
    rng = random.Random(options.seed)
    began = time.perf_counter()

    print("==> building the corpus", flush=True)
    train_examples, heldout = corpus("train"), corpus("heldout")[: options.heldout_limit]
    short_examples = corpus("train-short")
    tmp = Path(tempfile.mkdtemp(prefix="hf.tmp-", dir=out))
    if options.init_from is not None:
        print(f"==> starting from {options.init_from} (its vocabulary and weights)", flush=True)
        spiece = options.init_from / "spiece.model"
    else:
        texts = vocabulary_texts(train_examples)
        print(f"==> training a SentencePiece vocabulary on {len(texts)} training texts", flush=True)
        spiece = train_sentencepiece(texts, tmp / "spm", options.vocab_size)
    tokenizer = AlbertTokenizerFast(vocab_file=str(spiece))  # type: ignore[no-untyped-call]
    tokenizer.save_pretrained(str(tmp))
    if not (tmp / "spiece.model").is_file():
        shutil.copyfile(spiece, tmp / "spiece.model")
    shutil.rmtree(tmp / "spm", ignore_errors=True)
    vocab_size = len(tokenizer)
    features = featurize(tokenizer, train_examples)
    short_features = featurize(tokenizer, short_examples)
    lengths = sorted(len(f.input_ids) for f in features)
    print(
        f"    vocabulary {vocab_size}; {len(train_examples)} training questions -> "
        f"{len(features)} windows, tokens p50 {lengths[len(lengths) // 2]} max {lengths[-1]}",
        flush=True,
    )

    config = AlbertConfig(  # type: ignore[no-untyped-call]
        vocab_size=vocab_size,
        **options.architecture(),
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        classifier_dropout_prob=0.0,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.cls_token_id,
        eos_token_id=tokenizer.sep_token_id,
    )
    # Train with torch's fused tanh-GELU: the same function as gelu_new (within 2.4e-7) in one
    # kernel instead of five elementwise ones (gelu_new's were ~30% of a step's time here). The
    # saved config says gelu_new, the activation the converter and the INT8 path must handle.
    config.hidden_act = TRAINING_ACT
    model = AlbertForQuestionAnswering(config)
    if options.init_from is not None:
        start = AlbertForQuestionAnswering.from_pretrained(str(options.init_from))
        if start.config.hidden_size != options.hidden or start.config.vocab_size != vocab_size:
            raise SystemExit(
                f"--init-from {options.init_from}: hidden {start.config.hidden_size} and vocabulary "
                f"{start.config.vocab_size}, but this run has hidden {options.hidden} and "
                f"vocabulary {vocab_size}; give --hidden {start.config.hidden_size}"
            )
        model.load_state_dict(start.state_dict())
    elif options.sinusoidal_positions:
        with torch.no_grad():
            table = model.albert.embeddings.position_embeddings.weight
            table.copy_(sinusoids(*table.shape).to(table.dtype) * float(table.std()) / 0.7071)
    model.train()
    decay = [p for n, p in model.named_parameters() if p.ndim > 1 and "LayerNorm" not in n]
    no_decay = [p for n, p in model.named_parameters() if p.ndim <= 1 or "LayerNorm" in n]
    optimizer = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": options.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=options.learning_rate,
        betas=(0.9, 0.98),
        eps=1e-6,
    )
    budget = options.minutes * 60.0
    print(
        f"==> training {sum(p.numel() for p in model.parameters()) / 1e6:.1f}M parameters for "
        f"{options.minutes:g} min on {options.threads} threads (batch {options.batch_size})",
        flush=True,
    )
    loop_began = time.perf_counter()
    curve: list[dict[str, float]] = []
    step, seen, running = 0, 0, 0.0
    full_batches = batches(features, options.batch_size, rng)
    short_batches = batches(short_features, options.batch_size, rng)
    short_seen = 0
    while True:
        elapsed = time.perf_counter() - loop_began
        progress = max(step / options.max_steps, elapsed / budget)
        if progress >= 1.0:
            break
        in_curriculum = (
            options.curriculum > 0 and rng.random() < 1.0 - progress / options.curriculum
        )
        ids, types, mask, starts, ends = next(short_batches if in_curriculum else full_batches)
        short_seen += len(ids) if in_curriculum else 0
        warm = options.warmup_fraction
        factor = progress / warm if progress < warm else (1.0 - progress) / (1.0 - warm)
        for group in optimizer.param_groups:
            group["lr"] = options.learning_rate * max(factor, 0.01)
        loss = model(
            input_ids=ids,
            token_type_ids=types,
            attention_mask=mask,
            start_positions=starts,
            end_positions=ends,
        ).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        step += 1
        seen += len(ids)
        running = loss.item() if step == 1 else 0.95 * running + 0.05 * loss.item()
        if step % 10 == 0:
            curve.append({"step": step, "seconds": round(elapsed, 1), "loss": round(running, 4)})
            print(
                f"    step {step:5d}  {elapsed / 60:5.1f}/{options.minutes:g} min  "
                f"loss {running:.3f}  lr {optimizer.param_groups[0]['lr']:.2e}  "
                f"windows {seen}",
                flush=True,
            )
    train_seconds = time.perf_counter() - loop_began
    model.eval()  # type: ignore[no-untyped-call]

    print(
        f"==> held-out check with the transformers pipeline ({len(heldout)} questions)", flush=True
    )
    with torch.inference_mode():
        torch_scores = score(predict_torch(model, tokenizer, heldout), heldout)
    print(
        f"    torch held-out exact match {torch_scores['exact_match']:.2f}, F1 {torch_scores['f1']:.2f}",
        flush=True,
    )

    model.config.hidden_act = ARCHITECTURE["hidden_act"]
    model.save_pretrained(str(tmp), safe_serialization=True)
    info: dict[str, Any] = {
        "architecture": {"vocab_size": vocab_size, **options.architecture()},
        "options": {**asdict(options), "init_from": options.init_from and str(options.init_from)},
        "training_activation": TRAINING_ACT,
        "train_seconds": round(train_seconds, 1),
        "total_seconds": round(time.perf_counter() - began, 1),
        "steps": step,
        "windows_seen": seen,
        "train_windows_available": len(features),
        "short_windows_seen": short_seen,
        "short_windows_available": len(short_features),
        "train_questions": len(train_examples),
        "heldout_questions": len(heldout),
        "torch_heldout": torch_scores,
        "final_loss": round(running, 4),
        "loss_curve": curve,
        "corpus": describe(),
        "torch": torch.__version__,
        "threads": options.threads,
    }
    hf = out / HF_DIR
    if hf.exists():
        shutil.rmtree(hf)
    tmp.rename(hf)
    (out / TRAIN_INFO).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return info


def is_cached(out: Path) -> bool:
    """Whether ``out`` holds a complete trained checkpoint and its train.json."""
    hf = out / HF_DIR
    return (
        all((hf / name).is_file() for name in ("config.json", "model.safetensors", "spiece.model"))
        and (out / TRAIN_INFO).is_file()
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.train_qa", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("models/trained-small"), metavar="DIR")
    parser.add_argument(
        "--minutes", type=float, default=TrainOptions.minutes, help="training budget"
    )
    parser.add_argument("--threads", type=int, default=TrainOptions.threads)
    parser.add_argument("--layers", type=int, default=TrainOptions.layers)
    parser.add_argument("--hidden", type=int, default=TrainOptions.hidden)
    parser.add_argument("--batch-size", type=int, default=TrainOptions.batch_size)
    parser.add_argument("--lr", type=float, default=TrainOptions.learning_rate)
    parser.add_argument("--vocab-size", type=int, default=TrainOptions.vocab_size)
    parser.add_argument(
        "--curriculum",
        type=float,
        default=TrainOptions.curriculum,
        help="share of the budget over which short contexts fade out (0: full-length ones only)",
    )
    parser.add_argument(
        "--heldout-limit", type=int, default=None, help="check only the first N held-out questions"
    )
    parser.add_argument(
        "--init-from",
        type=Path,
        default=None,
        metavar="HF_DIR",
        help="start from this trained checkpoint of the same width (any number of layers)",
    )
    parser.add_argument("--force", action="store_true", help="retrain even if OUT/hf exists")
    args = parser.parse_args(argv)
    out: Path = args.out
    if is_cached(out) and not args.force:
        info = json.loads((out / TRAIN_INFO).read_text(encoding="utf-8"))
        print(
            f"reusing the trained checkpoint {out / HF_DIR} (trained in {info['train_seconds'] / 60:.1f} min, "
            f"torch held-out EM {info['torch_heldout']['exact_match']:.2f}); --force retrains"
        )
        return 0
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    # Sleeping, not spinning, OpenMP workers: on a shared machine spinning ones are descheduled at
    # every barrier (2-3x slower steps here; the service does the same, see configure_threads).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    options = TrainOptions(
        minutes=args.minutes,
        threads=args.threads,
        layers=args.layers,
        hidden=args.hidden,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        vocab_size=args.vocab_size,
        curriculum=args.curriculum,
        heldout_limit=args.heldout_limit,
        init_from=args.init_from,
    )
    info = train(out, options)
    print(f"done: {out / HF_DIR} in {info['total_seconds'] / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
