"""The report's pictures of the Lambda-or-SageMaker question: monthly cost per design against
monthly requests (``cost.png``), and cold start and warm latency per design (``designs.png``).

Every number comes from the records (bench.cost is the model); matplotlib runs on Agg.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.records import (
    BenchResults,
    ContainerRun,
    CostRow,
    CostTable,
    DesignHop,
    Designs,
    Failed,
    ServeColdRun,
)

#: The memory size the README quotes (2 vCPUs, the threads measured).
COST_MEMORY_MB = 3538
#: Monthly requests the cost picture spans.
REQUESTS_RANGE = (1e4, 1e9)
DPI = 100

LAMBDA = "#e07b00"  # Design 2 on demand
LAMBDA_SNAP = "#b5651d"
LAMBDA_PROVISIONED = "#c0392b"
SAGEMAKER = "#1f5fa8"  # Design 1
MODEL_ALONE = "#9a9a9a"
LAMBDA_TINT = "#fde9d0"
SAGEMAKER_TINT = "#dbe7f6"


# --- cost -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CostCurves:
    """Monthly USD per design at each monthly request count in ``requests``."""

    requests: tuple[float, ...]
    on_demand: tuple[float, ...]
    snapstart: tuple[float, ...]
    provisioned: tuple[float, ...]
    design1: tuple[float, ...]


def instances(requests: float, capacity_month: float) -> int:
    """Always-on units (SageMaker instances, provisioned environments) that serve ``requests`` a
    month, each at most ``capacity_month``; at least one."""
    return max(1, math.ceil(requests / capacity_month))


def monthly_costs(
    table: CostTable, row: CostRow, requests: float
) -> tuple[float, float, float, float]:
    """USD/month at ``requests``/month: on demand, SnapStart, provisioned, Design 1."""
    m, d1 = row.modes, table.design1
    millions = requests / 1e6
    return (
        millions * m.on_demand_per_m,
        m.snapstart_fixed_month + millions * m.snapstart_per_m,
        instances(requests, m.provisioned_capacity_month) * m.provisioned_fixed_month
        + millions * m.provisioned_per_m,
        instances(requests, d1.capacity_month) * d1.fixed_month + millions * d1.variable_per_m,
    )


def request_grid(
    table: CostTable,
    row: CostRow,
    span: tuple[float, float] = REQUESTS_RANGE,
    points: int = 400,
) -> tuple[float, ...]:
    """Log-spaced request counts over ``span``, plus both sides of every step where Design 1 or
    provisioned adds an instance, so the steps draw upright."""
    lo, hi = math.log10(span[0]), math.log10(span[1])
    grid = {10 ** (lo + (hi - lo) * i / (points - 1)) for i in range(points)}
    for capacity in (table.design1.capacity_month, row.modes.provisioned_capacity_month):
        k = 1
        while k * capacity < span[1]:
            if k * capacity > span[0]:
                grid |= {k * capacity, k * capacity * (1 + 1e-9)}
            k += 1
    return tuple(sorted(grid))


def cost_curves(table: CostTable, row: CostRow, requests: Sequence[float]) -> CostCurves:
    """:func:`monthly_costs` at each of ``requests``."""
    columns = list(zip(*(monthly_costs(table, row, n) for n in requests), strict=True))
    return CostCurves(tuple(requests), *(tuple(c) for c in columns))


def cost_row(table: CostTable, memory_mb: int = COST_MEMORY_MB) -> CostRow | None:
    """The table's row at ``memory_mb``; None when it has none."""
    return next((r for r in table.rows if r.memory_mb == memory_mb), None)


def workload_label(key: str, table: CostTable) -> str:
    """A cost table's workload for a reader: ``qa-150w-project-fp32`` -> ``QA fp32, ...``."""
    words = next((p[:-1] for p in key.split("-") if p.endswith("w") and p[:-1].isdigit()), None)
    if key.startswith("ner"):
        return "NER" + (f", ~{words}-word text" if words else "")
    precision = "INT8" if "int8" in key else "fp32" if "fp32" in key else None
    if not key.startswith("qa") or precision is None:
        return table.workload
    return f"QA {precision}" + (f", ~{words}-word context" if words else "")


