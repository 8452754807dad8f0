"""docs/bench/report.md and PNG plots from the run's results (report.json has everything)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.cost import break_even

PEERS = ("transformers", "ort-fp32")
TARGET_WORDS = "150"


def token_note(paths: dict[str, str | None]) -> dict[str, Any]:
    """Context tokens and tokens per word per context size, with the checkpoint's tokenizer.

    Latency per word compares with a real checkpoint only as far as tokens per word do (the
    real ALBERT vocabulary has 30k pieces), so the report prints them beside per-word figures.
    """
    from transformers import AutoTokenizer

    from bench.texts import pairs_for

    tok = AutoTokenizer.from_pretrained(str(paths["hf"]))
    sizes = {}
    for words in (50, 150, 400, 800, 1500):
        pairs = pairs_for(words, 3)  # the bench's first contexts of this size
        tokens = [len(tok(p.context, add_special_tokens=False)["input_ids"]) for p in pairs]
        n_words = sum(p.context_words for p in pairs)
        sizes[str(words)] = {
            "context_tokens": round(sum(tokens) / len(tokens)),
            "tokens_per_word": round(sum(tokens) / n_words, 2),
        }
    return {"pieces": len(tok), "sizes": sizes}


def _tokens(r: dict[str, Any]) -> tuple[int | None, dict[str, Any]]:
    """(SentencePiece pieces, tokens per context size) from the run's token note.

    A report.json from before the piece count was recorded has only the sizes (1000 pieces).
    """
    note = r.get("tokens_per_window_note") or {}
    if "sizes" in note:
        return note.get("pieces"), note["sizes"]
    return (1000 if note else None), note


def _tokens_phrase(r: dict[str, Any], words: str) -> str:
    item = _tokens(r)[1].get(words)
    if not item:
        return "tokens not measured"
    return f"{item['context_tokens']} tokens, {item['tokens_per_word']:.2f} per word"


def _tokens_cell(r: dict[str, Any], words: str) -> str:
    item = _tokens(r)[1].get(words)
    return "–" if not item else f"{item['context_tokens']} ({item['tokens_per_word']:.2f})"


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def _p50(results: dict[str, Any], engine: str, kind: str, key: str) -> float | None:
    item = results["qa"].get(engine, {}).get(kind, {}).get(key)
    return None if not item else float(item["p50_ms"])


def _ratio(a: float | None, b: float | None) -> str:
    return "–" if a is None or b is None or b == 0 else f"{a / b:.2f}"


def qa_tables(r: dict[str, Any]) -> list[str]:
    engines = [e for e in r["qa"] if "error" not in r["qa"][e]]
    lines = ["## QA end-to-end latency (tokenise, windows, forward, decode), ms", ""]
    sizes = [str(w) for w, _ in r["plan"]["sizes"]]
    lines.append(
        "| context words | context tokens (per word) | "
        + " | ".join(f"{e} p50 / p90" for e in engines if r["qa"][e]["e2e"])
        + " |"
    )
    lines.append("|---" * (2 + sum(1 for e in engines if r["qa"][e]["e2e"])) + "|")
    for words in sizes:
        cells = []
        for e in engines:
            if not r["qa"][e]["e2e"]:
                continue
            item = r["qa"][e]["e2e"].get(words)
            cells.append("–" if not item else f"{item['p50_ms']:,.0f} / {item['p90_ms']:,.0f}")
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
    buckets = [str(b) for b in r["plan"]["buckets"]]
    lines.append("| engine | " + " | ".join(f"T={b}" for b in buckets) + " |")
    lines.append("|---" * (1 + len(buckets)) + "|")
    for e, item in r["qa"].items():
        if "error" in item:
            lines.append(f"| {e} | not measured: {item['error']} |" + " |" * (len(buckets) - 1))
            continue
        lines.append(
            f"| {e} | "
            + " | ".join(_fmt(item["forward"].get(b, {}).get("p50_ms")) for b in buckets)
            + " |"
        )
    return lines


def cold_table(r: dict[str, Any]) -> list[str]:
    lines = [
        "## Cold start: fresh process to first answer (imports, load, warm-up, first request)",
        "",
        "| process | median s | min s | until loaded s | init phases, s (import / load / warm-up / "
        "request path) | errors |",
        "|---|---|---|---|---|---|",
    ]
    for name, item in r["cold"].items():
        ph = item.get("phases")
        phases = (
            " / ".join(_fmt(ph.get(k), 2) for k in ("import", "load", "warmup", "request_path"))
            if ph
            else "–"
        )
        lines.append(
            f"| {name} | {_fmt(item['median_s'], 2)} | {_fmt(item['min_s'], 2)} | "
            f"{_fmt(item['loaded_s'], 2)} | {phases} | {'; '.join(item['errors']) or '–'} |"
        )
    lines += [
        "",
        "Process cold start runs from spawning the interpreter to the first answer; the phases "
        "are what the function logs on `init_complete` (the rest is the interpreter and the web "
        "stack's imports, and the first request).",
    ]
    c = r["containers"]
    lines += ["", "## Container images (RIE, Lambda-like limits)", ""]
    if "skipped" in c:
        lines.append(f"Skipped: {c['skipped']}.")
        return lines
    lines += [
        "| image | size MB | added on base MB | cold start to first answer, median s | limits |",
        "|---|---|---|---|---|",
    ]
    for name in ("ner", "qa"):
        size, start = c["sizes"][name], c["cold_start"][name]
        mb = None if size["bytes"] is None else size["bytes"] / 1e6
        added = None if size.get("added_bytes") is None else size["added_bytes"] / 1e6
        limits = (
            "–"
            if "skipped" in start
            else f"{start['memory_mb']} MB, {start['runs'][0].get('cpus', '?')} CPUs, read-only root"
        )
        note = start.get("skipped") or _fmt(start.get("median_s"), 2)
        if not start.get("median_s") and "runs" in start:
            note = "no 200 answer: " + "; ".join(
                str(x.get("error") or x.get("body", ""))[:120] for x in start["runs"]
            )
        lines.append(f"| {size['tag']} | {_fmt(mb, 0)} | {_fmt(added, 0)} | {note} | {limits} |")
    lines.append(
        f"\nBase image {c['sizes']['base']['tag']}: {_fmt((c['sizes']['base']['bytes'] or 0) / 1e6, 0)} MB."
    )
    return lines


def ner_table(r: dict[str, Any]) -> list[str]:
    n = r["ner"]
    if "error" in n:
        return ["## NER", "", f"Not measured: {n['error']}"]
    s, b = n["single"], n["batch"]
    lines = [
        "## NER",
        "",
        f"One ~{n['text_words']}-word text, p50 ms (n={s['handler']['n']}, pooled over the rounds):",
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
        lines.append(f"| {label} | {s[key]['p50_ms']:.2f} | {s[key]['p90_ms']:.2f} |")
    lines += [
        "",
        *_overhead_lines(n),
        "",
        f"Batch of {n['batch_texts']} texts, words/second:",
        "",
        "| path | p50 ms | words/s |",
        "|---|---|---|",
    ]
    for key, label in (
        ("pipe_full", "nlp.pipe, full pipeline"),
        ("pipe_ner_only", "nlp.pipe, ner only"),
        ("handler_batch", "Mangum handler, /ner/batch"),
    ):
        lines.append(f"| {label} | {b[key]['p50_ms']:.0f} | {b[key]['words_per_s']:,.0f} |")
    lines += [
        "",
        f"Model load: all components {n['load_s']['full']:.2f} s, ner only {n['load_s']['ner_only']:.2f} s "
        f"(components kept: {', '.join(n['components']['ner_only'])}; excluded: "
        f"{', '.join(c for c in n['components']['full'] if c not in n['components']['ner_only'])}).",
    ]
    return lines


def ner_overhead(n: dict[str, Any]) -> float | None:
    """The handler's overhead over bare ner-only spaCy: the median of the rounds' ratios."""
    if "error" in n:
        return None
    if "overhead" in n:
        return float(n["overhead"]["median"])
    s = n["single"]  # a report.json from before the rounds: one pass
    return float(s["handler"]["p50_ms"] / s["bare_ner_only"]["p50_ms"] - 1)


def _overhead_lines(n: dict[str, Any]) -> list[str]:
    s = n["single"]
    vs_full = (s["handler"]["p50_ms"] / s["bare_full"]["p50_ms"] - 1) * 100
    o = n.get("overhead")
    if not o:
        return [
            f"Handler overhead vs bare ner-only spaCy: **{ner_overhead(n) or 0.0:.1%}** "
            f"({s['handler']['p50_ms'] - s['bare_ner_only']['p50_ms']:.2f} ms); vs the full "
            f"pipeline: {vs_full:.1f}%."
        ]
    rounds = ", ".join(f"{r['overhead']:.1%}" for r in o["per_round"])
    cpu = ", ".join(f"{r['cpu_overhead']:.1%}" for r in o["per_round"])
    return [
        f"Handler overhead vs bare ner-only spaCy: **{o['median']:.1%}** ({o['median_ms']:.2f} ms), "
        f"the median of {o['rounds']} rounds of {o['reps_per_round']} interleaved requests "
        f"(rounds: {rounds}; spread {o['min']:.1%} to {o['max']:.1%}); vs the full pipeline: "
        f"{vs_full:.1f}%.",
        f"In process CPU time (what other jobs on the machine cannot add): {o['cpu_median']:.1%} "
        f"(rounds: {cpu}).",
    ]


def load_section(r: dict[str, Any]) -> list[str]:
    """Bounded load through the compose stack's front door (bench/load.py)."""
    data = r.get("load")
    lines = ["## Load on the local stack (loopback, 8 concurrent clients, front door + RIE)", ""]
    if not data:
        return [*lines, "Not measured in this run."]
    if "skipped" in data:
        return [*lines, f"Skipped: {data['skipped']}."]
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
            f"| {name} ({item['distinct_inputs']} inputs) | {item['requests']:,} | {item['errors']} | "
            f"{item['mismatches']} | {item['requests_per_s']:.1f} | {item['p50_ms']:.0f} / "
            f"{item['p90_ms']:.0f} / {item['p99_ms']:.0f} | {_fmt(item['rss_before_mb'])} → "
            f"{_fmt(item['rss_after_mb'])} |"
        )
    return lines


