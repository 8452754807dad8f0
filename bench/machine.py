"""What the numbers were measured on: CPU, cores, ISA flags, versions, load, CPU steal."""

from __future__ import annotations

import importlib.metadata
import os
import platform
from dataclasses import dataclass
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


#: A stretch with more CPU steal than this ran while the host gave a noticeable share of this
#: VM's cores to other guests: its figures are slower for a reason that is not the code.
STEAL_NOTABLE = 0.02


@dataclass(frozen=True)
class CpuTicks:
    """The machine's cumulative CPU time in clock ticks, from /proc/stat's ``cpu`` line."""

    steal: int
    busy: int  # every tick but idle and iowait: the time the vCPUs ran or wanted to (steal)


def cpu_ticks(stat: Path = Path("/proc/stat")) -> CpuTicks | None:
    """Steal and busy ticks so far; None where the kernel does not report steal."""
    try:
        first = stat.read_text().split("\n", 1)[0].split()
    except OSError:
        return None
    if not first or first[0] != "cpu" or len(first) < 9:
        return None
    # user nice system idle iowait irq softirq steal [guest guest_nice]: guest time is already
    # counted in user and nice, so it is left out.
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in first[1:9])
    return CpuTicks(steal=steal, busy=user + nice + system + irq + softirq + steal)


class StealMeter:
    """The share of the CPU time this VM wanted that the hypervisor gave to other guests.

    Steal is time a vCPU was ready to run but the host ran something else; it is divided by the
    time the vCPUs ran or were ready to, not by wall time, so a stretch that leaves the CPUs
    idle part of the time is not made to look quieter. A vCPU that halts and is woken again often
    (threads sleeping between short ops) waits for the host at each wake-up, and that wait counts
    as steal too. It is the part of a shared machine's noise that can be read, not the only part
    (caches and memory bandwidth are shared as well).
    """

    def __init__(self, stat: Path = Path("/proc/stat")) -> None:
        self.stat = stat
        self.start = cpu_ticks(stat)

    def share(self) -> float | None:
        end = cpu_ticks(self.stat)
        if self.start is None or end is None or end.busy <= self.start.busy:
            return None
        return (end.steal - self.start.steal) / (end.busy - self.start.busy)
