"""The profile document: typed rows, the JSON they become, and the check an imported file passes.

A document is {"schema", "created", "machine", "peaks", "settings", "profiles"}; every profile
carries its own machine and peaks, so profiles taken elsewhere (a phone through ExecuTorch's
runner, a Mac) land in the same tables. The full field list is in cea_edge/profile/__init__.py.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cea_edge.contract import GRAPHS
from cea_edge.errors import CeaError
from cea_edge.recipe_io import read_json

SCHEMA = "cea-edge-profile/1"


@dataclass
class Latency:
    """One graph at one thread count (or Core ML compute-unit setting): seconds per call, in ms."""

    graph: str  # forward | context | forward_global
    threads: int | None  # None: the runtime decides (Core ML)
    runs: int
    median_ms: float
    p10_ms: float
    p90_ms: float
    compute_units: str | None = None  # Core ML only
    gflops: float | None = None  # achieved: model GFLOPs per tile / median (forward only)
    peak_fp32_gflops: float | None = None  # this machine's measured fp32 MatMul peak at these threads
    peak_fraction: float | None = None  # gflops / peak_fp32_gflops


@dataclass
class EndToEndRun:
    mode: str  # global | tile
    threads: int | None
    seconds: float
    ms_per_mp: float
    model_seconds: float  # inside the runtime's calls; the rest is tiling, blending, conversion
    # Every timed run's ms/MP (seconds and ms_per_mp above: the median run); one entry in files of
    # before the repeats, or none in files written elsewhere.
    ms_per_mp_runs: list[float] = field(default_factory=list)


@dataclass
class EndToEnd:
    megapixels: float
    size: list[int]  # [height, width]
    runs: list[EndToEndRun]
    peak_rss_mb: float | None
    baseline_rss_mb: float | None  # the same process after imports and the photo, before the model opened
    rss_method: str


@dataclass
class OpRecord:
    name: str  # node / event name as the runtime reports it
    type: str  # op type (ONNX op_type, XNNPACK operator, aten op)
    where: str  # execution provider, "XNNPACK delegate", "portable kernel", "delegate call", "cpu"
    calls: int
    total_ms: float


@dataclass
class OpBreakdown:
    graph: str
    threads: int | None
    runs: int
    source: str  # the profiler
    records: list[OpRecord]


@dataclass
class ArtifactProfile:
    artifact: str
    format: str  # onnx | executorch | coreml | checkpoint
    runtime: str
    precision: str
    preset: str
    tile: int
    context_size: int
    machine: dict[str, Any]
    source: str = "measured"  # or "imported from <file>"
    gflop_per_tile: float | None = None
    latency: list[Latency] = field(default_factory=list)
    end_to_end: EndToEnd | None = None
    ops: list[OpBreakdown] = field(default_factory=list)
    census: dict[str, Any] | None = None
    not_measured: list[str] = field(default_factory=list)
    # The fp32 checkpoint the artifact's weights descend from (its metadata): what the trade-off
    # report checks an imported profile against; absent from files written before it or elsewhere.
    source_sha256: str | None = None


def document(machine: dict[str, Any], peaks: list[dict[str, Any]], settings: dict[str, Any],
             profiles: list[ArtifactProfile | dict[str, Any]], created: str) -> dict[str, Any]:
    return {"schema": SCHEMA, "created": created, "machine": machine, "peaks": peaks, "settings": settings,
            "profiles": [p if isinstance(p, dict) else asdict(p) for p in profiles]}


# What an imported profile must hold: key -> accepted JSON types (None: may be null).
_PROFILE_KEYS: dict[str, tuple] = {
    "artifact": (str,), "format": (str,), "runtime": (str,), "precision": (str,), "preset": (str,), "tile": (int,),
    "context_size": (int,), "machine": (dict,), "latency": (list,), "ops": (list,), "not_measured": (list,),
    "end_to_end": (dict, type(None)), "census": (dict, type(None)),
}
_PROFILE_OPTIONAL: dict[str, tuple] = {"source_sha256": (str,)}
_LATENCY_KEYS: dict[str, tuple] = {"graph": (str,), "threads": (int, type(None)), "runs": (int,),
                                   "median_ms": (int, float), "p10_ms": (int, float), "p90_ms": (int, float)}
_OPS_KEYS: dict[str, tuple] = {"graph": (str,), "runs": (int,), "source": (str,), "records": (list,)}
_RECORD_KEYS: dict[str, tuple] = {"name": (str,), "type": (str,), "where": (str,), "calls": (int,),
                                  "total_ms": (int, float)}
# Optional, written by the Android app's benchmark (android_demo): checked only where present, so
# files without them stay valid. machine.cores: CPU clusters from each CPU's maximum frequency;
# load: how long the program and each method took to load, per thread count.
_CORES_KEYS: dict[str, tuple] = {"count": (int,), "big": (int, type(None)), "little": (int, type(None)),
                                 "clusters": (list,)}
_LOAD_KEYS: dict[str, tuple] = {"threads": (int,), "program_ms": (int, float), "methods_ms": (dict,)}


# Optional fields the tables read: checked for type where present (null allowed).
_MACHINE_KEYS: dict[str, tuple] = {"cpu": (str,), "arch": (str,), "os": (str,), "python": (str,), "logical_cpus": (int,),
                                   "usable_cpus": (int,), "isa": (dict,), "runtimes": (dict,)}
_LATENCY_OPTIONAL: dict[str, tuple] = {"compute_units": (str,), "gflops": (int, float), "peak_fp32_gflops": (int, float),
                                       "peak_fraction": (int, float)}
_END_TO_END_KEYS: dict[str, tuple] = {"megapixels": (int, float), "runs": (list,)}
_END_TO_END_OPTIONAL: dict[str, tuple] = {"peak_rss_mb": (int, float), "baseline_rss_mb": (int, float)}
_E2E_RUN_KEYS: dict[str, tuple] = {"mode": (str,), "threads": (int, type(None)), "seconds": (int, float),
                                   "ms_per_mp": (int, float), "model_seconds": (int, float)}


def _check_optional(item: dict[str, Any], keys: dict[str, tuple], where: str) -> None:
    _check(item, {k: (*types, type(None)) for k, types in keys.items() if k in item}, where)


def _check_measures(item: dict[str, Any], where: str) -> None:
    """Every number in a row that the tables print is finite and not negative; counts are >= 1."""
    for key, value in item.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if value != value or value in (float("inf"), float("-inf")) or value < 0:
            raise ValueError(f"{where}.{key} is {value}, not a finite number >= 0")
        if key in ("runs", "threads", "calls", "tile") and value < 1:
            raise ValueError(f"{where}.{key} is {value}, expected at least 1")


def _check_series(item: dict[str, Any], key: str, where: str) -> None:
    """An optional list of finite numbers >= 0 (the repeats of a timing)."""
    if key not in item:
        return
    values = item[key]
    if not isinstance(values, list):
        raise ValueError(f"{where}.{key} is {type(values).__name__}, expected a list of numbers")
    for index, value in enumerate(values):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{where}.{key}[{index}] is {type(value).__name__}, expected a number")
    _check_measures({f"{key}[{index}]": value for index, value in enumerate(values)}, where)


def _check(item: Any, keys: dict[str, tuple], where: str) -> None:
    if not isinstance(item, dict):
        raise ValueError(f"{where} is not an object")
    for key, types in keys.items():
        if key not in item:
            raise ValueError(f"{where} has no '{key}'")
        if not isinstance(item[key], types) or (isinstance(item[key], bool) and bool not in types):
            raise ValueError(f"{where}.{key} is {type(item[key]).__name__}, expected "
                             f"{' or '.join('null' if t is type(None) else t.__name__ for t in types)}")


def validate(data: Any, source: str) -> dict[str, Any]:
    """The document ``data`` read from ``source``, or CeaError naming the first thing wrong."""
    try:
        if not isinstance(data, dict) or "schema" not in data:
            raise ValueError("it has no 'schema' field")
        if data["schema"] != SCHEMA:
            raise ValueError(f"schema is {data['schema']!r}; this cea-edge reads {SCHEMA!r}")
        profiles = data.get("profiles")
        if not isinstance(profiles, list) or not profiles:
            raise ValueError("'profiles' is not a non-empty list")
        for i, profile in enumerate(profiles):
            _check(profile, _PROFILE_KEYS, f"profiles[{i}]")
            _check_measures({k: profile[k] for k in ("tile", "context_size")}, f"profiles[{i}]")
            _check_optional(profile, _PROFILE_OPTIONAL, f"profiles[{i}]")
            _check_optional(profile["machine"], _MACHINE_KEYS, f"profiles[{i}].machine")
            if profile["end_to_end"] is not None:
                _check(profile["end_to_end"], _END_TO_END_KEYS, f"profiles[{i}].end_to_end")
                _check_optional(profile["end_to_end"], _END_TO_END_OPTIONAL, f"profiles[{i}].end_to_end")
                _check_measures(profile["end_to_end"], f"profiles[{i}].end_to_end")
                for j, run in enumerate(profile["end_to_end"]["runs"]):
                    _check(run, _E2E_RUN_KEYS, f"profiles[{i}].end_to_end.runs[{j}]")
                    _check_measures(run, f"profiles[{i}].end_to_end.runs[{j}]")
                    _check_series(run, "ms_per_mp_runs", f"profiles[{i}].end_to_end.runs[{j}]")
            census = profile["census"]
            if census is not None and not all(isinstance(m, dict) for m in (census.get("methods") or {}).values()
                                               if isinstance(census.get("methods") or {}, dict)):
                raise ValueError(f"profiles[{i}].census.methods holds something other than objects")
            if "cores" in profile["machine"]:
                _check(profile["machine"]["cores"], _CORES_KEYS, f"profiles[{i}].machine.cores")
            for j, load in enumerate(profile.get("load") or []):
                _check(load, _LOAD_KEYS, f"profiles[{i}].load[{j}]")
            for j, row in enumerate(profile["latency"]):
                _check(row, _LATENCY_KEYS, f"profiles[{i}].latency[{j}]")
                _check_optional(row, _LATENCY_OPTIONAL, f"profiles[{i}].latency[{j}]")
                _check_measures(row, f"profiles[{i}].latency[{j}]")
                if row["graph"] not in GRAPHS:
                    raise ValueError(f"profiles[{i}].latency[{j}].graph is {row['graph']!r}, not one of {', '.join(GRAPHS)}")
            for j, breakdown in enumerate(profile["ops"]):
                _check(breakdown, _OPS_KEYS, f"profiles[{i}].ops[{j}]")
                _check_optional(breakdown, {"threads": (int,)}, f"profiles[{i}].ops[{j}]")
                _check_measures(breakdown, f"profiles[{i}].ops[{j}]")
                if breakdown["graph"] not in GRAPHS:
                    raise ValueError(f"profiles[{i}].ops[{j}].graph is {breakdown['graph']!r}, not one of {', '.join(GRAPHS)}")
                for k, record in enumerate(breakdown["records"]):
                    _check(record, _RECORD_KEYS, f"profiles[{i}].ops[{j}].records[{k}]")
                    _check_measures(record, f"profiles[{i}].ops[{j}].records[{k}]")
    except ValueError as error:
        raise CeaError(f"--import '{source}' is not a cea-edge profile ({error}); import a JSON file written by "
                       "python -m cea_edge.profile --json (or converted to its schema)") from None
    return data


def load_import(path: Path) -> list[dict[str, Any]]:
    """The profiles of a document written elsewhere, marked as imported."""
    profiles = validate(read_json(path, "--import"), str(path))["profiles"]
    return [profile | {"source": f"imported from {path.name}"} for profile in profiles]
