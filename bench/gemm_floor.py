"""The GEMM floor: ALBERT-base's FullyConnected layers, INT8 in mxnet against fp32 in PyTorch.

    python -m bench.gemm_floor [--tokens 384] [--reps 200]

Each engine runs in its own subprocess (thread count and ISA caps must be set before the library
loads), on the layers one encoder layer multiplies at ``--tokens`` tokens: 768 -> 768 (QKV and the
attention output) and the FFN, 768 -> 3072 -> 768. Each call runs a chain of ``REPEAT`` such
layers, so the Python call costs little beside the GEMMs; the table gives the time per layer.

- ``mxnet-int8``: the Dense layers quantized by ``tools.quantize.quantize_block``, the model's own
  recipe: quantize_v2 of each layer's input, the fused int8 FullyConnected with fp32 output.
- ``mxnet-fp32``: the same Dense layer unquantized (oneDNN's sgemm).
- ``torch-fp32``: ``torch.nn.functional.linear``, what the transformers pipeline runs (MKL sgemm).

Every engine is measured uncapped and capped at AVX2 (``DNNL_MAX_CPU_ISA``/``ONEDNN_MAX_CPU_ISA``,
``MKL_ENABLE_INSTRUCTIONS``, ``ATEN_CPU_CAPABILITY``): Lambda's x86 hosts guarantee AVX2 only, for
the peer as much as for the project. Prints a Markdown table of median ms and GOPS (a multiply-add
counts as two operations) per layer and the INT8 / fp32 time ratios; docs/performance.md quotes it
beside the CPU it ran on. ``make bench-gemm`` runs it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import Any

from bench.stats import summarize

ROOT = Path(__file__).resolve().parent.parent
#: name -> the widths a chain of Dense layers passes through, repeated REPEAT times per call so that
#: the Python call costs little beside the GEMMs.
CHAINS = {"768 -> 768": (768, 768), "768 -> 3072 -> 768 (FFN)": (768, 3072, 768)}
REPEAT = 8
ENGINES = ("mxnet-int8", "mxnet-fp32", "torch-fp32")
#: Every library of either engine capped at AVX2, as a Lambda x86 host caps them: oneDNN (mxnet's
#: and PyTorch's), MKL (PyTorch's fp32 GEMMs) and ATen (PyTorch's own kernels).
AVX2_EVERY_LIBRARY = {
    "DNNL_MAX_CPU_ISA": "AVX2",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "MKL_ENABLE_INSTRUCTIONS": "AVX2",
    "ATEN_CPU_CAPABILITY": "avx2",
}
CAPS: dict[str, dict[str, str]] = {"uncapped": {}, "AVX2": AVX2_EVERY_LIBRARY}


def _median_ms(run: Callable[[], object], reps: int) -> float:
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return summarize(times).p50_ms


def _mxnet(tokens: int, reps: int, int8: bool) -> dict[str, float]:
    import mxnet as mx
    import numpy as np

    from tools.quantize import quantize_block

    out: dict[str, float] = {}
    rng = np.random.default_rng(0)
    for name, widths in CHAINS.items():
        net = mx.gluon.nn.HybridSequential()
        for _ in range(REPEAT):
            for units_in, units_out in pairwise(widths):
                net.add(mx.gluon.nn.Dense(units_out, flatten=False, in_units=units_in))
        net.initialize(mx.init.Normal(0.02))
        net.hybridize(static_alloc=True, static_shape=True)
        x = mx.nd.array(rng.standard_normal((1, tokens, widths[0]), dtype=np.float32))
        net(x).wait_to_read()
        if int8:
            calib = mx.io.NDArrayIter(data={"data": x}, batch_size=1)
            net = quantize_block(net, calib, 1)
            net.hybridize(static_alloc=True, static_shape=True)
        for _ in range(10):
            net(x).wait_to_read()

        def call(net: Any = net, x: Any = x) -> None:
            net(x).wait_to_read()

        out[name] = _median_ms(call, reps) / REPEAT
    return out


def _torch(tokens: int, reps: int) -> dict[str, float]:
    import torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    out: dict[str, float] = {}
    with torch.inference_mode():
        for name, widths in CHAINS.items():
            x = torch.randn(1, tokens, widths[0])
            layers = [
                (torch.randn(units_out, units_in) * 0.02, torch.zeros(units_out))
                for _ in range(REPEAT)
                for units_in, units_out in pairwise(widths)
            ]

            def chain(
                x: torch.Tensor = x, layers: list[tuple[torch.Tensor, torch.Tensor]] = layers
            ) -> torch.Tensor:
                for w, b in layers:
                    x = torch.nn.functional.linear(x, w, b)
                return x

            for _ in range(10):
                chain()
            out[name] = _median_ms(chain, reps) / REPEAT
    return out


def _worker(engine: str, tokens: int, reps: int) -> None:
    if engine == "torch-fp32":
        result = _torch(tokens, reps)
    else:
        result = _mxnet(tokens, reps, int8=engine == "mxnet-int8")
    print(json.dumps(result))


def measure(tokens: int, reps: int, threads: int) -> dict[str, dict[str, dict[str, float]]]:
    """{cap: {engine: {chain: median ms per link}}}, each engine in its own subprocess."""
    results: dict[str, dict[str, dict[str, float]]] = {}
    for cap, extra in CAPS.items():
        results[cap] = {}
        for engine in ENGINES:
            print(f"==> {engine}, {cap}", file=sys.stderr, flush=True)
            env = dict(os.environ)
            env.update({"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)})
            env.update(extra)
            env["PYTHONPATH"] = str(ROOT)
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "bench.gemm_floor",
                    *("--worker", engine, "--tokens", str(tokens), "--reps", str(reps)),
                ],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            results[cap][engine] = json.loads(done.stdout.strip().splitlines()[-1])
    return results


def table(results: dict[str, dict[str, dict[str, float]]], tokens: int) -> str:
    """Markdown: per cap and shape, ms and GOPS of each engine, and INT8 / fp32 time ratios."""
    lines = [
        f"| cap | layer ({tokens} tokens) | mxnet INT8 | mxnet fp32 | PyTorch fp32 "
        "| INT8 / PyTorch | INT8 / mxnet fp32 |",
        "|---|---|---|---|---|---|---|",
    ]
    for cap, engines in results.items():
        for shape, widths in CHAINS.items():
            ops = sum(2 * tokens * a * b for a, b in pairwise(widths))

            def cell(
                engine: str,
                shape: str = shape,
                ops: int = ops,
                engines: dict[str, dict[str, float]] = engines,
            ) -> str:
                ms = engines[engine][shape]
                return f"{ms:.3f} ms ({ops / ms / 1e6:,.0f} GOPS)"

            int8 = engines["mxnet-int8"][shape]
            lines.append(
                f"| {cap} | {shape} | {cell('mxnet-int8')} | {cell('mxnet-fp32')} "
                f"| {cell('torch-fp32')} | {int8 / engines['torch-fp32'][shape]:.2f}x "
                f"| {int8 / engines['mxnet-fp32'][shape]:.2f}x |"
            )
    return "\n".join(lines)


def run_section(tokens: int = 384, reps: int = 200, threads: int = 2) -> dict[str, object]:
    """The section ``make bench`` stores in report.json: the measurement, or why it failed."""
    try:
        return {"tokens": tokens, "threads": threads, "results": measure(tokens, reps, threads)}
    except (subprocess.CalledProcessError, json.JSONDecodeError, IndexError) as exc:
        detail = getattr(exc, "stderr", "") or ""
        tail = [line for line in str(detail).splitlines() if line.strip()][-1:]
        return {"failed": tail[0][:300] if tail else str(exc)[:300]}


def markdown(data: dict[str, object] | None) -> list[str]:
    """The report's section from :func:`run_section`'s JSON (nothing when not in the run)."""
    if data is None:
        return []
    lines = ["", "## The GEMM floor (`bench.gemm_floor`, `make bench-gemm`)", ""]
    if "failed" in data:
        return [*lines, f"Failed: {data['failed']}."]
    tokens = int(data["tokens"])  # type: ignore[call-overload]
    results: dict[str, dict[str, dict[str, float]]] = data["results"]  # type: ignore[assignment]
    lines += [
        f"ALBERT-base's layers at {tokens} tokens, {data['threads']} threads, each engine in its "
        "own process: mxnet's INT8 layer as `tools.quantize` builds it (quantize_v2 of the input, "
        "then the int8 FullyConnected with fp32 output), the same layer in fp32, and PyTorch's "
        "`linear` (MKL's sgemm, what the transformers pipeline runs). The `AVX2` rows cap every "
        "library at AVX2 (`DNNL_MAX_CPU_ISA`, `ONEDNN_MAX_CPU_ISA`, `MKL_ENABLE_INSTRUCTIONS`, "
        "`ATEN_CPU_CAPABILITY`). These layers are most of either engine's forward, so the end "
        "to end INT8 / pipeline ratio cannot go far below the INT8 / PyTorch column.",
        "",
        table(results, tokens),
    ]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.gemm_floor", description=__doc__)
    parser.add_argument("--tokens", type=int, default=384)
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--worker", choices=ENGINES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        _worker(args.worker, args.tokens, args.reps)
        return 0
    from bench import machine

    info = machine.machine()
    results = measure(args.tokens, args.reps, args.threads)
    print(f"CPU: {info.cpu}; {args.threads} threads; ISA flags {' '.join(info.isa)}\n")
    print(table(results, args.tokens))
    return 0


if __name__ == "__main__":
    sys.exit(main())
