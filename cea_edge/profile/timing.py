"""Latency per graph, this machine's matmul peak, and the end-to-end photo run in a fresh process.

Tile latency is the wall time of ``Backend.run`` on one (1, 3, T, T) tile -- what the tiled
runtime pays per tile, output copy included -- after warm-up calls, over ``runs`` calls.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import resource
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from cea_edge.contract import CONTEXT_GRAPH, FORWARD_GRAPH, GLOBAL_GRAPH
from cea_edge.errors import CeaError
from cea_edge.profile.schema import EndToEnd, EndToEndRun, Latency
from cea_edge.runtime.backends import Backend, open_backend

PEAK_SIDE = 1024  # M = N = K of the peak matmul: 2.1 GFLOP, large enough for every core to stream
PEAK_RUNS = 8
RSS_METHOD = ("peak resident set (Linux: VmHWM; elsewhere ru_maxrss) of a fresh spawned process that imports the "
              "runtime, makes the photo, opens the artifact and restores the photo in every mode and thread count")


def graph_calls(backend: Backend, seed: int = 0) -> dict[str, Callable[[], Any]]:
    """graph -> a call running it once on fixed random input (context and forward_global when present)."""
    rng = np.random.default_rng(seed)
    tile = rng.random((1, 3, backend.tile, backend.tile), dtype=np.float32)
    calls: dict[str, Callable[[], Any]] = {FORWARD_GRAPH: lambda: backend.run(tile)}
    if backend.global_mode:
        image = rng.random((backend.context_size, backend.context_size, 3), dtype=np.float32)
        factors = backend.context(image).factors
        calls[CONTEXT_GRAPH] = lambda: backend.context(image)
        calls[GLOBAL_GRAPH] = lambda: backend.run(tile, factors)
    return calls


def time_calls(call: Callable[[], Any], runs: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return samples


def latency_row(graph: str, threads: int | None, samples: list[float], compute_units: str | None = None) -> Latency:
    p10, median, p90 = (float(v) * 1e3 for v in np.percentile(samples, [10, 50, 90]))
    return Latency(graph, threads, len(samples), median, p10, p90, compute_units)


def matmul_peak(threads: int) -> dict[str, Any]:
    """Best-of-PEAK_RUNS fp32 MatMul (GFLOP/s) and int8 MatMulInteger (GOP/s) in onnxruntime at ``threads``.

    onnxruntime's MLAS kernels come near the FMA limit on x86 and ARM alike, where torch.matmul
    on AMD CPUs takes MKL's generic path at under half of it (docs/toolchain-notes.md, Profiling).
    """
    try:
        import onnxruntime as ort
        from onnx import TensorProto, helper, numpy_helper
    except ImportError as error:
        return {"threads": threads, "fp32_gflops": None, "int8_gops": None, "method": f"not measured ({error})"}
    n = PEAK_SIDE
    rng = np.random.default_rng(0)
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    found: dict[str, float] = {}
    for label, op, a, b, out_type in (
            ("fp32_gflops", "MatMul", rng.random((n, n), dtype=np.float32), rng.random((n, n), dtype=np.float32),
             TensorProto.FLOAT),
            ("int8_gops", "MatMulInteger", rng.integers(0, 255, (n, n), dtype=np.uint8),
             rng.integers(-127, 127, (n, n), dtype=np.int8), TensorProto.INT32)):
        graph = helper.make_graph(
            [helper.make_node(op, ["a", "b"], ["c"])], "peak",
            [helper.make_tensor_value_info("a", helper.np_dtype_to_tensor_dtype(a.dtype), [n, n])],
            [helper.make_tensor_value_info("c", out_type, [n, n])], [numpy_helper.from_array(b, "b")])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
        session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        best = min(time_calls(lambda: session.run(None, {"a": a}), PEAK_RUNS, 2))
        found[label] = 2 * n ** 3 / best / 1e9
    return {"threads": threads, **found,
            "method": f"onnxruntime {ort.__version__} MatMul / MatMulInteger {n}x{n}x{n}, best of {PEAK_RUNS}"}


# ---- end to end, in a fresh process (peak RSS per artifact) ----

@dataclass(frozen=True)
class EndToEndJob:
    artifact: str
    threads: tuple[int | None, ...]
    modes: tuple[str, ...]
    megapixels: float
    tile: int
    overlap: int
    context_size: int
    compute_units: str | None = None
    repeats: int = 1  # timed runs per mode and thread count, after one warm-up


def photo_shape(megapixels: float) -> tuple[int, int]:
    """(H, W) of a 4:3 photo of about ``megapixels`` (12 -> 3000 x 4000)."""
    height = max(1, round(math.sqrt(megapixels * 1e6 * 3 / 4)))
    return height, max(1, round(height * 4 / 3))


def synthetic_photo(height: int, width: int) -> np.ndarray:
    """(H, W, 3) uint8: a real photo mirror-tiled (latency does not depend on content, but the
    output clipping and blending see natural statistics)."""
    from cea_edge.data.sources import load_photo

    base = (load_photo("astronaut") * 255 + 0.5).astype(np.uint8)
    pad = ((0, max(height - base.shape[0], 0)), (0, max(width - base.shape[1], 0)), (0, 0))
    return np.ascontiguousarray(np.pad(base, pad, mode="symmetric")[:height, :width])


def peak_rss_mb() -> float:
    """This process's peak resident set. On Linux VmHWM, the high-water mark of its own address
    space: ru_maxrss would also count the parent's memory at fork, which Linux keeps across exec."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2 ** 20 if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB elsewhere


