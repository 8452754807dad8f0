"""Random ALBERT QA checkpoints in Hugging Face format, for tests, images and benchmarks.

    python -m tools.checkpoints --out DIR --size tiny|base [--converted]

writes DIR/hf (transformers ``AlbertForQuestionAnswering`` + ``AlbertTokenizerFast``, safetensors)
and with ``--converted`` also DIR/model (the project's model directory, via tools.convert).
``base`` has ALBERT-base sizes (E=128, H=768, 12 heads, 12 layers, vocab 30000) and a SentencePiece
model of 16,000 pieces trained on installed English text (``spm_util``), so English prose splits
about as finely as with ALBERT's own vocabulary (~1.4 tokens per word on ``bench/texts.py``) and
windows hold as many words; ids above 16,000 never come from text, but the embedding matrix is the
full 30000 x 128 of random weights, so compute and memory match the real model. ``tiny`` keeps
the small 1000-piece model of the tests.
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


def build_hf_checkpoint(
    out_dir: Path,
    arch: dict[str, Any],
    *,
    spiece: Path | None = None,
    seed: int = 0,
    weight_scale: float = 0.05,
) -> Path:
    """Save a random ``AlbertForQuestionAnswering`` with ``arch`` (AlbertConfig kwargs) and an
    ``AlbertTokenizerFast`` into ``out_dir`` (model.safetensors); return ``out_dir``."""
    import torch

    # transformers' constructors and ``eval`` are untyped: hence the no-untyped-call ignores.
    from transformers import AlbertConfig, AlbertForQuestionAnswering, AlbertTokenizerFast

    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        if spiece is None:
            spiece = train_sentencepiece(Path(tmp), vocab_size=SPM_VOCAB)
        tokenizer = AlbertTokenizerFast(vocab_file=str(spiece))  # type: ignore[no-untyped-call]
        tokenizer.save_pretrained(str(out_dir))
    if not (out_dir / "spiece.model").is_file():
        shutil.copyfile(spiece, out_dir / "spiece.model")
    config = AlbertConfig(  # type: ignore[no-untyped-call]
        **{"type_vocab_size": 2, "layer_norm_eps": 1e-12, **arch},
        classifier_dropout_prob=0.0,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    torch.manual_seed(seed)
    model = AlbertForQuestionAnswering(config).eval()  # type: ignore[no-untyped-call]
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


def build(out: Path, size: str, *, converted: bool, seed: int = 0) -> tuple[Path, Path | None]:
    """The CLI's work: DIR/hf and optionally DIR/model."""
    if size == "tiny":
        hf_dir = build_hf_checkpoint(out / "hf", SIZES[size], seed=seed)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            spiece = train_sentencepiece(Path(tmp), vocab_size=SPM_PIECES[size], english=True)
            hf_dir = build_hf_checkpoint(out / "hf", SIZES[size], spiece=spiece, seed=seed)
    model_dir = None
    if converted:
        from tools.convert import convert

        model_dir = out / "model"
        convert(str(hf_dir), model_dir)
    return hf_dir, model_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.checkpoints", description=__doc__)
    parser.add_argument("--out", required=True, type=Path, metavar="DIR")
    parser.add_argument("--size", choices=sorted(SIZES), default="tiny")
    parser.add_argument("--converted", action="store_true", help="also write DIR/model")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    hf_dir, model_dir = build(args.out, args.size, converted=args.converted, seed=args.seed)
    print(f"HF checkpoint: {hf_dir}")
    if model_dir is not None:
        print(f"model dir: {model_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
