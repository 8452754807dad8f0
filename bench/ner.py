"""NER: handler overhead vs bare spaCy, batch throughput, and what loading only ``ner`` saves."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from bench.stats import summarize

TEXT_100_WORDS = (
    "On Tuesday, Siemens announced that Roland Busch would open a research centre in Munich "
    "with the Technical University of Munich, backed by 250 million euros from the Bavarian "
    "government. Speaking in Berlin, Chancellor Olaf Scholz said the project would create "
    "1,200 jobs by 2028. Analysts at Goldman Sachs in London expect similar investments from "
    "BMW and Infineon. The announcement followed a visit by Ursula von der Leyen to the "
    "company's plant in Erlangen last March. Microsoft and Google already run laboratories in "
    "the city, and the European Commission has promised further funding through the Horizon "
    "Europe programme before the end of the year."
)


def _timed(fn: Callable[[], Any], reps: int) -> dict[str, float]:
    fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return summarize(times)


def run_ner(spec: dict[str, Any]) -> dict[str, Any]:
    """Measure in one process; ``spec``: reps, batch_texts, model."""
    os.environ.setdefault("SERVICES", "ner")
    reps, n_texts, model = int(spec["reps"]), int(spec["batch_texts"]), spec["model"]
    t0 = time.perf_counter()
    import spacy

    from app.ner.service import NerService

    import_s = time.perf_counter() - t0
    loads: dict[str, list[float]] = {"full": [], "ner_only": []}
    for _ in range(3):
        t0 = time.perf_counter()
        full = spacy.load(model)
        loads["full"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        service = NerService.load(model)
        loads["ner_only"].append(time.perf_counter() - t0 - service.load_seconds["warmup"])
    ner_only = service._nlp

    import app.main
    from bench.worker import LambdaContext, function_url_event

    event = function_url_event("/ner", {"text": TEXT_100_WORDS})
    context = LambdaContext()

    def via_handler() -> None:
        response = app.main.handler(event, context)
        if response["statusCode"] != 200:
            raise RuntimeError(response["body"])

    single = {
        "bare_full": _timed(lambda: full(TEXT_100_WORDS), reps),
        "bare_ner_only": _timed(lambda: ner_only(TEXT_100_WORDS), reps),
        "service_extract": _timed(lambda: service.extract(TEXT_100_WORDS), reps),
        "handler": _timed(via_handler, reps),
    }
    texts = [TEXT_100_WORDS] * n_texts
    words = sum(len(t.split()) for t in texts)
    batch_event = function_url_event("/ner/batch", {"texts": texts})

    def batch_handler() -> None:
        if app.main.handler(batch_event, context)["statusCode"] != 200:
            raise RuntimeError("batch failed")

    batch_reps = max(3, reps // 40)
    batch = {
        "pipe_full": _timed(lambda: list(full.pipe(texts, batch_size=32)), batch_reps),
        "pipe_ner_only": _timed(lambda: list(ner_only.pipe(texts, batch_size=32)), batch_reps),
        "handler_batch": _timed(batch_handler, batch_reps),
    }
    for item in batch.values():
        item["words_per_s"] = words / (item["p50_ms"] / 1000.0)
    return {
        "text_words": len(TEXT_100_WORDS.split()),
        "batch_texts": n_texts,
        "import_spacy_s": import_s,
        "load_s": {k: min(v) for k, v in loads.items()},
        "components": {"full": list(full.pipe_names), "ner_only": list(ner_only.pipe_names)},
        "single": single,
        "batch": batch,
    }