def _order(key: str) -> tuple[int, str]:
    """QA fp32, QA INT8, then NER: the README's order."""
    rank = 0 if "fp32" in key else 1 if "int8" in key else 2 if key.startswith("qa") else 3
    return rank, key


def millions_label(requests: float) -> str:
    """``7629716.7`` -> ``7.6 M/month``."""
    m = requests / 1e6
    return f"{m:.2g} M/month" if m < 1 else f"{m:,.1f} M/month" if m < 100 else f"{m:,.0f} M/month"


def _count(value: float) -> str:
    for scale, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if value >= scale:
            return f"{value / scale:g}{suffix}"
    return f"{value:g}"


def _usd(value: float) -> str:
    if value >= 1000:
        return f"${value / 1000:g}k"
    return f"${value:g}"


def _spans(requests: Sequence[float], mask: Sequence[bool]) -> list[tuple[float, float]]:
    """The ranges of ``requests`` over which ``mask`` holds, each from its first to the next
    point."""
    spans: list[tuple[float, float]] = []
    start: float | None = None
    for i, (n, on) in enumerate(zip(requests, mask, strict=True)):
        if on and start is None:
            start = n
        if start is not None and (not on or i == len(requests) - 1):
            spans.append((start, n))
            start = None
    return spans


def cost_plot(results: BenchResults, out: Path, memory_mb: int = COST_MEMORY_MB) -> str | None:
    """Draw ``cost.png`` in ``out``: one panel per cost table at ``memory_mb``; its file name, or
    None when the run has no cost table with that memory size."""
    tables = [
        (key, table, row)
        for key, table in sorted(results.cost.tables.items(), key=lambda kv: _order(kv[0]))
        if (row := cost_row(table, memory_mb)) is not None
    ]
    if not tables:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    height = 1.0 + 3.0 * len(tables)
    fig, axes = plt.subplots(len(tables), 1, figsize=(9, height), sharex=True, squeeze=False)
    instance = tables[0][1].design1.instance
    vcpus = tables[0][2].vcpus
    for ax, (key, table, row) in zip(axes[:, 0], tables, strict=True):
        curves = cost_curves(table, row, request_grid(table, row))
        n = curves.requests
        lambda_cheaper = [a < b for a, b in zip(curves.on_demand, curves.design1, strict=True)]
        for spans, tint in (
            (_spans(n, lambda_cheaper), LAMBDA_TINT),
            (_spans(n, [not c for c in lambda_cheaper]), SAGEMAKER_TINT),
        ):
            for a, b in spans:
                ax.axvspan(a, b, color=tint, lw=0, zorder=0)
        ax.plot(n, curves.provisioned, color=LAMBDA_PROVISIONED, lw=1.5, ls=":", zorder=2)
        ax.plot(n, curves.snapstart, color=LAMBDA_SNAP, lw=1.5, ls="--", zorder=2)
        ax.plot(n, curves.design1, color=SAGEMAKER, lw=2.4, zorder=3)
        ax.plot(n, curves.on_demand, color=LAMBDA, lw=2.4, zorder=3)
        be = row.break_even_design1
        if be is not None and REQUESTS_RANGE[0] < be < REQUESTS_RANGE[1]:
            usd = be / 1e6 * row.modes.on_demand_per_m
            ax.plot([be], [usd], "o", color="black", ms=6, zorder=4)
            ax.annotate(
                f"{millions_label(be)}\n(${usd:,.0f}/month)",
                (be, usd),
                xytext=(-10, 10),
                textcoords="offset points",
                ha="right",
                fontsize=9,
                fontweight="bold",
                bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.8},
                zorder=5,
            )
        ax.text(
            0.01,
            0.95,
            "Lambda (on demand) cheaper",
            transform=ax.transAxes,
            va="top",
            fontsize=9,
            color=LAMBDA,
            fontweight="bold",
        )
        ax.text(
            0.99,
            0.05,
            "SageMaker (Design 1) cheaper than Lambda on demand",
            transform=ax.transAxes,
            ha="right",
            va="bottom",
            fontsize=9,
            color=SAGEMAKER,
            fontweight="bold",
        )
        ax.set_title(
            f"{workload_label(key, table)}: Lambda {row.modes.duration_s * 1000:,.0f} ms per "
            f"request; one {table.design1.instance} serves "
            f"{millions_label(table.design1.capacity_month)} (busy all month)",
            fontsize=10,
            loc="left",
        )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(*REQUESTS_RANGE)
        ax.set_ylabel("USD per month")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _usd(v)))
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.grid(True, which="major", color="white", lw=0.8, zorder=1)
        ax.set_axisbelow(True)
    bottom = axes[-1, 0]
    bottom.set_xlabel("requests per month")
    lo, hi = (round(math.log10(v)) for v in REQUESTS_RANGE)
    bottom.xaxis.set_major_locator(FixedLocator([10.0**e for e in range(lo, hi + 1)]))
    bottom.xaxis.set_major_formatter(FuncFormatter(lambda v, _: _count(v)))
    handles = [
        Line2D([], [], color=LAMBDA, lw=2.4, label="Design 2: Lambda on demand"),
        Line2D([], [], color=LAMBDA_SNAP, lw=1.5, ls="--", label="Design 2: Lambda SnapStart"),
        Line2D(
            [],
            [],
            color=LAMBDA_PROVISIONED,
            lw=1.5,
            ls=":",
            label="Design 2: Lambda, provisioned concurrency",
        ),
        Line2D(
            [],
            [],
            color=SAGEMAKER,
            lw=2.4,
            label=f"Design 1: Lambda -> SageMaker, always-on {instance} instances",
        ),
        Line2D([], [], color="black", marker="o", ls="", label="break-even, on demand vs Design 1"),
    ]
    fig.suptitle(
        f"Monthly cost by design at {memory_mb:,} MB ({vcpus:g} vCPUs), modelled from this run's "
        "durations",
        fontsize=12,
        x=0.01,
        ha="left",
    )
    fig.legend(handles=handles, loc="lower center", ncol=2, fontsize=8.5, frameon=False)
    fig.tight_layout(rect=(0, 0.7 / height, 1, 1))  # 0.7 in for the legend
    name = "cost.png"
    fig.savefig(out / name, dpi=DPI)
    plt.close(fig)
    return name


