"""Small Hugging Face tokenizers (BERT, DistilBERT, RoBERTa) trained offline, for tests and
random checkpoints.

    python -m tools.vocab --family bert|distilbert|roberta --out DIR [--lowercase] [--vocab-size N]

:func:`build_tokenizer_dir` trains a vocabulary with the ``tokenizers`` library on a corpus written
here (English-ish words and made-up ones, accented words, CJK, emoji, digits, punctuation; see
:mod:`tools.spm_util`) and writes a directory that ``transformers.AutoTokenizer.from_pretrained``
loads, offline, as the family's fast tokenizer:

- ``bert`` / ``distilbert``: WordPiece (``##`` continuations) behind BERT's normaliser (with
  ``lowercase``: uncased, i.e. NFD, accents stripped, lower-cased; CJK ideographs split either
  way) and pre-tokeniser; ``[PAD]`` ``[UNK]`` ``[CLS]`` ``[SEP]`` ``[MASK]`` are ids 0-4;
  ``vocab.txt`` beside ``tokenizer.json``.
- ``roberta``: byte-level BPE (no prefix space, trimmed offsets); ``<s>`` ``<pad>`` ``</s>``
  ``<unk>`` ``<mask>`` are ids 0-4 as in RoBERTa, ``<mask>`` swallows the space before it;
  ``vocab.json`` + ``merges.txt`` beside ``tokenizer.json``.

A transformers ``AutoModelForQuestionAnswering`` saved into the same directory makes it a complete
checkpoint. transformers is not imported here, so a call takes well under a second.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from tokenizers import (
    Tokenizer,
    decoders,
    models,
    normalizers,
    pre_tokenizers,
    processors,
    trainers,
)

from tools.spm_util import corpus_lines as spm_corpus_lines

FAMILIES = ("bert", "distilbert", "roberta")
MODEL_MAX_LENGTH = 512

_BERT_SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
_ROBERTA_SPECIALS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")
_TOKENIZER_CLASS = {
    "bert": "BertTokenizerFast",
    "distilbert": "DistilBertTokenizerFast",
    "roberta": "RobertaTokenizerFast",
}


def corpus_lines(n_lines: int = 3000, seed: int = 17) -> list[str]:
    """Deterministic training text, cased (:func:`tools.spm_util.corpus_lines`)."""
    return spm_corpus_lines(n_lines, seed, lowercase=False, capitalized=0.2)


def build_tokenizer_dir(
    family: str, out_dir: Path, *, lowercase: bool = False, vocab_size: int = 1000
) -> Path:
    """Train a ``family`` tokenizer of at most ``vocab_size`` ids into ``out_dir``; return it.

    ``lowercase`` makes a BERT/DistilBERT tokenizer uncased (RoBERTa is always cased).
    Deterministic for given arguments.
    """
    if family not in FAMILIES:
        raise ValueError(f"family {family!r} has no tokenizers vocabulary; use one of {FAMILIES}")
    if family == "roberta" and lowercase:
        raise ValueError("RoBERTa's byte-level BPE is cased; lowercase applies to bert/distilbert")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if family == "roberta":
        tokenizer = _train_roberta(vocab_size)
        tokenizer.model.save(str(out_dir))  # vocab.json + merges.txt
        specials: dict[str, Any] = {
            "bos_token": "<s>",
            "cls_token": "<s>",
            "eos_token": "</s>",
            "sep_token": "</s>",
            "pad_token": "<pad>",
            "unk_token": "<unk>",
            "mask_token": _added("<mask>", lstrip=True),
        }
        options: dict[str, Any] = {"add_prefix_space": False, "trim_offsets": True}
    else:
        tokenizer = _train_bert(vocab_size, lowercase)
        vocab = sorted(tokenizer.get_vocab().items(), key=lambda item: item[1])
        (out_dir / "vocab.txt").write_text(
            "".join(token + "\n" for token, _ in vocab), encoding="utf-8"
        )
        specials = {
            "cls_token": "[CLS]",
            "sep_token": "[SEP]",
            "pad_token": "[PAD]",
            "unk_token": "[UNK]",
            "mask_token": "[MASK]",
        }
        options = {
            "do_lower_case": lowercase,
            "strip_accents": None,  # follows do_lower_case, as in BERT's own tokenizers
            "tokenize_chinese_chars": True,
        }
    tokenizer.save(str(out_dir / "tokenizer.json"))
    added = json.loads(tokenizer.to_str())["added_tokens"]
    config = {
        "tokenizer_class": _TOKENIZER_CLASS[family],
        "model_max_length": MODEL_MAX_LENGTH,
        "clean_up_tokenization_spaces": False,
        **options,
        **{
            key: value if isinstance(value, str) else value["content"]
            for key, value in specials.items()
        },
        "added_tokens_decoder": {
            str(token["id"]): {key: value for key, value in token.items() if key != "id"}
            for token in added
        },
    }
    _write_json(out_dir / "tokenizer_config.json", config)
    _write_json(out_dir / "special_tokens_map.json", specials)
    return out_dir


def _train_bert(vocab_size: int, lowercase: bool) -> Tokenizer:
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]", continuing_subword_prefix="##"))
    tokenizer.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=lowercase
    )
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size,
        special_tokens=list(_BERT_SPECIALS),
        continuing_subword_prefix="##",
        show_progress=False,
    )
    tokenizer.train_from_iterator(corpus_lines(), trainer)
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    tokenizer.decoder = decoders.WordPiece(prefix="##")
    return _with_flags(tokenizer, {})


def _train_roberta(vocab_size: int) -> Tokenizer:
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(_ROBERTA_SPECIALS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(corpus_lines(), trainer)
    tokenizer.post_processor = processors.RobertaProcessing(
        sep=("</s>", tokenizer.token_to_id("</s>")),
        cls=("<s>", tokenizer.token_to_id("<s>")),
        trim_offsets=True,
        add_prefix_space=False,
    )
    tokenizer.decoder = decoders.ByteLevel()
    # RoBERTa's <mask> takes the whitespace before it (lstrip), as transformers registers it.
    return _with_flags(tokenizer, {"<mask>": {"lstrip": True}})


def _with_flags(tokenizer: Tokenizer, flags: dict[str, dict[str, bool]]) -> Tokenizer:
    """The tokenizer with its special tokens un-normalised (as transformers saves them) and the
    given AddedToken flags set."""
    doc = json.loads(tokenizer.to_str())
    for token in doc["added_tokens"]:
        token["normalized"] = False
        token["special"] = True
        token.update(flags.get(token["content"], {}))
    return Tokenizer.from_str(json.dumps(doc))


def _added(content: str, *, lstrip: bool = False) -> dict[str, Any]:
    return {
        "content": content,
        "lstrip": lstrip,
        "normalized": False,
        "rstrip": False,
        "single_word": False,
    }


def _write_json(path: Path, doc: dict[str, Any]) -> None:
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.vocab", description=__doc__)
    parser.add_argument("--family", choices=FAMILIES, required=True)
    parser.add_argument("--out", type=Path, required=True, help="directory to write")
    parser.add_argument("--lowercase", action="store_true", help="uncased BERT/DistilBERT")
    parser.add_argument("--vocab-size", type=int, default=1000)
    args = parser.parse_args(argv)
    try:
        out = build_tokenizer_dir(
            args.family, args.out, lowercase=args.lowercase, vocab_size=args.vocab_size
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
