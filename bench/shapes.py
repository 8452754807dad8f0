"""What a padded length and a batch cost: the data behind the QA bucket step and window batching.

    python -m bench.shapes --model-dir DIR [--precision int8] [--step 32] [--runs 5]

For every length in steps of ``--step`` up to 384 it prints, for one window (batch 1): the first
call at that shape (what init pays to warm a bucket) and the steady p50. Then, at 384 tokens,
two and four windows as one batch against the same windows one at a time. A fresh process per
run (the first-call figures need shapes no one has seen). docs/performance.md quotes the output.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np


def _timed(model: object, batch: int, length: int) -> float:
    ids = np.full((batch, length), 5, dtype=np.int32)
    mask = np.ones_like(ids)
    mask[:, -3:] = 0  # a padded window, as the service sends
    started = time.perf_counter()
    model.forward(ids, np.zeros_like(ids), mask)  # type: ignore[attr-defined]
    return (time.perf_counter() - started) * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--precision", choices=("fp32", "int8"), default="int8")
    parser.add_argument("--step", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=384)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)

    from app.qa.model import QaModel

    model = QaModel.load(args.model_dir, precision=args.precision, num_threads=args.threads)
    print(
        f"\n{args.precision}, batch 1, ms\n\n| length | first call | steady p50 |\n|---:|---:|---:|"
    )
    for length in range(args.step, args.max_length + 1, args.step):
        first = _timed(model, 1, length)
        steady = statistics.median(_timed(model, 1, length) for _ in range(args.runs))
        print(f"| {length} | {first:.0f} | {steady:.0f} |", flush=True)
    length = args.max_length
    print(f"\n{args.precision}, {length} tokens: W windows as one batch vs one at a time, ms\n")
    print(
        "| W | one batch (first call) | one batch p50 | one at a time p50 |\n|---:|---:|---:|---:|"
    )
    for batch in (2, 4):
        first = _timed(model, batch, length)
        together = statistics.median(_timed(model, batch, length) for _ in range(args.runs))
        apart = statistics.median(
            sum(_timed(model, 1, length) for _ in range(batch)) for _ in range(args.runs)
        )
        print(f"| {batch} | {first:.0f} | {together:.0f} | {apart:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
