"""The extractive-QA model families the service runs, each described once (no mxnet here).

A family says what cannot be read off a checkpoint's numbers: which tokenizer file and library
turn text into ids, and how a question and a context share one window. Everything numeric (layer
count, sizes, whether the layer is shared, the embedding projection, RoBERTa's position offset)
is in the model directory's :class:`app.qa.modeldir.Architecture`, so the graph, the windows, the
decoder and the INT8 path take the family from there and need no per-family branches.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Tokenizer kinds: ALBERT's SentencePiece model (``spiece.model``, :class:`AlbertTokenizer`), or
#: a Hugging Face ``tokenizers`` file (``tokenizer.json``: WordPiece or byte-level BPE).
SENTENCEPIECE = "sentencepiece"
TOKENIZERS = "tokenizers"


@dataclass(frozen=True)
class Layout:
    """How one window holds a question and a slice of the context.

    ``[CLS] question [SEP]*seps_between context [SEP]``: BERT, DistilBERT and ALBERT put one
    separator between the two, RoBERTa two (``<s> q </s></s> c </s>``). Question tokens and the
    first separators have token type 0; context tokens and the closing separator have
    ``context_type_id``: 1 for BERT and ALBERT; 0 for RoBERTa, whose type table has one row, and
    for DistilBERT, which has none (the converter gives it one row of zeros).
    """

    seps_between: int = 1
    context_type_id: int = 1

    @property
    def specials(self) -> int:
        """Special tokens in a window: the leading one, the separators, the closing one."""
        return 2 + self.seps_between


@dataclass(frozen=True)
class Family:
    """One model family: its tokenizer and window layout (see the module docstring)."""

    name: str
    tokenizer_kind: str
    tokenizer_file: str
    layout: Layout
    #: transformers ``model_type`` values this family converts from.
    hf_model_types: tuple[str, ...]


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family("albert", SENTENCEPIECE, "spiece.model", Layout(1, 1), ("albert",)),
        Family("bert", TOKENIZERS, "tokenizer.json", Layout(1, 1), ("bert",)),
        Family("distilbert", TOKENIZERS, "tokenizer.json", Layout(1, 0), ("distilbert",)),
        Family("roberta", TOKENIZERS, "tokenizer.json", Layout(2, 0), ("roberta",)),
    )
}


def family_for_model_type(model_type: str) -> Family:
    """The family that converts transformers' ``model_type``; ValueError names the supported ones."""
    for family in FAMILIES.values():
        if model_type in family.hf_model_types:
            return family
    known = sorted(t for f in FAMILIES.values() for t in f.hf_model_types)
    raise ValueError(
        f"model_type {model_type!r} is not supported; extractive-QA checkpoints of these "
        f"types convert: {', '.join(known)}"
    )