def cold_modes_section(r: dict[str, Any]) -> list[str]:
    """The three ColdStartMode choices side by side: what a new environment waits for, and cost."""
    tables = r["cost"]["tables"]
    containers = r.get("containers", {}).get("cold_start", {})
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

    def design1_above(d1: dict[str, Any], fixed: float, per_m: float) -> str:
        # Design 1 pays more fixed and less per request: it wins above the crossing point.
        if d1["variable_per_m"] >= per_m:
            return "never"
        if d1["fixed_month"] <= fixed:
            return "always"
        return millions(break_even(d1["fixed_month"] - fixed, d1["variable_per_m"], per_m))

    # The QA image runs fp32 (QA_PRECISION's default), so only fp32 has a container figure.
    container_of = {"ner-100w": "ner", "qa-150w-project-fp32": "qa"}
    for key, table in tables.items():
        row = next((x for x in table["rows"] if x["vcpus"] == 2.0), table["rows"][-1])
        box = containers.get(container_of.get(key, ""), {}).get("median_s")
        measured = f"{table['init_s']:.2f} s process" + (f", {box:.2f} s container" if box else "")
        name, d1 = table["workload"], table["design1"]
        snap = (row["snapstart_fixed_month"], row["snapstart_per_m"])
        prov = (row["provisioned_fixed_month"], row["provisioned_per_m"])
        lines += [
            f"| {name} | none (on demand) | {measured} | measured | "
            f"{row['on_demand_per_m']:.2f} | 0 | – | "
            f"{design1_above(d1, 0.0, row['on_demand_per_m'])} |",
            f"| {name} | snapstart | ~{table['restore_s_assumed']} s restore | assumed | "
            f"{snap[1]:.2f} | {snap[0]:.2f} | {millions(row['break_even_snapstart'])} | "
            f"{design1_above(d1, *snap)} |",
            f"| {name} | provisioned | 0 s within the provisioned concurrency | by design | "
            f"{prov[1]:.2f} | {prov[0]:.2f} | {millions(row['break_even_provisioned'])} | "
            f"{design1_above(d1, *prov)} |",
        ]
    lines += [
        "",
        "One provisioned environment serves one request at a time, so its break-even is close to "
        "its whole capacity; beyond that, requests spill over to on-demand environments and "
        "their cold starts. Design 1 is one always-on SageMaker instance behind a small Lambda.",
    ]
    return lines


