"""The QA kernel library: the fused gelu_new against float64 maths, its gradient, the build."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from app.qa import kernels
from app.qa.model import build_net
from app.qa.modeldir import Architecture
from app.qa.runtime import load_kernels
from app.qa.runtime import mxnet as _mx


def _gelu_new(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


def _inputs() -> np.ndarray:
    rng = np.random.default_rng(0)
    edges = np.array([0.0, -0.0, 1e-30, -1e-30, 1e30, -1e30, 88.0, -88.0, 3e38, -3e38])
    return np.concatenate(
        [np.linspace(-100, 100, 40_001), rng.normal(0, 3, 100_000), edges]
    ).astype(np.float32)


def test_kernels_gelu_tanh_matches_float64_reference() -> None:
    assert load_kernels()
    mx = _mx()
    x = _inputs()
    y = mx.nd.lnlp_gelu_tanh(mx.nd.array(x)).asnumpy()
    ref = _gelu_new(x)
    assert np.all(np.isfinite(y))
    # Within a few float32 ulps of the exact value (absolute near 0, relative elsewhere).
    err = np.abs(y - ref)
    assert np.all(err <= 1e-6 + 4e-6 * np.abs(ref)), float((err / (1e-6 + np.abs(ref))).max())


def test_kernels_gelu_tanh_keeps_shape_and_rejects_other_dtypes() -> None:
    assert load_kernels()
    mx = _mx()
    x = mx.nd.array(np.ones((3, 2, 5), dtype=np.float32))
    assert mx.nd.lnlp_gelu_tanh(x).shape == (3, 2, 5)
    with pytest.raises(mx.base.MXNetError, match="lnlp_gelu_tanh"):
        mx.nd.lnlp_gelu_tanh(mx.nd.ones((4,), dtype="float64")).wait_to_read()


def test_kernels_gelu_tanh_gradient_matches_finite_differences() -> None:
    assert load_kernels()
    mx = _mx()
    x = np.linspace(-8, 8, 1601)
    data = mx.nd.array(x.astype(np.float32))
    data.attach_grad()
    with mx.autograd.record():
        y = mx.nd.lnlp_gelu_tanh(data)
    y.backward(mx.nd.ones_like(y))
    h = 1e-5
    ref = (_gelu_new(x + h) - _gelu_new(x - h)) / (2 * h)
    assert np.abs(data.grad.asnumpy() - ref).max() < 1e-5


def test_kernels_gelu_new_layer_runs_one_op() -> None:
    """The layer's graph holds the fused op and none of the composite's tanh/power ops."""
    arch = Architecture(
        vocab_size=50,
        embedding_size=8,
        hidden_size=16,
        num_attention_heads=2,
        num_hidden_layers=2,
        intermediate_size=32,
        hidden_act="gelu_new",
        max_position_embeddings=64,
        type_vocab_size=2,
        layer_norm_eps=1e-12,
    )
    mx = _mx()
    net = build_net(arch)
    sym = net(mx.sym.var("ids"), mx.sym.var("types"))
    ops = {node["op"] for node in json.loads(sym.tojson())["nodes"]}
    assert "lnlp_gelu_tanh" in ops
    assert not ops & {"tanh", "Activation", "_power_scalar"}


@pytest.mark.parametrize(
    ("version", "supported"),
    [("1.9.1", True), ("1.10.0", True), ("2.0.0", True), ("1.6.0", False), ("dev", False)],
)
def test_kernels_mxnet_supports_kernels(version: str, supported: bool) -> None:
    assert kernels.mxnet_supports_kernels(version) is supported


def test_kernels_build_writes_a_loadable_library(tmp_path: Path) -> None:
    mx = _mx()
    path = kernels.build(tmp_path, Path(mx.__file__).parent)
    assert path == tmp_path / kernels.LIBRARY_NAME
    assert path.stat().st_size > 0
    assert [p.name for p in tmp_path.iterdir()] == [kernels.LIBRARY_NAME]  # no partial left


def test_kernels_build_names_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(kernels.KernelBuildError, match="lib_api"):
        kernels.build(tmp_path / "out", tmp_path)


def test_kernels_build_without_compiler_says_how_to_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CXX", "no-such-compiler-here")
    with pytest.raises(kernels.KernelBuildError, match="QA_KERNELS_LIB"):
        kernels.build(tmp_path, Path(_mx().__file__).parent)
