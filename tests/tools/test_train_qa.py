"""tools/train_qa: a vocabulary that splits both splits' values alike, and a short real run."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from tools.qa_corpus import SPLITS, pools
from tools.train_qa import TrainOptions, corpus, train_sentencepiece, vocabulary_texts

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def spiece(tmp_path_factory: pytest.TempPathFactory) -> Path:
    texts = vocabulary_texts(corpus("train"))
    return train_sentencepiece(texts, tmp_path_factory.mktemp("spm"), TrainOptions.vocab_size)


@pytest.mark.parametrize("kind", ["first_names", "surnames", "professions", "towns"])
def test_training_and_heldout_values_split_into_pieces_alike(spiece: Path, kind: str) -> None:
    """With a vocabulary so large that training values are whole pieces, the model learns the
    pieces, and held-out values (several pieces each) are never answered."""
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(spiece))  # type: ignore[call-arg]
    mean = {
        split: statistics.mean(len(sp.encode(v.lower())) for v in getattr(pools(split), kind))
        for split in SPLITS
    }
    assert mean["train"] >= 2.0, mean
    assert mean["heldout"] <= 1.5 * mean["train"], mean


def test_a_short_run_writes_a_checkpoint_the_converter_accepts(tmp_path: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "2", "PYTHONPATH": str(ROOT)}
    out = tmp_path / "trained"
    run = [sys.executable, "-m", "tools.train_qa", "--out", str(out), "--minutes", "0.05"]
    subprocess.run([*run, "--heldout-limit", "3"], cwd=ROOT, env=env, check=True)
    config = json.loads((out / "hf" / "config.json").read_text())
    # Trained with torch's fused tanh-GELU, saved as the gelu_new it equals.
    assert config["hidden_act"] == "gelu_new"
    assert config["vocab_size"] == TrainOptions.vocab_size
    info = json.loads((out / "train.json").read_text())
    assert info["steps"] >= 1 and info["heldout_questions"] == 3
    assert info["training_activation"] == "gelu_pytorch_tanh"
    assert 0.0 <= info["torch_heldout"]["exact_match"] <= 100.0
    assert info["loss_curve"] == [] or info["loss_curve"][0]["loss"] > 0
    # A second call reuses the checkpoint instead of training again.
    again = subprocess.run(run, cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    assert "reusing the trained checkpoint" in again.stdout
    convert = [sys.executable, "-m", "tools.convert", "--from-hf", str(out / "hf")]
    subprocess.run([*convert, "--out", str(tmp_path / "model")], cwd=ROOT, env=env, check=True)
    assert (tmp_path / "model" / "model.params").is_file()
    # A deeper model warm-starts from it (one shared layer: the same weights fit any depth), with
    # its vocabulary; a different width is refused with what to pass instead.
    deeper = tmp_path / "deeper"
    warm = [*run[:4], str(deeper), "--minutes", "0.02", "--heldout-limit", "2", "--layers", "6"]
    subprocess.run([*warm, "--init-from", str(out / "hf")], cwd=ROOT, env=env, check=True)
    config = json.loads((deeper / "hf" / "config.json").read_text())
    assert config["num_hidden_layers"] == 6 and config["vocab_size"] == TrainOptions.vocab_size
    assert (deeper / "hf" / "spiece.model").read_bytes() == (
        out / "hf" / "spiece.model"
    ).read_bytes()
    info = json.loads((deeper / "train.json").read_text())
    assert info["options"]["init_from"] == str(out / "hf")
    wider = [*warm[:4], str(tmp_path / "wider"), *warm[5:], "--hidden", "64"]
    refused = subprocess.run(
        [*wider, "--init-from", str(out / "hf")], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert refused.returncode != 0 and "give --hidden 128" in refused.stderr
