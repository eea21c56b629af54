"""Checkpoints: config + weights + training metadata in one file, written atomically."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from cea_edge.atomic import atomic_write
from cea_edge.errors import CeaError
from cea_edge.file_kinds import PYTORCH, sniff
from cea_edge.model.config import BUNDLED_PRESET, CEAConfig
from cea_edge.model.network import CEANet

CHECKPOINT_FORMAT = "cea-edge/checkpoint"
CHECKPOINT_VERSION = 1
BUNDLED_DIR = Path(__file__).resolve().parent.parent / "checkpoints"
DEFAULT_CHECKPOINT = BUNDLED_DIR / f"{BUNDLED_PRESET}.pt"
# The same model after NNCF quantization-aware training (python -m cea_edge.quantize): int8 exports.
DEFAULT_QAT_CHECKPOINT = BUNDLED_DIR / f"{BUNDLED_PRESET}-qat-int8.pt"
# edge2, the default until edge3 (issue 27), and v1 (the `edge` preset), the default until edge v2
# (issue 16); both still loadable and exportable, with their int8 twins.
EDGE2_CHECKPOINT, EDGE2_QAT_CHECKPOINT = BUNDLED_DIR / "edge2.pt", BUNDLED_DIR / "edge2-qat-int8.pt"
EDGE_V1_CHECKPOINT, EDGE_V1_QAT_CHECKPOINT = BUNDLED_DIR / "edge.pt", BUNDLED_DIR / "edge-qat-int8.pt"


@dataclass
class LoadedCheckpoint:
    model: CEANet
    config: CEAConfig
    metadata: dict[str, Any]  # training metadata (steps, time, losses, validation, ...)
    training_state: dict[str, Any] | None  # optimizer/scheduler state, only in run checkpoints
    path: Path
    # Quantization-aware checkpoints: {"scheme": ..., "nncf_config": ...}; the model then
    # carries NNCF's fake quantizers (restored exactly, scales included).
    quantization: dict[str, Any] | None = None


def save_checkpoint(
    path: Path,
    model: CEANet,
    metadata: dict[str, Any] | None = None,
    training_state: dict[str, Any] | None = None,
    quantization: dict[str, Any] | None = None,
) -> None:
    """quantization: for an NNCF-quantized model, {"scheme": ..., "nncf_config": nncf.torch.get_config(model)}."""
    payload = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "config": model.config.to_dict(),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "metadata": metadata or {},
    }
    if training_state is not None:
        payload["training_state"] = training_state
    if quantization is not None:
        payload["quantization"] = quantization
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda stream: torch.save(payload, stream))


def check_checkpoint_file(path: str | Path, flag: str | None = None) -> Path:
    """``path`` when it is a file; else CeaError saying what it is instead (missing, a folder) and naming
    ``flag`` when one gave it. Every command that takes a checkpoint checks it here, before any work."""
    path = Path(path)
    named = f"{flag} '{path}'" if flag else f"checkpoint '{path}'"
    if path.is_file():
        return path
    if path.is_dir():
        raise CeaError(f"{named} is a folder; give the checkpoint file in it (a .pt, e.g. runs/train/final.pt)")
    raise CeaError(f"{named} does not exist" if not path.exists() else f"{named} is not a regular file")


def load_checkpoint(path: str | Path, expected_preset: str | None = None) -> LoadedCheckpoint:
    """Load and validate a checkpoint; every problem becomes a CeaError saying what to do."""
    path = check_checkpoint_file(path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 -- torch raises several types for non-torch or truncated files
        kind = sniff(path)
        if kind not in (None, PYTORCH):  # an export or a photo where the checkpoint belongs: say which
            raise CeaError(f"'{path}' is {kind}, not a cea-edge checkpoint; give the .pt checkpoint here "
                           "(written by train or quantize; an exported model runs with enhance --model)") from None
        raise CeaError(f"'{path}' is not a readable cea-edge checkpoint ({type(error).__name__}); "
                       "pass a .pt file written by `python -m cea_edge.train`") from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise CeaError(f"'{path}' is a torch file but not a cea-edge checkpoint (no '{CHECKPOINT_FORMAT}' header)")
    if payload.get("version") != CHECKPOINT_VERSION:
        raise CeaError(f"'{path}' has checkpoint version {payload.get('version')}; this cea-edge reads {CHECKPOINT_VERSION}")
    config = CEAConfig.from_dict(payload.get("config", {}))
    if expected_preset is not None and config.name != expected_preset:
        raise CeaError(f"'{path}' holds preset '{config.name}', but preset '{expected_preset}' was asked for")
    model = CEANet(config)
    quantization = payload.get("quantization")
    try:
        if quantization is not None:
            # Imported here: NNCF is an optional dependency, needed only for QAT checkpoints.
            from cea_edge.model.quantized import restore_quantizers

            model = restore_quantizers(model, quantization, path)
        model.load_state_dict(payload["state_dict"])
    except (RuntimeError, KeyError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CeaError(f"'{path}': weights do not match its config '{config.name}': {first_line}") from None
    model.eval()
    return LoadedCheckpoint(model, config, payload.get("metadata", {}), payload.get("training_state"), path,
                            quantization)


def file_sha256(path: Path) -> str:
    with open(path, "rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


def source_record(loaded: LoadedCheckpoint) -> dict[str, Any]:
    """What a derived (QAT) checkpoint records of the fp32 checkpoint it came from; {} for an fp32 one."""
    return (loaded.quantization or {}).get("source_checkpoint") or {}


def source_sha256(loaded: LoadedCheckpoint, own_sha256: str | None = None) -> str:
    """The sha256 of the fp32 checkpoint the weights descend from: the recorded source of a QAT
    checkpoint, else the file itself (``own_sha256`` when the caller has hashed it already)."""
    return source_record(loaded).get("sha256") or own_sha256 or file_sha256(loaded.path)


def find_source_checkpoint(source: dict[str, Any], beside: Path | None = None) -> Path | None:
    """The file a derived checkpoint (QAT) records as its source, found by its sha256: at the
    recorded path (relative to where that run started), beside the derived file, or bundled."""
    if not isinstance(source.get("path"), str) or not isinstance(source.get("sha256"), str) \
            or not source["path"] or not source["sha256"]:
        return None  # found by its hash only: a record cannot make any other file stand in for it
    recorded = Path(source["path"])
    candidates = [recorded] + ([beside / recorded.name] if beside is not None else []) + [DEFAULT_CHECKPOINT]
    return next((path for path in candidates if path.is_file() and file_sha256(path) == source["sha256"]), None)
