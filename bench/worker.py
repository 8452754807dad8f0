"""One measurement in a fresh process: ``python -m bench.worker MODE --spec JSON --out FILE``.

Modes: ``qa`` (forward per bucket + end-to-end per context size for one engine), ``cold`` (start to
first answer; the parent times the process from before its spawn, ``--spawned``), ``ner`` (handler
overhead, throughput, load time). The spec is the JSON of a :mod:`bench.records` spec; the result
goes to ``--out`` as the JSON of its record; stdout is left to the code under test.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from app.function_url import LambdaContext
from app.function_url import function_url_event as make_event
from bench.records import (
    AnswerLatency,
    ColdRun,
    ColdSpec,
    Latency,
    NerSpec,
    QaRun,
    QaSpec,
    Record,
)
from bench.stats import summarize

T = TypeVar("T")


def _progress(items: Iterable[T], desc: str) -> Iterable[T]:
    try:
        from tqdm import tqdm
    except ImportError:  # a venv without tqdm (e.g. an image's lock): one line per step instead
        print(f"{desc} ...", file=sys.stderr, flush=True)
        return items
    progress: Iterable[T] = tqdm(items, desc=desc, leave=False, mininterval=1.0)
    return progress


def run_qa(spec: QaSpec, spawned: float) -> QaRun:
    from bench.engines import make_engine
    from bench.texts import pairs_for

    started = time.perf_counter()
    engine = make_engine(spec.engine, spec.paths)
    load_s = time.perf_counter() - started
    forward: dict[str, Latency] = {}
    e2e: dict[str, AnswerLatency] = {}
    samples: dict[str, tuple[float, ...]] = {}
    rng = np.random.default_rng(0)
    for seq in spec.buckets:
        ids = rng.integers(5, 1000, size=(1, seq)).astype(np.int32)
        engine.forward(ids)  # first call per shape is a one-time cost (measured by cold start)
        times = []
        for _ in _progress(range(spec.forward_reps), f"{spec.engine} fwd {seq}"):
            t0 = time.perf_counter()
            engine.forward(ids)
            times.append(time.perf_counter() - t0)
        forward[str(seq)] = summarize(times)
        samples[f"forward/{seq}"] = tuple(times)
    for words, reps in spec.sizes:
        pairs = pairs_for(words, reps)
        # Each request once untimed first, as the forward section warms each shape: the contexts'
        # windows land on different padded lengths, and a shape's first call in a process is a
        # one-time cost (the cold-start section measures it). Warming one request only charged
        # fp32, whose init warms one bucket, for 1-2 first calls out of 3 per round.
        for pair in pairs:
            engine.answer(pair.question, pair.context)
        times, found = [], 0
        for pair in _progress(pairs, f"{spec.engine} e2e {words}w"):
            t0 = time.perf_counter()
            text = engine.answer(pair.question, pair.context)
            times.append(time.perf_counter() - t0)
            found += int(pair.answer in text)
        e2e[str(words)] = AnswerLatency.of(summarize(times), answer_found=found)
        samples[f"e2e/{words}"] = tuple(times)
    return QaRun(load_s=load_s, forward=forward, e2e=e2e, spawned=spawned, samples=samples)


def run_cold(spec: ColdSpec, spawned: float) -> ColdRun:
    """Everything a fresh Lambda environment does: imports, load, warm-up, first answer."""
    kind = spec.engine
    phases: dict[str, float] | None = None
    if kind == "hf":
        from bench.engines import HfEngine

        engine = HfEngine(spec.paths.hf)
        loaded = time.time()
        answer = engine.answer("Who wrote the algorithm?", "Ada Lovelace wrote the algorithm.")
    else:
        # The project's real handler module: init (load + warm-up) happens at its import.
        import app.main

        loaded = time.time()
        body = (
            {"text": "Ada Lovelace met Charles Babbage in London."}
            if kind == "project-ner"
            else {"question": "Who wrote it?", "context": "Ada Lovelace wrote it."}
        )
        response = app.main.handler(
            function_url_event("/" + kind.split("-")[1], body), LambdaContext()
        )
        answer = response["body"][:200]
        if response["statusCode"] != 200:
            raise RuntimeError(f"first request failed: {response['statusCode']} {answer}")
        # The init breakdown the function logs on `init_complete` (seconds per phase).
        service = kind.split("-")[1]
        phases = {
            **app.main.services.load_seconds.get(service, {}),
            "request_path": app.main.warm_up_seconds,
        }
    answered = time.time()
    ratios = first_request_ratios() if kind == "project-qa" else None
    return ColdRun(spawned, loaded, answered, answer, phases, ratios)


#: Context words that land in each bucket with the bench vocabulary (~1.39 tokens per word).
BUCKET_WORDS = {"64": 25, "128": 60, "256": 150, "384": 235}


def first_request_ratios(repeats: int = 4) -> dict[str, float]:
    """After init and the first answer: each bucket's first request over the median of the next
    ``repeats`` (init warms only the graphs requests need warm; this checks the 1.5x rule)."""
    import app.main
    from bench.texts import make_pair

    ratios: dict[str, float] = {}
    for bucket, words in BUCKET_WORDS.items():
        times = []
        for i in range(1 + repeats):
            pair = make_pair(words, seed=7_000 + i)
            event = function_url_event("/qa", {"question": pair.question, "context": pair.context})
            started = time.perf_counter()
            response = app.main.handler(event, LambdaContext())
            times.append(time.perf_counter() - started)
            if response["statusCode"] != 200:
                raise RuntimeError(f"/qa failed: {response['statusCode']} {response['body'][:200]}")
        ratios[bucket] = round(times[0] / statistics.median(times[1:]), 3)
    return ratios


def function_url_event(path: str, body: dict[str, Any]) -> dict[str, Any]:
    """A function URL POST event, as the bench sends it."""
    return make_event("POST", path, body, request_id="bench", user_agent="bench")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=["qa", "cold", "ner"])
    parser.add_argument("--spec", required=True, help="JSON object with the run's parameters")
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--spawned", required=True, type=float, help="time.time() at the spawn")
    args = parser.parse_args()
    spec = json.loads(args.spec)
    result: Record
    if args.mode == "qa":
        result = run_qa(QaSpec.from_json(spec), args.spawned)
    elif args.mode == "cold":
        result = run_cold(ColdSpec.from_json(spec), args.spawned)
    else:
        from bench.ner import run_ner

        result = run_ner(NerSpec.from_json(spec), args.spawned)
    args.out.write_text(json.dumps(result.to_json(), indent=1))


if __name__ == "__main__":
    main()
