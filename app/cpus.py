"""How many CPUs this container may use (Lambda's memory-sized share, a SageMaker instance, a
``docker run --cpus``): the QA runtime sizes its inference threads from it, the serving mode its
workers."""

from __future__ import annotations

import math
import os
from pathlib import Path


def cpu_quota(cgroup_root: Path = Path("/sys/fs/cgroup")) -> float | None:
    """The cgroup CPU quota in CPUs (v2 ``cpu.max``, then v1 ``cpu.cfs_quota_us``); None: none."""
    try:
        parts = (cgroup_root / "cpu.max").read_text().split()
        return None if parts[0] == "max" else int(parts[0]) / int(parts[1])
    except (OSError, ValueError, IndexError, ZeroDivisionError):
        pass
    try:
        q = int((cgroup_root / "cpu" / "cpu.cfs_quota_us").read_text())
        p = int((cgroup_root / "cpu" / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return q / p if q > 0 and p > 0 else None  # -1 means no quota


def cpu_quota_threads(cgroup_root: Path = Path("/sys/fs/cgroup")) -> int:
    """Threads the container may use: the cgroup CPU quota rounded up, else ``os.cpu_count``."""
    cpus = os.cpu_count() or 1
    quota = cpu_quota(cgroup_root)
    if quota is None:
        return cpus
    return max(1, min(cpus, math.ceil(quota)))
