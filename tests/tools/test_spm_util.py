"""The SentencePiece models of the random checkpoints: tiny stays small, base splits like ALBERT."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.qa.tokenizer import AlbertTokenizer
from bench.texts import pairs_for
from tools.checkpoints import SPM_PIECES, SPM_VOCAB
from tools.spm_util import english_corpus_lines, train_sentencepiece


def test_tiny_keeps_the_small_written_corpus() -> None:
    assert SPM_PIECES["tiny"] == SPM_VOCAB == 1000


def test_english_corpus_is_installed_english() -> None:
    lines = english_corpus_lines()
    words = {w for line in lines for w in line.split()}
    assert len(words) > 40_000
    assert {"historians", "orchestra", "government", "function"} <= words
    assert all(line == line.lower() for line in lines)


@pytest.fixture(scope="module")
def base_tokenizer(tmp_path_factory: pytest.TempPathFactory) -> AlbertTokenizer:
    spiece = train_sentencepiece(
        tmp_path_factory.mktemp("spm-base"), vocab_size=SPM_PIECES["base"], english=True
    )
    return AlbertTokenizer.from_file(spiece)


@pytest.mark.parametrize("words", [150, 400])
def test_base_vocabulary_splits_bench_prose_like_albert(
    base_tokenizer: AlbertTokenizer, words: int
) -> None:
    """About 1.3-1.6 tokens per English word, as ALBERT's 30k pieces give (1000 pieces: ~3.5)."""
    assert base_tokenizer.vocab_size == SPM_PIECES["base"]
    pairs = pairs_for(words, 3)
    tokens = sum(len(base_tokenizer.encode(p.context).ids) for p in pairs)
    per_word = tokens / sum(p.context_words for p in pairs)
    assert 1.3 <= per_word <= 1.6, per_word
    # Nothing in the bench's prose falls outside the vocabulary.
    assert all(1 not in base_tokenizer.encode(p.context).ids for p in pairs)


def test_base_vocabulary_still_covers_other_scripts(base_tokenizer: AlbertTokenizer) -> None:
    ids = base_tokenizer.encode("Café in Zürich, 東京 and Москва").ids
    assert ids and ids.count(1) <= 1


def test_base_training_is_deterministic(tmp_path: Path, base_tokenizer: AlbertTokenizer) -> None:
    again = AlbertTokenizer.from_file(
        train_sentencepiece(tmp_path, vocab_size=SPM_PIECES["base"], english=True)
    )
    text = pairs_for(150, 1)[0].context
    assert again.encode(text) == base_tokenizer.encode(text)
