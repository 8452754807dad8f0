"""The tokenizers-file tokenizer (BERT, DistilBERT, RoBERTa): ids, offsets and word ids as the
fast tokenizers give them for the context of a (question, context) pair, and load_tokenizer."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.errors import ModelLoadError
from app.qa.families import FAMILIES
from app.qa.modeldir import Architecture, QaConfig
from app.qa.tokenizer import AlbertTokenizer, Encoding, HfTokenizer, load_tokenizer
from tools.vocab import build_tokenizer_dir

#: name -> (family, lowercase)
VARIANTS = {
    "bert-cased": ("bert", False),
    "bert-uncased": ("bert", True),
    "distilbert": ("distilbert", True),
    "roberta": ("roberta", False),
}

CASES = [
    "The café is naïve about Ångström units.",
    "CAFÉ Naïve ÅNGSTRÖM crème brûlée Dvořák İstanbul",
    "a\u0301\u0316b e\u0316\u0301 n\u0303 A\u030a",  # combining marks
    "\u0301lead and trail\u0301",
    "東京 is in 日本語; 北京大学 한국어 ひらがな カタカナ",
    "Emoji 😀 👍🏽 🇫🇷 ❤️ 👨\u200d👩\u200d👧 end",
    "  lots   of   spaces  ",
    "x\r\ny\r\n\r\nz\ttab\t\tend\n",
    " leading",
    "trailing ",
    "\u00a0nbsp\u3000ideographic space",
    "NUL\x00inside, \x1f unit separator, \ufffd replacement",
    "x\u200by\u200dz\ufeffbom",
    "Hello, world! (yes) -- \"quoted\" 'single' «guillemets» ... ?!",
    "3.14159 and 1,000,000 or 2024-05-01; ½ ² Ⅻ",
    "ᚠᚡᚢ runes ꙮ and ꓸꓹ unknown",
    "ﬁnance ﬃ ßtraße ǅ ΣΑΣ Москва",
    "[CLS] literal [MASK] and <s> </s> <mask> tokens",
    "",
    " ",
    "\n",
]

QUESTION = "Where is the café?"


@pytest.fixture(scope="module")
def tokenizer_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("hf-tokenizers")
    return {
        name: build_tokenizer_dir(family, root / name, lowercase=lowercase)
        for name, (family, lowercase) in VARIANTS.items()
    }


@pytest.fixture(scope="module")
def references(tokenizer_dirs: dict[str, Path]) -> dict[str, Any]:
    from transformers import AutoTokenizer

    load: Any = AutoTokenizer.from_pretrained
    return {name: load(path) for name, path in tokenizer_dirs.items()}


@pytest.fixture(scope="module")
def ours(tokenizer_dirs: dict[str, Path]) -> dict[str, HfTokenizer]:
    return {
        name: HfTokenizer.from_file(path / "tokenizer.json")
        for name, path in tokenizer_dirs.items()
    }


def _reference_context(reference: Any, text: str) -> Encoding:
    """The context tokens of the fast tokenizer's (question, text) pair encoding."""
    enc = reference(QUESTION, text, return_offsets_mapping=True)
    cols = [i for i, s in enumerate(enc.sequence_ids(0)) if s == 1]
    word_ids = enc.word_ids(0)
    return Encoding(
        [enc["input_ids"][i] for i in cols],
        [tuple(enc["offset_mapping"][i]) for i in cols],
        [word_ids[i] for i in cols],
    )


def test_vocab_dirs_load_as_the_family_fast_tokenizer(references: dict[str, Any]) -> None:
    expected = {
        "bert-cased": "BertTokenizerFast",
        "bert-uncased": "BertTokenizerFast",
        "distilbert": "DistilBertTokenizerFast",
        "roberta": "RobertaTokenizerFast",
    }
    for name, reference in references.items():
        assert type(reference).__name__ == expected[name]
        assert reference.model_max_length == 512
    assert references["bert-uncased"].do_lower_case and not references["bert-cased"].do_lower_case
    bert, roberta = references["bert-cased"], references["roberta"]
    assert [bert.pad_token_id, bert.unk_token_id, bert.cls_token_id, bert.sep_token_id] == [
        0,
        1,
        2,
        3,
    ]
    assert roberta.convert_ids_to_tokens([0, 1, 2, 3, 4]) == [
        "<s>",
        "<pad>",
        "</s>",
        "<unk>",
        "<mask>",
    ]


@pytest.mark.parity
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("text", CASES)
def test_hf_tokenizer_matches_fast_tokenizer_pair_context(
    ours: dict[str, HfTokenizer], references: dict[str, Any], variant: str, text: str
) -> None:
    assert ours[variant].encode(text) == _reference_context(references[variant], text)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("text", CASES)
def test_hf_tokenizer_offsets_point_into_original_text(
    ours: dict[str, HfTokenizer], variant: str, text: str
) -> None:
    tokenizer = ours[variant]
    enc = tokenizer.encode(text)
    assert len(enc.ids) == len(enc.offsets) == len(enc.words)
    assert enc.words == sorted(enc.words)
    starts = [s for s, _ in enc.offsets]
    assert starts == sorted(starts)
    for token_id, (start, end) in zip(enc.ids, enc.offsets, strict=True):
        assert 0 <= start <= end <= len(text)
        if start == end:
            # Only RoBERTa has empty spans: a token of whitespace alone, which trim_offsets
            # shrinks to nothing (transformers reports the same).
            assert variant == "roberta"
            assert tokenizer._backend.decode([token_id]).isspace()
        else:
            assert text[start:end]


