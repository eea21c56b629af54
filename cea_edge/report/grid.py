"""The report's grid and its artifacts: one cell per (target, precision, tile), exported once and
reused while the recipe, the checkpoint and the exporter (code and toolchain) stay the same (the
cache key hashes all three). Exports the user already made (``--reuse DIR``) stand in for a cell's
export when their manifest names the same checkpoint hash, recipe values and exporter, and their
files still hash as the manifest says.

A cell's artifact folder holds what an app ships (the graph, the context / global siblings of
ONNX and Core ML) plus the export manifest; its size is everything but the manifest.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from cea_edge.contract import SIBLING_SUFFIXES, sibling_path
from cea_edge.errors import CeaError
from cea_edge.export.manifest import MANIFEST_FORMAT, artifact_digest, exporter_fingerprint
from cea_edge.export.recipes import QUANTIZED_PRECISIONS, Recipe, recipe_for
from cea_edge.named_files import named_file
from cea_edge.targets import PRECISIONS as ALL_PRECISIONS
from cea_edge.targets import TARGETS as REGISTRY

TARGETS = tuple(REGISTRY)
# A grid is a full cross product: the precisions every target exports (int8w is Core ML's alone).
PRECISIONS = tuple(p for p in ALL_PRECISIONS if all(p in target.precisions for target in REGISTRY.values()))
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


def _recipe_values(recipe: dict[str, Any]) -> dict[str, Any]:
    """Recipe values, not where they were read from."""
    return {key: value for key, value in recipe.items() if key != "source"}


def cache_key(recipe: Recipe, checkpoint_sha256: str) -> str:
    """Recipe values + the checkpoint's hash + the exporter's (code and toolchain)."""
    blob = json.dumps({"recipe": _recipe_values(recipe.to_dict()), "checkpoint": checkpoint_sha256,
                       "exporter": exporter_fingerprint()}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _load_manifest(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("format") == MANIFEST_FORMAT else None


def _intact(path: Path, record: Any) -> bool:
    return isinstance(record, dict) and path.exists() and artifact_digest(path).sha256 == record.get("sha256")


@dataclass(frozen=True)
class ExportSearch:
    """What ``--reuse`` folders hold for one cell."""

    found: tuple[Path, list[Path]] | None  # (manifest, the files it ships, artifact last)
    other_exporter: tuple[Path, ...] = ()  # manifests that match but were made by other exporter code or toolchain


def search_exports(folders: Sequence[Path], recipe: Recipe, checkpoint_sha256: str) -> ExportSearch:
    """The first export in ``folders`` made from this checkpoint with these recipe values by this
    exporter whose artifact and siblings are all there and unchanged; and the exports that would
    have matched but for the exporter (their graphs may differ from what this code makes)."""
    wanted, exporter = _recipe_values(recipe.to_dict()), exporter_fingerprint()
    other: list[Path] = []
    for folder in folders:
        for path in sorted(folder.glob("*.json")):
            manifest = _load_manifest(path)
            if manifest is None or not isinstance(manifest.get("recipe"), dict) \
                    or _recipe_values(manifest["recipe"]) != wanted \
                    or (manifest.get("checkpoint") or {}).get("sha256") != checkpoint_sha256:
                continue
            if manifest.get("exporter_sha256") != exporter:
                other.append(path)
                continue
            artifact = path.with_suffix("")
            siblings = manifest.get("siblings") or {}
            if not isinstance(siblings, dict):
                continue
            _check_inside(folder, path, artifact, siblings)
            if _intact(artifact, manifest.get("artifact")) and all(
                    _intact(sibling_path(artifact, name), record) for name, record in siblings.items()):
                return ExportSearch((path, [*(sibling_path(artifact, name) for name in siblings), artifact]),
                                    tuple(other))
    return ExportSearch(None, tuple(other))


def _check_inside(folder: Path, manifest: Path, artifact: Path, siblings: dict[str, Any]) -> None:
    """The files a --reuse manifest stands for are files of its folder (no link out of it): they are copied."""
    unknown = [name for name in siblings if name not in SIBLING_SUFFIXES]
    if unknown:
        raise CeaError(f"--reuse manifest '{manifest}' lists sibling '{unknown[0]}', which is outside what an export "
                       f"ships ({', '.join(SIBLING_SUFFIXES)}); export again or remove the manifest")
    for file in (manifest, artifact, *(sibling_path(artifact, name) for name in siblings)):
        resolved = named_file(folder, file.name, f"--reuse manifest '{manifest}'")
        if resolved.is_dir() and any(entry.is_symlink() for entry in resolved.rglob("*")):
            raise CeaError(f"--reuse manifest '{manifest}': '{file.name}' holds links, which may lead outside its "
                           "folder; an export holds none: export again")


def find_export(folders: Sequence[Path], recipe: Recipe, checkpoint_sha256: str) -> Path | None:
    """The manifest of a reusable export in ``folders`` (see search_exports); None when there is none."""
    found = search_exports(folders, recipe, checkpoint_sha256).found
    return None if found is None else found[0]


def _copy_export(manifest: Path, files: list[Path], staging: Path) -> Path:
    """The export's shipped ``files`` (artifact last) and manifest copied into ``staging``; the artifact's new path."""
    for path in files:
        if path.is_dir():
            shutil.copytree(path, staging / path.name)
        else:
            shutil.copy2(path, staging / path.name)
    shutil.copy2(manifest, staging / manifest.name)
    return staging / files[-1].name


@dataclass(frozen=True)
class BuiltCell:
    cell: Cell
    artifact: Path
    bytes: int  # everything the app ships: graph + siblings, not the manifest
    origin: str  # "exported", "cached" or "reused <the manifest it was copied from>"
    other_exporter: tuple[Path, ...] = ()  # --reuse manifests passed over: made by another exporter


def _shipped_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file() and not f.name.endswith(".json"))


def build_cell(cell: Cell, recipe: Recipe, checkpoint: Path, checkpoint_sha256: str, cache: Path,
               reuse: Sequence[Path] = ()) -> BuiltCell:
    """The cell's artifact from the cache, else copied from a matching export in ``reuse``, else
    exported into the cache (staged, then renamed: an interrupted build leaves nothing that looks
    finished)."""
    from cea_edge.export.pipeline import export
    from cea_edge.toolchain import quiet_toolchains

    folder = cache / f"{cell.name}-{cache_key(recipe, checkpoint_sha256)}"
    record = folder / CELL_RECORD
    if record.is_file():
        try:
            data = json.loads(record.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            data = None  # a damaged record: the cell is built again
        if isinstance(data, dict) and "artifact" in data:
            named_file(folder, data["artifact"], f"report cache record '{record}'")  # never a file elsewhere
            artifact = folder / data["artifact"]
            if artifact.exists():
                return BuiltCell(cell, artifact, _shipped_bytes(folder), origin="cached")
    staging = cache / f".{folder.name}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        search = search_exports(reuse, recipe, checkpoint_sha256)
        if search.found is not None:
            artifact, origin = _copy_export(*search.found, staging), f"reused {search.found[0]}"
        else:
            # Verification is the parity stage's job here (against the reference, with its bars).
            with quiet_toolchains():
                artifact, origin = export(recipe, checkpoint, staging, verify=False).artifact, "exported"
        (staging / CELL_RECORD).write_text(json.dumps({"artifact": artifact.name, "cell": cell.name,
                                                       "checkpoint_sha256": checkpoint_sha256,
                                                       "origin": origin}), encoding="utf-8")
        shutil.rmtree(folder, ignore_errors=True)
        staging.rename(folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return BuiltCell(cell, folder / artifact.name, _shipped_bytes(folder), origin=origin,
                     other_exporter=search.other_exporter if search.found is None else ())


def checkpoint_for(cell: Cell, fp32: Path, qat: Path | None) -> Path:
    """int8 cells export the QAT twin, the others the fp32 checkpoint."""
    if cell.precision in QUANTIZED_PRECISIONS:
        if qat is None:
            raise CeaError(f"{cell.name} needs a QAT checkpoint: pass --qat-checkpoint (made with python -m "
                           "cea_edge.quantize) or leave int8 out of --precisions")
        return qat
    return fp32
