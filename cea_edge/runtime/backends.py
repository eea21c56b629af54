"""Backends: one small interface over every artifact the exporter writes, and checkpoints.

A backend runs (N, 3, T, T) float32 tiles and says what it takes: tile side, recommended
overlap, value range and precision, read from the artifact itself (ONNX metadata_props,
ExecuTorch constant methods, Core ML user metadata; see cea_edge/contract.py) -- never from
flags the user must remember, nor from side files.
"""

from __future__ import annotations

import errno
import importlib.util
import os
import stat
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from cea_edge.contract import (
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
    check_factor_names,
    sibling_path,
)
from cea_edge.errors import CeaError
from cea_edge.file_kinds import EXECUTORCH, ONNX, named_as, sniff
from cea_edge.runtime.tracing import Trace, executorch_trace, onnx_trace, torch_trace, trace_folder
from cea_edge.targets import TARGETS, target_for_path
from cea_edge.toolchain import quiet_native, require

CHECKPOINT_BATCH = 8  # tiles per PyTorch call, fewer when memory is short (model/memory.py)
Factors = list[np.ndarray]  # flat, adapter by adapter (see cea_edge/contract.py)


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
    adapters: int | None = None  # hyper-adapters in the model (None: unknown until its context graph runs)
    trace: Trace | None = None  # the runtime's profiler (open_backend(trace=True))
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


def check_sibling(info: ArtifactInfo, main: Path, graph: str, file: Path, strings: dict[str, str]) -> None:
    """CeaError unless ``file`` is the ``graph`` sibling of ``main``: its role, checkpoint and tiling."""
    role = strings.get(GRAPH_KEY)
    if role != graph:
        raise CeaError(f"'{file}' should hold the {graph} graph of '{main.name}' but holds "
                       f"{'the ' + role + ' graph' if role else 'no cea-edge graph'}; export the model again "
                       "(its siblings are written together)")
    theirs = ArtifactInfo.from_strings(strings, str(file))
    for label, ours, other in (("checkpoint", info.checkpoint_sha256, theirs.checkpoint_sha256),
                               ("tile", info.tile, theirs.tile), ("context size", info.context_size, theirs.context_size)):
        if ours != other:
            raise CeaError(f"'{file}' is not the {graph} graph of '{main.name}': its {label} is "
                           f"{str(other)[:12]}, the main file's {str(ours)[:12]}; export the model again")


