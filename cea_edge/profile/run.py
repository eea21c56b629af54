"""One artifact's profile: latency per graph and thread count, achieved GFLOP/s against the
measured peak, per-op breakdown from the runtime's profiler, census, and the end-to-end run."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

from cea_edge.contract import FORWARD_GRAPH, GRAPHS
from cea_edge.errors import CeaError
from cea_edge.profile import census, coreml
from cea_edge.profile.ops import breakdown, precision_shares
from cea_edge.profile.schema import ArtifactProfile, Latency, OpBreakdown
from cea_edge.profile.timing import EndToEndJob, end_to_end, graph_calls, latency_row, time_calls
from cea_edge.runtime.backends import Backend, open_backend
from cea_edge.targets import target_for_path


@dataclass(frozen=True)
class Settings:
    runs: int = 20
    warmup: int = 3
    threads: tuple[int, ...] = (1, 2)
    photo_mp: float = 12.0  # 0: no end-to-end run
    modes: tuple[str, ...] = ("global", "tile")
    ops: bool = True
    top: int = 5
    tile: int = 256  # checkpoints only (exported artifacts carry their own)
    overlap: int = 32
    context_size: int = 512
    compute_units: tuple[str, ...] = coreml.COMPUTE_UNITS  # Core ML on macOS only
    repeats: int = 3  # end-to-end runs per mode and thread count: a median and a spread, never one run


def model_format(path: Path) -> str:
    """A profile's "format": the target's name (cea_edge/targets.py) or "checkpoint"; CeaError for
    any other file."""
    target = target_for_path(path, "profiles")
    return "checkpoint" if target is None else target.name


def steps(path: Path, settings: Settings) -> int:
    """Progress steps profile_artifact reports for ``path``."""
    if model_format(path) == "coreml":
        return 2
    return len(settings.threads) + (len(GRAPHS) if settings.ops else 0) + (1 if settings.photo_mp > 0 else 0)


@lru_cache(maxsize=None)
def gflop_per_tile(preset: str, tile: int) -> float | None:
    """Model GFLOPs of one tile (convolutions and matmuls, multiply-add = 2), None for an unknown preset."""
    from cea_edge.model.__main__ import flops_per_megapixel
    from cea_edge.model.config import get_preset

    try:
        config = get_preset(preset)
    except CeaError:
        return None
    return flops_per_megapixel(config, side=tile) * tile * tile / 1e6


def _open(path: Path, settings: Settings, threads: int | None, trace: bool = False) -> Backend:
    return open_backend(path, threads=threads, tile=settings.tile, overlap=settings.overlap,
                        context_size=settings.context_size, trace=trace)


def _preset(path: Path, backend: Backend) -> str:
    if backend.info is not None:
        return backend.info.preset
    from cea_edge.model.checkpoint import load_checkpoint

    return load_checkpoint(path).config.name


def op_breakdowns(path: Path, settings: Settings, threads: int | None, step: Callable[[str], None]) -> list[OpBreakdown]:
    """Each graph with the runtime's profiler on, in a backend of its own: onnxruntime ends its
    profiler when read, and a fresh backend keeps one graph's warm-up out of the others' traces."""
    found = []
    for graph in GRAPHS:
        backend = _open(path, settings, threads, trace=True)
        trace = backend.trace
        try:
            calls = graph_calls(backend)
            if graph in calls and trace is not None:
                time_calls(calls[graph], 0, settings.warmup)
                trace.reset()
                time_calls(calls[graph], settings.runs, 0)
                found.append(breakdown(trace, trace.collect(), graph, threads, settings.runs))
        finally:
            if trace is not None:
                trace.close()
        step(f"ops {graph}")
    return found


def latency_rows(path: Path, settings: Settings, step: Callable[[str], None]) -> tuple[list[Latency], Backend]:
    """Rows per thread count and graph; the backend last opened (for what it says about itself)."""
    rows = []
    for threads in settings.threads:
        backend = _open(path, settings, threads)
        for graph, call in graph_calls(backend).items():
            rows.append(latency_row(graph, threads, time_calls(call, settings.runs, settings.warmup)))
        step(f"latency {threads} thread(s)")
    return rows, backend


def add_gflops(rows: list[Latency], gflop: float | None, peaks: dict[int, dict[str, Any]]) -> None:
    """Achieved GFLOP/s of the tile graph, beside the fp32 peak measured at the same thread count."""
    for row in rows:
        if row.graph != FORWARD_GRAPH or gflop is None:
            continue
        row.gflops = gflop / (row.median_ms / 1e3)
        row.peak_fp32_gflops = peaks.get(row.threads, {}).get("fp32_gflops") if row.threads else None
        row.peak_fraction = row.gflops / row.peak_fp32_gflops if row.peak_fp32_gflops else None


def preflight(path: Path, settings: Settings) -> None:
    """Open ``path`` once (CeaError when it cannot be used), so a bad artifact fails before any profiling."""
    if model_format(path) == "coreml":
        census.coreml_graph(path)
    else:
        _open(path, settings, min(settings.threads))


def profile_coreml(path: Path, settings: Settings, machine: dict[str, Any], step: Callable[[str], None]) -> ArtifactProfile:
    from cea_edge.contract import ArtifactInfo

    static = census.coreml_census(path)
    step("census")
    import coremltools as ct

    info = ArtifactInfo.from_strings(dict(ct.models.MLModel(str(path), skip_model_load=True).get_spec()
                                          .description.metadata.userDefined), str(path))
    rows, plans, missing = coreml.measure(path, list(settings.compute_units), settings.runs, settings.warmup)
    static["compute_plans"] = plans
    profile = ArtifactProfile(str(path), "coreml", "core ml", info.precision, info.preset, info.tile, info.context_size,
                              machine, gflop_per_tile=gflop_per_tile(info.preset, info.tile), latency=rows,
                              census=static, not_measured=missing, source_sha256=info.source_sha256 or None)
    add_gflops(rows, profile.gflop_per_tile, {})
    if settings.photo_mp > 0 and not coreml.unavailable():
        profile.end_to_end = end_to_end(EndToEndJob(str(path), (None,), settings.modes, settings.photo_mp,
                                                    settings.tile, settings.overlap, settings.context_size,
                                                    repeats=settings.repeats))
    profile.not_measured.append("per-op times: Core ML has no per-op profiler reachable from Python "
                                "(the compute plan gives per-op device and estimated cost on macOS)")
    step("core ml")
    return profile


def profile_artifact(path: Path, settings: Settings, machine: dict[str, Any], peaks: dict[int, dict[str, Any]],
                     step: Callable[[str], None] = lambda label: None) -> ArtifactProfile:
    """Profile one artifact (or checkpoint) on this machine; ``step`` is called after each stage."""
    target = target_for_path(path, "profiles")
    kind = "checkpoint" if target is None else target.name
    if kind == "coreml":
        return profile_coreml(path, settings, machine, step)
    static = None if target is None else target.census(path)
    rows, backend = latency_rows(path, settings, step)
    preset = _preset(path, backend)
    gflop = gflop_per_tile(preset, backend.tile)
    add_gflops(rows, gflop, peaks)
    profile = ArtifactProfile(str(path), kind, backend.name, backend.precision, preset, backend.tile,
                              backend.context_size if backend.global_mode else 0, machine, gflop_per_tile=gflop,
                              latency=rows, census=static,
                              source_sha256=(backend.info.source_sha256 or None) if backend.info else None)
    if gflop is None:
        profile.not_measured.append(f"GFLOP/s: preset '{preset}' is not one this cea-edge knows, so the model's "
                                    "FLOPs are unknown")
    if not backend.global_mode:
        profile.not_measured.append("context and forward_global graphs: the artifact carries none (exported with "
                                    "--context-size 0)")
    if settings.ops:
        profile.ops = op_breakdowns(path, settings, max(settings.threads), step)
    else:
        profile.not_measured.append("per-op breakdown: skipped (--no-ops)")
    modes = tuple(m for m in settings.modes if m == "tile" or backend.global_mode)
    if settings.photo_mp > 0 and modes:
        profile.end_to_end = end_to_end(EndToEndJob(str(path), settings.threads, modes, settings.photo_mp,
                                                    settings.tile, settings.overlap, settings.context_size,
                                                    repeats=settings.repeats))
        step("end to end")
    elif settings.photo_mp <= 0:
        profile.not_measured.append("end-to-end photo and peak RSS: skipped (--photo-mp 0)")
    return profile


def time_census(path: Path, threads: int = 1, runs: int = 5) -> dict[str, Any]:
    """The forward graph's op time by arithmetic (int8 / float / convert / layout, see
    ops.precision_shares), from the runtime's own profiler: what `export --time-census` records of
    the float ops an int8 graph keeps (reached through cea_edge.targets, never imported by export).
    Needs a runtime with a profiler (ExecuTorch, onnxruntime)."""
    settings = Settings(runs=runs, warmup=1, threads=(threads,))
    backend = _open(path, settings, threads, trace=True)
    trace = backend.trace
    if trace is None:
        raise CeaError(f"'{path.name}': its runtime has no per-operator profiler here")
    try:
        call = graph_calls(backend)[FORWARD_GRAPH]
        time_calls(call, 0, settings.warmup)
        trace.reset()
        time_calls(call, runs, 0)
        found = breakdown(trace, trace.collect(), FORWARD_GRAPH, threads, runs)
    finally:
        trace.close()
    return precision_shares(asdict(found))
