"""docs/bench/report.md and PNG plots from the run's results (report.json has everything).

One function per section renders one part of :class:`bench.records.BenchResults` into Markdown
lines; :func:`write` puts the header, the targets, the plots and then :data:`SECTIONS` in order.
"""

from __future__ import annotations

import json
import statistics
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Literal

from bench import contention, families, front_memory, gemm_floor
from bench.contention import ContentionSection
from bench.cost import break_even
from bench.machine import STEAL_NOTABLE
from bench.plots import cost_plot, designs_plot
from bench.records import (
    BenchResults,
    ColdStart,
    ContainerRun,
    Containers,
    DefaultPrecision,
    Design1Cost,
    Designs,
    Failed,
    Fidelity,
    ImageColdStart,
    Machine,
    NerRun,
    QaRun,
    ServeColdRun,
    Skipped,
    TokenCount,
)

PEERS = ("transformers", "ort-fp32")
TARGET_WORDS = "150"


def _tokens(r: BenchResults) -> Mapping[str, TokenCount]:
    """Tokens per context size from the run's token note (empty when not measured)."""
    note = r.tokens_per_window_note
    return {} if note is None else note.sizes


def _tokens_phrase(r: BenchResults, words: str) -> str:
    item = _tokens(r).get(words)
    if not item:
        return "tokens not measured"
    return f"{item.context_tokens} tokens, {item.tokens_per_word:.2f} per word"


def _tokens_cell(r: BenchResults, words: str) -> str:
    item = _tokens(r).get(words)
    return "–" if not item else f"{item.context_tokens} ({item.tokens_per_word:.2f})"


