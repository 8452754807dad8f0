"""The MXNet runtime of the QA model: threads, the framework import, the kernel library.

mxnet and gluonnlp are imported lazily (:func:`mxnet`, :func:`gluonnlp`), so importing this module
is cheap and :func:`configure_threads` can set ``OMP_NUM_THREADS`` before mxnet reads it at import.
:mod:`app.qa.model` (the graph) and :mod:`app.qa.int8` (the quantized graphs) build on it.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from types import ModuleType

import numpy as np

from app.cpus import cpu_quota_threads
from app.errors import error_summary
from app.qa import lazy_ops

log = logging.getLogger(__name__)

#: How long an idle OpenMP worker spins before it sleeps: libgomp spins about 100 times per
#: microsecond, so ~10 us. Chosen by `make bench`'s contention section (bench/contention.py):
#: QA through the RIE at 2 and 1.7 CPUs, idle and beside one busy core, spins 0 to 100,000. A
#: ~1 ms spin (100,000) was 6-9% faster with the CPUs to itself and 6.7x (fp32) to 16x (INT8)
#: slower beside a busy neighbour; 1,000 stays within ~10% of the best idle p50 and keeps INT8 at
#: 124 ms p50 beside the neighbour (AMD EPYC Zen 5, 2026-12-04; docs/performance.md, "OpenMP
#: spin"). Lambda hosts have neighbours too, so one short spin for every CPU setting.
SPIN = "1000"


def configure_threads(num_threads: int | None) -> int:
    """Set the OpenMP thread count before mxnet is imported; return the count in force."""
    wanted = num_threads or cpu_quota_threads()
    if "mxnet" in sys.modules:
        current = int(os.environ.get("OMP_NUM_THREADS", "0") or 0)
        if current != wanted:
            # mxnet sized its OpenMP pool at import; the environment no longer changes it.
            log.warning(
                "mxnet already imported with OMP_NUM_THREADS=%s; wanted %s", current, wanted
            )
        return current or wanted
    os.environ["OMP_NUM_THREADS"] = str(wanted)
    # Workers sleep after a short spin (SPIN), unless the environment says otherwise (an explicit
    # OMP_WAIT_POLICY or GOMP_SPINCOUNT wins).
    if "OMP_WAIT_POLICY" not in os.environ:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
        os.environ.setdefault("GOMP_SPINCOUNT", SPIN)
    return wanted


def mxnet() -> ModuleType:
    # numpy>=1.24 dropped the alias mxnet 1.9 still uses; harmless on 1.23.
    if np.lib.NumpyVersion(np.__version__) >= "1.24.0":
        np.bool = bool  # type: ignore[attr-defined]
    # Operator wrappers on first use: two thirds of the import otherwise (app/qa/lazy_ops.py).
    lazy_ops.install()
    try:
        import mxnet as mx
    finally:
        lazy_ops.uninstall()

    module: ModuleType = mx
    return module


def import_framework(num_threads: int | None) -> int:
    """Import mxnet and gluonnlp with the thread count in force (mxnet reads it at import).

    The QA service calls this first, so its init log shows the framework import as the
    "import" phase rather than inside "load". Returns the thread count.
    """
    threads = configure_threads(num_threads)
    gluonnlp()
    return threads


def gluonnlp() -> ModuleType:
    """gluonnlp (0.10), imported after mxnet; it provides the layer's feed-forward block."""
    mxnet()
    import gluonnlp as nlp

    module: ModuleType = nlp
    return module


_kernels: dict[str, str] = {}


def load_kernels() -> bool:
    """Load the project's operator library (:mod:`app.qa.kernels`) into mxnet, once.

    Returns whether its operators (:data:`KERNEL_OPS`) are available. mxnet-mkl 1.6 predates the
    extension API, and a checkout without a compiler cannot build it: both run the same maths as
    a composite of mxnet ops instead (exact too, slower), and the reason is logged once.
    """
    if "status" in _kernels:
        return _kernels["status"] == "loaded"
    from app.qa.kernels import KernelBuildError, library_path, mxnet_supports_kernels

    mx = mxnet()
    if not mxnet_supports_kernels(mx.__version__):
        _kernels["status"] = f"mxnet {mx.__version__} cannot load extension operators"
    else:
        try:
            _load_library(mx, library_path(Path(str(mx.__file__)).parent))
            _kernels["status"] = "loaded"
        except (KernelBuildError, OSError, mx.base.MXNetError) as exc:
            _kernels["status"] = error_summary(exc)
    if _kernels["status"] != "loaded":
        log.warning(
            "QA kernels unavailable (%s): the GELU and the attention mask run as mxnet ops",
            _kernels["status"],
        )
    return _kernels["status"] == "loaded"


#: The operators the kernel library registers.
KERNEL_OPS = ("lnlp_gelu_tanh", "lnlp_masked_softmax")


def _load_library(mx: ModuleType, path: Path) -> None:
    """Load ``path`` into mxnet and make Python wrappers for its operators only.

    ``mx.library.load`` regenerates the wrappers of all ~950 registered operators after loading,
    which took 0.76 s of a 0.86 s model load here; the library adds two operators.
    """
    import ctypes

    from mxnet.base import _LIB, OpHandle, c_str, check_call, mx_uint
    from mxnet.ndarray.register import _make_ndarray_function
    from mxnet.symbol.register import _make_symbol_function

    check_call(_LIB.MXLoadLib(c_str(str(path)), mx_uint(0)))
    for name in KERNEL_OPS:
        handle = OpHandle()
        check_call(_LIB.NNGetOpHandle(c_str(name), ctypes.byref(handle)))
        for module, make in ((mx.nd, _make_ndarray_function), (mx.sym, _make_symbol_function)):
            function = make(handle, name, name)
            setattr(module, name, function)
            setattr(module.op, name, function)