# --- Design 1 vs Design 2 -----------------------------------------------------------------------


@dataclass(frozen=True)
class ColdBar:
    """One cold-start bar: what started, the median seconds to its first answer and the runs."""

    label: str
    design: int
    median_s: float
    runs: int


def cold_bars(d: Designs) -> list[ColdBar]:
    """Design 2's function and Design 1's serving container per service, then Design 1's front
    per memory size; medians over the runs answered 200 (a kind with none is left out)."""
    if isinstance(d.cold, Failed):
        return []
    bars = []
    for service in sorted(set(d.cold.design2) | set(d.cold.design1)):
        name = service.upper()
        rie = [
            x.seconds
            for x in d.cold.design2.get(service, ())
            if isinstance(x, ContainerRun) and x.status == 200
        ]
        serve = [x.answer_s for x in d.cold.design1.get(service, ()) if isinstance(x, ServeColdRun)]
        if rie:
            label = f"{name}, Design 2: a new Lambda environment"
            bars.append(ColdBar(label, 2, statistics.median(rie), len(rie)))
        if serve:
            label = f"{name}, Design 1: a new endpoint instance (serve)"
            bars.append(ColdBar(label, 1, statistics.median(serve), len(serve)))
    for mb, runs in d.cold.front.items():
        ok = [x.seconds for x in runs if isinstance(x, ContainerRun) and x.status == 200]
        cpus = next((f" ({x.cpus} CPUs)" for x in runs if isinstance(x, ContainerRun)), "")
        if ok:
            label = f"Design 1: a new front environment, {int(mb):,} MB{cpus}"
            bars.append(ColdBar(label, 1, statistics.median(ok), len(ok)))
    return bars


