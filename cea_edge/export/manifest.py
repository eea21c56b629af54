"""The shared manifest step every exporter goes through.

Each artifact gets ``<artifact>.json`` beside it: what went in (preset, config, checkpoint
hash, recipe), what came out (layout, range, size, hash) and what was measured. (Staging
and publishing -- nothing half-written under a final name -- live in cea_edge/atomic.py.)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from cea_edge.contract import VALUE_RANGE

MANIFEST_FORMAT = "cea-edge/export-manifest"
MANIFEST_VERSION = 1
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


# What decides an artifact's contents besides the recipe and the checkpoint: the model code, the
# exporters and the artifact contract (paths relative to the cea_edge package).
_EXPORTER_SOURCES = ("model", "export", "contract.py")


def exporter_fingerprint() -> str:
    """sha256 of the exporting code and the toolchain versions: two exports of the same recipe and
    checkpoint are the same artifact only when this matches too (a cache must not hand back an
    artifact an older exporter made)."""
    package = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for entry in _EXPORTER_SOURCES:
        files = sorted((package / entry).rglob("*.py")) if (package / entry).is_dir() else [package / entry]
        for file in files:
            digest.update(file.relative_to(package).as_posix().encode() + b"\0" + file.read_bytes() + b"\0")
    digest.update(repr(sorted(toolchain_versions().items())).encode())
    return digest.hexdigest()


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
    for relative, file in files:
        if path.is_dir():
            digest.update(relative.encode() + b"\0")
        with open(file, "rb") as stream:
            hashlib.file_digest(stream, lambda: digest)  # one running digest over every file
    total = sum(file.stat().st_size for _, file in files)
    return ArtifactDigest(digest.hexdigest(), total, "directory" if path.is_dir() else "file")


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
        "exporter_sha256": exporter_fingerprint(),
        "exported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "export_seconds": round(export_seconds, 3),
        "verification": verification,
        "target_details": details,
    }
