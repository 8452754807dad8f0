"""Windows: stride, buckets, masks, offsets and the max-context flag (no model)."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.qa.families import FAMILIES, Layout
from app.qa.features import (
    BUCKET_STEP,
    bucket_for,
    bucket_step,
    build_windows,
    count_windows,
    seq_buckets,
    window_starts,
)
from app.qa.tokenizer import AlbertTokenizer, Encoding, HfTokenizer

CLS, SEP, PAD = 2, 3, 0


def _encoding(n_tokens: int, first_id: int = 10) -> Encoding:
    """n tokens "w0 w1 ..." with one token per word and offsets of each word."""
    offsets, pos = [], 0
    for i in range(n_tokens):
        word = f"w{i}"
        offsets.append((pos, pos + len(word)))
        pos += len(word) + 1
    return Encoding(list(range(first_id, first_id + n_tokens)), offsets, list(range(n_tokens)))


def _windows(
    n_q: int,
    n_c: int,
    *,
    max_seq_length: int = 384,
    doc_stride: int = 128,
    max_q: int = 64,
    step: int = BUCKET_STEP,
) -> Any:
    return build_windows(
        _encoding(n_q, first_id=500),
        _encoding(n_c),
        cls_id=CLS,
        sep_id=SEP,
        pad_id=PAD,
        max_seq_length=max_seq_length,
        doc_stride=doc_stride,
        max_question_length=max_q,
        bucket_step=step,
    )


def test_features_buckets_are_multiples_of_64_up_to_max() -> None:
    assert seq_buckets(384) == (64, 128, 192, 256, 320, 384)
    assert seq_buckets(384, 128) == (64, 128, 256, 384)  # SMALL_BUCKET first with a larger step
    assert seq_buckets(100) == (64, 100)
    assert seq_buckets(200) == (64, 128, 192, 200)
    assert seq_buckets(64) == (64,)
    assert seq_buckets(48) == (48,)
    assert bucket_for(64, 384) == 64
    assert bucket_for(65, 384) == 128
    with pytest.raises(ValueError, match="max_seq_length"):
        bucket_for(385, 384)


def test_features_fp32_buckets_are_every_32_tokens_and_int8_keeps_four() -> None:
    assert bucket_step("fp32") == 32 and bucket_step("int8") == 64
    assert seq_buckets(384, 32) == tuple(range(32, 385, 32))
    assert seq_buckets(100, 32) == (32, 64, 96, 100)
    assert bucket_for(300, 384, 32) == 320
    assert bucket_for(300, 384) == 320


def test_features_fp32_window_pads_to_the_next_32_and_take_keeps_the_step() -> None:
    w = _windows(10, 280, step=32)  # 10 + 280 + 3 = 293 tokens
    assert w.input_ids.shape == (1, 320) and w.step == 32
    long = _windows(10, 1000, step=32)
    last = long.take(slice(long.count - 1, long.count))
    assert last.step == 32
    assert last.input_ids.shape[1] == bucket_for(int(last.lengths[0]), 384, 32)
    assert last.input_ids.shape[1] - int(last.lengths[0]) < 32


def test_features_short_request_is_padded_to_a_small_bucket_not_384() -> None:
    w = _windows(5, 20)
    assert w.input_ids.shape == (1, 64)
    assert int(w.lengths[0]) == 5 + 20 + 3
    row = w.input_ids[0]
    assert row[0] == CLS and row[6] == SEP and row[27] == SEP and (row[28:] == PAD).all()
    assert w.attention_mask[0, :28].all() and not w.attention_mask[0, 28:].any()
    assert (w.token_type_ids[0, 7:28] == 1).all() and not w.token_type_ids[0, :7].any()


def test_features_p_mask_allows_only_context_tokens() -> None:
    w = _windows(5, 20)
    allowed = np.flatnonzero(~w.p_mask[0])
    assert allowed.tolist() == list(range(7, 27))
    assert (w.offsets[0, 7] == [0, 2]).all()
    assert (w.offsets[0, :7] == -1).all() and (w.words[0, :7] == -1).all()


def test_features_windows_overlap_by_doc_stride_and_cover_the_context() -> None:
    n_q, n_c, stride = 10, 1000, 128
    w = _windows(n_q, n_c, doc_stride=stride)
    budget = 384 - n_q - 3
    assert (
        w.count
        == len(window_starts(n_c, budget, stride))
        == count_windows(n_q, n_c, max_seq_length=384, doc_stride=stride, max_question_length=64)
    )
    seen: list[list[int]] = []
    for row in range(w.count):
        ids = w.input_ids[row][~w.p_mask[row]] - 10
        seen.append(ids.tolist())
    for a, b in itertools.pairwise(seen):
        assert a[-stride:] == b[:stride]
    assert sorted(set().union(*map(set, seen))) == list(range(n_c))
    assert w.input_ids.shape[1] == 384


def test_features_every_context_token_is_max_context_in_exactly_one_window() -> None:
    w = _windows(10, 1000, doc_stride=128)
    counts = np.zeros(1000, dtype=int)
    for row in range(w.count):
        ids = w.input_ids[row] - 10
        counts[ids[w.max_context[row]]] += 1
    assert (counts == 1).all()
    # A token in the overlap belongs to the window where it is further from the edge.
    second_start = window_starts(1000, 384 - 13, 128)[1]
    first_window_ids = (w.input_ids[0] - 10)[w.max_context[0]]
    assert second_start in first_window_ids or second_start + 1 in first_window_ids
    assert (384 - 13 - 1) not in first_window_ids


def test_features_question_is_truncated_to_max_question_length() -> None:
    w = _windows(100, 20, max_q=64)
    assert int(w.lengths[0]) == 64 + 20 + 3
    assert w.input_ids[0, 65] == SEP


def test_features_stride_not_smaller_than_window_budget_is_rejected() -> None:
    with pytest.raises(ValueError, match="doc_stride"):
        _windows(10, 1000, max_seq_length=64, doc_stride=60)


def test_features_take_trims_padding_to_the_chunk() -> None:
    w = _windows(10, 1000)
    last = w.take(slice(w.count - 1, w.count))
    assert last.count == 1
    assert last.input_ids.shape[1] == bucket_for(int(last.lengths[0]), 384)
    assert (last.input_ids[0] == w.input_ids[-1, : last.input_ids.shape[1]]).all()


@pytest.mark.parity
@pytest.mark.parametrize(("n_words", "stride"), [(30, 128), (700, 128), (900, 50)])
def test_features_windows_match_fast_tokenizer_overflow(
    qa_spiece: Path, n_words: int, stride: int
) -> None:
    from transformers import AlbertTokenizerFast

    spiece = qa_spiece
    ours = AlbertTokenizer.from_file(spiece)
    ref = AlbertTokenizerFast(vocab_file=str(spiece))  # type: ignore[no-untyped-call]
    question = "Where is the café in Tokyo?"
    context = " ".join(["the naïve 東京 question", "answer 1234 😀"] * (n_words // 2))
    expected = ref(
        text=question,
        text_pair=context,
        truncation="only_second",
        max_length=384,
        stride=stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        return_token_type_ids=True,
    )
    w = build_windows(
        ours.encode(question),
        ours.encode(context),
        cls_id=CLS,
        sep_id=SEP,
        pad_id=PAD,
        max_seq_length=384,
        doc_stride=stride,
        max_question_length=64,
    )
    assert w.count == len(expected["input_ids"])
    for row in range(w.count):
        n = int(w.lengths[row])
        assert w.input_ids[row, :n].tolist() == expected["input_ids"][row]
        assert w.token_type_ids[row, :n].tolist() == expected["token_type_ids"][row]
        context_cols = np.flatnonzero(~w.p_mask[row])
        seq_ids = expected.sequence_ids(row)
        assert context_cols.tolist() == [i for i, s in enumerate(seq_ids) if s == 1]
        ref_offsets = [expected["offset_mapping"][row][i] for i in context_cols]
        assert [tuple(o) for o in w.offsets[row, context_cols].tolist()] == ref_offsets


ROBERTA = Layout(seps_between=2, context_type_id=0)


def test_features_roberta_layout_has_two_separators_and_one_token_type() -> None:
    w = build_windows(
        _encoding(5, first_id=500),
        _encoding(20),
        cls_id=0,
        sep_id=2,
        pad_id=1,
        max_seq_length=384,
        doc_stride=128,
        max_question_length=64,
        layout=ROBERTA,
    )
    assert int(w.lengths[0]) == 5 + 20 + 4
    row = w.input_ids[0]
    assert row[0] == 0 and row[6] == 2 and row[7] == 2 and row[28] == 2 and (row[29:] == 1).all()
    assert row[8:28].tolist() == list(range(10, 30))
    assert not w.token_type_ids.any()
    assert w.attention_mask[0, :29].all() and not w.attention_mask[0, 29:].any()
    assert np.flatnonzero(~w.p_mask[0]).tolist() == list(range(8, 28))
    assert (w.offsets[0, :8] == -1).all() and (w.offsets[0, 8] == [0, 2]).all()
    assert w.words[0, 8:28].tolist() == list(range(20)) and (w.words[0, 28:] == -1).all()
    assert w.max_context[0, 8:28].all() and not w.max_context[0, :8].any()


def test_features_roberta_layout_budget_counts_four_specials() -> None:
    n_q, n_c, stride = 10, 1000, 128
    budget = 384 - n_q - 4
    w = build_windows(
        _encoding(n_q, first_id=500),
        _encoding(n_c),
        cls_id=0,
        sep_id=2,
        pad_id=1,
        max_seq_length=384,
        doc_stride=stride,
        max_question_length=64,
        layout=ROBERTA,
    )
    counted = count_windows(
        n_q, n_c, max_seq_length=384, doc_stride=stride, max_question_length=64, layout=ROBERTA
    )
    assert w.count == counted == len(window_starts(n_c, budget, stride))
    assert int(w.lengths[0]) == 384 and (~w.p_mask[0]).sum() == budget
    assert int(w.lengths.max()) <= 384


@pytest.fixture(scope="module")
def hf_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from tools.vocab import build_tokenizer_dir

    root = tmp_path_factory.mktemp("hf-vocab")
    return {
        "bert": build_tokenizer_dir("bert", root / "bert"),
        "bert-uncased": build_tokenizer_dir("bert", root / "bert-uncased", lowercase=True),
        "roberta": build_tokenizer_dir("roberta", root / "roberta"),
    }


@pytest.mark.parity
@pytest.mark.parametrize("variant", ["bert", "bert-uncased", "roberta"])
@pytest.mark.parametrize(
    ("n_words", "max_length", "stride"), [(12, 384, 128), (120, 96, 24), (300, 128, 64)]
)
def test_features_hf_windows_match_fast_tokenizer_overflow(
    hf_dirs: dict[str, Path], variant: str, n_words: int, max_length: int, stride: int
) -> None:
    from transformers import AutoTokenizer

    family = "roberta" if variant == "roberta" else "bert"
    layout = FAMILIES[family].layout
    ours = HfTokenizer.from_file(hf_dirs[variant] / "tokenizer.json")
    ref = AutoTokenizer.from_pretrained(hf_dirs[variant])  # type: ignore[no-untyped-call]
    question = "Where is the Café in  Tokyo?"
    words = ["the", "Naïve", "東京", "question,", " answer", "1234", "😀", "Ångström", "\tend."]
    context = " ".join(words[i % len(words)] for i in range(n_words))
    expected = ref(
        question,
        context,
        truncation="only_second",
        max_length=max_length,
        stride=stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        return_token_type_ids=True,
    )
    w = build_windows(
        ours.encode(question),
        ours.encode(context),
        cls_id=ref.cls_token_id,
        sep_id=ref.sep_token_id,
        pad_id=ref.pad_token_id,
        max_seq_length=max_length,
        doc_stride=stride,
        max_question_length=64,
        layout=layout,
    )
    if n_words > 100:
        assert w.count >= 3
    assert w.count == len(expected["input_ids"])
    for row in range(w.count):
        n = int(w.lengths[row])
        assert w.input_ids[row, :n].tolist() == expected["input_ids"][row]
        assert w.token_type_ids[row, :n].tolist() == expected["token_type_ids"][row]
        assert w.attention_mask[row, :n].all() and not w.attention_mask[row, n:].any()
        assert (w.input_ids[row, n:] == ref.pad_token_id).all()
        seq_ids = expected.sequence_ids(row)
        context_cols = np.flatnonzero(~w.p_mask[row])
        assert context_cols.tolist() == [i for i, s in enumerate(seq_ids) if s == 1]
        ref_offsets = [tuple(expected["offset_mapping"][row][i]) for i in context_cols]
        assert [tuple(o) for o in w.offsets[row, context_cols].tolist()] == ref_offsets
