"""The runtimes' own profilers behind ``open_backend(..., trace=True)``: raw handles only.

Each backend that can be traced gets a ``Trace``; ``reset()`` drops what was recorded so far
(warm-up runs), ``collect()`` returns the raw trace of the runs since. Reading those traces
into per-operator records is the profile stage's job (cea_edge/profile/ops.py), so the
runtime stays free of profiler parsing.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

ONNXRUNTIME, EXECUTORCH, TORCH = "onnxruntime", "executorch", "torch"


@dataclass
class Trace:
    """What collect() returns, by kind:

    "onnxruntime": {"files": {graph: (profile JSON path, profiling start in ns since the epoch)},
    "since_ns": time of the last reset()} -- onnxruntime can neither clear nor restart its
    profiler, so the first collect() ends it and the reader drops events before since_ns.
    "executorch": the ETDump file of the runs since reset() (writing a dump clears it), None
    when nothing ran. "torch": the stopped torch.profiler.profile of the runs since reset().
    """

    kind: str
    reset: Callable[[], None]
    collect: Callable[[], Any]
    folder: Path  # the trace files; close() removes them

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def trace_folder() -> Path:
    return Path(tempfile.mkdtemp(prefix="cea-trace-"))


def onnx_trace(sessions: dict[str, Any], folder: Path) -> Trace:
    """sessions: graph -> InferenceSession made with enable_profiling, writing under ``folder``."""
    state: dict[str, Any] = {"since_ns": time.time_ns(), "files": None}

    def reset() -> None:
        state["since_ns"] = time.time_ns()

    def collect() -> dict[str, Any]:
        if state["files"] is None:
            state["files"] = {graph: (session.end_profiling(), session.get_profiling_start_time_ns())
                              for graph, session in sessions.items()}
        return {"files": state["files"], "since_ns": state["since_ns"]}

    return Trace(ONNXRUNTIME, reset, collect, folder)


def executorch_trace(program: Any) -> tuple[Trace, Callable[[], None]]:
    """The Trace of a program loaded with enable_etdump, and the callback to call after each run."""
    folder = trace_folder()
    state = {"runs": 1, "dumps": 0}  # loading the methods recorded events already

    def ran() -> None:
        state["runs"] += 1

    def write(name: str) -> Path | None:
        # executorch 1.5 crashes the process when a dump is written with no event since the last one
        if not state["runs"]:
            return None
        state["runs"] = 0
        program.write_etdump_result_to_file(str(folder / f"{name}.etdp"), str(folder / f"{name}.bin"))
        return folder / f"{name}.etdp"

    def collect() -> Path | None:
        state["dumps"] += 1
        return write(f"trace{state['dumps']}")

    return Trace(EXECUTORCH, lambda: (write("discarded"), None)[1], collect, folder), ran


def torch_trace(torch: Any) -> Trace:
    """torch.profiler (CPU activities, and CUDA where there is a GPU), started now."""
    state: dict[str, Any] = {}

    def reset() -> None:
        if "profile" in state:
            state["profile"].__exit__(None, None, None)
        activities = [torch.profiler.ProfilerActivity.CPU]
        if torch.cuda.is_available():  # a checkpoint on a GPU: its kernels too
            activities.append(torch.profiler.ProfilerActivity.CUDA)
        state["profile"] = torch.profiler.profile(activities=activities)
        state["profile"].__enter__()

    def collect() -> Any:
        profile = state.pop("profile", None)
        if profile is not None:
            profile.__exit__(None, None, None)
        return profile

    reset()
    return Trace(TORCH, reset, collect, trace_folder())
