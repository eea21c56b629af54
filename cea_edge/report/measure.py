"""One cell measured through the toolkit's stages: quality on the suite (evaluate), parity
against the FP32 reference (parity), latency per tile, threads scaling, ms/MP end to end and
peak memory (profile). Every number comes from an existing stage; this module only collects
them into the cell's JSON record (what resume reloads).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from cea_edge.data.suite import SuiteSample
from cea_edge.errors import CeaError, usable_cpus
from cea_edge.evaluate import EvaluationReport, evaluate_restorer
from cea_edge.export.manifest import artifact_digest
from cea_edge.machine import BUSY_NEIGHBOURS, cpu_snapshot, other_cpus
from cea_edge.report.grid import BuiltCell
from cea_edge.runtime.tiling import plan_tiles

FAMILIES = ("single", "spatial", "composite")


@dataclass
class CellResult:
    """What the report knows of one artifact; ``threads``-keyed dicts use str keys (JSON)."""

    cell: str
    target: str
    precision: str
    tile: int
    artifact: str
    artifact_mb: float
    quality: dict[str, dict[str, float]] | None = None  # family | "average" -> {psnr_db, ssim, input_psnr_db}
    parity: dict[str, Any] | None = None  # the parity stage's summary
    latency_ms: dict[str, dict[str, float]] = field(default_factory=dict)  # threads -> graph -> median ms
    latency_spread_ms: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # threads -> graph -> [p10, p90]
    ms_per_mp: dict[str, float] = field(default_factory=dict)  # threads -> end to end, global mode, median run
    ms_per_mp_runs: dict[str, list[float]] = field(default_factory=dict)  # threads -> every end-to-end run
    photo: dict[str, Any] | None = None  # {megapixels, size, tiles (forward calls per photo)}
    artifact_sha256: str | None = None  # of the graph file (or folder): what a baseline matches controls by
    peak_rss_mb: float | None = None
    census: dict[str, Any] | None = None
    other_cpus: float | None = None  # mean CPUs other processes kept busy while the cell was timed
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def quality_of(report: EvaluationReport) -> dict[str, dict[str, float]]:
    return {name: {"psnr_db": score.output_psnr, "ssim": score.output_ssim, "input_psnr_db": score.input_psnr}
            for name, score in report.summary.items()}


def suite_quality(backend: Any, samples: Sequence[SuiteSample], suite: str) -> dict[str, dict[str, float]]:
    """aio-synth PSNR/SSIM per family through the runtime, in global-context mode when the
    artifact has it (what the CLI and the app run), else tile mode."""
    from cea_edge.runtime.restore import restore_photo

    mode = "global" if backend.global_mode else "tile"
    report = evaluate_restorer(lambda degraded: restore_photo(degraded, backend, mode=mode).pixels, samples, suite)
    return quality_of(report)


def measure_cell(built: BuiltCell, samples: Sequence[SuiteSample], suite: str, reference: Any, bars: Any,
                 settings: Any, machine: dict[str, Any], peaks: dict[int, dict[str, Any]],
                 step: Callable[[str], None]) -> CellResult:
    """Quality, parity and profile of one built cell (``settings``: the profile stage's Settings)."""
    from cea_edge.parity.check import check_artifact
    from cea_edge.profile.run import profile_artifact
    from cea_edge.runtime.backends import open_backend

    cell = built.cell
    result = CellResult(cell.name, cell.target, cell.precision, cell.tile, str(built.artifact),
                        built.bytes / 1e6, artifact_sha256=artifact_digest(built.artifact).sha256)
    threads = max(settings.threads)
    if cell.target == "coreml":
        from cea_edge.profile import coreml

        reason = coreml.unavailable()
        if reason:
            profile = profile_artifact(built.artifact, settings, machine, peaks, step)
            result.census = profile.census
            result.notes.append(f"not measured here ({reason.split(';')[0].split(' -- ')[-1]}): size and the static "
                                "census only")
            return result
    backend = open_backend(built.artifact, threads=threads)
    step("quality")
    result.quality = suite_quality(backend, samples, suite)
    step("parity")
    if reference is None:
        result.notes.append("parity: no reference set for this tile and checkpoint")
    else:
        try:
            result.parity = check_artifact(built.artifact, reference, bars, threads).to_dict()["summary"]
        except CeaError as error:
            result.notes.append(f"parity: {error}")
    started = cpu_snapshot()
    profile = profile_artifact(built.artifact, settings, machine, peaks, step)
    result.other_cpus = other_cpus(started)
    if result.other_cpus is not None and result.other_cpus > BUSY_NEIGHBOURS:
        # Other processes on a 2-CPU machine slow the multi-thread runs most: say so in the row.
        result.notes.append(f"other processes kept {result.other_cpus:.2f} of {usable_cpus()} usable CPU(s) busy "
                            "while it was timed: timings pessimistic")
    for row in profile.latency:
        result.latency_ms.setdefault(str(row.threads), {})[row.graph] = row.median_ms
        result.latency_spread_ms.setdefault(str(row.threads), {})[row.graph] = [row.p10_ms, row.p90_ms]
    if profile.end_to_end is not None:
        height, width = profile.end_to_end.size
        result.photo = {"megapixels": profile.end_to_end.megapixels, "size": profile.end_to_end.size,
                        "tiles": plan_tiles(height, width, backend.tile, backend.overlap).count}
        for run in profile.end_to_end.runs:
            if run.mode == "global" or not backend.global_mode:
                result.ms_per_mp[str(run.threads)] = run.ms_per_mp
                result.ms_per_mp_runs[str(run.threads)] = list(run.ms_per_mp_runs or [run.ms_per_mp])
        result.peak_rss_mb = profile.end_to_end.peak_rss_mb
    result.census = profile.census
    # The report skips the per-op profiler on purpose (python -m cea_edge.profile has it): not a gap to list.
    result.notes.extend(note for note in profile.not_measured if not note.startswith("per-op breakdown"))
    return result


def photo_crops(path: Path, samples: Sequence[SuiteSample]) -> list[dict[str, Any]]:
    """One suite sample per family through ``path`` with its routing maps: the report's crops."""
    from cea_edge.runtime.backends import open_backend
    from cea_edge.runtime.restore import restore_photo

    backend = open_backend(path)
    picked: dict[str, SuiteSample] = {}
    for sample in samples:
        picked.setdefault(sample.family, sample)
    crops = []
    for family in [f for f in FAMILIES if f in picked] + [f for f in picked if f not in FAMILIES]:
        sample = picked[family]
        mode = "global" if backend.global_mode else "tile"
        restored = restore_photo(sample.degraded, backend, mode=mode, want_context=backend.global_mode)
        maps = list(restored.context.routing_maps) if restored.context is not None else []
        crops.append({"family": family, "case": sample.case, "degraded": sample.degraded, "restored": restored.pixels,
                      "clean": sample.clean, "routing_maps": maps, "context_size": backend.context_size})
    return crops


def precision_pair(reference: Path, other: Path, samples: Sequence[SuiteSample]) -> dict[str, Any]:
    """The suite sample (one per family) on which two artifacts' restorations differ most, both
    restorations of it: the report's fp32-vs-int8 picture."""
    import numpy as np

    from cea_edge.runtime.backends import open_backend
    from cea_edge.runtime.restore import restore_photo

    first, second = open_backend(reference), open_backend(other)
    picked: dict[str, SuiteSample] = {}
    for sample in samples:
        picked.setdefault(sample.family, sample)
    best: dict[str, Any] | None = None
    for sample in picked.values():
        restored = [restore_photo(sample.degraded, backend, mode="global" if backend.global_mode else "tile").pixels
                    for backend in (first, second)]
        gap = float(np.abs(restored[1] - restored[0]).mean())
        if best is None or gap > best["mean_abs"]:
            best = {"reference": restored[0], "other": restored[1], "photo": sample.photo, "case": sample.case,
                    "mean_abs": gap}
    return best


def seam_crop(path: Path, megapixels: float, side: int = 384) -> dict[str, Any]:
    """A side x side window, 1:1, of a synthetic photo of ``megapixels`` restored through ``path``
    in global-context mode, centred where four tiles meet near the photo's centre, with the tile
    edges inside it (where a seam would show)."""
    from cea_edge.profile.timing import photo_shape, synthetic_photo
    from cea_edge.runtime.backends import open_backend
    from cea_edge.runtime.restore import restore_photo

    backend = open_backend(path)
    height, width = photo_shape(megapixels)
    restored = restore_photo(synthetic_photo(height, width), backend,
                             mode="global" if backend.global_mode else "tile").pixels
    plan = plan_tiles(height, width, backend.tile, backend.overlap)
    # The tile start nearest the centre on each axis: the window straddles that tile's overlap band.
    y = min(plan.ys[1:] or plan.ys, key=lambda start: abs(start - height // 2))
    x = min(plan.xs[1:] or plan.xs, key=lambda start: abs(start - width // 2))
    side = min(side, height, width)
    top = min(max(0, y + backend.overlap // 2 - side // 2), height - side)
    left = min(max(0, x + backend.overlap // 2 - side // 2), width - side)

    def edges(starts: Sequence[int], origin: int) -> list[int]:
        found = {edge - origin for start in starts for edge in (start, start + backend.tile)}
        return sorted(edge for edge in found if 0 < edge < side)

    return {"crop": restored[top:top + side, left:left + side], "seams_x": edges(plan.xs, left),
            "seams_y": edges(plan.ys, top), "megapixels": height * width / 1e6,
            "where": f"rows {top}-{top + side}, columns {left}-{left + side} of {width}x{height}; tile {backend.tile}, "
                     f"overlap {backend.overlap}"}
