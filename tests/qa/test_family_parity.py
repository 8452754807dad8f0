"""BERT (cased, uncased), DistilBERT and RoBERTa through the one graph: each random tiny
checkpoint converted and run against transformers' AutoModelForQuestionAnswering on the same ids;
the format-2 model directory the converter writes; its errors; INT8 on an unshared-layer model.

ALBERT's own parity is tests/qa/test_model_parity.py; answers through the service against the
transformers pipeline are tests/qa/test_pipeline_parity.py's.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.qa.model import QaModel
from tests.qa_checkpoints import FAMILY_CONFIGS
from tools.convert import ConversionError, architecture_from_hf, convert, map_weights

TOLERANCE = 1e-4
NAMES = sorted(FAMILY_CONFIGS)
Arrays = tuple[np.ndarray, np.ndarray, np.ndarray]

#: max |ours - transformers| per checkpoint, printed at the end of the module (pytest -s).
MEASURED: dict[str, float] = {}


@pytest.fixture(scope="module", autouse=True)
def _report_errors() -> Any:
    yield
    if MEASURED:
        print("\nmax logit error:", {k: f"{v:.2e}" for k, v in sorted(MEASURED.items())})


def _batch(model: QaModel, lengths: list[int], width: int | None = None, seed: int = 0) -> Arrays:
    """Rows of random ordinary ids (no special or pad id inside a row), [CLS] first, padded
    with the tokenizer's pad id; token types 0, then 1 and the last type over the second half."""
    arch, tok = model.config.architecture, model.config.tokenizer
    width = width or max(lengths)
    rng = np.random.default_rng(seed)
    ids = rng.integers(5, arch.vocab_size, (len(lengths), width))
    ids[:, 0] = tok.cls_token_id
    types = np.zeros_like(ids)
    if arch.type_vocab_size > 1:
        types[:, width // 2 :] = 1
        types[:, 3 * width // 4 :] = arch.type_vocab_size - 1
    mask = np.ones_like(ids)
    for row, n in enumerate(lengths):
        ids[row, n:] = tok.pad_token_id
        mask[row, n:] = 0
        types[row, n:] = 0
    return ids, types, mask


_REFERENCES: dict[Path, Any] = {}


def _reference(hf_dir: Path, inputs: Arrays, hidden: bool = False) -> Any:
    import torch
    from transformers import AutoModelForQuestionAnswering

    if hf_dir not in _REFERENCES:
        _REFERENCES[hf_dir] = AutoModelForQuestionAnswering.from_pretrained(str(hf_dir)).eval()
    model = _REFERENCES[hf_dir]
    ids, types, mask = (torch.tensor(a, dtype=torch.long) for a in inputs)
    kwargs = {"input_ids": ids, "attention_mask": mask, "output_hidden_states": hidden}
    if "token_type_ids" in inspect.signature(model.forward).parameters:  # not DistilBERT
        kwargs["token_type_ids"] = types
    with torch.no_grad():
        return model(**kwargs)


def _compared(model: QaModel, mask: np.ndarray) -> np.ndarray:
    """Where the two stacks must agree: every position, pads included, except for RoBERTa,
    whose pads transformers places at its padding index (position ids from the pad id) while
    the graph counts on: no real token attends to a pad, so their logits are the same."""
    if model.config.architecture.position_offset:
        return mask.astype(bool)
    return np.ones_like(mask, dtype=bool)


def _max_error(name: str, model: QaModel, hf_dir: Path, inputs: Arrays) -> float:
    start, end = model.forward(*inputs)
    ref = _reference(hf_dir, inputs)
    where = _compared(model, inputs[2])
    assert start.shape == end.shape == inputs[0].shape and start.dtype == np.float32
    error = max(
        float(np.abs(start - ref.start_logits.numpy())[where].max()),
        float(np.abs(end - ref.end_logits.numpy())[where].max()),
    )
    MEASURED[name] = max(MEASURED.get(name, 0.0), error)
    # Random weights still give logits far from constant, so the comparison has teeth.
    assert start[where].std() > 100 * TOLERANCE
    return error


def test_family_converter_writes_a_format2_dir(
    family_checkpoint: Callable[[str], Path], family_model_dir: Callable[[str], Path]
) -> None:
    from transformers import AutoTokenizer

    for name in NAMES:
        spec, out = FAMILY_CONFIGS[name], family_model_dir(name)
        doc = json.loads((out / "config.json").read_text())
        assert doc["format_version"] == 2 and doc["family"] == spec.family
        digest = hashlib.sha256((out / "model.params").read_bytes()).hexdigest()
        assert doc["params_sha256"] == digest
        model = QaModel.load(out)
        arch, tok = model.config.architecture, model.config.tokenizer
        assert model.config.family_name == spec.family
        assert not arch.shared_layers and not arch.embedding_projection
        assert arch.embedding_size == arch.hidden_size
        assert arch.position_offset == (2 if spec.family == "roberta" else 0)
        assert arch.max_tokens == 512
        assert not (out / "spiece.model").exists()
        hf = AutoTokenizer.from_pretrained(str(family_checkpoint(name)))
        assert (tok.cls_token_id, tok.sep_token_id, tok.pad_token_id, tok.unk_token_id) == (
            hf.cls_token_id,
            hf.sep_token_id,
            hf.pad_token_id,
            hf.unk_token_id,
        )
        assert tok.do_lower_case is spec.lowercase
        # tokenizer.json is the checkpoint's fast tokenizer, normaliser and all.
        from tokenizers import Tokenizer

        text = "Zürich's Straße hosted 1,204 CAFÉS in 1998 — naïve façades."
        ours = Tokenizer.from_file(str(out / "tokenizer.json")).encode(text)
        assert ours.ids == hf(text)["input_ids"]


@pytest.mark.parity
@pytest.mark.parametrize("name", NAMES)
def test_family_parity_padded_batches(
    name: str,
    family_checkpoint: Callable[[str], Path],
    family_model_dir: Callable[[str], Path],
) -> None:
    model = QaModel.load(family_model_dir(name))
    hf_dir = family_checkpoint(name)
    for lengths in ([57], [40, 23, 7, 40], [64, 1, 33], [128, 97, 128]):
        error = _max_error(name, model, hf_dir, _batch(model, lengths, seed=len(lengths)))
        assert error < TOLERANCE, f"{name} {lengths}: {error}"


@pytest.mark.parity
@pytest.mark.parametrize("name", NAMES)
def test_family_parity_longest_sequence(
    name: str,
    family_checkpoint: Callable[[str], Path],
    family_model_dir: Callable[[str], Path],
) -> None:
    """T = the most tokens the position table holds (512; RoBERTa's 514 rows from offset 2),
    one row full and one padded; one more token is refused."""
    model = QaModel.load(family_model_dir(name))
    longest = model.config.architecture.max_tokens
    inputs = _batch(model, [longest, longest - 9])
    error = _max_error(name, model, family_checkpoint(name), inputs)
    assert error < TOLERANCE, f"{name} at {longest} tokens: {error}"
    too_long = _batch(model, [longest + 1])
    with pytest.raises(ValueError, match="exceeds max_position_embeddings"):
        model.forward(*too_long)


@pytest.mark.parity
@pytest.mark.parametrize("name", NAMES)
def test_family_parity_hidden_states_layer_by_layer(
    name: str,
    family_checkpoint: Callable[[str], Path],
    family_model_dir: Callable[[str], Path],
) -> None:
    model = QaModel.load(family_model_dir(name))
    inputs = _batch(model, [31, 12])
    ours = model.hidden_states(*inputs)
    ref = [h.numpy() for h in _reference(family_checkpoint(name), inputs, True).hidden_states]
    assert len(ours) == len(ref) == model.config.architecture.num_hidden_layers + 1
    valid = inputs[2].astype(bool)
    for index, (mine, theirs) in enumerate(zip(ours, ref, strict=True)):
        error = np.abs(mine - theirs)[valid].max()
        assert error < TOLERANCE, f"{name}: hidden state {index} differs by {error}"


@pytest.mark.parametrize("name", ["distilbert", "roberta"])
def test_family_one_type_row_makes_token_types_irrelevant(
    name: str, family_model_dir: Callable[[str], Path]
) -> None:
    """DistilBERT has no token types (the converter's one zero row) and RoBERTa one: type id 1,
    which windows of the BERT layout put on the context, reads that row too (MXNet's Embedding
    clips an index past the table), so the logits are those of all-zero types, as in
    transformers, which never sees DistilBERT's types."""
    model = QaModel.load(family_model_dir(name))
    assert model.config.architecture.type_vocab_size == 1
    ids, types, mask = _batch(model, [30, 19])
    types[:, 10:] = 1
    with_types = model.forward(ids, types, mask)
    without = model.forward(ids, np.zeros_like(types), mask)
    assert np.array_equal(with_types[0], without[0]) and np.array_equal(with_types[1], without[1])


def test_family_converter_refuses_an_unsupported_model_type(
    family_checkpoint: Callable[[str], Path], tmp_path: Path
) -> None:
    src = tmp_path / "hf"
    shutil.copytree(family_checkpoint("bert-cased"), src)
    config = json.loads((src / "config.json").read_text())
    (src / "config.json").write_text(json.dumps({**config, "model_type": "gpt2"}))
    with pytest.raises(ConversionError) as caught:
        convert(str(src), tmp_path / "model")
    message = str(caught.value)
    assert "'gpt2' is not supported" in message
    assert "albert, bert, distilbert, roberta" in message
    assert not (tmp_path / "model").exists()


@pytest.mark.parametrize(
    ("name", "dropped", "qa_class"),
    [
        ("bert-cased", "bert.encoder.layer.2.output.dense.weight", "a BertForQuestionAnswering"),
        (
            "distilbert",
            "distilbert.transformer.layer.3.attention.k_lin.bias",
            "a DistilBertForQuestionAnswering",
        ),
        ("roberta", "qa_outputs.bias", "a RobertaForQuestionAnswering"),
    ],
)
def test_family_converter_names_a_missing_weight(
    name: str, dropped: str, qa_class: str, family_checkpoint: Callable[[str], Path]
) -> None:
    from safetensors.numpy import load_file

    src = family_checkpoint(name)
    tensors = load_file(str(src / "model.safetensors"))
    arch = architecture_from_hf(json.loads((src / "config.json").read_text()))
    family = FAMILY_CONFIGS[name].family
    partial = {k: v for k, v in tensors.items() if k != dropped}
    with pytest.raises(ConversionError, match=f"lacks \\['{dropped}'\\]; is it {qa_class}"):
        map_weights(partial, arch, family)
    # A layer more than config.json says, or another model's head, is refused too.
    extra = {**tensors, dropped.replace(".2.", ".7.").replace(".3.", ".7."): np.zeros(1)}
    if extra.keys() != tensors.keys():
        with pytest.raises(ConversionError, match="does not use"):
            map_weights(extra, arch, family)
    # Bare-model names (no family prefix) besides qa_outputs map the same.
    base = f"{family}."
    bare = {k.removeprefix(base): v for k, v in tensors.items()}
    same = map_weights(bare, arch, family)
    for key, value in map_weights(tensors, arch, family).items():
        assert np.array_equal(same[key], value)


def test_family_converter_without_tokenizer_files_says_what_is_needed(
    family_checkpoint: Callable[[str], Path], tmp_path: Path
) -> None:
    src = tmp_path / "hf"
    shutil.copytree(family_checkpoint("roberta"), src)
    for name in ("tokenizer.json", "merges.txt"):
        (src / name).unlink()
    with pytest.raises(
        ConversionError, match=r"no roberta tokenizer: it needs tokenizer\.json or vocab\.json and "
    ):
        convert(str(src), tmp_path / "model")


def test_family_converter_converts_a_slow_only_tokenizer(
    family_checkpoint: Callable[[str], Path],
    family_model_dir: Callable[[str], Path],
    tmp_path: Path,
) -> None:
    """A checkpoint with only BERT's vocab.txt gets the tokenizer.json transformers builds from
    it: the same ids as the checkpoint's own fast tokenizer, uncased and all."""
    from tokenizers import Tokenizer

    src = tmp_path / "hf"
    shutil.copytree(family_checkpoint("bert-uncased"), src)
    (src / "tokenizer.json").unlink()
    config = convert(str(src), tmp_path / "model")
    assert config.tokenizer.do_lower_case is True
    text = "Zürich's Straße hosted 1,204 CAFÉS in 1998 — naïve façades, 東京."
    built = Tokenizer.from_file(str(tmp_path / "model" / "tokenizer.json")).encode(text)
    shipped = Tokenizer.from_file(str(family_model_dir("bert-uncased") / "tokenizer.json"))
    assert built.ids == shipped.encode(text).ids
    assert built.offsets == shipped.encode(text).offsets


def test_family_int8_logits_close_to_fp32(
    family_model_dir: Callable[[str], Path], tmp_path: Path
) -> None:
    """INT8 runs on an unshared-layer model: quantized from its own tokenizer's windows, its
    logits stay close to fp32 (a loose bound: random weights; test_quantize.py's reasoning)."""
    from tools.quantize import _windows_at, calibration_pairs, cosine, quantize

    model_dir = tmp_path / "model"
    shutil.copytree(family_model_dir("bert-cased"), model_dir)
    quantize(model_dir, calib_length=64, calib_windows=8, batch=4)
    fp32 = QaModel.load(model_dir, precision="fp32", num_threads=2)
    int8 = QaModel.load(model_dir, precision="int8", num_threads=2)
    assert int8.int8_runner is not None
    data = _windows_at(model_dir, calibration_pairs(4, seed=99), 64)
    batch = {k: v[:3].copy() for k, v in data.items()}
    batch["attention_mask"][-1, -5:] = 0
    arrays = (batch["input_ids"], batch["token_type_ids"], batch["attention_mask"])
    ref, got = np.stack(fp32.forward(*arrays)), np.stack(int8.forward(*arrays))
    valid = np.broadcast_to(batch["attention_mask"][None] != 0, ref.shape)
    assert got.shape == ref.shape
    assert cosine(ref[valid], got[valid]) >= 0.99
