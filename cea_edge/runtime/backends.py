"""Backends: one small interface over every artifact the exporter writes, and checkpoints.

A backend runs (N, 3, T, T) float32 tiles and says what it takes: tile side, recommended
overlap, value range and precision, read from the artifact itself (ONNX metadata_props,
ExecuTorch constant methods, Core ML user metadata) and its manifest when one lies beside
it -- never from flags the user must remember.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from cea_edge.errors import CeaError
from cea_edge.toolchain import require


@dataclass
class Backend:
    name: str  # e.g. "onnxruntime (int8)"
    tile: int
    overlap: int
    precision: str
    value_range: tuple[float, float]
    max_batch: int  # tiles per call (1 for fixed-shape artifacts)
    _run: Callable[[np.ndarray], np.ndarray]

    def run(self, tiles: np.ndarray) -> np.ndarray:
        """(N, 3, T, T) float32 -> (N, 3, T, T) float32, in batches the artifact accepts."""
        if tiles.ndim != 4 or tiles.shape[1:] != (3, self.tile, self.tile):
            raise CeaError(f"{self.name} takes (N, 3, {self.tile}, {self.tile}) tiles, got {tiles.shape}")
        parts = [self._run(np.ascontiguousarray(tiles[i:i + self.max_batch], dtype=np.float32))
                 for i in range(0, len(tiles), self.max_batch)]
        return np.concatenate(parts)


def _manifest(path: Path) -> dict[str, Any]:
    beside = path.with_name(path.name + ".json")
    if not beside.is_file():
        return {}
    try:
        return json.loads(beside.read_text())
    except (OSError, ValueError):
        return {}


def _value_range(text: str | None) -> tuple[float, float]:
    if not text:
        return (0.0, 1.0)
    low, high = (float(v) for v in text.split(","))
    return (low, high)


def open_onnx(path: Path, threads: int | None) -> Backend:
    ort = require("onnxruntime", "running an ONNX model")
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    try:
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as error:  # noqa: BLE001 -- onnxruntime raises its own types for bad files
        raise CeaError(f"'{path}' is not a loadable ONNX model ({str(error).splitlines()[0][:160]})") from None
    meta = session.get_modelmeta().custom_metadata_map
    if "cea_edge.tile" not in meta:
        raise CeaError(f"'{path}' is an ONNX model, but not one cea-edge exported (no cea_edge.tile metadata)")
    input_name, output_name = session.get_inputs()[0].name, session.get_outputs()[0].name
    return Backend(f"onnxruntime ({meta.get('cea_edge.precision', '?')})", int(meta["cea_edge.tile"]),
                   int(meta.get("cea_edge.overlap", 0)), meta.get("cea_edge.precision", "?"),
                   _value_range(meta.get("cea_edge.value_range")), 1,
                   lambda tiles: session.run([output_name], {input_name: tiles})[0])


def open_executorch(path: Path, threads: int | None) -> Backend:
    runtime = require("executorch.runtime", "running an ExecuTorch program")
    torch = require("torch", "running an ExecuTorch program")
    if threads:
        from executorch.extension.pybindings.portable_lib import (
            _unsafe_reset_threadpool,
        )

        _unsafe_reset_threadpool(threads)  # XNNPACK's pool is process-wide
    try:
        program = runtime.Runtime.get().load_program(str(path))
        names = set(program.method_names)
        constants = {name: list(program.load_method(name).execute([])) for name in ("tile_size", "tile_overlap", "value_range")
                     if name in names}
        forward = program.load_method("forward")
    except (RuntimeError, ValueError) as error:
        raise CeaError(f"'{path}' is not a loadable ExecuTorch program here ({str(error).splitlines()[0][:160]})") from None
    if "tile_size" not in constants:
        raise CeaError(f"'{path}' is an ExecuTorch program, but not one cea-edge exported (no tile_size method)")
    precision = _manifest(path).get("precision", "?")

    def run(tiles: np.ndarray, _keep_alive: Any = program) -> np.ndarray:
        # copy: the output aliases the method's planned memory, which the next call reuses
        return forward.execute([torch.from_numpy(tiles)])[0].float().numpy().copy()

    low, high = constants.get("value_range", [0.0, 1.0])
    return Backend(f"executorch ({precision})", int(constants["tile_size"][0]), int(constants.get("tile_overlap", [0])[0]),
                   precision, (float(low), float(high)), 1, run)


def open_coreml(path: Path, threads: int | None) -> Backend:
    if sys.platform != "darwin":
        raise CeaError(f"'{path}' is a Core ML model: Core ML runs on macOS only, not on {sys.platform}; "
                       "use the .onnx or .pte export here")
    ct = require("coremltools", "running a Core ML model")
    model = ct.models.MLModel(str(path))
    meta = dict(model.get_spec().description.metadata.userDefined)
    return Backend(f"core ml ({meta.get('cea_edge.precision', '?')})", int(meta["cea_edge.tile"]),
                   int(meta.get("cea_edge.overlap", 0)), meta.get("cea_edge.precision", "?"),
                   _value_range(meta.get("cea_edge.value_range")), 1,
                   lambda tiles: model.predict({"image": tiles})["restored"])


def open_checkpoint(path: Path, threads: int | None, tile: int, overlap: int) -> Backend:
    """A PyTorch checkpoint (fp32 or QAT) in eager mode; any tile that fits the preset."""
    torch = require("torch", "running a checkpoint")
    from cea_edge.model.checkpoint import load_checkpoint

    loaded = load_checkpoint(path)
    if tile % loaded.config.min_tile:
        raise CeaError(f"tile {tile} is not a multiple of {loaded.config.min_tile}, the smallest tile of preset "
                       f"'{loaded.config.name}'")
    model = loaded.model.eval()
    precision = "int8 (fake-quantized)" if loaded.quantization else "fp32"

    def run(tiles: np.ndarray) -> np.ndarray:
        if threads:
            torch.set_num_threads(threads)
        with torch.no_grad():
            return model(torch.from_numpy(tiles)).numpy()

    return Backend(f"pytorch ({precision})", tile, overlap, precision, (0.0, 1.0), 8, run)


OPENERS = {".onnx": open_onnx, ".pte": open_executorch, ".mlpackage": open_coreml}


def open_backend(path: str | Path, threads: int | None = None, tile: int = 256, overlap: int = 32) -> Backend:
    """The backend for an exported artifact (tile and overlap from the artifact) or a
    checkpoint (.pt: ``tile``/``overlap`` apply)."""
    path = Path(path)
    if not path.exists():
        raise CeaError(f"model '{path}' does not exist")
    suffix = path.suffix.lower()
    if suffix == ".pt":
        return open_checkpoint(path, threads, tile, overlap)
    if suffix not in OPENERS:
        raise CeaError(f"'{path}': not a model cea-edge runs (expected .onnx, .pte, .mlpackage or a .pt checkpoint)")
    return OPENERS[suffix](path, threads)
