"""Parity of an artifact against the FP32 reference set, judged by the bars in parity/bars.toml.

Every artifact (ONNX, .pte, .mlpackage on macOS, a checkpoint including a QAT one) runs in its
own runtime through ``cea_edge.runtime.backends`` and ``restore_photo`` -- exactly as
`python -m cea_edge.enhance` runs it -- on the reference set's inputs, at the reference's
tiling; the metrics are those of ``cea_edge.metrics``. Outputs are clamped to [0, 1] (what a
user sees) before any comparison, as the stored reference is.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from cea_edge.errors import CeaError
from cea_edge.metrics import max_abs_error, psnr, ssim
from cea_edge.parity.reference import ReferenceSet
from cea_edge.photo_io import to_float
from cea_edge.recipe_io import bundled_recipe, check_keys, check_type, read_toml
from cea_edge.runtime.backends import Backend, open_backend
from cea_edge.runtime.restore import restore_photo

BAR_KEYS = ("max_abs", "max_abs_across_devices", "min_psnr_db", "max_quality_drop_db")


@dataclass(frozen=True)
class Bar:
    precision: str
    max_abs: float | None = None
    max_abs_across_devices: float | None = None
    min_psnr_db: float | None = None
    max_quality_drop_db: float | None = None

    def describe(self, across_devices: bool) -> str:
        limit = self.max_abs_across_devices if across_devices else self.max_abs
        parts = [f"max-abs <= {limit:g}" + (" (across devices)" if across_devices else "")] if limit is not None else []
        parts += [f">= {self.min_psnr_db:g} dB"] if self.min_psnr_db is not None else []
        parts += [f"drop <= {self.max_quality_drop_db:g} dB"] if self.max_quality_drop_db is not None else []
        return ", ".join(parts)


def load_bars(path: str | Path | None = None) -> dict[str, Bar]:
    """Bars per precision from ``path`` (default: the bundled parity/bars.toml)."""
    path = Path(path) if path is not None else bundled_recipe("parity", "bars")
    document = read_toml(path, what="bars file")
    bars = {}
    for precision, values in document.items():
        if not isinstance(values, dict):
            raise CeaError(f"recipe {path}: '{precision}' must be a table ([{precision}]) of bars")
        check_keys(str(path), values, (), BAR_KEYS, table=precision)
        if not values:
            raise CeaError(f"recipe {path}: [{precision}] states no bar; give at least one of {', '.join(BAR_KEYS)}")
        for key, value in values.items():
            check_type(str(path), f"{precision}.{key}", value, (int, float))
        bars[precision] = Bar(precision, **{key: float(value) for key, value in values.items()})
    return bars


@dataclass(frozen=True)
class CaseParity:
    case: str
    kind: str
    mode: str
    max_abs: float
    psnr_db: float  # vs the reference output
    ssim: float  # vs the reference output
    quality_db: float  # the artifact's output vs the clean image
    reference_quality_db: float  # the reference output vs the clean image
    seconds: float

    @property
    def quality_drop_db(self) -> float:
        return self.reference_quality_db - self.quality_db


@dataclass
class ArtifactParity:
    artifact: str
    runtime: str
    precision: str
    bar: str
    cases: list[CaseParity]
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def max_abs(self) -> float:
        return max(case.max_abs for case in self.cases)

    @property
    def worst(self) -> CaseParity:
        return min(self.cases, key=lambda case: case.psnr_db)

    @property
    def quality_drop_db(self) -> float:
        return statistics.fmean(case.quality_drop_db for case in self.cases)

    def to_dict(self) -> dict[str, Any]:
        summary = {"max_abs": self.max_abs, "worst_case": self.worst.case, "worst_psnr_db": _finite(self.worst.psnr_db),
                   "mean_ssim": statistics.fmean(case.ssim for case in self.cases),
                   "quality_drop_db": self.quality_drop_db, "passed": self.passed, "failures": self.failures}
        cases = [asdict(case) | {"psnr_db": _finite(case.psnr_db), "quality_drop_db": case.quality_drop_db}
                 for case in self.cases]
        return {"artifact": self.artifact, "runtime": self.runtime, "precision": self.precision, "bar": self.bar,
                "summary": summary, "cases": cases}


def _finite(value: float) -> float | str:
    return value if math.isfinite(value) else "inf"  # JSON has no infinity


def precision_of(backend: Backend) -> str:
    """The bars' precision name: a QAT checkpoint runs fake-quantized int8."""
    return "int8" if backend.precision.startswith("int8 (") else backend.precision


def lineage(path: Path, backend: Backend) -> str:
    """The sha256 of the fp32 checkpoint the artifact's weights descend from."""
    if backend.info is not None:
        return backend.info.source_sha256
    from cea_edge.model.checkpoint import load_checkpoint, source_sha256

    return source_sha256(load_checkpoint(path))


def check_lineage(path: Path | str, source: str, reference: ReferenceSet) -> None:
    """Refuse an artifact whose weights (from the checkpoint of sha256 ``source``) are not the reference's."""
    if source != reference.checkpoint_sha256:
        raise CeaError(f"'{path}' descends from checkpoint {source[:12]}..., the reference set '{reference.folder}' is "
                       f"of {reference.checkpoint_sha256[:12]}... ({reference.record['checkpoint']['file']}); make a "
                       "reference of its checkpoint: python -m cea_edge.parity reference --checkpoint FP32.pt")


