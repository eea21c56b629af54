"""The report's grid and its artifacts: one cell per (target, precision, tile), exported once and
reused while the recipe and the checkpoint stay the same (the cache key hashes both).

A cell's artifact folder holds what an app ships (the graph, the context / global siblings of
ONNX and Core ML) plus the export manifest; its size is everything but the manifest.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from cea_edge.errors import CeaError
from cea_edge.export.recipes import QUANTIZED_PRECISIONS, Recipe, recipe_for

TARGETS = ("onnx", "executorch", "coreml")
PRECISIONS = ("fp32", "fp16", "int8")
SUFFIXES = {"onnx": ".onnx", "executorch": ".pte", "coreml": ".mlpackage"}
CELL_RECORD = "cell.json"


@dataclass(frozen=True)
class Cell:
    target: str
    precision: str
    tile: int

    @property
    def name(self) -> str:
        return f"{self.target}-{self.precision}-t{self.tile}"


def grid(targets: list[str], precisions: list[str], tiles: list[int]) -> list[Cell]:
    """Every combination, in the order given (duplicates dropped)."""
    return [Cell(t, p, s) for t in dict.fromkeys(targets) for p in dict.fromkeys(precisions) for s in dict.fromkeys(tiles)]


def cell_recipe(cell: Cell, overlap: int | None, context_size: int | None) -> Recipe:
    return recipe_for(cell.target).with_overrides(precision=cell.precision, tile=cell.tile, overlap=overlap,
                                                   context_size=context_size)


def cache_key(recipe: Recipe, checkpoint_sha256: str) -> str:
    """Recipe values (not where they were read from) + the checkpoint's hash."""
    values = recipe.to_dict()
    values.pop("source", None)
    blob = json.dumps({"recipe": values, "checkpoint": checkpoint_sha256}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class BuiltCell:
    cell: Cell
    artifact: Path
    bytes: int  # everything the app ships: graph + siblings, not the manifest
    reused: bool


def _shipped_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file() and not f.name.endswith(".json"))


def build_cell(cell: Cell, recipe: Recipe, checkpoint: Path, checkpoint_sha256: str, cache: Path) -> BuiltCell:
    """The cell's artifact from the cache, or exported into it (staged, then renamed: an
    interrupted export leaves nothing that looks finished)."""
    from cea_edge.export.pipeline import export
    from cea_edge.toolchain import quiet_toolchains

    folder = cache / f"{cell.name}-{cache_key(recipe, checkpoint_sha256)}"
    record = folder / CELL_RECORD
    if record.is_file():
        data = json.loads(record.read_text(encoding="utf-8"))
        artifact = folder / data["artifact"]
        if artifact.exists():
            return BuiltCell(cell, artifact, _shipped_bytes(folder), reused=True)
    staging = cache / f".{folder.name}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        # Verification is the parity stage's job here (against the reference, with its bars).
        with quiet_toolchains():
            result = export(recipe, checkpoint, staging, verify=False)
        (staging / CELL_RECORD).write_text(json.dumps({"artifact": result.artifact.name, "cell": cell.name,
                                                       "checkpoint_sha256": checkpoint_sha256}), encoding="utf-8")
        shutil.rmtree(folder, ignore_errors=True)
        staging.rename(folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return BuiltCell(cell, folder / result.artifact.name, _shipped_bytes(folder), reused=False)


def checkpoint_for(cell: Cell, fp32: Path, qat: Path | None) -> Path:
    """int8 cells export the QAT twin, the others the fp32 checkpoint."""
    if cell.precision in QUANTIZED_PRECISIONS:
        if qat is None:
            raise CeaError(f"{cell.name} needs a QAT checkpoint: pass --qat-checkpoint (made with python -m "
                           "cea_edge.quantize) or leave int8 out of --precisions")
        return qat
    return fp32
