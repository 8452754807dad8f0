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


def test_kernels_layer_runs_the_fused_ops() -> None:
    """The masked graph holds both fused ops and none of the composites' ops."""
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
    sym = net(mx.sym.var("ids"), mx.sym.var("types"), mx.sym.var("mask"))
    ops = {node["op"] for node in json.loads(sym.tojson())["nodes"]}
    assert {"lnlp_gelu_tanh", "lnlp_masked_softmax"} <= ops
    assert not ops & {"tanh", "Activation", "_power_scalar", "softmax"}


def _masked_softmax_reference(scores: np.ndarray, mask: np.ndarray) -> np.ndarray:
    heads = scores.shape[0] // mask.shape[0]
    bias = np.repeat((1.0 - mask) * -10000.0, heads, axis=0)[:, None, :]
    x = scores.astype(np.float64) + bias
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_kernels_masked_softmax_matches_the_composite() -> None:
    assert load_kernels()
    mx = _mx()
    rng = np.random.default_rng(3)
    batch, heads, t = 3, 4, 37
    scores = rng.normal(0, 4, (batch * heads, t, t)).astype(np.float32)
    mask = np.ones((batch, t), dtype=np.float32)
    mask[1, 30:] = 0
    mask[2, 5:] = 0
    got = mx.nd.lnlp_masked_softmax(mx.nd.array(scores), mx.nd.array(mask)).asnumpy()
    ref = _masked_softmax_reference(scores, mask)
    assert np.abs(got - ref).max() < 1e-6
    padded = np.repeat(mask == 0, heads, axis=0)[:, None, :].repeat(t, axis=1)
    assert np.all(got[padded] == 0.0)  # exactly, as exp(-1e4) in float32
    assert np.allclose(got.sum(axis=-1), 1.0, atol=1e-6)


def test_kernels_masked_softmax_rejects_mismatched_shapes() -> None:
    assert load_kernels()
    mx = _mx()
    with pytest.raises(mx.base.MXNetError, match="lnlp_masked_softmax"):
        mx.nd.lnlp_masked_softmax(mx.nd.ones((6, 5, 5)), mx.nd.ones((4, 5))).wait_to_read()


def test_kernels_masked_softmax_gradient_matches_finite_differences() -> None:
    assert load_kernels()
    mx = _mx()
    rng = np.random.default_rng(4)
    scores = rng.normal(0, 1, (2, 6, 6))
    mask = np.ones((1, 6), dtype=np.float32)
    mask[0, 4:] = 0
    weights = rng.normal(0, 1, scores.shape)
    data = mx.nd.array(scores.astype(np.float32))
    data.attach_grad()
    with mx.autograd.record():
        y = mx.nd.lnlp_masked_softmax(data, mx.nd.array(mask))
    y.backward(mx.nd.array(weights.astype(np.float32)))
    h = 1e-6
    numeric = np.zeros_like(scores)
    for index in np.ndindex(scores.shape):
        up, down = scores.copy(), scores.copy()
        up[index] += h
        down[index] -= h
        numeric[index] = (
            (_masked_softmax_reference(up, mask) - _masked_softmax_reference(down, mask)) * weights
        ).sum() / (2 * h)
    assert np.abs(data.grad.asnumpy() - numeric).max() < 1e-4


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
