"""Cost model: Lambda on-demand / SnapStart / provisioned vs Design 1 (Lambda -> SageMaker).

Measured: warm duration per request with 2 threads, process cold start. Modelled: everything
else. Assumptions (stated in the report):
- duration scales as 1/vCPUs up to the 2 threads measured and is flat beyond (the inference
  uses 2 threads; more vCPUs do not help unless threads scale), vCPUs = memory / 1769 MB;
- a fraction ``cold_fraction`` of requests start a new environment and pay the init duration;
- one SageMaker instance, always on, for 730 h a month; a 256 MB Lambda in front waits for it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import cast

from bench.records import CostRow, CostTable, Design1Cost, LambdaModes, Prices

PRICES = Path(__file__).with_name("prices.json")
MEMORY_SIZES_MB = (1769, 2048, 3008, 3538, 5308, 7076, 8846, 10240)
HOURS_PER_MONTH = 730
MEASURED_THREADS = 2


def load_prices(path: Path = PRICES) -> Prices:
    return cast(Prices, json.loads(path.read_text()))


def vcpus(memory_mb: int, prices: Prices) -> float:
    return float(min(memory_mb / prices["lambda"]["mb_per_vcpu"], prices["lambda"]["max_vcpus"]))


def scaled_duration(measured_s: float, memory_mb: int, prices: Prices) -> float:
    """Duration at ``memory_mb`` from the 2-thread measurement (see the module's assumption)."""
    return measured_s * MEASURED_THREADS / min(vcpus(memory_mb, prices), MEASURED_THREADS)


def per_request(duration_s: float, memory_mb: int, gb_second: float, request: float) -> float:
    return memory_mb / 1024 * duration_s * gb_second + request


def lambda_modes(
    warm_s: float,
    init_s: float,
    memory_mb: int,
    prices: Prices,
    cold_fraction: float,
    restore_s: float,
) -> LambdaModes:
    """USD per million requests (variable part) and fixed USD per month, per cold-start mode."""
    lam, pc, snap = prices["lambda"], prices["provisioned_concurrency"], prices["snapstart"]
    gb, req = memory_mb / 1024, lam["per_million_requests"] / 1e6
    d = scaled_duration(warm_s, memory_mb, prices)
    init = scaled_duration(init_s, memory_mb, prices)
    on_demand = (
        per_request(d, memory_mb, lam["gb_second"], req)
        + cold_fraction * gb * init * lam["gb_second"]
    )
    snapstart = per_request(d, memory_mb, lam["gb_second"], req) + cold_fraction * gb * (
        snap["restore_per_gb"] + restore_s * lam["gb_second"]
    )
    provisioned = per_request(d, memory_mb, pc["gb_second_duration"], req)
    month_s = HOURS_PER_MONTH * 3600
    return LambdaModes(
        duration_s=d,
        on_demand_per_m=on_demand * 1e6,
        snapstart_per_m=snapstart * 1e6,
        snapstart_fixed_month=gb * month_s * snap["cache_gb_second"],
        provisioned_per_m=provisioned * 1e6,
        provisioned_fixed_month=gb * month_s * pc["gb_second_provisioned"],
        # One warm environment serves at most this many requests a month, one at a time.
        provisioned_capacity_month=month_s / d,
    )


def design1(endpoint_s: float, prices: Prices) -> Design1Cost:
    """Lambda in front of a SageMaker real-time endpoint (one instance, always on)."""
    sm, front, lam = prices["sagemaker_realtime"], prices["design1_front_lambda"], prices["lambda"]
    per_req = per_request(
        endpoint_s + front["overhead_ms"] / 1000,
        front["memory_mb"],
        lam["gb_second"],
        lam["per_million_requests"] / 1e6,
    )
    return Design1Cost(
        fixed_month=sm["hourly"] * HOURS_PER_MONTH,
        variable_per_m=per_req * 1e6,
        capacity_month=HOURS_PER_MONTH * 3600 / endpoint_s,
        instance=sm["instance"],
    )


def break_even(fixed_month: float, cheaper_per_m: float, dearer_per_m: float) -> float | None:
    """Requests/month above which paying ``fixed_month`` for the cheaper variable rate wins."""
    saving = (dearer_per_m - cheaper_per_m) / 1e6
    return fixed_month / saving if saving > 0 else None


def cost_table(
    workload: str,
    warm_s: float,
    init_s: float,
    prices: Prices,
    cold_fraction: float = 0.01,
    restore_s: float = 0.5,
) -> CostTable:
    """Per memory size: cost per million in each mode, and break-even points."""
    d1 = design1(warm_s, prices)  # the endpoint has the same 2 vCPUs as the measurement
    rows = []
    for memory in MEMORY_SIZES_MB:
        m = lambda_modes(warm_s, init_s, memory, prices, cold_fraction, restore_s)
        rows.append(
            CostRow(
                memory_mb=memory,
                vcpus=round(vcpus(memory, prices), 2),
                modes=m,
                break_even_design1=break_even(d1.fixed_month, d1.variable_per_m, m.on_demand_per_m),
                break_even_provisioned=break_even(
                    m.provisioned_fixed_month, m.provisioned_per_m, m.on_demand_per_m
                ),
                break_even_snapstart=break_even(
                    m.snapstart_fixed_month, m.snapstart_per_m, m.on_demand_per_m
                ),
            )
        )
    return CostTable(
        workload=workload,
        warm_s_2_threads=warm_s,
        init_s=init_s,
        cold_fraction=cold_fraction,
        restore_s_assumed=restore_s,
        design1=d1,
        rows=tuple(rows),
    )
