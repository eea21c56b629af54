"""The export targets, in one typed place: what each one is and where its code lives.

Every stage that handles artifacts reads this registry instead of keeping a table of its own:
the export CLI and recipes (names, precisions, suffixes), the runtime (which backend opens a
file), enhance (which default export to look for), parity and profile (which files they take,
the static census), the report grid and the Android bundling.

    target       suffix      precisions              predicts on         per-op profiler
    onnx         .onnx       fp32 fp16 int8          everywhere          onnxruntime's
    executorch   .pte        fp32 fp16 int8          everywhere          ETDump
    coreml       .mlpackage  fp32 fp16 int8 int8w    macOS only          none from Python

This module imports nothing but the error type: each member reaches the stage that does the work
(export, runtime, profile) on call, so that importing the registry pulls in no toolchain and no
stage -- the runtime may read it without importing export code, export without the profiler.
A file picks its target by its suffix only, among these three fixed entries: never by anything
it contains.
"""

from __future__ import annotations

import sys
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType, ModuleType
from typing import TYPE_CHECKING, Any, Mapping

from cea_edge.errors import CeaError

if TYPE_CHECKING:  # annotations only: importing these here would break the layering above
    from cea_edge.contract import ArtifactInfo
    from cea_edge.export.common import BuiltArtifact
    from cea_edge.export.pipeline import ExportResult
    from cea_edge.export.recipes import Recipe
    from cea_edge.export.verify import Verification
    from cea_edge.model.network import CEANet
    from cea_edge.runtime.backends import Backend

# Every precision an export can have, in the order the CLI lists them. int8: weights and
# activations from a QAT checkpoint; int8w: int8 weights only, float activations.
PRECISIONS = ("fp32", "fp16", "int8", "int8w")
QUANTIZED_PRECISIONS = ("int8", "int8w")
PRECISION_MEANINGS = {"fp32": "float32", "fp16": "float16 compute, float32 I/O",
                      "int8": "int8 weights and activations", "int8w": "int8 weights, float activations"}
CHECKPOINT_SUFFIX = ".pt"  # not a target: the runtime runs checkpoints in PyTorch
PLATFORM_NAMES = {"darwin": "macOS"}  # sys.platform -> what a message calls it


@dataclass(frozen=True)
class Target(ABC):
    """One export target: what its artifacts are and the stage code that makes, opens and reads them."""

    name: str  # --target value, recipe file stem (export/<name>.toml), default folder artifacts/<name>/
    suffix: str  # of the artifact (lower case; its context / global siblings keep it: x.context.onnx)
    title: str  # the format in prose: "Core ML"
    kind: str  # what one artifact is, in messages: "Core ML package"
    precisions: tuple[str, ...]  # what it exports, a subset of PRECISIONS
    folder: bool = False  # the artifact is a folder, not a file (.mlpackage)
    platform: str | None = None  # the sys.platform its runtime predicts on; None: everywhere it installs
    op_profiler: bool = True  # its runtime has a per-operator profiler reachable from Python

    # ---- what it is -------------------------------------------------------------------------
    def unavailable(self) -> str:
        """Why its artifacts cannot run on this machine ('' when they can): Core ML off macOS."""
        if self.platform is None or sys.platform == self.platform:
            return ""
        where = PLATFORM_NAMES.get(self.platform, self.platform)
        return f"{self.title} prediction runs on {where} only, not on {sys.platform}"

    # ---- export -----------------------------------------------------------------------------
    @abstractmethod
    def exporter(self) -> ModuleType:
        """The module that builds it: check_toolchain(recipe), prediction_unavailable(recipe), build(...)."""

    def export(self, recipe: Recipe, checkpoint: Path | None, out_dir: Path, verify: bool = True,
               require_prediction: bool = False, time_census: bool = False, overwrite: bool = False) -> ExportResult:
        """cea_edge.export.pipeline.export for a recipe of this target (see there)."""
        from cea_edge.export.pipeline import export

        if recipe.target != self.name:
            raise CeaError(f"recipe {recipe.source} is for target '{recipe.target}', not '{self.name}'")
        return export(recipe, checkpoint, out_dir, verify, require_prediction, time_census, overwrite)

    def default_artifact(self, preset: str) -> Path:
        """What `python -m cea_edge.export --target NAME` writes for ``preset`` without --out or a flag
        (the bundled recipe's values; recipes are torch-free to read)."""
        from cea_edge.export.recipes import artifact_name, default_out_dir, recipe_for

        return default_out_dir(self.name) / artifact_name(preset, recipe_for(self.name))

    def verify(self, artifact: Path, built: BuiltArtifact, expected: ArtifactInfo, model: CEANet, recipe: Recipe,
               reference_label: str, fp32_model: CEANet | None = None) -> Verification:
        """The shared verification step (cea_edge.export.verify): the staged artifact through this
        target's backend against the PyTorch model, or the structural checks where it cannot run here."""
        from cea_edge.export.verify import verify_artifact

        return verify_artifact(artifact, built, expected, model, recipe, reference_label, fp32_model)

    # ---- runtime ----------------------------------------------------------------------------
    @abstractmethod
    def open(self, path: Path, threads: int | None = None, trace: bool = False,
             compute_units: str | None = None) -> Backend:
        """Its backend in the runtime (cea_edge.runtime.backends); CeaError when the file cannot be
        used here. trace: the runtime's profiler (where it has one); compute_units: Core ML only."""

    # ---- profile ----------------------------------------------------------------------------
    @abstractmethod
    def census(self, path: Path) -> dict[str, Any] | None:
        """What the artifact holds, read statically from the file (cea_edge.profile.census); None
        when the target has none (an ONNX graph is inspected by its runtime's profiler instead)."""

    def time_census(self, path: Path, threads: int = 1, runs: int = 5) -> dict[str, Any]:
        """Where a forward tile's op time goes by arithmetic (int8 / float / convert / layout), from
        the runtime's own profiler (cea_edge.profile.run.time_census)."""
        if not self.op_profiler:
            raise CeaError(f"'{path.name}': {self.title} has no per-operator profiler reachable from Python")
        from cea_edge.profile.run import time_census

        return time_census(path, threads, runs)


