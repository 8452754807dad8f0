"""The ALBERT tokenizer: offsets into the original text, and parity with AlbertTokenizerFast."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.qa.tokenizer import _EXTRA_MARKS, _KEEP_MARKS, AlbertTokenizer

VARIED_TEXTS = [
    "Café in Tokyo 東京 😀",
    "İstanbul ﬁnance Ⅻ ½ ² ßtraße ǅ ﬃ",
    "a\u0301\u0316b e\u0316\u0301 n\u0303 A\u030a",
    "x\r\ny\r\n\r\nz\ttab\t\tend",
    "NUL\x00inside and \x1f unit separator",
    "``quoted'' and 'single' \"double\" «guillemets»",
    "  lots   of   spaces  ",
    "👨\u200d👩\u200d👧 family 👍🏽 🇫🇷 ❤️",
    "한국어 ひらがな カタカナ 北京大学",
    "ΣΑΣ Ωmega Москва Dvořák",
    "[CLS] literal [MASK] tokens  [MASK]<pad><unk>[SEP]",
    "x\u200by\u200dz\ufeffbom",
    "",
    " ",
    "\u0301",
    "\u0301lead",
]


@pytest.fixture(scope="module")
def spiece(qa_spiece: Path) -> Path:
    return qa_spiece


@pytest.fixture(scope="module")
def tokenizer(spiece: Path) -> AlbertTokenizer:
    return AlbertTokenizer.from_file(spiece)


@pytest.fixture(scope="module")
def reference(spiece: Path) -> Any:
    from transformers import AlbertTokenizerFast

    return AlbertTokenizerFast(vocab_file=str(spiece))  # type: ignore[no-untyped-call]


def _reference_encode(reference: Any, text: str) -> tuple[list[int], list[tuple[int, int]]]:
    enc = reference(text, add_special_tokens=False, return_offsets_mapping=True)
    return list(enc["input_ids"]), [tuple(o) for o in enc["offset_mapping"]]


@pytest.mark.parametrize("text", VARIED_TEXTS)
def test_tokenizer_offsets_point_into_original_text(tokenizer: AlbertTokenizer, text: str) -> None:
    enc = tokenizer.encode(text)
    assert len(enc.ids) == len(enc.offsets) == len(enc.words)
    for start, end in enc.offsets:
        assert 0 <= start < end <= len(text)
    starts = [s for s, _ in enc.offsets]
    assert starts == sorted(starts)
    assert enc.words == sorted(enc.words)


def test_tokenizer_offsets_survive_nfkd_expansion(tokenizer: AlbertTokenizer) -> None:
    # "ﬁ" becomes "fi" and "é" loses its accent: every token still maps to original characters.
    text = "ﬁne café"
    enc = tokenizer.encode(text)
    covered = "".join(text[s:e] for s, e in enc.offsets)
    assert "ﬁ" in covered and "é" in covered
    assert enc.offsets[-1][1] == len(text)


def test_tokenizer_unknown_characters_fuse_into_one_unk(tokenizer: AlbertTokenizer) -> None:
    enc = tokenizer.encode("\u16a0\u16a1\u16a2")  # runes: not in the vocabulary
    assert enc.ids.count(tokenizer.unk_id) == 1
    unk = enc.ids.index(tokenizer.unk_id)
    assert enc.offsets[unk] == (0, 3)


def test_tokenizer_rejects_a_file_that_is_not_a_model(tmp_path: Path) -> None:
    bogus = tmp_path / "spiece.model"
    bogus.write_bytes(b"")
    with pytest.raises(ValueError, match=r"spiece\.model"):
        AlbertTokenizer.from_file(bogus)


@pytest.mark.parity
@pytest.mark.parametrize("text", VARIED_TEXTS)
def test_tokenizer_matches_albert_fast_on_varied_text(
    tokenizer: AlbertTokenizer, reference: Any, text: str
) -> None:
    enc = tokenizer.encode(text)
    assert (enc.ids, enc.offsets) == _reference_encode(reference, text)


# Characters assigned after the Unicode version of tokenizers' mark table are excluded: their
# offsets can differ (documented in docs/qa-text.md).
_NEW_MARKS = {chr(cp) for cp in _KEEP_MARKS | _EXTRA_MARKS}
_ANY_CHAR = st.characters(blacklist_categories=["Cs"]).filter(lambda c: c not in _NEW_MARKS)
_TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from(list("abcdefghij tokyo café 東京 😀\t\r\n\x00\u0301\u0316''``")),
        _ANY_CHAR,
    ),
    max_size=60,
)


@pytest.mark.parity
@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=_TEXT)
def test_tokenizer_matches_albert_fast_on_arbitrary_unicode(
    tokenizer: AlbertTokenizer, reference: Any, text: str
) -> None:
    enc = tokenizer.encode(text)
    assert (enc.ids, enc.offsets) == _reference_encode(reference, text)
