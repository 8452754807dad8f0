"""The MXNet ALBERT graph against transformers' AlbertForQuestionAnswering on the same token ids,
plus the model's own contract (shapes, padding, threads, the int8 seam) without torch."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.errors import ModelLoadError
from app.qa.model import QaModel
from app.qa.runtime import cpu_quota_threads
from tests.qa_checkpoints import PARITY_CONFIGS

TOLERANCE = 1e-4
Arrays = tuple[np.ndarray, np.ndarray, np.ndarray]


def _inputs(vocab: int, batch: int, length: int, type_vocab: int = 2, seed: int = 0) -> Arrays:
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, vocab, (batch, length))
    types = np.zeros_like(ids)
    types[:, length // 2 :] = 1 if type_vocab > 1 else 0
    return ids, types, np.ones_like(ids)


def _padded(vocab: int, lengths: list[int], seed: int = 1) -> Arrays:
    ids, types, mask = _inputs(vocab, len(lengths), max(lengths), seed=seed)
    for row, n in enumerate(lengths):
        mask[row, n:] = 0
        ids[row, n:] = 0
    return ids, types, mask


def _reference(hf_dir: Path, inputs: Arrays, hidden: bool = False) -> Any:
    import torch
    from transformers import AlbertForQuestionAnswering

    model = AlbertForQuestionAnswering.from_pretrained(str(hf_dir)).eval()
    ids, types, mask = (torch.tensor(a, dtype=torch.long) for a in inputs)
    with torch.no_grad():
        return model(
            input_ids=ids, token_type_ids=types, attention_mask=mask, output_hidden_states=hidden
        )


@pytest.mark.parity
@pytest.mark.parametrize("name", sorted(PARITY_CONFIGS))
def test_model_parity_logits_batch1_unpadded(
    name: str,
    hf_checkpoint: Callable[[str], Path],
    converted_model_dir: Callable[[str], Path],
) -> None:
    model = QaModel.load(converted_model_dir(name))
    arch = model.config.architecture
    inputs = _inputs(arch.vocab_size, 1, 57, arch.type_vocab_size)
    start, end = model.forward(*inputs)
    ref = _reference(hf_checkpoint(name), inputs)
    assert start.shape == end.shape == (1, 57)
    assert start.dtype == end.dtype == np.float32
    assert np.abs(start - ref.start_logits.numpy()).max() < TOLERANCE
    assert np.abs(end - ref.end_logits.numpy()).max() < TOLERANCE
    # Random weights still give logits far from constant, so the comparison has teeth.
    assert start.std() > 100 * TOLERANCE


@pytest.mark.parity
@pytest.mark.parametrize("name", sorted(PARITY_CONFIGS))
def test_model_parity_logits_padded_batch(
    name: str,
    hf_checkpoint: Callable[[str], Path],
    converted_model_dir: Callable[[str], Path],
) -> None:
    model = QaModel.load(converted_model_dir(name))
    inputs = _padded(model.config.architecture.vocab_size, [40, 23, 7, 40])
    start, end = model.forward(*inputs)
    ref = _reference(hf_checkpoint(name), inputs)
    # Every position, pads included: both stacks let pad queries attend to real keys only.
    assert np.abs(start - ref.start_logits.numpy()).max() < TOLERANCE
    assert np.abs(end - ref.end_logits.numpy()).max() < TOLERANCE


@pytest.mark.parity
@pytest.mark.parametrize("name", ["tiny-gelu_new", "wide-embedding-1layer"])
def test_model_parity_hidden_states_layer_by_layer(
    name: str,
    hf_checkpoint: Callable[[str], Path],
    converted_model_dir: Callable[[str], Path],
) -> None:
    model = QaModel.load(converted_model_dir(name))
    inputs = _padded(model.config.architecture.vocab_size, [31, 12])
    ours = model.hidden_states(*inputs)
    ref = [h.numpy() for h in _reference(hf_checkpoint(name), inputs, hidden=True).hidden_states]
    assert len(ours) == len(ref) == model.config.architecture.num_hidden_layers + 1
    valid = inputs[2].astype(bool)
    # Index 0 is the projected embedding, 1 the first application of the shared layer.
    for index, (mine, theirs) in enumerate(zip(ours, ref, strict=True)):
        error = np.abs(mine - theirs)[valid].max()
        assert error < TOLERANCE, f"hidden state {index} differs by {error}"


@pytest.mark.parity
def test_model_parity_longest_sequence(
    hf_checkpoint: Callable[[str], Path], converted_model_dir: Callable[[str], Path]
) -> None:
    model = QaModel.load(converted_model_dir("relu-2heads-4layers"))
    arch = model.config.architecture
    inputs = _inputs(arch.vocab_size, 1, arch.max_position_embeddings)
    start, _ = model.forward(*inputs)
    ref = _reference(hf_checkpoint("relu-2heads-4layers"), inputs)
    assert np.abs(start - ref.start_logits.numpy()).max() < TOLERANCE


def test_model_padded_row_equals_unpadded_sequence(tiny_model_dir: Path) -> None:
    model = QaModel.load(tiny_model_dir)
    ids, types, mask = _padded(model.config.architecture.vocab_size, [30, 18])
    start, end = model.forward(ids, types, mask)
    alone_start, alone_end = model.forward(ids[1:, :18], types[1:, :18], mask[1:, :18])
    assert np.abs(start[1, :18] - alone_start[0]).max() < TOLERANCE
    assert np.abs(end[1, :18] - alone_end[0]).max() < TOLERANCE


def test_model_forward_rejects_bad_shapes(tiny_model_dir: Path) -> None:
    model = QaModel.load(tiny_model_dir)
    ids, types, mask = _inputs(100, 2, 10)
    with pytest.raises(ValueError, match=r"must all be \(B, T\)"):
        model.forward(ids, types[:1], mask)
    with pytest.raises(ValueError, match=r"must all be \(B, T\)"):
        model.forward(ids[0], types[0], mask[0])
    long = _inputs(100, 1, model.config.architecture.max_position_embeddings + 1)
    with pytest.raises(ValueError, match="exceeds max_position_embeddings"):
        model.forward(*long)


def test_model_warmup_then_forward_same_logits(tiny_model_dir: Path) -> None:
    model = QaModel.load(tiny_model_dir, num_threads=1)
    inputs = _inputs(100, 2, 64)
    before = model.forward(*inputs)
    model.warmup([32, 64, 128], batch_sizes=(1, 2))
    after = model.forward(*inputs)
    assert np.array_equal(before[0], after[0]) and np.array_equal(before[1], after[1])


def test_model_load_int8_without_artefact_names_make_quantize(tiny_model_dir: Path) -> None:
    with pytest.raises(ModelLoadError, match="make quantize"):
        QaModel.load(tiny_model_dir, precision="int8")
    with pytest.raises(ModelLoadError, match="use auto, fp32 or int8"):
        QaModel.load(tiny_model_dir, precision="fp16")


def test_model_load_auto_precision_is_fp32_without_artefact(tiny_model_dir: Path) -> None:
    assert QaModel.load(tiny_model_dir, precision="auto").precision == "fp32"


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"cpu.max": "200000 100000\n"}, 2),
        ({"cpu.max": "150000 100000\n"}, 2),
        ({"cpu.max": "50000 100000\n"}, 1),
        ({"cpu.max": "max 100000\n"}, None),
        ({"cpu/cpu.cfs_quota_us": "100000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 1),
        ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
        ({}, None),
    ],
)
def test_model_cpu_quota_threads(
    tmp_path: Path, files: dict[str, str], expected: int | None
) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    cpus = __import__("os").cpu_count() or 1
    assert cpu_quota_threads(tmp_path) == (min(expected, cpus) if expected else cpus)


def _run_fresh(code: str) -> None:
    """Run ``code`` in a fresh interpreter from the repository root; it must print ``ok``.

    Thread settings are read once per process (mxnet sizes its pool at import), so each check
    of them needs a process of its own.
    """
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=Path(__file__).parents[2],
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def test_model_threads_spin_short_whatever_the_quota(tmp_path: Path) -> None:
    """One short spin on whole CPUs and under a fractional quota; an explicit count is kept."""
    (tmp_path / "cpu.max").write_text("170000 100000\n")
    code = (
        "import os\n"
        "import app.qa.runtime as rt\n"
        "for name in ('OMP_WAIT_POLICY', 'GOMP_SPINCOUNT'):\n"
        "    os.environ.pop(name, None)\n"
        "assert rt.configure_threads(2) == 2 and os.environ['GOMP_SPINCOUNT'] == rt.SPIN == '1000'\n"
        "del os.environ['GOMP_SPINCOUNT'], os.environ['OMP_WAIT_POLICY']\n"
        "assert rt.configure_threads(1) == 1 and os.environ['GOMP_SPINCOUNT'] == '1000'\n"
        "del os.environ['OMP_WAIT_POLICY']\n"
        "os.environ['GOMP_SPINCOUNT'] = '7'\n"
        "rt.configure_threads(1)\n"
        "assert os.environ['GOMP_SPINCOUNT'] == '7' and os.environ['OMP_WAIT_POLICY'] == 'PASSIVE'\n"
        "print('ok')\n"
    )
    _run_fresh(code)


def test_model_threads_an_explicit_wait_policy_wins() -> None:
    """OMP_WAIT_POLICY from the environment is kept, and no spin count is added to it."""
    code = (
        "import os\n"
        "os.environ['OMP_WAIT_POLICY'] = 'ACTIVE'\n"
        "os.environ.pop('GOMP_SPINCOUNT', None)\n"
        "from app.qa.runtime import configure_threads\n"
        "assert configure_threads(1) == 1\n"
        "assert os.environ['OMP_WAIT_POLICY'] == 'ACTIVE' and 'GOMP_SPINCOUNT' not in os.environ\n"
        "print('ok')\n"
    )
    _run_fresh(code)


def test_model_import_is_cheap_and_sets_threads_before_mxnet(tiny_model_dir: Path) -> None:
    code = (
        "import os, sys\n"
        "import app.qa.model as m\n"
        "assert 'mxnet' not in sys.modules, 'importing app.qa.model imported mxnet'\n"
        "os.environ.pop('OMP_NUM_THREADS', None)\n"
        "os.environ.pop('OMP_WAIT_POLICY', None)\n"
        "os.environ.pop('GOMP_SPINCOUNT', None)\n"
        f"model = m.QaModel.load(m.Path({str(tiny_model_dir)!r}), num_threads=1)\n"
        "assert os.environ['OMP_NUM_THREADS'] == '1' and model.num_threads == 1\n"
        "assert os.environ['OMP_WAIT_POLICY'] == 'PASSIVE'\n"
        "from app.qa.runtime import SPIN\n"
        "assert os.environ['GOMP_SPINCOUNT'] == SPIN\n"
        "assert 'torch' not in sys.modules\n"
        "print('ok')\n"
    )
    _run_fresh(code)
