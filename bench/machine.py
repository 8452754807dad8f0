"""What the numbers were measured on: CPU, cores, ISA flags, versions, load."""

from __future__ import annotations

import importlib.metadata
import os
import platform
from pathlib import Path

from bench.records import Machine

PACKAGES = (
    "mxnet",
    "gluonnlp",
    "numpy",
    "spacy",
    "torch",
    "transformers",
    "onnxruntime",
    "sentencepiece",
    "fastapi",
    "mangum",
)


def machine() -> Machine:
    """This machine now (``load_avg_end`` is set when the run ends)."""
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in cpuinfo.splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    flags = next(
        (
            line.split(":", 1)[1].split()
            for line in cpuinfo.splitlines()
            if line.startswith("flags")
        ),
        [],
    )
    isa = sorted(f for f in flags if f.startswith(("avx", "amx")) or f in ("fma", "f16c"))
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return Machine(
        cpu=model,
        cores=os.cpu_count(),
        isa=tuple(isa),
        python=platform.python_version(),
        kernel=platform.release(),
        load_avg_start=os.getloadavg(),
        versions=versions,
    )