class OnnxTarget(Target):
    def exporter(self) -> ModuleType:
        from cea_edge.export import onnx_target

        return onnx_target

    def open(self, path: Path, threads: int | None = None, trace: bool = False,
             compute_units: str | None = None) -> Backend:
        from cea_edge.runtime.backends import open_onnx

        return open_onnx(path, threads, trace)

    def census(self, path: Path) -> dict[str, Any] | None:
        return None


class ExecuTorchTarget(Target):
    def exporter(self) -> ModuleType:
        from cea_edge.export import executorch_target

        return executorch_target

    def open(self, path: Path, threads: int | None = None, trace: bool = False,
             compute_units: str | None = None) -> Backend:
        from cea_edge.runtime.backends import open_executorch

        return open_executorch(path, threads, trace)

    def census(self, path: Path) -> dict[str, Any] | None:
        from cea_edge.profile.census import executorch_census

        return executorch_census(path)


class CoreMLTarget(Target):
    def exporter(self) -> ModuleType:
        from cea_edge.export import coreml_target

        return coreml_target

    def open(self, path: Path, threads: int | None = None, trace: bool = False,
             compute_units: str | None = None) -> Backend:
        from cea_edge.runtime.backends import open_coreml

        return open_coreml(path, threads, compute_units)  # Core ML has no profiler to trace with

    def census(self, path: Path) -> dict[str, Any] | None:
        from cea_edge.profile.census import coreml_census

        return coreml_census(path)


# The order is the one every list shows (report grid, help texts, the suffixes an error names).
TARGETS: Mapping[str, Target] = MappingProxyType({target.name: target for target in (
    OnnxTarget("onnx", ".onnx", "ONNX", "ONNX model", ("fp32", "fp16", "int8")),
    ExecuTorchTarget("executorch", ".pte", "ExecuTorch", "ExecuTorch program", ("fp32", "fp16", "int8")),
    CoreMLTarget("coreml", ".mlpackage", "Core ML", "Core ML package", ("fp32", "fp16", "int8", "int8w"),
                 folder=True, platform="darwin", op_profiler=False),
)})
ARTIFACT_SUFFIXES = tuple(target.suffix for target in TARGETS.values())


def target_for_path(path: str | Path, action: str = "runs") -> Target | None:
    """The target whose artifacts end in ``path``'s suffix (any case); None for a checkpoint (.pt).

    Any other suffix is one CeaError naming what is taken; ``action`` completes its "not a model
    cea-edge ..." ("runs", "profiles").
    """
    suffix = Path(path).suffix.lower()
    for target in TARGETS.values():
        if target.suffix == suffix:
            return target
    if suffix == CHECKPOINT_SUFFIX:
        return None
    raise CeaError(f"'{path}': not a model cea-edge {action} (expected {', '.join(ARTIFACT_SUFFIXES)} "
                   f"or a {CHECKPOINT_SUFFIX} checkpoint)")
