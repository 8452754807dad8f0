"""Random extractive-QA checkpoints in Hugging Face format, for tests, images and benchmarks.

    python -m tools.checkpoints --out DIR --size tiny|base [--family F] [--lowercase] [--converted]

writes DIR/hf (transformers ``*ForQuestionAnswering`` of family F, default albert, and its fast
tokenizer, safetensors) and with ``--converted`` also DIR/model (the project's model directory,
via tools.convert).

ALBERT: ``base`` has ALBERT-base sizes (E=128, H=768, 12 heads, 12 layers, vocab 30000) and a
SentencePiece model of 16,000 pieces trained on installed English text (``spm_util``), so English
prose splits about as finely as with ALBERT's own vocabulary (~1.4 tokens per word on
``bench/texts.py``) and windows hold as many words; ids above 16,000 never come from text, but
the embedding matrix is the full 30000 x 128 of random weights, so compute and memory match the
real model. ``tiny`` keeps the small 1000-piece model of the tests.

BERT, DistilBERT, RoBERTa: the tokenizer is trained offline by :func:`tools.vocab.build_tokenizer_dir`
(WordPiece, cased or with ``--lowercase`` uncased; byte-level BPE for RoBERTa); ``base`` has
BERT-base (12 x 768, vocab 30522), DistilBERT-base (6 x 768) and RoBERTa-base (12 x 768, vocab
50265, 514 positions from offset 2, one token type) sizes, again with full-size random
embeddings.

Every weight is random, LayerNorm gains and biases included, so a swapped tensor shows in parity.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

# The SentencePiece trainer still lives with the test fixtures; it belongs beside this module.
from tools.spm_util import train_sentencepiece

SPM_VOCAB = 1000
#: SentencePiece pieces per size when ``build`` trains the model; ``base`` trains on English text.
SPM_PIECES: dict[str, int] = {"tiny": SPM_VOCAB, "base": 16000}

SIZES: dict[str, dict[str, Any]] = {
    "tiny": {
        "vocab_size": SPM_VOCAB,
        "embedding_size": 16,
        "hidden_size": 32,
        "num_attention_heads": 4,
        "num_hidden_layers": 3,
        "intermediate_size": 64,
        "hidden_act": "gelu_new",
        "max_position_embeddings": 512,
    },
    "base": {
        "vocab_size": 30000,
        "embedding_size": 128,
        "hidden_size": 768,
        "num_attention_heads": 12,
        "num_hidden_layers": 12,
        "intermediate_size": 3072,
        "hidden_act": "gelu_new",
        "max_position_embeddings": 512,
    },
}


#: Config kwargs per family and size, in the names of the family's transformers config
#: (DistilBERT's are dim / n_layers / n_heads / hidden_dim). ALBERT's are :data:`SIZES`.
FAMILY_SIZES: dict[str, dict[str, dict[str, Any]]] = {
    "albert": SIZES,
    "bert": {
        "tiny": {
            "vocab_size": SPM_VOCAB,
            "hidden_size": 32,
            "num_attention_heads": 4,
            "num_hidden_layers": 3,
            "intermediate_size": 64,
            "hidden_act": "gelu",
            "max_position_embeddings": 512,
            "type_vocab_size": 2,
        },
        "base": {
            "vocab_size": 30522,
            "hidden_size": 768,
            "num_attention_heads": 12,
            "num_hidden_layers": 12,
            "intermediate_size": 3072,
            "hidden_act": "gelu",
            "max_position_embeddings": 512,
            "type_vocab_size": 2,
        },
        # BERT-large (335 M parameters, 1.3 GB of fp32 weights): the init-time case.
        "large": {
            "vocab_size": 30522,
            "hidden_size": 1024,
            "num_attention_heads": 16,
            "num_hidden_layers": 24,
            "intermediate_size": 4096,
            "hidden_act": "gelu",
            "max_position_embeddings": 512,
            "type_vocab_size": 2,
        },
    },
    "distilbert": {
        "tiny": {
            "vocab_size": SPM_VOCAB,
            "dim": 32,
            "n_heads": 4,
            "n_layers": 3,
            "hidden_dim": 64,
            "activation": "gelu",
            "max_position_embeddings": 512,
        },
        "base": {
            "vocab_size": 30522,
            "dim": 768,
            "n_heads": 12,
            "n_layers": 6,
            "hidden_dim": 3072,
            "activation": "gelu",
            "max_position_embeddings": 512,
        },
    },
    "roberta": {
        "tiny": {
            "vocab_size": SPM_VOCAB,
            "hidden_size": 32,
            "num_attention_heads": 4,
            "num_hidden_layers": 3,
            "intermediate_size": 64,
            "hidden_act": "gelu",
            "max_position_embeddings": 514,
            "type_vocab_size": 1,
            "layer_norm_eps": 1e-5,
        },
        "base": {
            "vocab_size": 50265,
            "hidden_size": 768,
            "num_attention_heads": 12,
            "num_hidden_layers": 12,
            "intermediate_size": 3072,
            "hidden_act": "gelu",
            "max_position_embeddings": 514,
            "type_vocab_size": 1,
            "layer_norm_eps": 1e-5,
        },
    },
}
#: Most ids the offline-trained tokenizer of the other families may have, per size.
TOKENIZER_VOCAB: dict[str, int] = {"tiny": SPM_VOCAB, "base": 16000, "large": 16000}
#: transformers model_type per family, and the config kwargs that turn every dropout off.
_MODEL_TYPES = {
    "albert": "albert",
    "bert": "bert",
    "distilbert": "distilbert",
    "roberta": "roberta",
}
_NO_DROPOUT: dict[str, dict[str, float]] = {
    "albert": {
        "classifier_dropout_prob": 0.0,
        "hidden_dropout_prob": 0.0,
        "attention_probs_dropout_prob": 0.0,
    },
    "bert": {"hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0},
    "roberta": {"hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0},
    "distilbert": {"dropout": 0.0, "attention_dropout": 0.0, "qa_dropout": 0.0},
}


def build_hf_checkpoint(
    out_dir: Path,
    arch: dict[str, Any],
    *,
    family: str = "albert",
    spiece: Path | None = None,
    lowercase: bool = False,
    tokenizer_vocab: int = SPM_VOCAB,
    seed: int = 0,
    weight_scale: float = 0.05,
) -> Path:
    """Save a random ``*ForQuestionAnswering`` of ``family`` with ``arch`` (the family's config
    kwargs) and its fast tokenizer into ``out_dir`` (model.safetensors); return ``out_dir``.

    ALBERT: an ``AlbertTokenizerFast`` over ``spiece`` (a 1000-piece model trained here when
    None). The others: :func:`tools.vocab.build_tokenizer_dir` with at most ``tokenizer_vocab``
    ids (``lowercase``: an uncased BERT/DistilBERT).
    """
    import torch

    # transformers' constructors and ``eval`` are untyped: hence the no-untyped-call ignores.
    from transformers import AutoConfig, AutoModelForQuestionAnswering

    if family not in _MODEL_TYPES:
        raise ValueError(f"family {family!r} is unknown; use one of {sorted(_MODEL_TYPES)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    defaults: dict[str, Any] = {}
    if family == "albert":
        from transformers import AlbertTokenizerFast

        with tempfile.TemporaryDirectory() as tmp:
            if spiece is None:
                spiece = train_sentencepiece(Path(tmp), vocab_size=SPM_VOCAB)
            tokenizer = AlbertTokenizerFast(vocab_file=str(spiece))  # type: ignore[no-untyped-call]
            tokenizer.save_pretrained(str(out_dir))
        if not (out_dir / "spiece.model").is_file():
            shutil.copyfile(spiece, out_dir / "spiece.model")
        defaults = {"type_vocab_size": 2, "layer_norm_eps": 1e-12}
    else:
        from tools.vocab import build_tokenizer_dir

        build_tokenizer_dir(family, out_dir, lowercase=lowercase, vocab_size=tokenizer_vocab)
    config = AutoConfig.for_model(
        _MODEL_TYPES[family], **{**defaults, **arch}, **_NO_DROPOUT[family]
    )
    torch.manual_seed(seed)
    model = AutoModelForQuestionAnswering.from_config(config).eval()  # type: ignore[no-untyped-call]
    with torch.no_grad():
        for name, param in model.named_parameters():
            noise = torch.randn_like(param) * weight_scale
            # LayerNorm starts at gain 1 / bias 0; perturb so gamma/beta mix-ups are visible.
            param.copy_(
                1.0 + noise
                if name.endswith("LayerNorm.weight") or "layer_norm.weight" in name
                else noise
            )
    model.save_pretrained(str(out_dir), safe_serialization=True)
    return out_dir


def build(
    out: Path,
    size: str,
    *,
    converted: bool,
    seed: int = 0,
    family: str = "albert",
    lowercase: bool = False,
) -> tuple[Path, Path | None]:
    """The CLI's work: DIR/hf and optionally DIR/model."""
    sizes = FAMILY_SIZES[family]
    if family != "albert":
        hf_dir = build_hf_checkpoint(
            out / "hf",
            sizes[size],
            family=family,
            lowercase=lowercase,
            tokenizer_vocab=TOKENIZER_VOCAB[size],
            seed=seed,
        )
    elif size == "tiny":
        hf_dir = build_hf_checkpoint(out / "hf", sizes[size], seed=seed)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            spiece = train_sentencepiece(Path(tmp), vocab_size=SPM_PIECES[size], english=True)
            hf_dir = build_hf_checkpoint(out / "hf", sizes[size], spiece=spiece, seed=seed)
    model_dir = None
    if converted:
        from tools.convert import convert

        model_dir = out / "model"
        convert(str(hf_dir), model_dir)
    return hf_dir, model_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.checkpoints", description=__doc__)
    parser.add_argument("--out", required=True, type=Path, metavar="DIR")
    parser.add_argument(
        "--size",
        choices=sorted({size for sizes in FAMILY_SIZES.values() for size in sizes}),
        default="tiny",
        help="tiny, base, or large (BERT only)",
    )
    parser.add_argument("--family", choices=sorted(FAMILY_SIZES), default="albert")
    parser.add_argument(
        "--lowercase", action="store_true", help="an uncased tokenizer (bert, distilbert)"
    )
    parser.add_argument("--converted", action="store_true", help="also write DIR/model")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.lowercase and args.family not in ("bert", "distilbert"):
        parser.error("--lowercase applies to --family bert or distilbert")
    if args.size not in FAMILY_SIZES[args.family]:
        parser.error(
            f"--size {args.size} is not built for {args.family}; use one of "
            f"{', '.join(FAMILY_SIZES[args.family])}"
        )
    hf_dir, model_dir = build(
        args.out,
        args.size,
        converted=args.converted,
        seed=args.seed,
        family=args.family,
        lowercase=args.lowercase,
    )
    print(f"HF checkpoint: {hf_dir}")
    if model_dir is not None:
        print(f"model dir: {model_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