def test_hf_tokenizer_uncased_strips_accents_but_offsets_keep_them(
    ours: dict[str, HfTokenizer], references: dict[str, Any]
) -> None:
    text = "Ångström café"
    enc = ours["bert-uncased"].encode(text)
    covered = "".join(text[s:e] for s, e in enc.offsets)
    assert "Å" in covered and "é" in covered
    assert enc.offsets[-1][1] == len(text)
    tokens = references["bert-uncased"].convert_ids_to_tokens(enc.ids)
    assert all(t.isascii() for t in tokens)


def test_hf_tokenizer_unknown_characters_become_unk(ours: dict[str, HfTokenizer]) -> None:
    for variant in ("bert-cased", "bert-uncased", "distilbert"):
        tokenizer = ours[variant]
        enc = tokenizer.encode("ᚠᚡᚢ ok")
        assert tokenizer.unk_id == 1
        assert enc.ids[0] == tokenizer.unk_id and enc.offsets[0] == (0, 3)
    # Byte-level BPE has no unknowns: every byte is in the vocabulary.
    roberta = ours["roberta"]
    assert roberta.unk_id == 3
    assert roberta.unk_id not in roberta.encode("ᚠᚡᚢ ok").ids


def test_hf_tokenizer_has_no_special_tokens_padding_or_truncation(
    tokenizer_dirs: dict[str, Path],
) -> None:
    path = tokenizer_dirs["bert-cased"] / "tokenizer.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["truncation"] = {
        "direction": "Right",
        "max_length": 4,
        "strategy": "LongestFirst",
        "stride": 0,
    }
    doc["padding"] = {
        "strategy": {"Fixed": 64},
        "direction": "Right",
        "pad_to_multiple_of": None,
        "pad_id": 0,
        "pad_type_id": 0,
        "pad_token": "[PAD]",
    }
    padded = path.with_name("padded.json")
    padded.write_text(json.dumps(doc), encoding="utf-8")
    tokenizer = HfTokenizer.from_file(padded)
    enc = tokenizer.encode("the city of the season after the first")
    assert len(enc.ids) > 4
    assert not {0, 2, 3} & set(enc.ids)
    assert tokenizer.vocab_size == 1000


_TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from(list("abcdef tokyo Café 東京 😀\t\r\n\x00\u0301\u0316 .,!-")),
        st.characters(blacklist_categories=["Cs"]),
    ),
    max_size=60,
)


@pytest.mark.parity
@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=_TEXT)
def test_hf_tokenizer_matches_fast_tokenizer_on_arbitrary_unicode(
    ours: dict[str, HfTokenizer], references: dict[str, Any], text: str
) -> None:
    for variant in ("bert-cased", "bert-uncased", "roberta"):
        assert ours[variant].encode(text) == _reference_context(references[variant], text)


# --- load_tokenizer ---------------------------------------------------------------------------

ARCH = Architecture(
    vocab_size=1000,
    embedding_size=32,
    hidden_size=32,
    num_hidden_layers=1,
    num_attention_heads=4,
    intermediate_size=64,
    hidden_act="gelu",
    max_position_embeddings=512,
    type_vocab_size=2,
    layer_norm_eps=1e-12,
    embedding_projection=False,
    shared_layers=False,
)


def _config(family: str, model_dir: Path) -> QaConfig:
    return QaConfig(architecture=ARCH, family_name=family, model_dir=model_dir)


@pytest.mark.parametrize("variant", VARIANTS)
def test_load_tokenizer_reads_the_family_tokenizer_json(
    tokenizer_dirs: dict[str, Path], variant: str
) -> None:
    family = VARIANTS[variant][0]
    tokenizer = load_tokenizer(_config(family, tokenizer_dirs[variant]))
    assert isinstance(tokenizer, HfTokenizer)
    assert tokenizer.encode("the café").ids


def test_load_tokenizer_reads_albert_spiece_model(qa_spiece: Path, tmp_path: Path) -> None:
    (tmp_path / "spiece.model").write_bytes(qa_spiece.read_bytes())
    tokenizer = load_tokenizer(_config("albert", tmp_path))
    assert isinstance(tokenizer, AlbertTokenizer)
    assert tokenizer.encode("the café").ids


_CORRUPT = {
    "missing": None,
    "empty": b"",
    "truncated": b'{"version": "1.0", "model": {"type": "WordPiece", "vocab": {',
    "not-a-tokenizer": b'{"hello": "world"}',
    "binary": bytes(range(256)),
}


@pytest.mark.parametrize("family", ["albert", "bert", "roberta"])
@pytest.mark.parametrize("content", _CORRUPT.values(), ids=list(_CORRUPT))
def test_load_tokenizer_rejects_a_bad_file_with_the_fix(
    tmp_path: Path, family: str, content: bytes | None
) -> None:
    path = tmp_path / FAMILIES[family].tokenizer_file
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ModelLoadError) as excinfo:
        load_tokenizer(_config(family, tmp_path))
    message = str(excinfo.value)
    assert str(path) in message and "is not a valid" in message
    assert "make models" in message and "python -m tools.convert --from-hf" in message


def test_albert_path_does_not_import_tokenizers(qa_spiece: Path) -> None:
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from app.qa.tokenizer import AlbertTokenizer, load_tokenizer\n"
        "from app.qa.modeldir import Architecture, QaConfig\n"
        f"arch = Architecture(**{asdict(ARCH)!r})\n"
        f"d = Path({str(qa_spiece.parent)!r})\n"
        "tok = load_tokenizer(QaConfig(architecture=arch, family_name='albert', model_dir=d))\n"
        "assert isinstance(tok, AlbertTokenizer)\n"
        "assert 'tokenizers' not in sys.modules, 'tokenizers imported'\n"
    )
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
