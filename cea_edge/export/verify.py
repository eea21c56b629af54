"""The shared verification step: fixed seeded inputs, the PyTorch reference, figures and bars.

Every exporter writes its artifact to a staged path; this module runs it through the
runtime's backend -- the one way to run an artifact, what an app runs -- on the same suite
crops as the PyTorch model (the fp32 model; for int8 the QAT model it came from), and
judges the figures against the recipe's bar for the precision. Where this machine has no
runtime for the artifact (Core ML off macOS), the target's structural checks stand in.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cea_edge.contract import ArtifactInfo
from cea_edge.errors import CeaError
from cea_edge.export.common import BuiltArtifact, context_model
from cea_edge.export.recipes import Recipe
from cea_edge.metrics import max_abs_error, psnr
from cea_edge.model.network import CEANet
from cea_edge.runtime.backends import Backend, open_backend
from cea_edge.runtime.tiling import context_image

# The inputs: a few degraded crops of the monitoring suite, chosen by index so that every
# export (any machine, any run) is judged on the same images -- the suite is seeded.
VERIFICATION_SUITE = "aio-synth-mini"
VERIFICATION_SAMPLES = 4


class VerificationFailed(CeaError):
    """The artifact does not reproduce the PyTorch model within the recipe's bar."""


@dataclass(frozen=True)
class VerificationInputs:
    tiles: np.ndarray  # (N, 3, T, T) float32 in [0, 1]
    sources: list[str]  # "photo/case" of each tile


@dataclass
class Verification:
    """What was measured at export (figures are None when nothing could run here)."""

    runtime: str
    ran: bool
    samples: int = 0
    max_abs_error: float | None = None  # on the raw (unclamped) outputs
    psnr_db: float | None = None  # on outputs clamped to [0, 1], as a viewer sees them
    bar: str = ""
    passed: bool | None = None  # None: not judged (no runtime here, or --no-verify)
    checks: list[str] = field(default_factory=list)  # structural checks that passed
    problems: list[str] = field(default_factory=list)  # structural checks that failed
    note: str = ""
    inputs: list[str] = field(default_factory=list)
    reference: str = "PyTorch fp32"  # what the bar compares against (int8: the QAT model)
    # int8 artifacts: the same tiles against the fp32 checkpoint the QAT started from
    fp32_max_abs_error: float | None = None
    fp32_psnr_db: float | None = None
    global_context: dict[str, Any] | None = None  # the same check of the global-context graphs

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        if not self.ran:
            return f"not run ({self.note}); checked instead: {'; '.join(self.checks) or 'nothing'}" if self.note else "skipped"
        verdict = {True: "pass", False: "FAIL", None: "not judged"}[self.passed]
        line = (f"{self.runtime}, {self.samples} suite tiles: max-abs {self.max_abs_error:.2e}, "
                f"PSNR {self.psnr_db:.1f} dB vs {self.reference} -> {verdict} ({self.bar})")
        if self.fp32_psnr_db is not None:
            line += f"; vs the fp32 model: PSNR {self.fp32_psnr_db:.1f} dB, max-abs {self.fp32_max_abs_error:.2e}"
        if self.global_context and self.global_context["ran"]:
            line += (f"; global context: max-abs {self.global_context['max_abs_error']:.2e}, "
                     f"PSNR {self.global_context['psnr_db']:.1f} dB")
        return line


def fit_to_tile(image: np.ndarray, tile: int) -> np.ndarray:
    """(H, W, 3) -> (tile, tile, 3): centre crop where larger, symmetric reflect-pad where smaller."""
    fitted = image
    for axis in (0, 1):
        size = fitted.shape[axis]
        if size > tile:
            start = (size - tile) // 2
            fitted = np.take(fitted, range(start, start + tile), axis=axis)
        elif size < tile:
            before = (tile - size) // 2
            pad = [(0, 0)] * 3
            pad[axis] = (before, tile - size - before)
            fitted = np.pad(fitted, pad, mode="reflect")  # numpy reflects repeatedly past one width
    return np.ascontiguousarray(fitted, dtype=np.float32)


def verification_inputs(tile: int) -> VerificationInputs:
    """The same crops for every export at this tile (a copy of the cached ones)."""
    cached = _verification_inputs(tile)
    return VerificationInputs(cached.tiles.copy(), list(cached.sources))


@functools.lru_cache(maxsize=8)
def _verification_inputs(tile: int) -> VerificationInputs:
    # Cached: building the suite takes seconds, and every export at a tile uses the same crops.
    # Imported here: data code is for the export stage only, never for the runtime.
    from cea_edge.data.suite import build_suite

    samples = build_suite(VERIFICATION_SUITE)
    picks = np.linspace(0, len(samples) - 1, VERIFICATION_SAMPLES).round().astype(int)
    # np.stack keeps the transposed (channels-last) memory order; make it truly NCHW.
    tiles = np.ascontiguousarray(np.stack([fit_to_tile(samples[i].degraded, tile).transpose(2, 0, 1) for i in picks]))
    return VerificationInputs(tiles, [f"{samples[i].photo}/{samples[i].case}" for i in picks])


@torch.no_grad()
def reference_outputs(model: CEANet, inputs: VerificationInputs) -> np.ndarray:
    """The PyTorch model's outputs, one tile at a time like the artifacts (N, 3, T, T)."""
    return np.concatenate([model(torch.from_numpy(tile[None])).numpy() for tile in inputs.tiles])


