"""The shared manifest step and the atomic writes every exporter goes through.

Each artifact gets ``<artifact>.json`` beside it: what went in (preset, config, checkpoint
hash, recipe), what came out (layout, range, size, hash) and what was measured. Artifacts
are built under a temporary name in the output folder and renamed into place only after
verification, so a failed or interrupted export leaves nothing half-written behind.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Iterator

from cea_edge.errors import CeaError

MANIFEST_FORMAT = "cea-edge/export-manifest"
MANIFEST_VERSION = 1
VALUE_RANGE = (0.0, 1.0)
TOOLCHAIN = ("torch", "executorch", "coremltools", "onnx", "onnxruntime", "onnxscript", "torchao", "numpy")


@dataclass(frozen=True)
class ArtifactDigest:
    sha256: str
    bytes: int
    kind: str  # "file" or "directory" (.mlpackage)


def toolchain_versions() -> dict[str, str | None]:
    """Installed versions, read from package metadata (importing executorch takes seconds)."""
    versions: dict[str, str | None] = {}
    for package in TOOLCHAIN:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def artifact_digest(path: Path) -> ArtifactDigest:
    """sha256 and size of a file, or of a directory's files in sorted relative-path order.

    For a directory each file contributes its relative path and its bytes, so renames
    inside an .mlpackage change the hash too.
    """
    path = Path(path)
    digest = hashlib.sha256()
    if path.is_file():
        files = [(path.name, path)]
    else:
        files = sorted((p.relative_to(path).as_posix(), p) for p in path.rglob("*") if p.is_file())
    total = 0
    for relative, file in files:
        if path.is_dir():
            digest.update(relative.encode() + b"\0")
        with open(file, "rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
                total += len(block)
    return ArtifactDigest(digest.hexdigest(), total, "directory" if path.is_dir() else "file")


def prepare_output_dir(folder: Path) -> Path:
    """Create the output folder if needed and prove it writable (root ignores mode bits)."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise CeaError(f"output folder '{folder}' is a file; pass --out with a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(prefix=".write-check.", dir=folder)
        os.close(handle)
        os.unlink(probe)
    except OSError as error:
        raise CeaError(f"output folder '{folder}' is not writable ({error.strerror or error}); "
                       "pass --out with a folder you can write to") from None
    return folder


def remove_staged(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def staging_path(destination: Path) -> Path:
    """A hidden temporary name beside ``destination`` with the same suffix (tools check it)."""
    return destination.with_name(f".{destination.stem}.{uuid.uuid4().hex[:8]}.tmp{destination.suffix}")


def publish(staged: Path, destination: Path) -> None:
    """Rename a staged file or directory over ``destination`` (os.replace cannot replace a
    non-empty directory, so an old .mlpackage is moved aside first and deleted after)."""
    if destination.is_dir() and not destination.is_symlink():
        retired = staging_path(destination)
        os.replace(destination, retired)
        os.replace(staged, destination)
        remove_staged(retired)
    else:
        os.replace(staged, destination)


@contextmanager
def staged_outputs(*destinations: Path) -> Iterator[list[Path]]:
    """Yield temporary paths for ``destinations``; on success rename them into place in
    order (artifact first, manifest last), on any error or interrupt delete them all."""
    staged = [staging_path(Path(d)) for d in destinations]
    try:
        yield staged
        for temporary, destination in zip(staged, destinations):
            publish(temporary, Path(destination))
    finally:
        for temporary in staged:
            if temporary.exists():
                remove_staged(temporary)


def build_manifest(
    *,
    artifact: Path,
    digest: ArtifactDigest,
    recipe: dict[str, Any],
    preset: str,
    config: dict[str, Any],
    checkpoint: Path,
    checkpoint_sha256: str,
    min_tile: int,
    io_names: tuple[str | None, str | None],
    export_seconds: float,
    verification: dict[str, Any],
    details: dict[str, Any],
) -> dict[str, Any]:
    """The manifest as a dict (written beside the artifact as ``<artifact>.json``)."""
    tile = recipe["tile"]
    tensor = {"shape": [1, 3, tile, tile], "layout": "NCHW", "channels": "RGB", "dtype": "float32",
              "value_range": list(VALUE_RANGE)}
    return {
        "format": MANIFEST_FORMAT,
        "version": MANIFEST_VERSION,
        "artifact": {"file": artifact.name, "sha256": digest.sha256, "bytes": digest.bytes, "kind": digest.kind},
        "target": recipe["target"],
        "precision": recipe["precision"],
        "delegate": recipe.get("delegate"),
        "model": {"preset": preset, "config": config},
        "checkpoint": {"path": str(checkpoint), "sha256": checkpoint_sha256},
        "tile": {"size": tile, "overlap": recipe["overlap"], "multiple_of": min_tile},
        "input": {"name": io_names[0], **tensor},
        # The output is the restored image, not clamped: clamp to the value range for display.
        "output": {"name": io_names[1], **tensor, "clamped": False},
        "recipe": recipe,
        "toolchain": toolchain_versions(),
        "exported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "export_seconds": round(export_seconds, 3),
        "verification": verification,
        "target_details": details,
    }
