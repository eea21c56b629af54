"""Core ML on macOS: latency per compute-unit setting and the compute plan's device per op.

Core ML chooses devices itself; the compute-unit setting only allows them. So each setting is
timed separately, and MLComputePlan (macOS 14.4+) says which device each ML program op
prefers, with its estimated share of the cost. Off macOS none of this can run (predict,
compile_model and MLComputePlan need Core ML itself): the profile then holds the static census
(census.coreml_census) and says what was not measured.
"""

from __future__ import annotations

import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from cea_edge.profile.schema import Latency
from cea_edge.profile.timing import graph_calls, latency_row, time_calls
from cea_edge.runtime.backends import open_backend

COMPUTE_UNITS = ("CPU_ONLY", "CPU_AND_GPU", "CPU_AND_NE", "ALL")


def unavailable() -> str:
    """Why Core ML cannot be timed here ('' on macOS)."""
    if sys.platform != "darwin":
        return (f"latency per compute-unit setting, compute plan, end-to-end photo and peak RSS: not measured -- "
                f"Core ML predicts on macOS only, not on {sys.platform}; the census is read statically from the package")
    return ""


def latency(path: Path, units: list[str], runs: int, warmup: int) -> list[Latency]:
    rows = []
    for unit in units:
        backend = open_backend(path, compute_units=unit)
        for graph, call in graph_calls(backend).items():
            rows.append(latency_row(graph, None, time_calls(call, runs, warmup), compute_units=unit))
    return rows


def _device_name(device: Any) -> str:
    # MLCPUComputeDevice / MLGPUComputeDevice / MLNeuralEngineComputeDevice
    return type(device).__name__.removeprefix("ML").removesuffix("ComputeDevice") or "unknown"


def compute_plan(path: Path, unit: str) -> dict[str, Any]:
    """op type -> preferred device -> count, and each device's estimated share of the cost."""
    import coremltools as ct
    from coremltools.models.compute_plan import MLComputePlan

    model = ct.models.MLModel(str(path), compute_units=ct.ComputeUnit[unit])  # members only (COMPUTE_UNITS)
    plan = MLComputePlan.load_from_path(model.get_compiled_model_path(), ct.ComputeUnit[unit])
    program = plan.model_structure.program
    placement: dict[str, Counter] = defaultdict(Counter)
    cost: Counter = Counter()
    for operation in program.functions["main"].block.operations:
        if operation.operator_name == "const":
            continue
        usage = plan.get_compute_device_usage_for_mlprogram_operation(operation)
        device = _device_name(usage.preferred_compute_device) if usage is not None else "unknown"
        placement[operation.operator_name][device] += 1
        estimate = plan.get_estimated_cost_for_mlprogram_operation(operation)
        cost[device] += estimate.weight if estimate is not None else 0.0
    return {"compute_units": unit, "ops_by_device": {op: dict(c) for op, c in sorted(placement.items())},
            "cost_share_by_device": dict(cost)}


def measure(path: Path, units: list[str], runs: int, warmup: int) -> tuple[list[Latency], dict[str, Any], list[str]]:
    """(latency rows, compute plans, statements of what was not measured)."""
    reason = unavailable()
    if reason:
        return [], {}, [reason]
    rows = latency(path, units, runs, warmup)
    plans, missing = {}, []
    for unit in units:
        try:
            plans[unit] = compute_plan(path, unit)
        except Exception as error:  # noqa: BLE001 -- MLComputePlan needs macOS 14.4+: say so, keep the timings
            missing.append(f"compute plan ({unit}): not available ({type(error).__name__}: {str(error)[:120]})")
    return rows, plans, missing