def bar_for(recipe: Recipe) -> str:
    if recipe.precision == "fp32":
        return f"max-abs <= {recipe.fp32_max_abs_error:g}"
    if recipe.quantized:
        return f"PSNR >= {recipe.int8_min_psnr_db:g} dB"
    return f"PSNR >= {recipe.fp16_min_psnr_db:g} dB"


def meets_bar(recipe: Recipe, max_abs: float, psnr_db: float) -> bool:
    if recipe.precision == "fp32":
        return max_abs <= recipe.fp32_max_abs_error
    return psnr_db >= (recipe.int8_min_psnr_db if recipe.quantized else recipe.fp16_min_psnr_db)


def judge(outputs: np.ndarray, reference: np.ndarray, result: Verification, recipe: Recipe,
          fp32_reference: np.ndarray | None = None) -> Verification:
    """Fill in ``result``'s figures and verdict; ``fp32_reference`` (int8) is measured, not judged."""
    if outputs.shape != reference.shape:
        result.problems.append(f"output shape {outputs.shape} != expected {reference.shape}")
    else:
        result.samples = len(outputs)
        result.max_abs_error = max_abs_error(reference, outputs)
        result.psnr_db = psnr(reference, outputs)
        if fp32_reference is not None:
            result.fp32_max_abs_error = max_abs_error(fp32_reference, outputs)
            result.fp32_psnr_db = psnr(fp32_reference, outputs)
    if result.problems:
        result.passed = False
    elif result.max_abs_error is not None:
        result.passed = meets_bar(recipe, result.max_abs_error, result.psnr_db)
    return result


def verify_artifact(artifact: Path, built: BuiltArtifact, expected: ArtifactInfo, model: CEANet, recipe: Recipe,
                    reference_label: str, fp32_model: CEANet | None = None) -> Verification:
    """Run the staged ``artifact`` through the runtime's backend and judge it against ``model``.

    model: the PyTorch model pinned to the tile (for int8 the QAT model); fp32_model: for
    int8 the fp32 model the QAT started from, measured beside it. With a context side, the
    global-context graphs are judged too (``global_context``).
    """
    inputs = verification_inputs(recipe.tile)
    result = Verification(runtime=built.runtime, ran=not built.unavailable, bar=bar_for(recipe),
                          checks=list(built.checks), problems=list(built.problems), note=built.unavailable,
                          inputs=list(inputs.sources), reference=reference_label)
    if built.unavailable:
        if recipe.context_size:
            result.global_context = Verification(runtime=built.runtime, ran=False, bar=result.bar, note=built.unavailable,
                                                 checks=[f"{len(built.siblings) or 2} global-context graphs written"]).to_dict()
        return result
    backend = open_backend(artifact)  # no thread setting: ExecuTorch's pool is process-wide
    if backend.info == expected:
        result.checks.append("the runtime reads back the artifact's self-description (tile, overlap, context, "
                             "precision, value range, preset, checkpoint)")
    else:
        result.problems.append(f"the runtime reads back {backend.info}, expected {expected}")
    # Copy each output: runtimes may hand back a view of a buffer the next call reuses.
    outputs = np.concatenate([np.array(backend.run(tile[None]), dtype=np.float32, copy=True) for tile in inputs.tiles])
    fp32_reference = None if fp32_model is None else reference_outputs(fp32_model, inputs)
    judge(outputs, reference_outputs(model, inputs), result, recipe, fp32_reference)
    if recipe.context_size:
        result.global_context = verify_global_context(backend, built, model, recipe, inputs, reference_label).to_dict()
    return result


def skipped_verification() -> Verification:
    return Verification(runtime="none", ran=False, note="skipped (--no-verify)")


def raise_if_failed(verification: Verification, artifact_name: str) -> None:
    """A failed verification fails the export (the caller discards the staged artifact)."""
    if verification.passed is not False:
        return
    if verification.problems:
        detail = "; ".join(verification.problems)
    else:
        detail = (f"max-abs {verification.max_abs_error:.3e}, PSNR {verification.psnr_db:.2f} dB "
                  f"does not meet {verification.bar}")
    raise VerificationFailed(f"verification of {artifact_name} failed ({verification.runtime}): {detail}; "
                             "nothing was written (pass --no-verify to write it unverified)")


def verify_global_context(backend: Backend, built: BuiltArtifact, model: CEANet, recipe: Recipe,
                          inputs: VerificationInputs, reference_label: str) -> Verification:
    """The context and forward_global graphs, end to end through the runtime's backend.

    Each verification tile is its own photo: its context image (mirror-padded to the
    context side, as the runtime makes it) goes through the artifact's context graph, and
    the tile through forward_global with those factors. The reference is the PyTorch model
    doing the same; the bar is the forward graph's.
    """
    result = Verification(runtime=f"{built.runtime}, global context {recipe.context_size}", ran=True,
                          bar=bar_for(recipe), inputs=list(inputs.sources), reference=reference_label)
    if not backend.global_mode:
        result.problems.append("the artifact does not expose its global-context graphs to the runtime")
        result.passed = False
        return result
    pinned = context_model(model, recipe.context_size)  # ``model`` itself is pinned to the tile
    outputs, references = [], []
    for tile in inputs.tiles:
        context = context_image(tile.transpose(1, 2, 0), recipe.context_size)
        outputs.append(backend.run(tile[None], backend.context(context).factors))
        with torch.no_grad():
            reference_factors = pinned.generate_factors(torch.from_numpy(context.transpose(2, 0, 1)[None].copy()))
            references.append(model(torch.from_numpy(tile[None].copy()), reference_factors).numpy())
    return judge(np.concatenate(outputs), np.concatenate(references), result, recipe)