def cost_section(r: dict[str, Any]) -> list[str]:
    c = r["cost"]
    lines = [
        "## Cost model (modelled from the measured durations; prices in bench/prices.json, "
        f"recorded {c['prices']['recorded']})",
        "",
    ]
    for table in c["tables"].values():
        d1 = table["design1"]
        lines += [
            f"### {table['workload']}",
            "",
            f"Measured: {table['warm_s_2_threads'] * 1000:.0f} ms warm (2 threads), "
            f"{table['init_s']:.2f} s cold start. Assumed: {table['cold_fraction']:.0%} of requests cold; "
            f"SnapStart restore {table['restore_s_assumed']} s. Design 1: {d1['instance']} "
            f"${d1['fixed_month']:.0f}/month (one instance, capacity {d1['capacity_month'] / 1e6:.1f} M req/month) "
            f"+ ${d1['variable_per_m']:.2f}/M for the front Lambda.",
            "",
            "| memory MB | vCPU | duration ms | on-demand $/M | SnapStart $/M + $/month | provisioned (1 env) $/M + $/month | break-even vs Design 1, M req/month | provisioned break-even M/month |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for row in table["rows"]:
            be = row["break_even_design1"]
            bp = row["break_even_provisioned"]
            lines.append(
                f"| {row['memory_mb']} | {row['vcpus']} | {row['duration_s'] * 1000:.0f} | {row['on_demand_per_m']:.2f} | "
                f"{row['snapstart_per_m']:.2f} + {row['snapstart_fixed_month']:.2f} | "
                f"{row['provisioned_per_m']:.2f} + {row['provisioned_fixed_month']:.2f} | "
                f"{'never' if be is None else f'{be / 1e6:.2f}'} | "
                f"{'never' if bp is None else f'{bp / 1e6:.2f}'}"
                f"{'' if bp is None or bp <= row['provisioned_capacity_month'] else ' (beyond one env)'} |"
            )
        lines.append("")
    return lines


def targets(r: dict[str, Any]) -> list[str]:
    """Issue 14's targets, each as measured in this run (ratios within the run only)."""

    def verdict(ok: bool | None) -> str:
        return "not measured" if ok is None else ("**met**" if ok else "**not met**")

    def within(a: float | None, b: float | None, bound: float) -> bool | None:
        return None if a is None or b is None else a <= bound * b

    e2e = {e: _p50(r, e, "e2e", TARGET_WORDS) for e in r["qa"]}
    hf = e2e.get("transformers")
    fwd = {(e, t): _p50(r, e, "forward", t) for e in r["qa"] for t in ("128", "384")}
    cold_qa = r["cold"].get("project-qa-fp32", {}).get("median_s")
    cold_int8 = r["cold"].get("project-qa-int8", {}).get("median_s")
    containers = r.get("containers", {})
    cold_box = containers.get("cold_start", {}).get("qa", {}).get("median_s")
    overhead = ner_overhead(r["ner"])
    spread = r["ner"].get("overhead")
    rows: list[tuple[str, str, bool | None]] = []
    for engine, label, bound in (
        ("project-fp32", "default precision (fp32)", 0.5),
        ("project-int8", "INT8 (opt-in)", 0.5),
        ("project-int8-avx2", "INT8 with oneDNN capped at AVX2 (DNNL_MAX_CPU_ISA=AVX2)", 0.8),
    ):
        rows.append(
            (
                f"QA e2e p50 (~150 words: {_tokens_phrase(r, TARGET_WORDS)}), {label}, "
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
            "QA cold start < 3 s, fresh process to first answer (fp32, the default)",
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
                f" ({spread['min']:.1%} to {spread['max']:.1%} over {spread['rounds']} rounds)"
                if spread
                else ""
            ),
            None if overhead is None else overhead < 0.10,
        ),
    ]
    lines = [
        "## Targets (issue 14)",
        "",
        "The default precision is fp32: INT8 missed the accuracy rule on the model trained here "
        "(docs/int8-accuracy.md), so it stays opt-in (`QA_PRECISION=int8`). `project-int8-avx2` "
        "caps oneDNN at AVX2, what Lambda x86 guarantees; on a CPU without AVX-512 the two INT8 "
        "rows measure the same thing.",
        "",
        "| target | measured | verdict |",
        "|---|---|---|",
    ]
    lines += [f"| {a} | {b} | {verdict(c)} |" for a, b, c in rows]
    return lines


