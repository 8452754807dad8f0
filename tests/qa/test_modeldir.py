"""The model directory format: what a broken directory says, and that the messages say how to fix it."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from app.errors import ModelLoadError
from app.qa.model import QaModel
from app.qa.modeldir import QaConfig

FIX = "make models"


@pytest.fixture
def model_copy(tiny_model_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the tiny converted model dir to break."""
    return Path(shutil.copytree(tiny_model_dir, tmp_path / "qa"))


def _edit_config(model_dir: Path, change: Callable[[dict[str, Any]], None]) -> None:
    doc = json.loads((model_dir / "config.json").read_text())
    change(doc)
    (model_dir / "config.json").write_text(json.dumps(doc))


def test_modeldir_roundtrip(tiny_model_dir: Path, tmp_path: Path) -> None:
    config = QaConfig.load(tiny_model_dir)
    assert config.architecture.hidden_size == 32 and config.architecture.head_dim == 8
    assert config.tokenizer.do_lower_case and not config.tokenizer.keep_accents
    assert config.params_path == tiny_model_dir / "model.params"
    assert config.spiece_path == tiny_model_dir / "spiece.model"
    config.save(tmp_path)
    again = QaConfig.from_json(json.loads((tmp_path / "config.json").read_text()), tmp_path)
    assert again.to_json() == config.to_json()


def test_modeldir_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match=f"does not exist.*{FIX}"):
        QaConfig.load(tmp_path / "absent")


@pytest.mark.parametrize("name", ["config.json", "model.params", "spiece.model"])
def test_modeldir_missing_file_is_named(model_copy: Path, name: str) -> None:
    (model_copy / name).unlink()
    with pytest.raises(ModelLoadError, match=f"is missing {name}.*{FIX}"):
        QaModel.load(model_copy)


@pytest.mark.parametrize("name", ["model.params", "spiece.model"])
def test_modeldir_empty_file_is_named(model_copy: Path, name: str) -> None:
    (model_copy / name).write_bytes(b"")
    with pytest.raises(ModelLoadError, match=f"{name} is empty.*{FIX}"):
        QaConfig.load(model_copy)


def test_modeldir_config_not_json(model_copy: Path) -> None:
    (model_copy / "config.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match=f"not valid JSON.*{FIX}"):
        QaConfig.load(model_copy)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(format_version=99), "format_version 99"),
        (lambda d: d.pop("architecture"), "needs an object 'architecture'"),
        (lambda d: d["architecture"].pop("hidden_size"), r"lacks \['hidden_size'\]"),
        (lambda d: d["architecture"].update(hidden_size="32"), "hidden_size must be int"),
        (lambda d: d["architecture"].update(num_hidden_groups=2), "unknown key"),
        (
            lambda d: d["architecture"].update(hidden_act="swish"),
            "hidden_act 'swish' is not supported",
        ),
        (lambda d: d["architecture"].update(num_attention_heads=5), "not divisible"),
        (lambda d: d["architecture"].update(num_hidden_layers=0), "must be a positive number"),
        (lambda d: d["tokenizer"].update(do_lower_case="yes"), "do_lower_case must be bool"),
        (
            lambda d: d.update(family="gpt2"),
            "family 'gpt2' is unknown; this code runs albert, bert",
        ),
        (lambda d: d.update(weights="x"), r"unknown key\(s\) \['weights'\]"),
        (lambda d: d.update(params_sha256=3), "params_sha256 must be a string"),
        (
            lambda d: d["architecture"].update(embedding_projection=False),
            "embedding_projection is false",
        ),
        (lambda d: d["architecture"].update(position_offset=-1), "must be a number >= 0"),
        (lambda d: d["architecture"].update(position_offset=600), "leaves no room"),
    ],
)
def test_modeldir_bad_config_says_what(
    model_copy: Path, change: Callable[[dict[str, Any]], None], message: str
) -> None:
    _edit_config(model_copy, change)
    with pytest.raises(ModelLoadError, match=message):
        QaConfig.load(model_copy)


def test_modeldir_params_corrupt(model_copy: Path) -> None:
    data = (model_copy / "model.params").read_bytes()
    (model_copy / "model.params").write_bytes(data[: len(data) // 2])
    with pytest.raises(
        ModelLoadError, match=f"model.params does not match config.json or is corrupt.*{FIX}"
    ):
        QaModel.load(model_copy)


def test_modeldir_params_do_not_match_config(model_copy: Path) -> None:
    _edit_config(model_copy, lambda d: d["architecture"].update(intermediate_size=80))
    with pytest.raises(ModelLoadError, match=r"does not match config\.json"):
        QaModel.load(model_copy)


def test_modeldir_garbage_params(model_copy: Path) -> None:
    (model_copy / "model.params").write_bytes(b"\x00garbage" * 100)
    with pytest.raises(ModelLoadError, match=r"does not match config\.json or is corrupt"):
        QaModel.load(model_copy)


def test_modeldir_format_1_loads_as_albert(model_copy: Path) -> None:
    """A directory written before families existed (format 1: no family, no params_sha256)
    loads as ALBERT and serves the same logits."""
    import numpy as np

    ids = np.array([[2, 10, 11, 3, 12, 13, 3, 0]], dtype=np.int32)
    mask = (ids != 0).astype(np.int32)
    before = QaModel.load(model_copy).forward(ids, np.zeros_like(ids), mask)

    def to_format_1(doc: dict[str, Any]) -> None:
        doc.update(format_version=1)
        doc.pop("family", None)
        doc.pop("params_sha256", None)
        for key in ("embedding_projection", "shared_layers", "position_offset"):
            doc["architecture"].pop(key, None)

    _edit_config(model_copy, to_format_1)
    config = QaConfig.load(model_copy)
    assert config.family.name == "albert" and config.format_version == 1
    assert config.tokenizer_path == model_copy / "spiece.model"
    after = QaModel.load(model_copy).forward(ids, np.zeros_like(ids), mask)
    np.testing.assert_array_equal(before[0], after[0])
    # Written back, it is format 2.
    assert config.to_json()["format_version"] == 2 and config.to_json()["family"] == "albert"


def test_modeldir_family_names_its_tokenizer_file(model_copy: Path) -> None:
    """A family whose tokenizer is tokenizer.json asks for that file, not spiece.model."""
    _edit_config(model_copy, lambda d: d.update(family="roberta"))
    with pytest.raises(ModelLoadError, match=f"is missing tokenizer.json.*{FIX}"):
        QaConfig.load(model_copy)