def open_onnx(path: Path, threads: int | None, trace: bool = False) -> Backend:
    ort = require("onnxruntime", "running an ONNX model")
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    folder = trace_folder() if trace else None
    sessions: dict[str, Any] = {}

    def session_for(file: Path, graph: str = FORWARD_GRAPH) -> Any:
        if folder is not None:
            options.enable_profiling, options.profile_file_prefix = True, str(folder / graph)
        try:
            sessions[graph] = ort.InferenceSession(str(file), options, providers=["CPUExecutionProvider"])
            return sessions[graph]
        except Exception as error:  # noqa: BLE001 -- onnxruntime raises its own types for bad files
            kind = sniff(file)
            if kind not in (None, ONNX):  # a checkpoint or program under an .onnx name: say so, not "protobuf"
                raise CeaError(f"'{file}' is {kind}, not an ONNX model{named_as(kind)}") from None
            raise CeaError(f"'{file}' is not a loadable ONNX model ({str(error).splitlines()[0][:160]})") from None

    def check_names(file: Path, opened: Any, factor_inputs: int = 0, context: bool = False) -> None:
        """The graph's own input/output names and counts are what the runner feeds and fetches (a tampered
        file otherwise fails at the first tile, deep inside onnxruntime)."""
        inputs, produced = [i.name for i in opened.get_inputs()], [o.name for o in opened.get_outputs()]
        outputs_ok = (produced and len(produced) % 3 == 0) if context else OUTPUT_NAME in produced
        if inputs[:1] != [INPUT_NAME] or len(inputs) != 1 + factor_inputs or not outputs_ok:
            wanted = f"'{INPUT_NAME}'" + (f" and {factor_inputs} factors" if factor_inputs else "")
            gives = "factors and routing maps (3 per adapter)" if context else repr(OUTPUT_NAME)
            raise CeaError(f"'{file}' is not the graph its metadata says: it takes {inputs[:8]} and gives {produced[:8]}, "
                           f"not {wanted} -> {gives}; the file is damaged: export it again")

    session = session_for(path)
    meta = session.get_modelmeta().custom_metadata_map
    info = ArtifactInfo.from_strings(meta, str(path))
    if meta.get(GRAPH_KEY, FORWARD_GRAPH) != FORWARD_GRAPH:
        raise CeaError(f"'{path}' is the {meta[GRAPH_KEY]} graph of an export; open the main .onnx file beside it")
    shape = list(session.get_inputs()[0].shape)
    if len(shape) != 4 or any(isinstance(side, int) and side != info.tile for side in shape[2:]):
        raise CeaError(f"'{path}': its metadata says tile {info.tile} but its graph takes {shape}; the file is damaged: "
                       "export it again")
    check_names(path, session)
    backend = _from_info("onnxruntime", info, lambda tiles: session.run([OUTPUT_NAME], {INPUT_NAME: tiles})[0])
    context_file, global_file = sibling_path(path, CONTEXT_GRAPH), sibling_path(path, GLOBAL_GRAPH)
    if info.context_size and context_file.is_file() and global_file.is_file():
        context_session, global_session = session_for(context_file, CONTEXT_GRAPH), session_for(global_file, GLOBAL_GRAPH)
        for graph, file, sibling in ((CONTEXT_GRAPH, context_file, context_session),
                                     (GLOBAL_GRAPH, global_file, global_session)):
            check_sibling(info, path, graph, file, sibling.get_modelmeta().custom_metadata_map)
        factor_inputs = [i.name for i in global_session.get_inputs()][1:]
        context_outputs = [o.name for o in context_session.get_outputs()]
        check_names(context_file, context_session, context=True)
        check_names(global_file, global_session, factor_inputs=2 * (len(context_outputs) // 3))
        check_factor_names(info, context_file, context_outputs, global_file, factor_inputs)
        backend.context_size, backend.adapters = info.context_size, len(context_outputs) // 3
        backend._context = lambda image: context_session.run(context_outputs, {INPUT_NAME: image})
        backend._run_global = lambda tiles, factors: global_session.run(
            [OUTPUT_NAME], {INPUT_NAME: tiles, **dict(zip(factor_inputs, factors))})[0]
    if folder is not None:
        backend.trace = onnx_trace(sessions, folder)
    return backend


# An ExecuTorch program is a flatbuffer: root offset (4 bytes), then the schema's file identifier
# (executorch/schema/program.fbs: file_identifier "ET12"). The runtime aborts the process on some
# files that are not programs, so anything else is refused before it sees the bytes.
EXECUTORCH_IDENTIFIER = b"ET12"
EXECUTORCH_MIN_BYTES = 64


def check_executorch_file(path: Path) -> None:
    if not path.is_file():
        raise CeaError(f"'{path}' is not a file; an ExecuTorch program is one .pte file")
    size = path.stat().st_size
    with path.open("rb") as stream:
        header = stream.read(8)
    if size < EXECUTORCH_MIN_BYTES or header[4:8] != EXECUTORCH_IDENTIFIER:
        kind = sniff(path)
        if kind not in (None, EXECUTORCH):  # an ONNX model or checkpoint under a .pte name: say so, not "no identifier"
            raise CeaError(f"'{path}' is {kind}, not an ExecuTorch program{named_as(kind)}")
        found = repr(header[4:8]) if len(header) >= 8 and size >= EXECUTORCH_MIN_BYTES else f"a file of {size} bytes"
        raise CeaError(f"'{path}' is not a loadable ExecuTorch program (no {EXECUTORCH_IDENTIFIER.decode()} "
                       f"identifier at bytes 4-8: found {found}); export it again with --target executorch")
    root = int.from_bytes(header[:4], "little")
    if not 8 <= root < size:
        raise CeaError(f"'{path}' is not a loadable ExecuTorch program (its root offset {root} lies outside "
                       f"its {size} bytes); export it again")


def open_executorch(path: Path, threads: int | None, trace: bool = False) -> Backend:
    check_executorch_file(path)
    # torch's and torchao's import notices and the C++ runtime's start-up lines ("[cpuinfo_utils.cpp:71]
    # Reading file ...") are not the user's business: hidden while the runtime loads, errors are raised.
    with quiet_native():
        runtime = require("executorch.runtime", "running an ExecuTorch program")
        torch = require("torch", "running an ExecuTorch program")
        if threads:
            from executorch.extension.pybindings.portable_lib import (
                _unsafe_reset_threadpool,
            )

            _unsafe_reset_threadpool(threads)  # XNNPACK's pool is process-wide
        try:
            program = runtime.Runtime.get().load_program(str(path), verification=runtime.Verification.InternalConsistency,
                                                         enable_etdump=trace)
            names = set(program.method_names)
            constants = {name: list(program.load_method(name).execute([])) for name in CONSTANT_METHOD_NAMES
                         if name in names}
            methods = {name: program.load_method(name) for name in (FORWARD_GRAPH, CONTEXT_GRAPH, GLOBAL_GRAPH)
                       if name in names}
        except (RuntimeError, ValueError) as error:
            raise CeaError(f"'{path}' is not a loadable ExecuTorch program here "
                           f"({str(error).splitlines()[0][:160]})") from None
    info = ArtifactInfo.from_constant_methods(constants, str(path))
    if FORWARD_GRAPH not in methods:
        raise CeaError(f"'{path}' is an ExecuTorch program, but not one cea-edge exported (no {FORWARD_GRAPH} method)")

    backend_trace, ran = executorch_trace(program) if trace else (None, None)

    def execute(method: str, inputs: list[np.ndarray], _keep_alive: Any = program) -> list[np.ndarray]:
        # copy: outputs alias the method's planned memory, which the next call reuses
        outputs = methods[method].execute([torch.from_numpy(np.ascontiguousarray(x)) for x in inputs])
        if ran is not None:
            ran()
        return [output.float().numpy().copy() for output in outputs]

    backend = _from_info("executorch", info, lambda tiles: execute(FORWARD_GRAPH, [tiles])[0], reentrant=False)
    if info.context_size and CONTEXT_GRAPH in methods and GLOBAL_GRAPH in methods:
        backend.context_size, backend.adapters = info.context_size, methods[CONTEXT_GRAPH].metadata.num_outputs() // 3
        backend._context = lambda image: execute(CONTEXT_GRAPH, [image])
        backend._run_global = lambda tiles, factors: execute(GLOBAL_GRAPH, [tiles, *factors])[0]
    backend.trace = backend_trace
    return backend


def open_coreml(path: Path, threads: int | None, compute_units: str | None = None) -> Backend:
    """A Core ML package. Its metadata and siblings are checked on every platform (coremltools
    reads specs anywhere); predicting needs macOS. compute_units: a coremltools.ComputeUnit name
    (default: what the package was exported with)."""
    on_mac = not TARGETS["coreml"].unavailable()
    runnable = " or ".join(target.suffix for target in TARGETS.values() if not target.unavailable())
    off_mac = (f"'{path}' is a Core ML model: Core ML runs on macOS only, not on {sys.platform}; "
               f"use the {runnable} export here")
    if not on_mac and importlib.util.find_spec("coremltools") is None:
        raise CeaError(off_mac)
    ct = require("coremltools", "running a Core ML model")
    if compute_units and compute_units not in ct.ComputeUnit.__members__:  # members only, never another attribute
        raise CeaError(f"unknown Core ML compute units '{compute_units}'; choose one of: "
                       f"{', '.join(ct.ComputeUnit.__members__)}")
    units = {"compute_units": ct.ComputeUnit[compute_units]} if compute_units else {}

    def load(package: Path) -> Any:
        try:
            return ct.models.MLModel(str(package), skip_model_load=not on_mac, **units)
        except Exception as error:  # noqa: BLE001 -- coremltools raises its own types for bad packages
            raise CeaError(f"'{package}' is not a loadable Core ML package ({str(error).splitlines()[0][:160]})") from None

    model = load(path)
    info = ArtifactInfo.from_strings(dict(model.get_spec().description.metadata.userDefined), str(path))
    context_file, global_file = sibling_path(path, CONTEXT_GRAPH), sibling_path(path, GLOBAL_GRAPH)
    with_context = bool(info.context_size) and context_file.is_dir() and global_file.is_dir()
    if with_context:
        context_model, global_model = load(context_file), load(global_file)
        for graph, file, sibling in ((CONTEXT_GRAPH, context_file, context_model), (GLOBAL_GRAPH, global_file, global_model)):
            check_sibling(info, path, graph, file, dict(sibling.get_spec().description.metadata.userDefined))
        context_outputs = [o.name for o in context_model.get_spec().description.output]
        factor_inputs = [i.name for i in global_model.get_spec().description.input][1:]
        check_factor_names(info, context_file, context_outputs, global_file, factor_inputs)
    if not on_mac:
        raise CeaError(off_mac)
    backend = _from_info("core ml", info, lambda tiles: model.predict({INPUT_NAME: tiles})[OUTPUT_NAME])
    if with_context:
        backend.context_size, backend.adapters = info.context_size, len(context_outputs) // 3

        def context(image: np.ndarray) -> list[np.ndarray]:
            outputs = context_model.predict({INPUT_NAME: image})
            return [outputs[name] for name in context_outputs]

        backend._context = context
        backend._run_global = lambda tiles, factors: global_model.predict(
            {INPUT_NAME: tiles, **dict(zip(factor_inputs, factors))})[OUTPUT_NAME]
    return backend


def open_checkpoint(path: Path, threads: int | None, tile: int, overlap: int, context_size: int,
                    device: str = "cpu", trace: bool = False) -> Backend:
    """A PyTorch checkpoint (fp32 or QAT) in eager mode on ``device`` ("cpu", "cuda", "cuda:1"; the
    parity reference runs on a GPU); any tile (and context side) that fits the preset."""
    require("torch", "running a checkpoint")
    from cea_edge.model.checkpoint import load_checkpoint

    return checkpoint_backend(load_checkpoint(path), threads, tile, overlap, context_size, device, trace)


def checkpoint_backend(loaded: Any, threads: int | None, tile: int, overlap: int, context_size: int,
                       device: str = "cpu", trace: bool = False) -> Backend:
    """open_checkpoint's backend around a LoadedCheckpoint already in memory: the backend runs that
    very model, so a benchmark can switch a QAT model's quantizers between runs."""
    torch = require("torch", "running a checkpoint")
    for name, side in (("tile", tile), ("context size", context_size)):
        if side % loaded.config.min_tile:
            raise CeaError(f"{name} {side} is not a multiple of {loaded.config.min_tile}, the smallest tile of preset "
                           f"'{loaded.config.name}'")
    from cea_edge.model.memory import check_fits, largest_batch

    if device == "cpu":  # the estimate is of host memory
        check_fits(loaded.config, tile, what="tile")
        check_fits(loaded.config, context_size, what="context size")
    batch = largest_batch(loaded.config, tile, CHECKPOINT_BATCH) if device == "cpu" else CHECKPOINT_BATCH
    model = loaded.model.eval().to(device)
    precision = "int8 (fake-quantized)" if loaded.quantization else "fp32"

    def infer(image: np.ndarray, factors: Factors | None = None, full_output: bool = False) -> Any:
        if threads:
            torch.set_num_threads(threads)
        pairs = None
        if factors is not None:
            tensors = [torch.from_numpy(f).to(device).expand(len(image), *f.shape[1:]) for f in factors]
            pairs = model.pair_factors(tensors)
        with torch.no_grad():
            return model(torch.from_numpy(image).to(device), pairs, full_output=full_output)

    def host(tensor: Any) -> np.ndarray:  # detached: a static adapter's factors are its parameters themselves
        return tensor.detach().cpu().numpy()

    def context_outputs(image: np.ndarray) -> list[np.ndarray]:
        output = infer(image, full_output=True)
        return [host(t) for f in output.factors for t in f] + [host(m) for m in output.routing_maps]

    where = "" if device == "cpu" else f", {device}"
    backend = Backend(f"pytorch ({precision}{where})", tile, overlap, precision, VALUE_RANGE, batch,
                      lambda tiles: host(infer(tiles)), context_size=context_size, _context=context_outputs,
                      _run_global=lambda tiles, factors: host(infer(tiles, factors)), adapters=len(model.adapters))
    backend.trace = torch_trace(torch) if trace else None
    return backend


def check_model_path(path: Path) -> None:
    """A model is a regular file (a .mlpackage a folder): a FIFO or device would block or
    feed a runtime endless bytes, a link loop fails deep inside it."""
    try:
        mode = path.stat().st_mode
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise CeaError(f"model '{path}' is a symbolic link loop; give the model file itself") from None
        if path.is_symlink():
            raise CeaError(f"model '{path}' is a broken link (to '{os.readlink(path)}')") from None
        if error.errno == errno.ENOENT:
            raise CeaError(f"model '{path}' does not exist") from None
        raise CeaError(f"model '{path}' cannot be read ({error.strerror or error})") from None
    folder = next((target for target in TARGETS.values() if target.folder and target.suffix == path.suffix.lower()), None)
    if folder is not None and not stat.S_ISDIR(mode):
        raise CeaError(f"model '{path}' is not a {folder.kind} (a {folder.suffix} is a folder)")
    if folder is None and not stat.S_ISREG(mode):
        kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file (a pipe, socket or device)"
        raise CeaError(f"model '{path}' is {kind}; give a model file")


def open_backend(path: str | Path, threads: int | None = None, tile: int = CHECKPOINT_TILE,
                 overlap: int = CHECKPOINT_OVERLAP, context_size: int = CHECKPOINT_CONTEXT_SIZE,
                 device: str = "cpu", trace: bool = False, compute_units: str | None = None) -> Backend:
    """The backend for an exported artifact (tile, overlap and context side from the
    artifact) or a checkpoint (.pt: ``tile``, ``overlap``, ``context_size`` and ``device`` apply).

    trace: switch on the runtime's own profiler (Backend.trace; Core ML has none).
    compute_units: Core ML only, a coremltools.ComputeUnit name.
    """
    path = Path(path)
    check_model_path(path)
    target = target_for_path(path)  # None: a checkpoint
    if target is None:
        return open_checkpoint(path, threads, tile, overlap, context_size, device, trace)
    if device != "cpu":
        raise CeaError(f"'{path.name}' runs in its own runtime on this machine's CPU; a device applies to checkpoints")
    return target.open(path, threads, trace, compute_units)
