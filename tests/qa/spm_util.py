"""Train a small SentencePiece model configured like ALBERT's ``spiece.model`` (test fixtures only).

ALBERT's model is a unigram model with ``<pad>``=0, ``<unk>``=1, the control pieces ``[CLS]``,
``[SEP]``, ``[MASK]`` right after them, no BOS/EOS and the ``nmt_nfkc`` normalisation rule.
We train on text written here (accents, CJK, emoji, quotes, digits) so tests need no download.
"""

from __future__ import annotations

import random
from pathlib import Path

import sentencepiece as spm

_WORDS = tuple(
    [
        "the",
        "of",
        "and",
        "to",
        "in",
        "is",
        "was",
        "for",
        "on",
        "that",
        "with",
        "as",
        "by",
        "at",
        "from",
        "his",
        "her",
        "it",
        "an",
        "were",
        "are",
        "which",
        "this",
        "be",
        "or",
        "has",
        "had",
        "not",
        "but",
        "first",
        "one",
        "their",
        "its",
        "new",
        "after",
        "who",
        "they",
        "have",
        "two",
        "been",
        "also",
        "into",
        "more",
        "other",
        "when",
        "time",
        "during",
        "all",
        "would",
        "there",
        "only",
        "most",
        "about",
        "over",
        "years",
        "city",
        "season",
        "world",
        "war",
        "school",
        "university",
        "river",
        "music",
        "film",
        "album",
        "song",
        "team",
        "game",
        "league",
        "state",
        "county",
        "government",
        "called",
        "later",
        "between",
        "while",
        "under",
        "number",
        "known",
        "since",
        "second",
        "system",
        "national",
        "history",
        "north",
        "south",
        "east",
        "west",
        "company",
        "group",
        "family",
        "life",
        "work",
        "series",
        "population",
        "french",
        "german",
        "question",
        "answer",
        "context",
        "model",
        "window",
        "token",
        "paris",
        "london",
        "tokyo",
        "berlin",
        "amazon",
        "lambda",
    ]
)
_ACCENTED = tuple(
    [
        "café",
        "naïve",
        "résumé",
        "façade",
        "jalapeño",
        "über",
        "straße",
        "Ångström",
        "São",
        "Paulo",
        "Zürich",
        "Øresund",
        "crème",
        "brûlée",
        "déjà",
        "vu",
        "Ελληνικά",
        "Москва",
        "Kraków",
        "Dvořák",
        "İstanbul",
        "ﬁnance",
        "Ⅻ",
        "½",
        "²",
        "№",
    ]
)
_CJK = ("東京", "日本語", "中文", "北京大学", "한국어", "ひらがな", "カタカナ", "漢字")
_EMOJI = ("😀", "👍🏽", "🇫🇷", "❤️", "👨‍👩‍👧")
_PUNCT = ('"', "``", "''", "'", "(", ")", ",", ".", ";", ":", "!", "?", "-", "–", "—", "«", "»")


def _made_up_words(rng: random.Random, n_words: int) -> list[str]:
    """Pronounceable nonsense words, so the corpus has enough distinct pieces for any vocab size."""
    onsets = ["", "b", "d", "k", "l", "m", "n", "p", "r", "s", "t", "v", "st", "tr", "ch", "gr"]
    vowels = ["a", "e", "i", "o", "u", "ai", "ou", "é", "ü"]
    codas = ["", "", "n", "r", "s", "l", "t", "ng"]
    return [
        "".join(
            rng.choice(onsets) + rng.choice(vowels) + rng.choice(codas)
            for _ in range(rng.randint(1, 4))
        )
        for _ in range(n_words)
    ]


def _corpus_lines(n_lines: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    made_up = _made_up_words(rng, 3000)
    lines = []
    for _ in range(n_lines):
        parts: list[str] = []
        for _ in range(rng.randint(5, 25)):
            roll = rng.random()
            if roll < 0.70:
                word = rng.choice(_WORDS) if rng.random() < 0.6 else rng.choice(made_up)
                parts.append(word.capitalize() if rng.random() < 0.15 else word)
            elif roll < 0.80:
                parts.append(rng.choice(_ACCENTED))
            elif roll < 0.85:
                parts.append(rng.choice(_CJK))
            elif roll < 0.87:
                parts.append(rng.choice(_EMOJI))
            elif roll < 0.95:
                parts.append(str(rng.randint(0, 3000)))
            else:
                parts.append(rng.choice(_PUNCT))
        # ALBERT lower-cases before SentencePiece, so its vocabulary is lower-case too.
        lines.append(" ".join(parts).lower())
    return lines


def train_sentencepiece(out_dir: Path, vocab_size: int = 1000) -> Path:
    """Train an ALBERT-style unigram model into ``out_dir``; return the ``spiece.model`` path.

    The corpus supports ``vocab_size`` up to about 3800. Deterministic for a given size.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    corpus = out_dir / "spm_corpus.txt"
    corpus.write_text("\n".join(_corpus_lines(4000, seed=13)) + "\n", encoding="utf-8")
    prefix = out_dir / "spiece"
    spm.SentencePieceTrainer.train(
        input=str(corpus),
        model_prefix=str(prefix),
        model_type="unigram",
        vocab_size=vocab_size,
        pad_id=0,
        unk_id=1,
        bos_id=-1,
        eos_id=-1,
        control_symbols=["[CLS]", "[SEP]", "[MASK]"],
        normalization_rule_name="nmt_nfkc",
        character_coverage=0.9995,
        shuffle_input_sentence=False,
        num_threads=1,
        minloglevel=2,
    )
    corpus.unlink()
    return prefix.with_suffix(".model")
