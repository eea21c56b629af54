"""Backends: one small interface over every artifact the exporter writes, and checkpoints.

A backend runs (N, 3, T, T) float32 tiles and says what it takes: tile side, recommended
overlap, value range and precision, read from the artifact itself (ONNX metadata_props,
ExecuTorch constant methods, Core ML user metadata; see runtime/contract.py) -- never from
flags the user must remember, nor from side files.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from cea_edge.errors import CeaError
from cea_edge.runtime.contract import (
    CHECKPOINT_CONTEXT_SIZE,
    CHECKPOINT_OVERLAP,
    CHECKPOINT_TILE,
    CONSTANT_METHOD_NAMES,
    CONTEXT_GRAPH,
    FORWARD_GRAPH,
    GLOBAL_GRAPH,
    GRAPH_KEY,
    INPUT_NAME,
    OUTPUT_NAME,
    VALUE_RANGE,
    ArtifactInfo,
    sibling_path,
)
from cea_edge.toolchain import require

Factors = list[np.ndarray]  # flat, adapter by adapter (see runtime/contract.py)


@dataclass
class GlobalContext:
    """What the context graph makes of one photo: the factors every tile then shares, and the
    routing maps of the context image (r maps per adapter, for --routing-maps)."""

    factors: Factors
    routing_maps: list[np.ndarray]  # (1, r, h, w) per adapter


@dataclass
class Backend:
    name: str  # e.g. "onnxruntime (int8)"
    tile: int
    overlap: int
    precision: str
    value_range: tuple[float, float]
    max_batch: int  # tiles per call (1 for fixed-shape artifacts)
    _run: Callable[[np.ndarray], np.ndarray]
    context_size: int = 0  # side of the context graph's input; 0: no global-context mode
    _context: Callable[[np.ndarray], list[np.ndarray]] | None = None  # (1, 3, S, S) -> factors + routing maps
    _run_global: Callable[[np.ndarray, Factors], np.ndarray] | None = None
    # False: calls are serialised (an ExecuTorch method reuses its planned memory per call)
    reentrant: bool = True
    model_seconds: float = 0.0  # wall time spent inside the runtime's calls (the overhead benchmark)
    info: ArtifactInfo | None = None  # what an exported artifact says about itself (None: a checkpoint)
    _run_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _stats_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def global_mode(self) -> bool:
        return self.context_size > 0 and self._context is not None and self._run_global is not None

    def _require_global(self) -> None:
        if not self.global_mode:
            raise CeaError(f"{self.name} has no global-context graph; export it again with a context size, or use "
                           "--context tile")

    def _call(self, function: Callable[..., Any], *args: Any) -> Any:
        started = time.perf_counter()
        if self.reentrant:
            result = function(*args)
        else:
            with self._run_lock:
                result = function(*args)
        elapsed = time.perf_counter() - started
        with self._stats_lock:
            self.model_seconds += elapsed
        return result

    def run(self, tiles: np.ndarray, factors: Factors | None = None) -> np.ndarray:
        """(N, 3, T, T) float32 -> (N, 3, T, T) float32, in batches the artifact accepts.

        factors: a photo's GlobalContext.factors (global-context mode); None: tile mode.
        """
        if tiles.ndim != 4 or tiles.shape[1:] != (3, self.tile, self.tile):
            raise CeaError(f"{self.name} takes (N, 3, {self.tile}, {self.tile}) tiles, got {tiles.shape}")
        if factors is not None:
            self._require_global()
        parts = []
        for i in range(0, len(tiles), self.max_batch):
            batch = np.ascontiguousarray(tiles[i:i + self.max_batch], dtype=np.float32)
            parts.append(self._call(self._run, batch) if factors is None else self._call(self._run_global, batch, factors))
        return np.concatenate(parts)

    def context(self, image: np.ndarray) -> GlobalContext:
        """(S, S, 3) float32 context image (runtime.tiling.context_image) -> its GlobalContext."""
        self._require_global()
        if image.shape != (self.context_size, self.context_size, 3):
            raise CeaError(f"{self.name} takes a ({self.context_size}, {self.context_size}, 3) context image, "
                           f"got {image.shape}")
        outputs = self._call(self._context, np.ascontiguousarray(image.transpose(2, 0, 1)[None], dtype=np.float32))
        adapters = len(outputs) // 3
        return GlobalContext([np.asarray(o, dtype=np.float32) for o in outputs[:2 * adapters]],
                             [np.asarray(o, dtype=np.float32) for o in outputs[2 * adapters:]])


def _from_info(runtime: str, info: ArtifactInfo, run: Callable[[np.ndarray], np.ndarray], reentrant: bool = True
               ) -> Backend:
    """A tile-mode backend from what the artifact says about itself (add global mode after)."""
    return Backend(f"{runtime} ({info.precision})", info.tile, info.overlap, info.precision, info.value_range, 1, run,
                   reentrant=reentrant, info=info)


def open_onnx(path: Path, threads: int | None) -> Backend:
    ort = require("onnxruntime", "running an ONNX model")
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads, options.inter_op_num_threads = threads, 1

    def session_for(file: Path) -> Any:
        try:
            return ort.InferenceSession(str(file), options, providers=["CPUExecutionProvider"])
        except Exception as error:  # noqa: BLE001 -- onnxruntime raises its own types for bad files
            raise CeaError(f"'{file}' is not a loadable ONNX model ({str(error).splitlines()[0][:160]})") from None

    session = session_for(path)
    meta = session.get_modelmeta().custom_metadata_map
    info = ArtifactInfo.from_strings(meta, str(path))
    if meta.get(GRAPH_KEY, FORWARD_GRAPH) != FORWARD_GRAPH:
        raise CeaError(f"'{path}' is the {meta[GRAPH_KEY]} graph of an export; open the main .onnx file beside it")
    backend = _from_info("onnxruntime", info, lambda tiles: session.run([OUTPUT_NAME], {INPUT_NAME: tiles})[0])
    context_file, global_file = sibling_path(path, CONTEXT_GRAPH), sibling_path(path, GLOBAL_GRAPH)
    if info.context_size and context_file.is_file() and global_file.is_file():
        context_session, global_session = session_for(context_file), session_for(global_file)
        factor_inputs = [i.name for i in global_session.get_inputs()][1:]
        context_outputs = [o.name for o in context_session.get_outputs()]
        backend.context_size = info.context_size
        backend._context = lambda image: context_session.run(context_outputs, {INPUT_NAME: image})
        backend._run_global = lambda tiles, factors: global_session.run(
            [OUTPUT_NAME], {INPUT_NAME: tiles, **dict(zip(factor_inputs, factors))})[0]
    return backend


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
        constants = {name: list(program.load_method(name).execute([])) for name in CONSTANT_METHOD_NAMES if name in names}
        methods = {name: program.load_method(name) for name in (FORWARD_GRAPH, CONTEXT_GRAPH, GLOBAL_GRAPH)
                   if name in names}
    except (RuntimeError, ValueError) as error:
        raise CeaError(f"'{path}' is not a loadable ExecuTorch program here ({str(error).splitlines()[0][:160]})") from None
    info = ArtifactInfo.from_constant_methods(constants, str(path))
    if FORWARD_GRAPH not in methods:
        raise CeaError(f"'{path}' is an ExecuTorch program, but not one cea-edge exported (no {FORWARD_GRAPH} method)")

    def execute(method: str, inputs: list[np.ndarray], _keep_alive: Any = program) -> list[np.ndarray]:
        # copy: outputs alias the method's planned memory, which the next call reuses
        outputs = methods[method].execute([torch.from_numpy(np.ascontiguousarray(x)) for x in inputs])
        return [output.float().numpy().copy() for output in outputs]

    backend = _from_info("executorch", info, lambda tiles: execute(FORWARD_GRAPH, [tiles])[0], reentrant=False)
    if info.context_size and CONTEXT_GRAPH in methods and GLOBAL_GRAPH in methods:
        backend.context_size = info.context_size
        backend._context = lambda image: execute(CONTEXT_GRAPH, [image])
        backend._run_global = lambda tiles, factors: execute(GLOBAL_GRAPH, [tiles, *factors])[0]
    return backend


def open_coreml(path: Path, threads: int | None) -> Backend:
    if sys.platform != "darwin":
        raise CeaError(f"'{path}' is a Core ML model: Core ML runs on macOS only, not on {sys.platform}; "
                       "use the .onnx or .pte export here")
    ct = require("coremltools", "running a Core ML model")

    def load(package: Path) -> Any:
        try:
            return ct.models.MLModel(str(package))
        except Exception as error:  # noqa: BLE001 -- coremltools raises its own types for bad packages
            raise CeaError(f"'{package}' is not a loadable Core ML package ({str(error).splitlines()[0][:160]})") from None

    model = load(path)
    info = ArtifactInfo.from_strings(dict(model.get_spec().description.metadata.userDefined), str(path))
    backend = _from_info("core ml", info, lambda tiles: model.predict({INPUT_NAME: tiles})[OUTPUT_NAME])
    context_file, global_file = sibling_path(path, CONTEXT_GRAPH), sibling_path(path, GLOBAL_GRAPH)
    if info.context_size and context_file.is_dir() and global_file.is_dir():
        context_model, global_model = load(context_file), load(global_file)
        context_outputs = [o.name for o in context_model.get_spec().description.output]
        factor_inputs = [i.name for i in global_model.get_spec().description.input][1:]
        backend.context_size = info.context_size

        def context(image: np.ndarray) -> list[np.ndarray]:
            outputs = context_model.predict({INPUT_NAME: image})
            return [outputs[name] for name in context_outputs]

        backend._context = context
        backend._run_global = lambda tiles, factors: global_model.predict(
            {INPUT_NAME: tiles, **dict(zip(factor_inputs, factors))})[OUTPUT_NAME]
    return backend


def open_checkpoint(path: Path, threads: int | None, tile: int, overlap: int, context_size: int) -> Backend:
    """A PyTorch checkpoint (fp32 or QAT) in eager mode; any tile (and context side) that fits the preset."""
    torch = require("torch", "running a checkpoint")
    from cea_edge.model.adapter import AdapterFactors
    from cea_edge.model.checkpoint import load_checkpoint

    loaded = load_checkpoint(path)
    for name, side in (("tile", tile), ("context size", context_size)):
        if side % loaded.config.min_tile:
            raise CeaError(f"{name} {side} is not a multiple of {loaded.config.min_tile}, the smallest tile of preset "
                           f"'{loaded.config.name}'")
    model = loaded.model.eval()
    precision = "int8 (fake-quantized)" if loaded.quantization else "fp32"

    def infer(image: np.ndarray, factors: Factors | None = None, full_output: bool = False) -> Any:
        if threads:
            torch.set_num_threads(threads)
        pairs = None
        if factors is not None:
            tensors = [torch.from_numpy(f).expand(len(image), -1, -1) for f in factors]
            pairs = [AdapterFactors(tensors[i], tensors[i + 1]) for i in range(0, len(tensors), 2)]
        with torch.no_grad():
            return model(torch.from_numpy(image), pairs, full_output=full_output)

    def context_outputs(image: np.ndarray) -> list[np.ndarray]:
        output = infer(image, full_output=True)
        return [t.numpy() for f in output.factors for t in f] + [m.numpy() for m in output.routing_maps]

    return Backend(f"pytorch ({precision})", tile, overlap, precision, VALUE_RANGE, 8,
                   lambda tiles: infer(tiles).numpy(), context_size=context_size, _context=context_outputs,
                   _run_global=lambda tiles, factors: infer(tiles, factors).numpy())


OPENERS = {".onnx": open_onnx, ".pte": open_executorch, ".mlpackage": open_coreml}


def open_backend(path: str | Path, threads: int | None = None, tile: int = CHECKPOINT_TILE,
                 overlap: int = CHECKPOINT_OVERLAP, context_size: int = CHECKPOINT_CONTEXT_SIZE) -> Backend:
    """The backend for an exported artifact (tile, overlap and context side from the
    artifact) or a checkpoint (.pt: ``tile``, ``overlap`` and ``context_size`` apply)."""
    path = Path(path)
    if not path.exists():
        raise CeaError(f"model '{path}' does not exist")
    suffix = path.suffix.lower()
    if suffix == ".pt":
        return open_checkpoint(path, threads, tile, overlap, context_size)
    if suffix not in OPENERS:
        raise CeaError(f"'{path}': not a model cea-edge runs (expected .onnx, .pte, .mlpackage or a .pt checkpoint)")
    return OPENERS[suffix](path, threads)