def run_end_to_end(job: EndToEndJob) -> dict[str, Any]:
    """Restore a synthetic photo in each mode and thread count: EndToEnd as a dict (its RSS: this process's)."""
    from cea_edge.runtime.restore import restore_photo

    height, width = photo_shape(job.megapixels)
    pixels = synthetic_photo(height, width)
    baseline = peak_rss_mb()
    runs = []
    for threads in job.threads:
        backend = open_backend(job.artifact, threads=threads, tile=job.tile, overlap=job.overlap,
                               context_size=job.context_size, compute_units=job.compute_units)
        for mode in job.modes:
            if mode == "global" and not backend.global_mode:
                continue
            side = min(2 * backend.tile, height), min(2 * backend.tile, width)
            restore_photo(np.ascontiguousarray(pixels[:side[0], :side[1]]), backend, mode)  # warm-up
            timed, inside = [], []
            for _ in range(job.repeats):
                backend.model_seconds = 0.0
                started = time.perf_counter()
                restore_photo(pixels, backend, mode)
                timed.append(time.perf_counter() - started)
                inside.append(backend.model_seconds)
            # The median run stands for the configuration; every run is kept for the spread.
            middle = int(np.argsort(timed)[(len(timed) - 1) // 2])
            megapixels = height * width / 1e6
            runs.append(EndToEndRun(mode, threads, timed[middle], timed[middle] * 1e3 / megapixels, inside[middle],
                                    ms_per_mp_runs=[value * 1e3 / megapixels for value in timed]))
    return asdict(EndToEnd(height * width / 1e6, [height, width], runs, peak_rss_mb(), baseline, RSS_METHOD))


def _child(job: EndToEndJob, results: Any) -> None:
    from cea_edge.toolchain import quiet_toolchains

    # The runtimes' native start-up chatter would break through the parent's progress bar; what
    # goes wrong travels back through the pipe.
    os.dup2(os.open(os.devnull, os.O_WRONLY), 2)
    try:
        with quiet_toolchains():
            results.send(("ok", run_end_to_end(job)))
    except CeaError as error:
        results.send(("error", str(error)))
    except BaseException as error:  # noqa: BLE001 -- reported by the parent as one line
        results.send(("crash", f"{type(error).__name__}: {str(error)[:200]}"))


def end_to_end(job: EndToEndJob) -> EndToEnd:
    """``run_end_to_end`` in a fresh spawned process, so that its peak RSS is this artifact's alone."""
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(job, sender), daemon=True)
    process.start()
    sender.close()
    try:
        status, payload = receiver.recv()
    except EOFError:  # the child died without a word: a runtime abort
        process.join()
        status, payload = "crash", f"exit code {process.exitcode}"
    except BaseException:  # interrupted: do not leave it running
        process.terminate()
        process.join()
        raise
    process.join()
    if status == "error":
        raise CeaError(payload)
    if status == "crash":
        raise CeaError(f"the end-to-end run of '{job.artifact}' failed in its process ({payload}); "
                       "rerun with --photo-mp 0 to profile without it")
    return EndToEnd(**{**payload, "runs": [EndToEndRun(**run) for run in payload["runs"]]})
