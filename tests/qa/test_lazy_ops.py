"""mxnet's operator wrappers built on first call (app.qa.lazy_ops): same results as the eager
import, registered under the same names, real docstrings after use, and off on request."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = r"""
import json, sys
from app.qa import runtime
mx = runtime.mxnet()
import numpy as np
lazy = mx.nd.FullyConnected.__doc__ == ""
x = mx.nd.array(np.arange(12, dtype="float32").reshape(3, 4) / 7.0)
w = mx.nd.array(np.linspace(-1, 1, 8, dtype="float32").reshape(2, 4))
b = mx.nd.array([0.5, -0.25])
out = {
    "fc": mx.nd.FullyConnected(x, w, b, num_hidden=2).asnumpy().tolist(),
    "softmax": mx.nd.softmax(x, axis=-1).asnumpy().tolist(),
    "np_add": (mx.np.ones((2, 2)) + 1).asnumpy().tolist(),
}
data = mx.sym.var("data")
net = mx.sym.Activation(mx.sym.FullyConnected(data, num_hidden=3, name="fc"), act_type="tanh")
exe = net.simple_bind(mx.cpu(), data=(2, 4))
for name, arr in exe.arg_dict.items():
    arr[:] = 0.1
out["symbol"] = exe.forward()[0].asnumpy().tolist()
out["lazy"] = lazy
out["doc_after_use"] = len(mx.nd.FullyConnected.__doc__ or "")
out["name"] = mx.nd.FullyConnected.__name__
out["registered"] = "FullyConnected" in mx.nd.op.__all__
from app.qa import lazy_ops
out["deferred"] = sorted(
    name for name in lazy_ops.LAZY_MODULES if type(sys.modules[name]).__name__ == "_LazyModule"
)
out["hooked_after_import"] = any(isinstance(f, lazy_ops._BaseHook) for f in sys.meta_path)
# Used, a deferred module is the real one.
out["test_utils"] = bool(mx.test_utils.almost_equal(np.ones(2), np.ones(2)))
out["onnx"] = callable(mx.contrib.onnx.export_model)
out["text"] = mx.contrib.text.vocab.Vocabulary.__name__
import requests
out["requests"] = requests.codes.ok
print(json.dumps(out))
"""


def probe(**env: str) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    data: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return data


def test_lazy_wrappers_answer_as_the_eager_ones() -> None:
    lazy = probe()
    eager = probe(LAMBDA_NLP_EAGER_MXNET_OPS="1")
    assert lazy["lazy"] is True and eager["lazy"] is False
    for key in ("fc", "softmax", "np_add", "symbol", "name", "registered"):
        assert lazy[key] == eager[key], key
    assert lazy["name"] == "FullyConnected" and lazy["registered"] is True
    # The first call built mxnet's own wrapper, docstring included.
    assert lazy["doc_after_use"] == eager["doc_after_use"]
    assert int(str(lazy["doc_after_use"])) > 100


def test_modules_serving_never_uses_load_on_first_use() -> None:
    from app.qa import lazy_ops

    lazy = probe()
    eager = probe(LAMBDA_NLP_EAGER_MXNET_OPS="1")
    assert lazy["deferred"] == sorted(lazy_ops.LAZY_MODULES) and eager["deferred"] == []
    # The hook ends with ``import mxnet``: later imports are not deferred.
    assert lazy["hooked_after_import"] is False
    for key in ("test_utils", "onnx", "text", "requests"):
        assert lazy[key] == eager[key], key
    assert lazy["requests"] == 200 and lazy["text"] == "Vocabulary"


def test_install_is_a_no_op_once_mxnet_is_imported() -> None:
    from app.qa import lazy_ops, runtime

    runtime.mxnet()
    assert lazy_ops.install() is False
