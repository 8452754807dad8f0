"""Op-by-op profile of one QA forward (mxnet's profiler, aggregate stats).

    python -m bench.profile_qa --model-dir DIR [--precision int8] [--length 128 384] [--runs 5]

Sets ``MXNET_EXEC_BULK_EXEC_INFERENCE=0`` before mxnet is imported, so the cached graph runs op
by op and every op is timed on its own (with bulking, the whole graph is one profiled entry).
Prints, per length, a markdown table of the ops above ``--min-share`` of the forward: calls, total
ms per forward, share. docs/performance.md quotes these tables.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class OpTime:
    """One operator's aggregate over the profiled forwards."""

    name: str
    calls_per_forward: float
    ms_per_forward: float
    share: float


def _profile(model: object, length: int, runs: int) -> tuple[list[OpTime], float]:
    import mxnet as mx

    ids = np.full((1, length), 5, dtype=np.int32)
    types = np.zeros_like(ids)
    types[:, length // 4 :] = 1
    mask = np.ones_like(ids)
    forward = model.forward  # type: ignore[attr-defined]
    for _ in range(2):
        forward(ids, types, mask)
    wall = []
    for _ in range(runs):
        t0 = time.perf_counter()
        forward(ids, types, mask)
        wall.append(time.perf_counter() - t0)
    with tempfile.TemporaryDirectory() as tmp:
        mx.profiler.set_config(
            profile_all=True,
            aggregate_stats=True,
            filename=str(Path(tmp) / "profile.json"),
        )
        mx.profiler.set_state("run")
        for _ in range(runs):
            forward(ids, types, mask)
        mx.nd.waitall()
        mx.profiler.set_state("stop")
        stats = json.loads(mx.profiler.dumps(reset=True, format="json"))
    ops: dict[str, tuple[int, float]] = {}
    for domain, entries in stats.get("Time", {}).items():
        if not domain.startswith("operator"):
            continue
        for name, entry in entries.items():
            calls, total = ops.get(name, (0, 0.0))
            ops[name] = (calls + int(entry["Count"]), total + float(entry["Total"]))
    total_ms = sum(t for _, t in ops.values()) or 1.0
    rows = [
        OpTime(name, calls / runs, t / runs, t / total_ms)
        for name, (calls, t) in sorted(ops.items(), key=lambda kv: -kv[1][1])
    ]
    return rows, float(np.median(wall)) * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--precision", choices=("fp32", "int8"), default="fp32")
    parser.add_argument("--length", type=int, nargs="+", default=[128, 384])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--min-share", type=float, default=0.01)
    args = parser.parse_args(argv)

    os.environ["MXNET_EXEC_BULK_EXEC_INFERENCE"] = "0"
    from app.qa.model import QaModel

    model = QaModel.load(args.model_dir, precision=args.precision, num_threads=args.threads)
    for length in args.length:
        rows, wall_ms = _profile(model, length, args.runs)
        profiled = sum(r.ms_per_forward for r in rows)
        print(
            f"\n### {args.precision}, {length} tokens: op sum {profiled:.1f} ms per forward "
            f"(wall p50 {wall_ms:.1f} ms op by op)\n"
        )
        print("| op | calls | ms | share |\n|---|---:|---:|---:|")
        for r in rows:
            if r.share >= args.min_share:
                print(
                    f"| `{r.name}` | {r.calls_per_forward:g} | {r.ms_per_forward:.1f} "
                    f"| {r.share:.1%} |"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
