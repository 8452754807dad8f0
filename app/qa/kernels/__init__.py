"""The QA model's own MXNet operators: a small C++ extension library (mxnet 1.9 ``lib_api.h``).

It holds two operators: ``lnlp_gelu_tanh`` (ALBERT's ``gelu_new`` in one pass) and
``lnlp_masked_softmax`` (attention's additive padding mask and softmax in one pass); the
``.cc`` files say why. The images compile it in their build stage and ship the ``.so`` next
to this file; a development checkout compiles it once, on first use, into a cache directory
(``$XDG_CACHE_HOME/lambda-nlp``, else ``~/.cache/lambda-nlp``), which needs ``g++`` and takes
about 15 s.

    python -m app.qa.kernels --out DIR      (what the image build runs)

This module never imports mxnet: :mod:`app.qa.model` loads the library it finds here.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

LIBRARY_NAME = "liblnlp_kernels.so"
SOURCES = ("library.cc", "gelu_tanh.cc", "masked_softmax.cc")
HEADERS = ("exp_bounded.h",)
#: -fno-trapping-math lets the compiler run the clamped lanes unmasked: 1.1 ms instead of 10 ms
#: on a (384, 3072) array here; it changes no result (the kernel raises no FP exceptions).
#: The C++ runtime is linked statically, so the library needs nothing the Lambda base may lack.
CXXFLAGS = (
    "-std=c++17",
    "-O3",
    "-fPIC",
    "-fno-trapping-math",
    "-fno-math-errno",
    "-fopenmp",
    "-static-libstdc++",
    "-static-libgcc",
)
#: The minimum mxnet whose extension API (lib_api.h version 11) the library is written against.
MIN_MXNET = (1, 9)

_HERE = Path(__file__).resolve().parent


class KernelBuildError(RuntimeError):
    """The kernel library could not be compiled; the message names the missing piece."""


def mxnet_supports_kernels(version: str) -> bool:
    """Whether an mxnet of ``version`` can load the library (mxnet-mkl 1.6 cannot)."""
    try:
        major, minor = (int(p) for p in version.split(".")[:2])
    except ValueError:
        return False
    return (major, minor) >= MIN_MXNET


def source_digest() -> str:
    """Hash of the sources and flags: a cached build is reused only for the same inputs."""
    digest = hashlib.sha256(" ".join(CXXFLAGS).encode())
    for name in (*SOURCES, *HEADERS):
        digest.update((_HERE / name).read_bytes())
    return digest.hexdigest()[:16]


def build(out_dir: Path, mxnet_dir: Path) -> Path:
    """Compile the library into ``out_dir`` against the mxnet package at ``mxnet_dir``.

    The file appears atomically (compiled aside, then renamed), so concurrent builds are safe.
    """
    compiler = shutil.which(os.environ.get("CXX", "g++"))
    if compiler is None:
        raise KernelBuildError(
            "g++ is needed to compile the QA kernels once (apt-get install g++), or set "
            "QA_KERNELS_LIB to a prebuilt liblnlp_kernels.so"
        )
    include = mxnet_dir / "include"
    lib_api = mxnet_dir / "src" / "lib_api.cc"
    if not (include / "mxnet" / "lib_api.h").is_file() or not lib_api.is_file():
        raise KernelBuildError(f"{mxnet_dir} has no lib_api.h / lib_api.cc (mxnet >= 1.9 needed)")
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / LIBRARY_NAME
    with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
        partial = Path(tmp) / LIBRARY_NAME
        cmd = [
            compiler,
            *CXXFLAGS,
            "-shared",
            f"-I{include}",
            *(str(_HERE / name) for name in SOURCES),
            str(lib_api),
            "-o",
            str(partial),
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise KernelBuildError(f"compiling the QA kernels failed:\n{done.stderr[-2000:]}")
        partial.replace(target)
    return target


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "lambda-nlp" / f"kernels-{source_digest()}"


def library_path(mxnet_dir: Path) -> Path:
    """The library to load: ``QA_KERNELS_LIB``, the packaged one, else a cached build.

    Raises KernelBuildError when none exists and it cannot be compiled here.
    """
    explicit = os.environ.get("QA_KERNELS_LIB")
    if explicit:
        return Path(explicit)
    packaged = _HERE / LIBRARY_NAME
    if packaged.is_file():
        return packaged
    cached = _cache_dir() / LIBRARY_NAME
    if cached.is_file():
        return cached
    print("compiling the QA kernels once (about 15 s) ...", file=sys.stderr, flush=True)
    return build(cached.parent, mxnet_dir)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Compile the QA kernel library.")
    parser.add_argument("--out", type=Path, default=_HERE, help="directory for the .so")
    parser.add_argument(
        "--mxnet-dir", type=Path, help="the installed mxnet package (default: import it)"
    )
    args = parser.parse_args(argv)
    mxnet_dir = args.mxnet_dir
    if mxnet_dir is None:
        import importlib.util

        spec = importlib.util.find_spec("mxnet")
        if spec is None or spec.origin is None:
            print("mxnet is not installed; pass --mxnet-dir", file=sys.stderr)
            return 2
        mxnet_dir = Path(spec.origin).parent
    try:
        path = build(args.out, mxnet_dir)
    except KernelBuildError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(path)
    return 0
