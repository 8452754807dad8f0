"""Session fixtures for the QA model (a pytest plugin of tests/conftest.py): a SentencePiece model,
random HF QA checkpoints of every family (ALBERT, BERT cased and uncased, DistilBERT, RoBERTa) and
their converted model directories (tiny configs: each builds and converts in about a second)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tools.checkpoints import FAMILY_SIZES, SIZES, build_hf_checkpoint
from tools.spm_util import train_sentencepiece

#: Small architectures that differ in every dimension the graph depends on.
PARITY_CONFIGS: dict[str, dict[str, Any]] = {
    "tiny-gelu_new": SIZES["tiny"],
    "gelu-6heads-2layers": {
        **SIZES["tiny"],
        "embedding_size": 24,
        "hidden_size": 48,
        "num_attention_heads": 6,
        "num_hidden_layers": 2,
        "intermediate_size": 96,
        "hidden_act": "gelu",
    },
    "relu-2heads-4layers": {
        **SIZES["tiny"],
        "embedding_size": 32,
        "hidden_size": 32,
        "num_attention_heads": 2,
        "num_hidden_layers": 4,
        "intermediate_size": 40,
        "hidden_act": "relu",
        "max_position_embeddings": 128,
    },
    "wide-embedding-1layer": {
        **SIZES["tiny"],
        "embedding_size": 64,
        "hidden_size": 32,
        "num_attention_heads": 8,
        "num_hidden_layers": 1,
        "intermediate_size": 48,
        "type_vocab_size": 3,
        "layer_norm_eps": 1e-5,
    },
}


@dataclass(frozen=True)
class FamilyCheckpoint:
    """A random checkpoint of a family other than ALBERT: config kwargs in the family's names."""

    family: str
    config: dict[str, Any]
    lowercase: bool = False


#: One small unshared-layer checkpoint per family and casing, differing in the dimensions the
#: graph depends on (heads, layers, FFN width, activation, epsilon, position offset).
FAMILY_CONFIGS: dict[str, FamilyCheckpoint] = {
    "bert-cased": FamilyCheckpoint("bert", FAMILY_SIZES["bert"]["tiny"]),
    "bert-uncased": FamilyCheckpoint(
        "bert",
        {
            **FAMILY_SIZES["bert"]["tiny"],
            "hidden_size": 48,
            "num_attention_heads": 6,
            "num_hidden_layers": 2,
            "intermediate_size": 96,
            "type_vocab_size": 3,
            "layer_norm_eps": 1e-6,
        },
        lowercase=True,
    ),
    "distilbert": FamilyCheckpoint(
        "distilbert",
        {**FAMILY_SIZES["distilbert"]["tiny"], "n_heads": 2, "n_layers": 4, "hidden_dim": 40},
    ),
    # RoBERTa's 514 positions from offset 2 (512 tokens), one token type, eps 1e-5.
    "roberta": FamilyCheckpoint("roberta", FAMILY_SIZES["roberta"]["tiny"]),
}


@pytest.fixture(scope="session")
def family_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """name in FAMILY_CONFIGS -> a random HF QA checkpoint dir (built once per session)."""
    built: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in built:
            spec = FAMILY_CONFIGS[name]
            built[name] = build_hf_checkpoint(
                tmp_path_factory.mktemp(f"hf-{name}"),
                spec.config,
                family=spec.family,
                lowercase=spec.lowercase,
            )
        return built[name]

    return get


@pytest.fixture(scope="session")
def family_model_dir(
    family_checkpoint: Callable[[str], Path], tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], Path]:
    """name in FAMILY_CONFIGS -> the project model dir converted from that checkpoint."""
    from tools.convert import convert

    built: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in built:
            out = tmp_path_factory.mktemp(f"model-{name}")
            convert(str(family_checkpoint(name)), out)
            built[name] = out
        return built[name]

    return get


@pytest.fixture(scope="session")
def qa_spiece(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An ALBERT-style spiece.model (1000 pieces)."""
    return train_sentencepiece(tmp_path_factory.mktemp("spm"))


@pytest.fixture(scope="session")
def hf_checkpoint(
    qa_spiece: Path, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], Path]:
    """name in PARITY_CONFIGS -> a random HF ALBERT QA checkpoint dir (built once per session)."""
    built: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in built:
            out = tmp_path_factory.mktemp(f"hf-{name}")
            built[name] = build_hf_checkpoint(out, PARITY_CONFIGS[name], spiece=qa_spiece)
        return built[name]

    return get


@pytest.fixture(scope="session")
def converted_model_dir(
    hf_checkpoint: Callable[[str], Path], tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], Path]:
    """name in PARITY_CONFIGS -> the project model dir converted from that checkpoint."""
    from tools.convert import convert

    built: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in built:
            out = tmp_path_factory.mktemp(f"model-{name}")
            convert(str(hf_checkpoint(name)), out)
            built[name] = out
        return built[name]

    return get


@pytest.fixture(scope="session")
def tiny_hf_dir(hf_checkpoint: Callable[[str], Path]) -> Path:
    """The tiny random HF ALBERT QA checkpoint (safetensors + fast tokenizer)."""
    return hf_checkpoint("tiny-gelu_new")


@pytest.fixture(scope="session")
def tiny_model_dir(converted_model_dir: Callable[[str], Path]) -> Path:
    """The tiny checkpoint converted into a project model dir (config.json, model.params, spiece)."""
    return converted_model_dir("tiny-gelu_new")