def open_for(path: Path, reference: ReferenceSet, threads: int | None) -> Backend:
    """The artifact's backend, refused unless it can be compared with ``reference``."""
    backend = open_backend(path, threads=threads, tile=reference.tile, overlap=reference.overlap,
                           context_size=reference.context_size)
    check_lineage(path, lineage(path, backend), reference)
    if backend.tile != reference.tile:
        raise CeaError(f"'{path}' runs {backend.tile}-pixel tiles, the reference was made at tile {reference.tile}; "
                       f"make a reference with --tile {backend.tile}")
    global_cases = any(case.mode == "global" for case in reference.cases)
    if global_cases and (not backend.global_mode or backend.context_size != reference.context_size):
        have = f"context size {backend.context_size}" if backend.global_mode else "no global-context graphs"
        raise CeaError(f"'{path}' has {have}, the reference's photos were restored in global-context mode at "
                       f"context size {reference.context_size}; export it with --context-size {reference.context_size}")
    return backend


def check_artifact(path: Path, reference: ReferenceSet, bars: dict[str, Bar], threads: int | None = None,
                   progress: Callable[[str], None] | None = None) -> ArtifactParity:
    """Run ``path`` over ``reference`` and judge it by its precision's bar."""
    return judge(str(path), open_for(path, reference, threads), reference, bars, progress)


def judge(path: str, backend: Backend, reference: ReferenceSet, bars: dict[str, Bar],
          progress: Callable[[str], None] | None = None) -> ArtifactParity:
    """Run an open ``backend`` (of the artifact at ``path``, whose lineage the caller has checked
    against the reference's checkpoint) over ``reference`` and judge it by its precision's bar."""
    precision = precision_of(backend)
    if precision not in bars:
        raise CeaError(f"'{path}' is {precision}, and the bars file has no [{precision}] table")
    bar = bars[precision]
    across = reference.device != "cpu"
    cases = []
    for case in reference.cases:
        if progress:
            progress(case.name)
        degraded, clean, expected = reference.images(case)
        started = time.perf_counter()
        restored = restore_photo(to_float(degraded), backend, case.mode, overlap=reference.overlap).pixels
        seconds = time.perf_counter() - started
        restored = np.clip(restored, 0.0, 1.0)
        clean = to_float(clean)
        cases.append(CaseParity(case.name, case.kind, case.mode, max_abs_error(expected, restored),
                                psnr(expected, restored), ssim(expected, restored), psnr(clean, restored),
                                psnr(clean, expected), seconds))
    result = ArtifactParity(str(path), backend.name, precision, bar.describe(across), cases)
    limit = bar.max_abs_across_devices if across else bar.max_abs
    if limit is not None and result.max_abs > limit:
        result.failures.append(f"max-abs {result.max_abs:.2e} > {limit:g}")
    if bar.min_psnr_db is not None and result.worst.psnr_db < bar.min_psnr_db:
        result.failures.append(f"{result.worst.case}: {result.worst.psnr_db:.2f} dB < {bar.min_psnr_db:g} dB")
    if bar.max_quality_drop_db is not None and result.quality_drop_db > bar.max_quality_drop_db:
        result.failures.append(f"quality drop {result.quality_drop_db:.3f} dB > {bar.max_quality_drop_db:g} dB")
    return result


def _db(value: float) -> str:
    return "inf" if math.isinf(value) else f"{value:.2f}"


def markdown(results: list[ArtifactParity], reference: ReferenceSet) -> str:
    device = reference.record["device"]
    tiling = reference.record["tiling"]
    lines = [f"Reference: `{reference.folder}` ({reference.record['checkpoint']['file']}, "
             f"{device['type']}: {device['name']}; tile {tiling['tile']}, overlap {tiling['overlap']}, "
             f"context {tiling['context_size']}; {len(reference.cases)} cases)", "",
             "| artifact | runtime | precision | bar | max-abs | worst PSNR vs ref (case) | mean SSIM vs ref | "
             "quality drop (dB) | photos PSNR vs ref | result |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for result in results:
        photos = ", ".join(_db(case.psnr_db) for case in result.cases if case.kind == "photo") or "-"
        worst = result.worst
        lines.append(f"| {Path(result.artifact).name} | {result.runtime} | {result.precision} | {result.bar} | "
                     f"{result.max_abs:.2e} | {_db(worst.psnr_db)} ({worst.case}) | "
                     f"{statistics.fmean(c.ssim for c in result.cases):.5f} | {result.quality_drop_db:+.3f} | {photos} | "
                     f"{'pass' if result.passed else 'FAIL: ' + '; '.join(result.failures)} |")
    lines += ["", "Per case (PSNR vs reference dB / quality vs clean dB, reference's quality in the header):", "",
              "| artifact | " + " | ".join(f"{c.name} ({_db(c.output_psnr)})" for c in reference.cases) + " |",
              "|---|" + "---|" * len(reference.cases)]
    for result in results:
        lines.append(f"| {Path(result.artifact).name} | "
                     + " | ".join(f"{_db(c.psnr_db)} / {_db(c.quality_db)}" for c in result.cases) + " |")
    return "\n".join(lines) + "\n"