def _fmt(value: object, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def _p50(r: BenchResults, engine: str, kind: Literal["forward", "e2e"], key: str) -> float | None:
    run = r.qa.get(engine)
    if not isinstance(run, QaRun):
        return None
    item = (run.forward if kind == "forward" else run.e2e).get(key)
    return None if item is None else item.p50_ms


def _ratio(a: float | None, b: float | None) -> str:
    return "–" if a is None or b is None or b == 0 else f"{a / b:.2f}"


def qa_tables(r: BenchResults) -> list[str]:
    # Engines measured end to end (a forward-only engine has no e2e figures).
    e2e = {e: run.e2e for e, run in r.qa.items() if isinstance(run, QaRun) and run.e2e}
    lines = ["## QA end-to-end latency (tokenise, windows, forward, decode), ms", ""]
    sizes = [str(w) for w, _ in r.plan.sizes]
    lines.append(
        "| context words | context tokens (per word) | "
        + " | ".join(f"{e} p50 / p90" for e in e2e)
        + " |"
    )
    lines.append("|---" * (2 + len(e2e)) + "|")
    for words in sizes:
        cells = []
        for by_size in e2e.values():
            item = by_size.get(words)
            cells.append("–" if not item else f"{item.p50_ms:,.0f} / {item.p90_ms:,.0f}")
        lines.append(f"| {words} | {_tokens_cell(r, words)} | " + " | ".join(cells) + " |")
    lines += ["", "Ratios of p50 (project / peer; below 1 means the project is faster):", ""]
    lines.append(
        "| context words | context tokens (per word) | "
        + " | ".join(
            f"{p} / {peer}"
            for p in ("project-fp32", "project-int8", "project-int8-avx2")
            for peer in PEERS
        )
        + " |"
    )
    lines.append("|---" * 8 + "|")
    for words in sizes:
        cells = [
            _ratio(_p50(r, p, "e2e", words), _p50(r, peer, "e2e", words))
            for p in ("project-fp32", "project-int8", "project-int8-avx2")
            for peer in PEERS
        ]
        lines.append(f"| {words} | {_tokens_cell(r, words)} | " + " | ".join(cells) + " |")
    lines += ["", "## Forward only, batch 1, unpadded, ms (p50)", ""]
    buckets = [str(b) for b in r.plan.buckets]
    lines.append("| engine | " + " | ".join(f"T={b}" for b in buckets) + " |")
    lines.append("|---" * (1 + len(buckets)) + "|")
    for e, run in r.qa.items():
        if isinstance(run, Failed):
            lines.append(f"| {e} | not measured: {run.error} |" + " |" * (len(buckets) - 1))
            continue
        forward = (_fmt(_p50(r, e, "forward", b)) for b in buckets)
        lines.append(f"| {e} | " + " | ".join(forward) + " |")
    return lines + _qa_steal_lines(r)


def _pct(share: float | None) -> str:
    return "–" if share is None else f"{share:.1%}"


def _qa_steal_lines(r: BenchResults) -> list[str]:
    """CPU steal while each QA engine ran, per round, and which rounds to read with care."""
    read = {e: run.steal for e, run in r.qa.items() if isinstance(run, QaRun) and run.steal}
    if not read:
        return []
    per_engine = "; ".join(f"{e} {' / '.join(_pct(x) for x in v)}" for e, v in read.items())
    lines = ["", f"CPU steal while each QA engine ran, per round: {per_engine}."]
    notable = sorted(
        {e for e, v in read.items() if any(x is not None and x >= STEAL_NOTABLE for x in v)}
    )
    if notable:
        lines.append(
            f"At or above {STEAL_NOTABLE:.0%} in a round of {', '.join(notable)}: the host gave "
            "part of this VM's cores to other guests then, so those figures are slower for a "
            "reason outside the code."
        )
    return lines


def cold_table(r: BenchResults) -> list[str]:
    lines = [
        "## Cold start: fresh process to first answer (imports, load, warm-up, first request)",
        "",
        "| process | median s | min s | until loaded s | init phases, s (import / load / warm-up / "
        "request path) | errors |",
        "|---|---|---|---|---|---|",
    ]
    for name, item in r.cold.items():
        ph = item.phases
        phases = (
            " / ".join(_fmt(ph.get(k), 2) for k in ("import", "load", "warmup", "request_path"))
            if ph
            else "–"
        )
        lines.append(
            f"| {name} | {_fmt(item.median_s, 2)} | {_fmt(item.min_s, 2)} | "
            f"{_fmt(item.loaded_s, 2)} | {phases} | {'; '.join(item.errors) or '–'} |"
        )
    lines += [
        "",
        "Process cold start runs from spawning the interpreter to the first answer; the phases "
        "are what the function logs on `init_complete` (the rest is the interpreter and the web "
        "stack's imports, and the first request).",
    ]
    ratios = [
        f"{name} " + ", ".join(f"{b}: {v:.2f}x" for b, v in item.first_ratios.items())
        for name, item in r.cold.items()
        if item.first_ratios
    ]
    if ratios:
        lines += [
            "",
            "First request at each sequence-length bucket after init, over the median of the next "
            "four (the rule is at most 1.5x): " + "; ".join(ratios) + ".",
        ]
    c = r.containers
    lines += ["", "## Container images (RIE, Lambda-like limits)", ""]
    if isinstance(c, Skipped):
        lines.append(f"Skipped: {c.reason}.")
        return lines
    lines += [
        "| image | size MB | added on base MB | cold start to first answer, median s | limits |",
        "|---|---|---|---|---|",
    ]
    for name in ("ner", "qa"):
        size, start = c.sizes.functions[name], c.cold_start[name]
        mb = None if size.bytes is None else size.bytes / 1e6
        added = None if size.added_bytes is None else size.added_bytes / 1e6
        lines.append(
            f"| {size.tag} | {_fmt(mb, 0)} | {_fmt(added, 0)} | {_container_cells(start)} |"
        )
    base = c.sizes.base
    lines.append(f"\nBase image {base.tag}: {_fmt((base.bytes or 0) / 1e6, 0)} MB.")
    return lines


def _container_cells(start: ImageColdStart | Skipped) -> str:
    """The cold start and limits cells of one image's row."""
    if isinstance(start, Skipped):
        return f"{start.reason} | –"
    first = start.runs[0]
    cpus = first.cpus if isinstance(first, ContainerRun) else "?"
    limits = f"{start.memory_mb} MB, {cpus} CPUs, read-only root"
    note = _fmt(start.median_s, 2)
    if not start.median_s:
        note = "no 200 answer: " + "; ".join(
            (x.error if isinstance(x, Failed) else x.body)[:120] for x in start.runs
        )
    return f"{note} | {limits}"


def ner_table(r: BenchResults) -> list[str]:
    n = r.ner
    if isinstance(n, Failed):
        return ["## NER", "", f"Not measured: {n.error}"]
    s, b = n.single, n.batch
    lines = [
        "## NER",
        "",
        f"One ~{n.text_words}-word text, p50 ms (n={s['handler'].n}, pooled over the rounds):",
        "",
        "| path | p50 ms | p90 ms |",
        "|---|---|---|",
    ]
    for key, label in (
        ("bare_full", "bare spaCy, full pipeline"),
        ("bare_ner_only", "bare spaCy, ner only (what the service loads)"),
        ("service_extract", "NerService.extract"),
        ("handler", "Mangum handler, function URL event"),
    ):
        lines.append(f"| {label} | {s[key].p50_ms:.2f} | {s[key].p90_ms:.2f} |")
    lines += [
        "",
        *_overhead_lines(n),
        "",
        f"Batch of {n.batch_texts} texts, words/second:",
        "",
        "| path | p50 ms | words/s |",
        "|---|---|---|",
    ]
    for key, label in (
        ("pipe_full", "nlp.pipe, full pipeline"),
        ("pipe_ner_only", "nlp.pipe, ner only"),
        ("handler_batch", "Mangum handler, /ner/batch"),
    ):
        lines.append(f"| {label} | {b[key].p50_ms:.0f} | {b[key].words_per_s:,.0f} |")
    kept, full = n.components["ner_only"], n.components["full"]
    lines += [
        "",
        f"Model load: all components {n.load_s['full']:.2f} s, ner only {n.load_s['ner_only']:.2f} s "
        f"(components kept: {', '.join(kept)}; excluded: "
        f"{', '.join(c for c in full if c not in kept)}).",
    ]
    return lines


def ner_overhead(n: NerRun | Failed) -> float | None:
    """The handler's overhead over bare ner-only spaCy: the median of the rounds' ratios."""
    if isinstance(n, Failed):
        return None
    if n.overhead is not None:
        return float(n.overhead.median)
    s = n.single  # a report.json from before the rounds: one pass
    return float(s["handler"].p50_ms / s["bare_ner_only"].p50_ms - 1)


def _overhead_lines(n: NerRun) -> list[str]:
    s = n.single
    vs_full = (s["handler"].p50_ms / s["bare_full"].p50_ms - 1) * 100
    o = n.overhead
    if o is None:
        return [
            f"Handler overhead vs bare ner-only spaCy: **{ner_overhead(n) or 0.0:.1%}** "
            f"({s['handler'].p50_ms - s['bare_ner_only'].p50_ms:.2f} ms); vs the full "
            f"pipeline: {vs_full:.1f}%."
        ]
    rounds = ", ".join(
        f"{x.overhead:.1%}" + ("" if x.steal is None else f" (steal {x.steal:.1%})")
        for x in o.per_round
    )
    cpu = ", ".join(f"{x.cpu_overhead:.1%}" for x in o.per_round)
    return [
        f"Handler overhead vs bare ner-only spaCy: **{o.median:.1%}** ({o.median_ms:.2f} ms), "
        f"the median of {o.rounds} rounds of {o.reps_per_round} interleaved requests "
        f"(rounds: {rounds}; spread {o.min:.1%} to {o.max:.1%}); vs the full pipeline: "
        f"{vs_full:.1f}%.",
        f"In process CPU time (what other jobs on the machine cannot add): {o.cpu_median:.1%} "
        f"(rounds: {cpu}).",
    ]


def load_section(r: BenchResults) -> list[str]:
    """Bounded load through the compose stack's front door (bench/load.py)."""
    data = r.load
    lines = ["## Load on the local stack (loopback, 8 concurrent clients, front door + RIE)", ""]
    if not data:
        return [*lines, "Not measured in this run."]
    if isinstance(data, Skipped):
        return [*lines, f"Skipped: {data.reason}."]
    lines += [
        "Each function runs as one Lambda environment (one request at a time; the front door "
        "queues the rest), so latency under 8 clients includes queueing. Answers are compared "
        "with the sequential answer to the same input; RSS is the runtime process's resident "
        "memory after a warm-up pass and after the load.",
        "",
        "| function | requests | errors | answers differing from sequential | req/s | p50 / p90 / p99 ms "
        "| RSS before → after MB |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, item in data.items():
        lines.append(
            f"| {name} ({item.distinct_inputs} inputs) | {item.requests:,} | {item.errors} | "
            f"{item.mismatches} | {item.requests_per_s:.1f} | {item.p50_ms:.0f} / "
            f"{item.p90_ms:.0f} / {item.p99_ms:.0f} | {_fmt(item.rss_before_mb)} → "
            f"{_fmt(item.rss_after_mb)} |"
        )
    return lines


HOP_PATHS = {
    "serve": "(a) serving container, `POST /invocations` (the model behind either design)",
    "design2": "(b) Design 2: function URL event -> the function's RIE",
    "design1": "(c) Design 1: function URL event -> front's RIE -> stand-in -> serving container",
}


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def _ms(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds * 1000:,.0f}"


def designs_section(r: BenchResults) -> list[str]:
    """Design 1 vs Design 2 on the same images (bench/designs.py)."""
    box = r.containers.cold_start if isinstance(r.containers, Containers) else {}
    earlier = {name: _median_s(start) for name, start in box.items()}
    return designs_lines(r.designs, r.machine, earlier)


def designs_lines(
    d: Designs | Skipped | Failed | None,
    m: Machine,
    container_cold: Mapping[str, float | None] | None = None,
) -> list[str]:
    """The section's Markdown; ``container_cold``: the containers section's medians, cited."""
    lines = ["## Design 1 vs Design 2 (same images, one run)", ""]
    if d is None:
        return [*lines, "Not measured in this run."]
    if isinstance(d, Skipped):
        return [*lines, f"Skipped: {d.reason}."]
    if isinstance(d, Failed):
        return [*lines, f"Not measured: {d.error}"]
    workers = ", ".join(f"{s} {_fmt(n)}" for s, n in d.serve_workers.items())
    lines += [
        f"Measured on {m.cpu} ({m.cores} cores, shared), 1-minute load average "
        f"{d.load_avg[0]:.2f} at the section's start and {d.load_avg[1]:.2f} at its end; the "
        f"section took {d.elapsed_s / 60:.1f} min. Figures compare within this section only.",
        "",
        f"Both designs run the same images ({d.images.get('ner')}, {d.images.get('qa')}) with the "
        f"same Lambda-like limits: {d.memory_mb} MB, {d.cpus} CPUs (Lambda's share of that "
        "memory), read-only root, tmpfs `/tmp`, user 993:990. **Design 2**: the image under the "
        "RIE, one Lambda environment (one request at a time). **Design 1**: the image started with "
        f"`serve` (workers from its CPUs: {workers}), the SageMaker runtime stand-in "
        f"(`tools.sagemaker_runtime` on {d.images.get('base')}) and the front function "
        f"({d.images.get('front')}) under the RIE at {d.front_memory_mb} MB, so "
        f"{d.front_cpus} CPUs (the template's default FrontMemorySize). All on one Docker network "
        "of the run's own; the client reaches each through a port published on 127.0.0.1.",
        "",
        "### The hop each design adds per request",
        "",
        "Sequential requests; each round sends one input through every path, the order rotating "
        "from round to round, so machine noise falls on the three alike. Added = the path's "
        "figure minus (a)'s; the paired median is the median over rounds of the path's time minus "
        "(a)'s in the same round, with the quartiles of those differences in brackets (a hop "
        "smaller than that spread is within this machine's noise).",
        "",
        "| service, input | path | n | p50 ms | p90 ms | adds over (a): p50 / p90 / paired median (quartiles), ms |",
        "|---|---|---|---|---|---|",
    ]
    notes = []
    for service, hop in d.hop.items():
        if isinstance(hop, Failed):
            lines.append(f"| {service} | not measured: {hop.error} | | | | |")
            continue
        label = (
            f"NER, ~{hop.input_words}-word text"
            if service == "ner"
            else f"QA, ~{hop.input_words}-word context"
        )
        for path, latency in hop.paths.items():
            add = hop.added.get(path)
            spread = (
                ""
                if add is None or add.paired_p25_ms is None or add.paired_p75_ms is None
                else f" ({add.paired_p25_ms:+.1f} to {add.paired_p75_ms:+.1f})"
            )
            added = (
                "–"
                if add is None
                else f"{add.p50_ms:+.1f} / {add.p90_ms:+.1f} / {add.paired_median_ms:+.1f}{spread}"
            )
            lines.append(
                f"| {label} | {HOP_PATHS.get(path, path)} | {latency.n} | {latency.p50_ms:,.1f} | "
                f"{latency.p90_ms:,.1f} | {added} |"
            )
        notes.append(
            f"{service}: {hop.rounds} rounds after {hop.warmup_rounds} warm-up rounds, "
            f"{hop.distinct_inputs} distinct inputs; errors {hop.errors}"
            + (f" ({'; '.join(hop.error_samples)})" if hop.error_samples else "")
            + f"; answers differing from (a)'s: {hop.mismatches}"
        )
    lines += [
        "",
        "Samples: " + "; ".join(notes) + ".",
        "",
        "What is not here: on AWS, (b) also passes the function URL service, and (c) the function "
        "URL, the SageMaker runtime service (SigV4 checked, routing to an instance) and the "
        "network between them. These figures are the local part of each hop: the RIE, the "
        "handler or the front's botocore call, the stand-in and one container-to-container hop "
        "on a Docker bridge.",
        "",
        f"### Throughput under {d.concurrency} concurrent clients: one serving container against "
        "one Lambda environment",
        "",
        "| service | unit | requests (inputs) | errors | answers differing from sequential | "
        "req/s | p50 / p90 / p99 ms |",
        "|---|---|---|---|---|---|---|",
    ]
    units = {
        "design1": "Design 1: one serving container (a real-time instance's worth), `/invocations`",
        "design2": "Design 2: one RIE container (one Lambda environment)",
    }
    ratios = []
    for service, runs in d.load.items():
        if isinstance(runs, Failed):
            lines.append(f"| {service} | not measured: {runs.error} | | | | | |")
            continue
        for design, run in runs.items():
            samples = f" ({'; '.join(run.error_samples)})" if run.error_samples else ""
            lines.append(
                f"| {service} | {units.get(design, design)} | {run.requests:,} "
                f"({run.distinct_inputs}) | {run.errors}{samples} | {run.mismatches} | "
                f"{run.requests_per_s:.1f} | {run.p50_ms:,.0f} / {run.p90_ms:,.0f} / "
                f"{run.p99_ms:,.0f} |"
            )
        one, two = runs.get("design1"), runs.get("design2")
        if one and two:
            ratios.append(f"{service} {_ratio(one.requests_per_s, two.requests_per_s)}")
    lines += [
        "",
        "Requests per second, Design 1's container over Design 2's environment: "
        + (", ".join(ratios) or "–")
        + f". Each design's requests went out in blocks alternating A B B A, {d.concurrency} "
        "client threads on the same host. The serving container runs its default workers "
        f"({workers}) and queues the rest; the RIE takes one invocation at a time, so the other "
        "clients queue in front of it, first come first served (latency includes that wait, as "
        "behind the local front door). "
        "Lambda itself would not queue: it starts another environment for each concurrent "
        "request (up to the account's concurrency), each with its own CPUs and its own cold "
        "start, so Design 2's throughput grows with environments (billed per request), while "
        "Design 1's is what one instance gives until auto scaling adds instances.",
        "",
        "### Cold start",
        "",
        "| design | image | runs | docker run -> container started, ms | -> TCP connect on 8080, "
        "ms (after start) | -> first `/ping` 200, s | -> first answer, s |",
        "|---|---|---|---|---|---|---|",
    ]
    cold = d.cold
    if isinstance(cold, Failed):
        return [*lines, f"| not measured: {cold.error} | | | | | | |"]
    failures: list[str] = []
    for service, rie_runs in cold.design2.items():
        ok = [x.seconds for x in rie_runs if isinstance(x, ContainerRun) and x.status == 200]
        lines.append(
            f"| 2 (RIE) | {d.images.get(service)} | {len(ok)}/{len(rie_runs)} | – | – | – | "
            f"{_fmt(_median(ok), 2)} |"
        )
        failures += _failures(f"Design 2 {service}", rie_runs)
    serve_after: dict[str, float | None] = {}
    any_early = any_bound = False
    for service, serve_runs in cold.design1.items():
        done = [x for x in serve_runs if isinstance(x, ServeColdRun)]
        connects = [x.connect_s for x in done if x.connect_s is not None]
        after = [x.connect_s - x.started_s for x in done if x.connect_s is not None]
        serve_after[service] = _median(after)
        bound = "≤ " if any(x.connect_at_first_probe for x in done) else ""
        any_bound = any_bound or bool(bound)
        early = sum(1 for x in done if x.first_status != 200)
        any_early = any_early or early > 0
        retried = f" ({early}/{len(done)}: 503 first, retried)" if early else ""
        lines.append(
            f"| 1 (`serve`) | {d.images.get(service)} | {len(done)}/{len(serve_runs)} | "
            f"{_ms(_median([x.started_s for x in done]))} | {_ms(_median(connects))} "
            f"({bound}{_ms(_median(after))}) | {_fmt(_median([x.ping_s for x in done]), 2)} | "
            f"{_fmt(_median([x.answer_s for x in done]), 2)}{retried} |"
        )
        failures += _failures(f"Design 1 {service}", serve_runs)
    for mb, front_runs in cold.front.items():
        ok = [x.seconds for x in front_runs if isinstance(x, ContainerRun) and x.status == 200]
        cpus = next((x.cpus for x in front_runs if isinstance(x, ContainerRun)), "?")
        lines.append(
            f"| 1, front at {mb} MB ({cpus} CPUs; endpoints up) | {d.images.get('front')} | "
            f"{len(ok)}/{len(front_runs)} | – | – | – | {_fmt(_median(ok), 2)} |"
        )
        failures += _failures(f"the front at {mb} MB", front_runs)
    met = [
        f"{s} {_ms(v)} ms ({'met' if v < 0.25 else 'not met'})"
        for s, v in serve_after.items()
        if v is not None
    ]
    lines += [
        "",
        "Medians over the runs; each run starts every image once, in turn. Design 2's first "
        "answer includes the whole init (the RIE starts the runtime at the first invocation). "
        "Design 1's TCP connect is probed every few ms, from before `docker run`, on the address "
        "of a holder container whose network namespace the serving container joins (Docker's "
        "port proxy would accept before the application listens); SageMaker wants a connection "
        "accepted within 250 ms of the container's start: "
        + (", ".join(met) or "not probed (the host cannot reach container addresses)")
        + (" (≤: the first probe after the start already connected)." if any_bound else ".")
        + (
            ' "503 first": the first `/invocations` after the `/ping` 200 answered 503 (with '
            "several workers, the ping is answered by whichever worker takes the connection, and "
            "another was still loading); the figure is the first 200 after retrying."
            if any_early
            else ""
        )
        + " The front's cold start is "
        "its own init plus one NER request through the stand-in, at the template's default "
        "memory and at one full vCPU (1,769 MB): Lambda's CPU share follows memory, and the "
        "front's init (botocore, powertools) is CPU-bound.",
    ]
    if failures:
        lines += ["", "Runs that did not answer 200: " + "; ".join(failures) + "."]
    if container_cold:
        cited = ", ".join(f"{s} {_fmt(v, 2)} s" for s, v in container_cold.items())
        lines.append(
            "The container images section above measured Design 2's cold start (without the "
            f"non-root user) as: {cited}."
        )
    return lines


def _failures(label: str, runs: Sequence[ContainerRun | ServeColdRun | Failed]) -> list[str]:
    """Failed runs and non-200 first answers, each as ``label: why``."""
    bad = [x.error for x in runs if isinstance(x, Failed)]
    bad += [
        f"{x.status}: {x.body}" for x in runs if isinstance(x, ContainerRun) and x.status != 200
    ]
    return [f"{label}: {b[:160]}" for b in bad]


def cold_modes_section(r: BenchResults) -> list[str]:
    """The three ColdStartMode choices side by side: what a new environment waits for, and cost."""
    tables = r.cost.tables
    containers = r.containers.cold_start if isinstance(r.containers, Containers) else {}
    lines = [
        "## Cold start by mode (template parameter `ColdStartMode`)",
        "",
        "What a request that lands on a new environment waits for, and what the mode costs, at "
        "3,538 MB (2 vCPUs, the threads measured). On demand is measured (process, and container "
        "under the RIE); the SnapStart restore time cannot be measured without an AWS account "
        "and is the cost model's assumption; provisioned environments are initialised before "
        "traffic, so requests within their concurrency see no cold start.",
        "",
        "| workload | mode | new environment waits | source | $/M requests | fixed $/month (1 env) "
        "| cheaper than on demand above, M req/month | Design 1 cheaper above, M req/month |",
        "|---|---|---|---|---|---|---|---|",
    ]

    def millions(value: float | None) -> str:
        return "never" if value is None else f"{value / 1e6:.2f}"

    def design1_above(d1: Design1Cost, fixed: float, per_m: float) -> str:
        # Design 1 pays more fixed and less per request: it wins above the crossing point.
        if d1.variable_per_m >= per_m:
            return "never"
        if d1.fixed_month <= fixed:
            return "always"
        return millions(break_even(d1.fixed_month - fixed, d1.variable_per_m, per_m))

    # The QA image runs fp32 (QA_PRECISION's default), so only fp32 has a container figure.
    container_of = {"ner-100w": "ner", "qa-150w-project-fp32": "qa"}
    for key, table in tables.items():
        row = next((x for x in table.rows if x.vcpus == 2.0), table.rows[-1])
        start = containers.get(container_of.get(key, ""))
        box = start.median_s if isinstance(start, ImageColdStart) else None
        measured = f"{table.init_s:.2f} s process" + (f", {box:.2f} s container" if box else "")
        name, d1, m = table.workload, table.design1, row.modes
        snap = (m.snapstart_fixed_month, m.snapstart_per_m)
        prov = (m.provisioned_fixed_month, m.provisioned_per_m)
        lines += [
            f"| {name} | none (on demand) | {measured} | measured | "
            f"{m.on_demand_per_m:.2f} | 0 | – | "
            f"{design1_above(d1, 0.0, m.on_demand_per_m)} |",
            f"| {name} | snapstart | ~{table.restore_s_assumed} s restore | assumed | "
            f"{snap[1]:.2f} | {snap[0]:.2f} | {millions(row.break_even_snapstart)} | "
            f"{design1_above(d1, *snap)} |",
            f"| {name} | provisioned | 0 s within the provisioned concurrency | by design | "
            f"{prov[1]:.2f} | {prov[0]:.2f} | {millions(row.break_even_provisioned)} | "
            f"{design1_above(d1, *prov)} |",
        ]
    lines += [
        "",
        "One provisioned environment serves one request at a time, so its break-even is close to "
        "its whole capacity; beyond that, requests spill over to on-demand environments and "
        "their cold starts. Design 1 is one always-on SageMaker instance behind a small Lambda.",
    ]
    return lines


def _default_p50(d: DefaultPrecision, engine: str) -> float | None:
    run = d.qa.get(engine)
    e2e = run.e2e.get(TARGET_WORDS) if isinstance(run, QaRun) else None
    return e2e.p50_ms if e2e else None


def default_precision_section(r: BenchResults) -> list[str]:
    """QA at the default precision (auto) on the gate-checked model, against the pipeline."""
    d = r.default_precision
    lines = ["## QA at the default precision, on a model the INT8 gate can judge", ""]
    if d is None or isinstance(d, Skipped | Failed):
        why = "not in this run" if d is None else (d.reason if isinstance(d, Skipped) else d.error)
        return [*lines, f"Not measured: {why}."]
    m = d.model
    tokens = d.tokens.sizes.get(TARGET_WORDS) if d.tokens else None
    lines += [
        "`QA_PRECISION=auto`, the default, serves INT8 exactly when the model's accuracy gate "
        "passed (docs/int8-accuracy.md). A random model cannot pass it (it is confident about "
        "nothing), so this section uses a model with real answers: ALBERT trained here "
        f"({m.layers} layers at width {m.trained_width}, {m.train_minutes:g} min, transformers "
        f"held-out EM {m.torch_heldout_em:.1f}), widened exactly to ALBERT-base's shape "
        f"(H={m.hidden}, {m.heads} heads, FFN {m.intermediate}; `tools.widen`, logits within "
        f"{m.widen_logit_difference:.1g} of the trained model), so every matrix product runs at "
        "base size. Its vocabulary has "
        f"{m.vocab} pieces, so ~150 words make "
        + (
            f"{tokens.context_tokens} context tokens ({tokens.tokens_per_word:.2f} per word)"
            if tokens
            else "more tokens than with ALBERT's 30k"
        )
        + ", more than the random model's: the ratios below compare engines on the same tokens.",
        "",
        f"- Gate: **{'passed' if m.gate_passed else 'failed'}**, {m.gate_reason}; recipe: "
        f"{m.recipe}. `auto` serves **{m.serving.upper()}** for this model.",
        "",
        "| engine | p50 ms | p90 ms | vs transformers pipeline (p50) |",
        "|---|---|---|---|",
    ]
    hf = _default_p50(d, "transformers")
    hf_avx2 = _default_p50(d, "transformers-avx2")
    for engine, run in d.qa.items():
        if isinstance(run, Failed):
            lines.append(f"| {engine} | failed: {run.error} | | |")
            continue
        e2e = run.e2e.get(TARGET_WORDS)
        if e2e is None:
            continue
        vs = "1" if engine == "transformers" else _ratio(e2e.p50_ms, hf)
        if engine.endswith("-avx2") and hf_avx2 is not None and engine != "transformers-avx2":
            vs += f"; {_ratio(e2e.p50_ms, hf_avx2)} vs the pipeline capped alike"
        lines.append(f"| {engine} | {e2e.p50_ms:.0f} | {e2e.p90_ms:.0f} | {vs} |")
    if hf_avx2 is not None:
        lines += [
            "",
            "`-avx2` engines run with their libraries capped at AVX2 (`DNNL_MAX_CPU_ISA` for "
            "mxnet; `ATEN_CPU_CAPABILITY`, `MKL_ENABLE_INSTRUCTIONS` and `ONEDNN_MAX_CPU_ISA` "
            "for PyTorch), what a Lambda x86 host guarantees.",
        ]
    return lines


def contention_section(r: BenchResults) -> list[str]:
    """bench.contention's section, rendered by that module from the run's JSON."""
    data = r.contention
    if data is None:
        return []
    return contention.markdown(
        Skipped.from_json(data) if "skipped" in data else ContentionSection.from_json(data)
    )


def front_memory_section(r: BenchResults) -> list[str]:
    """bench.front_memory's section (Design 1's front across memory sizes), from the run's JSON."""
    return (
        []
        if r.front_memory is None
        else front_memory.markdown(front_memory.section_from_json(r.front_memory))
    )


def families_section(r: BenchResults) -> list[str]:
    """bench.families' section (ALBERT, BERT, DistilBERT, RoBERTa), from the run's JSON."""
    return [] if r.families is None else families.section(r.families)


def cost_section(r: BenchResults) -> list[str]:
    c = r.cost
    lines = [
        "## Cost model (modelled from the measured durations; prices in bench/prices.json, "
        f"recorded {c.prices['recorded']})",
        "",
    ]
    for table in c.tables.values():
        d1 = table.design1
        lines += [
            f"### {table.workload}",
            "",
            f"Measured: {table.warm_s_2_threads * 1000:.0f} ms warm (2 threads), "
            f"{table.init_s:.2f} s cold start. Assumed: {table.cold_fraction:.0%} of requests cold; "
            f"SnapStart restore {table.restore_s_assumed} s. Design 1: {d1.instance} "
            f"${d1.fixed_month:.0f}/month (one instance, capacity {d1.capacity_month / 1e6:.1f} M req/month) "
            f"+ ${d1.variable_per_m:.2f}/M for the front Lambda.",
            "",
            "| memory MB | vCPU | duration ms | on-demand $/M | SnapStart $/M + $/month | provisioned (1 env) $/M + $/month | break-even vs Design 1, M req/month | provisioned break-even M/month |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for row in table.rows:
            m, be, bp = row.modes, row.break_even_design1, row.break_even_provisioned
            lines.append(
                f"| {row.memory_mb} | {row.vcpus} | {m.duration_s * 1000:.0f} | {m.on_demand_per_m:.2f} | "
                f"{m.snapstart_per_m:.2f} + {m.snapstart_fixed_month:.2f} | "
                f"{m.provisioned_per_m:.2f} + {m.provisioned_fixed_month:.2f} | "
                f"{'never' if be is None else f'{be / 1e6:.2f}'} | "
                f"{'never' if bp is None else f'{bp / 1e6:.2f}'}"
                f"{'' if bp is None or bp <= m.provisioned_capacity_month else ' (beyond one env)'} |"
            )
        lines.append("")
    return lines


def targets(r: BenchResults) -> list[str]:
    """Issue 14's targets, each as measured in this run (ratios within the run only)."""

    def verdict(ok: bool | None) -> str:
        return "not measured" if ok is None else ("**met**" if ok else "**not met**")

    def within(a: float | None, b: float | None, bound: float) -> bool | None:
        return None if a is None or b is None else a <= bound * b

    e2e = {e: _p50(r, e, "e2e", TARGET_WORDS) for e in r.qa}
    hf = e2e.get("transformers")
    fwd = {(e, t): _p50(r, e, "forward", t) for e in r.qa for t in ("128", "384")}
    cold_qa = _median_s(r.cold.get("project-qa-fp32"))
    cold_int8 = _median_s(r.cold.get("project-qa-int8"))
    box = r.containers.cold_start.get("qa") if isinstance(r.containers, Containers) else None
    cold_box = _median_s(box)
    overhead = ner_overhead(r.ner)
    spread = r.ner.overhead if isinstance(r.ner, NerRun) else None
    rows: list[tuple[str, str, bool | None]] = []
    capped = "with oneDNN capped at AVX2 (DNNL_MAX_CPU_ISA=AVX2)"
    d = r.default_precision
    if isinstance(d, DefaultPrecision):
        d_hf = _default_p50(d, "transformers")
        tokens = d.tokens.sizes.get(TARGET_WORDS) if d.tokens else None
        on = (
            f"~150 words: {tokens.context_tokens} tokens" if tokens else "~150 words"
        ) + f", gate-checked model, auto serves {d.model.serving.upper()}"
        default_rows = [("project-auto", f"default precision (auto; {on})", 0.25)]
        if "project-auto-avx2" in d.qa:
            default_rows.append(
                ("project-auto-avx2", f"default precision (auto; {on}) {capped}", 0.5)
            )
        elif "avx512f" not in r.machine.isa:
            default_rows.append(
                ("project-auto", f"default precision (auto; {on}) {capped}; no AVX-512 here", 0.5)
            )
        for engine, label, bound in default_rows:
            ours = _default_p50(d, engine)
            rows.append(
                (
                    f"QA e2e p50, {label}, <= {bound}x the transformers pipeline",
                    f"{_fmt(ours, 0)} ms vs {_fmt(d_hf, 0)} ms ({_ratio(ours, d_hf)})",
                    within(ours, d_hf, bound),
                )
            )
        if "transformers-avx2" in d.qa:
            ours, peer = _default_p50(d, "project-auto-avx2"), _default_p50(d, "transformers-avx2")
            rows.append(
                (
                    f"QA e2e p50, default precision (auto; {on}) {capped}, <= 0.5x the "
                    "transformers pipeline capped at AVX2 too (ATen, MKL and oneDNN: both engines "
                    "on the instructions a Lambda x86 host guarantees)",
                    f"{_fmt(ours, 0)} ms vs {_fmt(peer, 0)} ms ({_ratio(ours, peer)})",
                    within(ours, peer, 0.5),
                )
            )
    e2e_targets = [("project-fp32", "fp32 (a model whose gate fails)", 0.5)]
    if "project-fp32-avx2" in r.qa:
        e2e_targets.append(("project-fp32-avx2", f"fp32 {capped}", 0.8))
    elif "avx512f" not in r.machine.isa:  # the cap is a no-op: the fp32 run is the capped one
        no_op = "; this CPU has no AVX-512, so that is the fp32 run"
        e2e_targets.append(("project-fp32", f"fp32 {capped}{no_op}", 0.8))
    e2e_targets += [
        ("project-int8", "INT8 (a model whose gate passes)", 0.5),
        ("project-int8-avx2", f"INT8 {capped}", 0.8),
    ]
    for engine, label, bound in e2e_targets:
        rows.append(
            (
                f"QA e2e p50 (~150 words: {_tokens_phrase(r, TARGET_WORDS)}, random model), {label}, "
                f"<= {bound}x the transformers pipeline",
                f"{_fmt(e2e.get(engine), 0)} ms vs {_fmt(hf, 0)} ms ({_ratio(e2e.get(engine), hf)})",
                within(e2e.get(engine), hf, bound),
            )
        )
    for engine, label, bound in (("project-int8", "INT8 raw", 0.5), ("project-fp32", "fp32", 1.2)):
        for t in ("128", "384"):
            ours, ort = fwd.get((engine, t)), fwd.get(("ort-fp32", t))
            rows.append(
                (
                    f"{label} forward <= {bound}x ONNX Runtime fp32, T={t}",
                    f"{_fmt(ours, 0)} ms vs {_fmt(ort, 0)} ms ({_ratio(ours, ort)})",
                    within(ours, ort, bound),
                )
            )
    rows += [
        (
            "QA cold start < 3 s, fresh process to first answer (fp32)",
            f"{_fmt(cold_qa, 2)} s (INT8: {_fmt(cold_int8, 2)} s)",
            None if cold_qa is None else cold_qa < 3,
        ),
        (
            "QA cold start < 3 s, container under the RIE with Lambda-like limits",
            f"{_fmt(cold_box, 2)} s",
            None if cold_box is None else cold_box < 3,
        ),
        (
            "NER handler overhead < 10% (vs bare ner-only spaCy, median of the rounds)",
            "–"
            if overhead is None
            else f"{overhead:.1%}"
            + (
                f" ({spread.min:.1%} to {spread.max:.1%} over {spread.rounds} rounds)"
                if spread
                else ""
            ),
            None if overhead is None else overhead < 0.10,
        ),
    ]
    lines = [
        "## Targets (issues 14 and 26)",
        "",
        "The default precision is `auto`: each model serves INT8 when its accuracy gate passed "
        "(`tools.int8_gate`, docs/int8-accuracy.md) and fp32 otherwise. The first rows measure "
        "it on a model the gate can judge; the random model's rows give both precisions. "
        "`-avx2` engines cap oneDNN at AVX2, what Lambda x86 guarantees; on a CPU without "
        "AVX-512 the capped and uncapped rows measure the same thing.",
        "",
        "| target | measured | verdict |",
        "|---|---|---|",
    ]
    lines += [f"| {a} | {b} | {verdict(c)} |" for a, b, c in rows]
    return lines


def _median_s(start: ColdStart | ImageColdStart | Skipped | None) -> float | None:
    """The median of a process or container cold start; None when skipped or not measured."""
    return start.median_s if isinstance(start, ColdStart | ImageColdStart) else None


def plots(r: BenchResults, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = {e: run for e, run in r.qa.items() if isinstance(run, QaRun)}
    names = []
    fig, ax = plt.subplots(figsize=(7, 4))
    for e, run in runs.items():
        if not run.e2e:
            continue
        xs = [int(w) for w in run.e2e]
        ax.plot(xs, [v.p50_ms for v in run.e2e.values()], marker="o", label=e)
    ax.set(
        xlabel="context words",
        ylabel="p50 ms",
        title="QA end-to-end latency (2 threads)",
        xscale="log",
        yscale="log",
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "qa_e2e.png", dpi=90)
    names.append("qa_e2e.png")
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(7, 4))
    for e, run in runs.items():
        xs = [int(b) for b in run.forward]
        ax.plot(xs, [v.p50_ms for v in run.forward.values()], marker="o", label=e)
    ax.set(xlabel="sequence length", ylabel="p50 ms", title="Forward only, batch 1 (2 threads)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "qa_forward.png", dpi=90)
    names.append("qa_forward.png")
    plt.close(fig)
    return names


def _fidelity_line(fid: Fidelity | None) -> str:
    if not fid:
        return "- INT8 fidelity: not available (run `make quantize MODEL_DIR=...`)."
    lg = fid.logits["128"]
    return (
        f"- INT8 fidelity vs fp32 (held-out windows, T=128): logits cosine {lg.cosine:.5f}, "
        f"max abs error {lg.max_abs_error:.4f} (max |logit| {lg.max_abs_logit:.3f}); "
        f"answers agree on {fid.answers_agree}/{fid.answers_total} pairs."
    )


def _token_line(r: BenchResults) -> str:
    note = r.tokens_per_window_note
    if not note or not note.sizes:
        return "- Tokens per word: not measured in this run."
    counts = ", ".join(
        f"{w} words -> {v.context_tokens} tokens ({v.tokens_per_word:.2f} per word)"
        for w, v in note.sizes.items()
    )
    return (
        f"- Its SentencePiece model has {note.pieces} pieces: {counts}. Latency per *word* compares "
        "with a real ALBERT checkpoint (30k pieces, not reachable here) only as far as tokens "
        "per word agree, so they stand beside every per-word figure; per-token figures are the "
        "forward table."
    )


def gemm_floor_section(r: BenchResults) -> list[str]:
    """bench.gemm_floor's section (INT8 and fp32 GEMMs, both engines), from the run's JSON."""
    return gemm_floor.markdown(r.gemm_floor)


#: The sections after the plots, in order: each renders one part of the results.
SECTIONS: tuple[Callable[[BenchResults], list[str]], ...] = (
    default_precision_section,
    gemm_floor_section,
    qa_tables,
    families_section,
    cold_table,
    ner_table,
    load_section,
    contention_section,
    designs_section,
    front_memory_section,
    cold_modes_section,
    cost_section,
)


def write(r: BenchResults, out: Path) -> None:
    m = r.machine
    end = "–" if m.load_avg_end is None else f"{m.load_avg_end[0]:.2f}"
    lines = [
        "# lambda-nlp benchmark report",
        "",
        f"Generated by `make bench` ({r.mode} mode) in {r.elapsed_s / 60:.1f} min. "
        "Every engine ran in its own process with 2 threads"
        + (
            f"; the QA engines ran in {r.plan.qa_rounds} rounds, each engine once per round in a "
            "rotating order, and each QA figure is over all rounds' calls"
            if r.plan.qa_rounds > 1
            else ""
        )
        + "; compare ratios within this report only (the machine is shared and noisy).",
        "",
        f"- Machine: {m.cpu}, {m.cores} cores, ISA {' '.join(m.isa)}; Python {m.python}; "
        f"load average at start {m.load_avg_start[0]:.2f}, at end {end}"
        + ("" if m.steal is None else f"; CPU steal over the run {m.steal:.1%}")
        + ".",
        "- Versions: " + ", ".join(f"{k} {v}" for k, v in m.versions.items() if v) + ".",
        "- Model: random ALBERT-base-sized QA checkpoint (E=128, H=768, 12 heads, 12 shared layers, vocab 30000) "
        "from `tools.checkpoints`; the same weights for every engine (ONNX via torch.onnx). Settings as the "
        "transformers pipeline's defaults: max_seq_len 384, doc_stride 128, max_question_len 64, max_answer_len 15, top_k 1.",
        _token_line(r),
        _fidelity_line(r.fidelity),
        "",
    ]
    lines += [*targets(r), ""]
    for png in plots(r, out):
        lines.append(f"![{png}]({png})")
    # The answer as pictures: cost per month by design, and each design's cold start and latency.
    front = None if r.front_memory is None else front_memory.section_from_json(r.front_memory)
    front_png = (
        front_memory.plot(front, out) if isinstance(front, front_memory.FrontMemory) else None
    )
    for picture in (cost_plot(r, out), designs_plot(r, out), front_png):
        if picture:
            lines += ["", f"![{picture}]({picture})"]
    for section in SECTIONS:
        lines += ["", *section(r)]
    (out / "report.md").write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    """Re-render the report from a saved report.json: python -m bench.report docs/bench"""
    args = sys.argv[1:] if argv is None else argv
    target = Path(args[0] if args else "docs/bench")
    results = BenchResults.from_json(json.loads((target / "report.json").read_text()))
    write(results, target)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