#: The hop's paths as the warm panels show them.
WARM_PATHS = (
    ("serve", "model alone\n(/invocations)", MODEL_ALONE),
    ("design2", "Design 2\n(Lambda)", LAMBDA),
    ("design1", "Design 1\n(front + SageMaker)", SAGEMAKER),
)


def designs_plot(results: BenchResults, out: Path) -> str | None:
    """Draw ``designs.png`` in ``out``: cold starts, and warm p50 (to p90) per service and path;
    its file name, or None when the designs section was not measured."""
    d = results.designs
    if not isinstance(d, Designs):
        return None
    hops = {s: h for s, h in d.hop.items() if isinstance(h, DesignHop)}
    bars = cold_bars(d)
    if not hops and not bars:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(9, 7), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=(1, 1.05))
    ax = top.subplots()
    if bars:
        ys = list(range(len(bars)))[::-1]
        colors = [LAMBDA if b.design == 2 else SAGEMAKER for b in bars]
        ax.barh(ys, [b.median_s for b in bars], color=colors, height=0.65)
        ax.set_yticks(ys, [b.label for b in bars], fontsize=9)
        for y, b in zip(ys, bars, strict=True):
            ax.text(b.median_s, y, f" {b.median_s:.2f} s", va="center", fontsize=9)
        ax.set_xlim(0, max(b.median_s for b in bars) * 1.15)
        ax.set_xlabel("seconds from docker run to the first answer (median of the runs)")
    else:
        ax.text(0.5, 0.5, "cold starts not measured", ha="center", transform=ax.transAxes)
    ax.set_title(
        "Cold start: a new environment or instance to its first answer",
        fontsize=10,
        loc="left",
    )
    top.suptitle(
        f"Design 1 vs Design 2, measured locally (same images, {d.memory_mb:,} MB, {d.cpus} CPUs)",
        fontsize=11,
        x=0.01,
        ha="left",
    )
    axes = bottom.subplots(1, max(1, len(hops)), squeeze=False)[0]
    if not hops:
        axes[0].text(
            0.5, 0.5, "warm latency not measured", ha="center", transform=axes[0].transAxes
        )
        axes[0].set_axis_off()
    for ax, (service, hop) in zip(axes, hops.items(), strict=False):
        shown = [(p, label, color) for p, label, color in WARM_PATHS if p in hop.paths]
        xs = list(range(len(shown)))
        p50 = [hop.paths[p].p50_ms for p, _, _ in shown]
        p90 = [hop.paths[p].p90_ms for p, _, _ in shown]
        ax.bar(xs, p50, color=[c for _, _, c in shown], width=0.6)
        ax.errorbar(
            xs,
            p50,
            yerr=[[0.0] * len(shown), [high - low for low, high in zip(p50, p90, strict=True)]],
            fmt="none",
            ecolor="black",
            capsize=4,
            lw=1,
        )
        for x, (p, _, _), low, high in zip(xs, shown, p50, p90, strict=True):
            ax.text(x, low / 2, f"{low:,.1f}", ha="center", va="center", fontsize=9, color="white")
            added = hop.added.get(p)
            if added is not None:
                text = f"{added.paired_median_ms:+.1f} ms"
                ax.text(x, high, text, ha="center", va="bottom", fontsize=9)
        ax.set_xticks(xs, [label for _, label, _ in shown], fontsize=9)
        ax.set_ylim(0, max(p90) * 1.15)
        ax.set_ylabel("ms per request")
        what = "text" if service == "ner" else "context"
        ax.set_title(f"{service.upper()} warm, ~{hop.input_words}-word {what}", fontsize=10)
    bottom.suptitle(
        "Warm latency: p50 in the bar, whisker to p90; above: added over the model alone "
        "(paired median)",
        fontsize=10,
        x=0.01,
        ha="left",
    )
    name = "designs.png"
    fig.savefig(out / name, dpi=DPI)
    plt.close(fig)
    return name