def plots(r: dict[str, Any], out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = []
    fig, ax = plt.subplots(figsize=(7, 4))
    for e, item in r["qa"].items():
        if "error" in item or not item["e2e"]:
            continue
        xs = [int(w) for w in item["e2e"]]
        ax.plot(xs, [v["p50_ms"] for v in item["e2e"].values()], marker="o", label=e)
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
    for e, item in r["qa"].items():
        if "error" in item:
            continue
        xs = [int(b) for b in item["forward"]]
        ax.plot(xs, [v["p50_ms"] for v in item["forward"].values()], marker="o", label=e)
    ax.set(xlabel="sequence length", ylabel="p50 ms", title="Forward only, batch 1 (2 threads)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "qa_forward.png", dpi=90)
    names.append("qa_forward.png")
    plt.close(fig)
    return names


def _fidelity_line(fid: dict[str, Any] | None) -> str:
    if not fid:
        return "- INT8 fidelity: not available (run `make quantize MODEL_DIR=...`)."
    lg = fid["logits"]["128"]
    return (
        f"- INT8 fidelity vs fp32 (held-out windows, T=128): logits cosine {lg['cosine']:.5f}, "
        f"max abs error {lg['max_abs_error']:.4f} (max |logit| {lg['max_abs_logit']:.3f}); "
        f"answers agree on {fid['answers_agree']}/{fid['answers_total']} pairs."
    )


def _token_line(r: dict[str, Any]) -> str:
    pieces, sizes = _tokens(r)
    if not sizes:
        return "- Tokens per word: not measured in this run."
    counts = ", ".join(
        f"{w} words -> {v['context_tokens']} tokens ({v['tokens_per_word']:.2f} per word)"
        for w, v in sizes.items()
    )
    return (
        f"- Its SentencePiece model has {pieces} pieces: {counts}. Latency per *word* compares "
        "with a real ALBERT checkpoint (30k pieces, not reachable here) only as far as tokens "
        "per word agree, so they stand beside every per-word figure; per-token figures are the "
        "forward table."
    )


def write(r: dict[str, Any], out: Path) -> None:
    m = r["machine"]
    fid = r["fidelity"]
    lines = [
        "# lambda-nlp benchmark report",
        "",
        f"Generated by `make bench` ({r['mode']} mode) in {r['elapsed_s'] / 60:.1f} min. "
        "Every engine ran in its own process with 2 threads; compare ratios within this report only "
        "(the machine is shared and noisy).",
        "",
        f"- Machine: {m['cpu']}, {m['cores']} cores, ISA {' '.join(m['isa'])}; Python {m['python']}; "
        f"load average at start {m['load_avg_start'][0]:.2f}, at end {m['load_avg_end'][0]:.2f}.",
        "- Versions: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items() if v) + ".",
        "- Model: random ALBERT-base-sized QA checkpoint (E=128, H=768, 12 heads, 12 shared layers, vocab 30000) "
        "from `tests.qa.checkpoints`; the same weights for every engine (ONNX via torch.onnx). Settings as the "
        "transformers pipeline's defaults: max_seq_len 384, doc_stride 128, max_question_len 64, max_answer_len 15, top_k 1.",
        _token_line(r),
        _fidelity_line(fid),
        "",
    ]
    lines += [*targets(r), ""]
    for png in plots(r, out):
        lines.append(f"![{png}]({png})")
    lines += ["", *qa_tables(r), "", *cold_table(r), "", *ner_table(r), "", *load_section(r)]
    lines += ["", *cold_modes_section(r), "", *cost_section(r)]
    (out / "report.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    # Re-render the report from a saved report.json: python -m bench.report docs/bench
    import json
    import sys

    target = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/bench")
    write(json.loads((target / "report.json").read_text()), target)
