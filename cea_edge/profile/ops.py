"""Per-operator time from each runtime's own profiler, as OpRecords, and the top-N table rows.

- onnxruntime: the profiler's trace JSON; "Node" events named ``*_kernel_time`` (op type,
  node, execution provider, µs), kept when they fall inside a ``model_run`` that began after the
  trace's last reset. Node names are after graph optimisation, so int8 shows as QLinearConv,
  QGemm, QLinearMatMul, MatMulIntegerToFloat where onnxruntime fused the QDQ pairs.
- ExecuTorch: the ETDump through devtools' Inspector (no ETRecord needed for times). XNNPACK
  reports its own operators inside the delegate ("Convolution (NHWC, QC8) IGEMM #12"): the type
  is the name without the running number. DELEGATE_CALL is the delegate as a whole (kept, marked
  "delegate call", left out of op totals); Method::execute is the method.
- PyTorch: torch.profiler's key averages, self CPU time (so nested ops are not counted twice).
"""

from __future__ import annotations

import bisect
import contextlib
import io
import json
import re
import warnings
from collections import defaultdict
from pathlib import Path
from typing import Any

from cea_edge.profile.schema import OpBreakdown, OpRecord
from cea_edge.runtime.tracing import EXECUTORCH, ONNXRUNTIME, TORCH, Trace

SOURCES = {ONNXRUNTIME: "onnxruntime profiler", EXECUTORCH: "ETDump (executorch devtools Inspector)",
           TORCH: "torch.profiler (CPU, self time)"}
DELEGATE_CALL = "delegate call"
_RUNNING_NUMBER = re.compile(r"\s*#\d+$")


def onnx_records(raw: dict[str, Any], graph: str) -> list[OpRecord]:
    path, start_ns = raw["files"][graph]
    events = json.loads(Path(path).read_text())
    since_us = (raw["since_ns"] - start_ns) / 1e3
    runs = sorted((e["ts"], e["ts"] + e["dur"]) for e in events
                  if e.get("cat") == "Session" and e.get("name") == "model_run" and e["ts"] >= since_us)
    starts = [start for start, _ in runs]
    totals: dict[str, list] = {}
    for event in events:
        if event.get("cat") != "Node" or not event.get("name", "").endswith("_kernel_time"):
            continue
        index = bisect.bisect_right(starts, event["ts"]) - 1
        if index < 0 or event["ts"] > runs[index][1]:
            continue  # a warm-up run, or session set-up
        args = event.get("args", {})
        name = event["name"][:-len("_kernel_time")]
        entry = totals.setdefault(name, [args.get("op_name", "?"),
                                         args.get("provider", "?").replace("ExecutionProvider", ""), 0, 0.0])
        entry[2] += 1
        entry[3] += event["dur"] / 1e3
    return [OpRecord(name, op, where, calls, ms) for name, (op, where, calls, ms) in totals.items()]


def etdump_records(path: Path | None) -> list[OpRecord]:
    if path is None:
        return []
    from executorch.devtools import Inspector

    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")  # "Output Buffer not found": no intermediate tensors asked for
        inspector = Inspector(etdump_path=str(path))
    records = []
    for block in inspector.event_blocks:
        for event in block.events:
            raw = event.perf_data.raw if event.perf_data is not None else []
            if not raw or event.name in ("Method::execute", "Method::init", "Program::load_method"):
                continue
            if event.name == "DELEGATE_CALL":
                where = DELEGATE_CALL
            elif event.is_delegated_op:
                where = f"{event.delegate_backend_name or 'XNNPACK'} delegate"
            else:
                where = "portable kernel"
            records.append(OpRecord(event.name, _RUNNING_NUMBER.sub("", event.name), where, len(raw), float(sum(raw))))
    return records


def torch_records(profile: Any) -> list[OpRecord]:
    if profile is None:
        return []
    return [OpRecord(event.key, event.key, "cpu", int(event.count), event.self_cpu_time_total / 1e3)
            for event in profile.key_averages() if event.count and not event.key.startswith(("ProfilerStep", "["))]


def breakdown(trace: Trace, raw: Any, graph: str, threads: int | None, runs: int) -> OpBreakdown:
    """The OpBreakdown of ``graph`` from what ``trace.collect()`` returned after ``runs`` calls."""
    if trace.kind == ONNXRUNTIME:
        records = onnx_records(raw, graph)
    elif trace.kind == EXECUTORCH:
        records = etdump_records(raw)
    else:
        records = torch_records(raw)
    records.sort(key=lambda r: -r.total_ms)
    return OpBreakdown(graph, threads, runs, SOURCES[trace.kind], records)


