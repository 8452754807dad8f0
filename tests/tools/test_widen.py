"""tools.widen: a widened checkpoint computes what the original computes, in transformers and
through the project's own conversion and MXNet graph; impossible widenings fail with a reason."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from app.qa.model import QaModel
from tools import convert, widen

TOLERANCE = 1e-4
Array = npt.NDArray[np.int64]


def _inputs(vocab: int, length: int = 61) -> tuple[Array, Array, Array]:
    rng = np.random.default_rng(3)
    ids = rng.integers(5, vocab, (2, length))
    types = np.zeros_like(ids)
    types[:, length // 3 :] = 1
    mask = np.ones_like(ids)
    mask[1, length - 9 :] = 0  # a padded row: pads must stay masked in the wider heads too
    return ids, types, mask


def _hf_logits(hf_dir: Path, inputs: tuple[Array, ...]) -> npt.NDArray[np.float32]:
    import torch
    from transformers import AlbertForQuestionAnswering

    model = AlbertForQuestionAnswering.from_pretrained(str(hf_dir)).eval()
    ids, types, mask = (torch.tensor(a, dtype=torch.long) for a in inputs)
    with torch.no_grad():
        out = model(input_ids=ids, token_type_ids=types, attention_mask=mask)
    return np.stack([out.start_logits.numpy(), out.end_logits.numpy()])


# tiny: H=32, 4 heads of 8, FFN 64. More heads of the same size; longer heads; both.
SHAPES = [widen.Shape(96, 12, 192), widen.Shape(64, 4, 128), widen.Shape(128, 8, 256)]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"H{s.hidden}-heads{s.heads}")
def test_widened_checkpoint_matches_the_original(
    shape: widen.Shape, tiny_hf_dir: Path, tmp_path: Path
) -> None:
    record = widen.widen(tiny_hf_dir, tmp_path / "hf", shape)
    config = json.loads((tmp_path / "hf" / "config.json").read_text())
    assert (config["hidden_size"], config["num_attention_heads"]) == (shape.hidden, shape.heads)
    assert config["intermediate_size"] == shape.intermediate
    assert record["largest_logit_difference"] < TOLERANCE
    inputs = _inputs(config["vocab_size"])
    original, wider = _hf_logits(tiny_hf_dir, inputs), _hf_logits(tmp_path / "hf", inputs)
    assert np.abs(original - wider).max() < TOLERANCE
    assert original.std() > 100 * TOLERANCE  # random logits, far from constant: the test bites
    # The project's conversion and graph run the wider shapes and still answer alike.
    convert.main(["--from-hf", str(tmp_path / "hf"), "--out", str(tmp_path / "model")])
    start, end = QaModel.load(tmp_path / "model").forward(*inputs)
    assert np.abs(start - original[0]).max() < TOLERANCE
    assert np.abs(end - original[1]).max() < TOLERANCE


@pytest.mark.parametrize(
    ("tensor", "factor", "bound"),
    [
        # Readers of copied units that do not divide by the copies: the FFN's output doubles.
        ("ffn_output.weight", 2.0, 1e-2),
        # Longer heads without the query's rescaling: every score grows by sqrt(2) (small
        # random weights make scores small, hence the smaller bound).
        ("attention.query.weight", float(np.sqrt(2.0)), 10 * TOLERANCE),
    ],
)
def test_a_wrong_widening_would_be_caught(
    tensor: str, factor: float, bound: float, tiny_hf_dir: Path, tmp_path: Path
) -> None:
    """The logit check has teeth: each mistake it guards against moves the logits past it."""
    from safetensors.numpy import load_file, save_file

    widen.widen(tiny_hf_dir, tmp_path / "hf", widen.Shape(64, 4, 128))  # heads twice as long
    path = tmp_path / "hf" / "model.safetensors"
    state = load_file(str(path))
    state[widen.LAYER + tensor] = state[widen.LAYER + tensor] * np.float32(factor)
    save_file(state, str(path), metadata={"format": "pt"})
    assert widen.largest_logit_difference(tiny_hf_dir, tmp_path / "hf") > bound


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--hidden", "48", "--heads", "4", "--intermediate", "64"], "hidden size 48"),
        (["--hidden", "64", "--heads", "16", "--intermediate", "128"], "head size 4"),
        (["--hidden", "64", "--heads", "8", "--intermediate", "100"], "intermediate size 100"),
    ],
)
def test_impossible_widenings_fail_with_the_reason(
    args: list[str],
    message: str,
    tiny_hf_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = widen.main(["--from", str(tiny_hf_dir), "--out", str(tmp_path / "out"), *args])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out" / "model.safetensors").exists()


def test_only_albert_widens(tiny_hf_dir: Path, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    config = json.loads((tiny_hf_dir / "config.json").read_text())
    (src / "config.json").write_text(json.dumps({**config, "model_type": "bert"}))
    with pytest.raises(widen.WidenError, match="only ALBERT"):
        widen.widen(src, tmp_path / "out", widen.Shape(64, 8, 128))
