"""One measurement in a fresh process: ``python -m bench.worker MODE --spec JSON --out FILE``.

Modes: ``qa`` (forward per bucket + end-to-end per context size for one engine), ``cold`` (start to
first answer; the parent times the process from before its spawn), ``ner`` (handler overhead,
throughput, load time). Results go to ``--out`` as JSON; stdout is left to the code under test.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from app.function_url import LambdaContext
from app.function_url import function_url_event as make_event
from bench.stats import summarize


def _progress(items: Any, desc: str) -> Any:
    try:
        from tqdm import tqdm
    except ImportError:  # a venv without tqdm (e.g. an image's lock): one line per step instead
        print(f"{desc} ...", file=sys.stderr, flush=True)
        return items
    return tqdm(items, desc=desc, leave=False, mininterval=1.0)


def run_qa(spec: dict[str, Any]) -> dict[str, Any]:
    from bench.engines import make_engine
    from bench.texts import pairs_for

    started = time.perf_counter()
    engine = make_engine(spec["engine"], spec["paths"])
    result: dict[str, Any] = {"load_s": time.perf_counter() - started, "forward": {}, "e2e": {}}
    rng = np.random.default_rng(0)
    for seq in spec["buckets"]:
        ids = rng.integers(5, 1000, size=(1, seq)).astype(np.int32)
        engine.forward(ids)  # first call per shape is a one-time cost (measured by cold start)
        times = []
        for _ in _progress(range(spec["forward_reps"]), f"{spec['engine']} fwd {seq}"):
            t0 = time.perf_counter()
            engine.forward(ids)
            times.append(time.perf_counter() - t0)
        result["forward"][str(seq)] = summarize(times)
    for words, reps in spec["sizes"]:
        pairs = pairs_for(words, reps)
        engine.answer(pairs[0].question, pairs[0].context)
        times, found = [], 0
        for pair in _progress(pairs, f"{spec['engine']} e2e {words}w"):
            t0 = time.perf_counter()
            text = engine.answer(pair.question, pair.context)
            times.append(time.perf_counter() - t0)
            found += int(pair.answer in text)
        result["e2e"][str(words)] = {**summarize(times), "answer_found": found}
    return result


def run_cold(spec: dict[str, Any]) -> dict[str, Any]:
    """Everything a fresh Lambda environment does: imports, load, warm-up, first answer."""
    kind = spec["engine"]
    marks: dict[str, float] = {"start": time.time()}
    if kind == "hf":
        from bench.engines import HfEngine

        engine = HfEngine(Path(spec["paths"]["hf"]))
        marks["loaded"] = time.time()
        answer = engine.answer("Who wrote the algorithm?", "Ada Lovelace wrote the algorithm.")
    else:
        # The project's real handler module: init (load + warm-up) happens at its import.
        import app.main

        marks["loaded"] = time.time()
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
    marks["answered"] = time.time()
    result: dict[str, Any] = {"marks": marks, "answer": answer}
    if kind != "hf":
        result["phases"] = phases
    return result


def function_url_event(path: str, body: dict[str, Any]) -> dict[str, Any]:
    """A function URL POST event, as the bench sends it."""
    return make_event("POST", path, body, request_id="bench", user_agent="bench")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=["qa", "cold", "ner"])
    parser.add_argument("--spec", required=True, help="JSON object with the run's parameters")
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args()
    spec = json.loads(args.spec)
    if args.mode == "qa":
        result = run_qa(spec)
    elif args.mode == "cold":
        result = run_cold(spec)
    else:
        from bench.ner import run_ner

        result = run_ner(spec)
    args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
