"""The shared verification step: fixed seeded inputs, the fp32 reference, figures and bars.

Every exporter hands over a way to run its written artifact (or says why none exists on
this machine); this module feeds the same suite crops through it and through the PyTorch
fp32 model, and judges the figures against the recipe's bar for the precision.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np
import torch

from cea_edge.errors import CeaError
from cea_edge.export.recipes import Recipe
from cea_edge.model.network import CEANet

# The inputs: a few degraded crops of the monitoring suite, chosen by index so that every
# export (any machine, any run) is judged on the same images -- the suite is seeded.
VERIFICATION_SUITE = "aio-synth-mini"
VERIFICATION_SAMPLES = 4

# Runs one (1, 3, T, T) float32 tile through an artifact, returns the (1, 3, T, T) output.
ArtifactRunner = Callable[[np.ndarray], np.ndarray]


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


def psnr_db(reference: np.ndarray, output: np.ndarray) -> float:
    """PSNR over all tiles of outputs clamped to [0, 1] (peak 1); inf when identical."""
    error = np.clip(output, 0.0, 1.0).astype(np.float64) - np.clip(reference, 0.0, 1.0)
    mse = float(np.mean(error * error))
    return math.inf if mse == 0.0 else 10.0 * math.log10(1.0 / mse)


def bar_for(recipe: Recipe) -> str:
    if recipe.precision == "fp32":
        return f"max-abs <= {recipe.fp32_max_abs_error:g}"
    if recipe.quantized:
        return f"PSNR >= {recipe.int8_min_psnr_db:g} dB"
    return f"PSNR >= {recipe.fp16_min_psnr_db:g} dB"


def meets_bar(recipe: Recipe, max_abs_error: float, psnr: float) -> bool:
    if recipe.precision == "fp32":
        return max_abs_error <= recipe.fp32_max_abs_error
    return psnr >= (recipe.int8_min_psnr_db if recipe.quantized else recipe.fp16_min_psnr_db)


def run_verification(
    runner: ArtifactRunner | None,
    runtime: str,
    inputs: VerificationInputs,
    reference: np.ndarray,
    recipe: Recipe,
    checks: list[str] | None = None,
    problems: list[str] | None = None,
    unavailable: str = "",
    reference_label: str = "PyTorch fp32",
    fp32_reference: np.ndarray | None = None,
) -> Verification:
    """Run the artifact on the fixed inputs (when a runner exists) and judge it against
    ``reference``; ``fp32_reference`` (int8 exports) is measured beside it, not judged."""
    result = Verification(runtime=runtime, ran=runner is not None, bar=bar_for(recipe),
                          checks=list(checks or []), problems=list(problems or []),
                          note=unavailable, inputs=list(inputs.sources), reference=reference_label)
    if runner is not None:
        # Copy each output: runtimes may hand back a view of a buffer the next call reuses
        # (ExecuTorch's planned output memory does), which would make every row the last one.
        outputs = np.concatenate([np.array(runner(tile[None]), dtype=np.float32, copy=True) for tile in inputs.tiles])
        if outputs.shape != reference.shape:
            result.problems.append(f"output shape {outputs.shape} != expected {reference.shape}")
        else:
            result.samples = len(inputs.tiles)
            result.max_abs_error = float(np.max(np.abs(outputs - reference)))
            result.psnr_db = psnr_db(reference, outputs)
            if fp32_reference is not None:
                result.fp32_max_abs_error = float(np.max(np.abs(outputs - fp32_reference)))
                result.fp32_psnr_db = psnr_db(fp32_reference, outputs)
    if result.problems:
        result.passed = False
    elif result.ran and result.max_abs_error is not None:
        result.passed = meets_bar(recipe, result.max_abs_error, result.psnr_db)
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


def verify_global_context(artifact: Any, built: Any, model: CEANet, recipe: Recipe, inputs: VerificationInputs,
                          reference_label: str) -> Verification:
    """The context and forward_global graphs, end to end through the runtime's backend.

    Each verification tile is its own photo: its context image (mirror-padded to the
    context side, as the runtime makes it) goes through the artifact's context graph, and
    the tile through forward_global with those factors. The reference is the PyTorch model
    doing the same; the bar is the forward graph's.
    """
    # Imported here: the runtime is what apps use; export reaches into it only to verify.
    from cea_edge.runtime.backends import open_backend
    from cea_edge.runtime.tiling import context_image

    if built.runner is None:
        return Verification(runtime=built.runtime, ran=False, bar=bar_for(recipe), note=built.unavailable,
                            checks=[f"{len(built.siblings) or 2} global-context graphs written"])
    backend = open_backend(artifact)  # no thread setting: ExecuTorch's pool is process-wide
    if not backend.global_mode:
        return Verification(runtime=built.runtime, ran=False, bar=bar_for(recipe), passed=False,
                            problems=["the artifact does not expose its global-context graphs to the runtime"])
    from cea_edge.export.common import context_model as pinned_copy  # common imports this module

    context_model = pinned_copy(model, recipe.context)  # ``model`` itself is pinned to the tile
    outputs, references = [], []
    for tile in inputs.tiles:
        context = context_image(tile.transpose(1, 2, 0), recipe.context)
        factors = backend.context(context).factors
        outputs.append(backend.run(tile[None], factors))
        with torch.no_grad():
            reference_factors = context_model.generate_factors(torch.from_numpy(context.transpose(2, 0, 1)[None].copy()))
            references.append(model(torch.from_numpy(tile[None]), reference_factors).numpy())
    by_tile = iter(outputs)
    return run_verification(lambda tile: next(by_tile), f"{built.runtime}, global context {recipe.context}", inputs,
                            np.concatenate(references), recipe, reference_label=reference_label)