def top_ops(ops: dict[str, Any], top: int) -> list[dict[str, Any]]:
    """The ``top`` op types of one breakdown (JSON form) by time: type, where, calls and ms per run, share."""
    totals: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0.0])
    for record in ops["records"]:
        if record["where"] == DELEGATE_CALL:
            continue
        entry = totals[(record["type"], record["where"])]
        entry[0] += record["calls"]
        entry[1] += record["total_ms"]
    overall = sum(ms for _, ms in totals.values()) or 1.0
    runs = max(ops["runs"], 1)
    ranked = sorted(totals.items(), key=lambda kv: -kv[1][1])[:top]
    return [{"type": op, "where": where, "calls_per_run": calls / runs, "ms_per_run": ms / runs, "share": ms / overall}
            for (op, where), (calls, ms) in ranked]


# What arithmetic an operator a runtime's profiler names runs in. XNNPACK names its kernels with
# their data types ("Fully Connected (NC, QS8, QC8W) GEMM", "Convolution (NHWC, F32) IGEMM");
# onnxruntime names the fused integer kernels QLinear*/QGemm/*Integer*.
_XNNPACK_INT8 = re.compile(r"\b(QS8|QU8|QC8|QD8|QC8W)\b")
_LAYOUT_TYPES = re.compile(r"^(Transpose|Reshape|Copy|Squeeze|Unsqueeze|Flatten|Concatenate|Slice|"
                           r"ReorderInput|ReorderOutput|Static Reshape|Expand|DepthToSpace|Depth To Space)",
                           re.IGNORECASE)
_CONVERT_TYPES = re.compile(r"^(Convert|QuantizeLinear|DequantizeLinear|DynamicQuantizeLinear)\b")
_ORT_INT8 = re.compile(r"^(QLinear|QGemm|MatMulInteger|ConvInteger|QAttention|DynamicQuantizeMatMul|MatMulIntegerToFloat)")
# XNNPACK's elementwise operators carry no data type in their names ("Add (ND)", "Multiply (ND)"):
# the profile cannot tell an int8 add from a float one (the exported graph's census can).
_XNNPACK_UNTYPED = re.compile(r"^(Add|Multiply|Subtract|Divide|Maximum|Minimum|Squared Difference) \(ND\)$")
PRECISION_CLASSES = ("int8", "float", "convert", "layout", "untyped")


def precision_class(op_type: str) -> str:
    """int8 | float | convert (quantize / dequantize between the two) | layout (data movement) |
    untyped (an XNNPACK elementwise op, whose name does not say)."""
    if _CONVERT_TYPES.match(op_type):
        return "convert"
    if _LAYOUT_TYPES.match(op_type):
        return "layout"
    if _XNNPACK_INT8.search(op_type) or _ORT_INT8.match(op_type):
        return "int8"
    if _XNNPACK_UNTYPED.match(op_type):
        return "untyped"
    return "float"


def precision_shares(ops: dict[str, Any]) -> dict[str, Any]:
    """Where one breakdown's (JSON form) op time goes by arithmetic: the share of each class
    and every float op type with its calls and ms per run and share of the op time."""
    totals: dict[str, float] = defaultdict(float)
    float_ops: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    for record in ops["records"]:
        if record["where"] == DELEGATE_CALL:
            continue
        kind = precision_class(record["type"])
        totals[kind] += record["total_ms"]
        if kind == "float":
            float_ops[record["type"]][0] += record["calls"]
            float_ops[record["type"]][1] += record["total_ms"]
    overall = sum(totals.values()) or 1.0
    runs = max(ops["runs"], 1)
    return {
        "source": ops["source"], "threads": ops["threads"], "runs": ops["runs"],
        "ms_per_run": overall / runs,
        "shares": {kind: totals.get(kind, 0.0) / overall for kind in PRECISION_CLASSES},
        "float_ops": [{"type": op, "calls_per_run": calls / runs, "ms_per_run": ms / runs, "share": ms / overall}
                      for op, (calls, ms) in sorted(float_ops.items(), key=lambda kv: -kv[1][1])],
    }
