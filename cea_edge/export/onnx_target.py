"""ONNX export (torch's torch.export-based exporter), checked and run in onnxruntime.

fp16 choice: the graph computes in fp16 (fp16 weights and activations) behind float32
inputs and outputs -- two Cast nodes at the edges, the same interface as every other
artifact. onnxruntime's CPU provider on x86 has fp16 kernels for few ops; for the rest
its InsertCastTransformer runs the node in fp32 between casts, so the fp16 file runs
here (verified against the bar at export) at about fp32 speed on this CPU. Its purpose
is half-size weights and GPU / NPU execution providers that compute in fp16.
"""

from __future__ import annotations

import io
import logging
import tempfile
from collections import Counter
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

from cea_edge.contract import CONTEXT_GRAPH, FORWARD_GRAPH, GLOBAL_GRAPH, ArtifactInfo, sibling_path
from cea_edge.errors import CeaError
from cea_edge.export.common import BuiltArtifact, GraphSpec, target_graphs
from cea_edge.export.onnx_forms import rewrite_for_onnxruntime
from cea_edge.export.quantized_graph import describe_quantization, quantized_graph
from cea_edge.export.recipes import MIN_ONNX_OPSET, Recipe
from cea_edge.model.network import CEANet
from cea_edge.toolchain import require

PROVIDER = "CPUExecutionProvider"


def check_toolchain(recipe: Recipe) -> None:
    for module in ("onnx", "onnxruntime", "onnxscript"):
        require(module, "ONNX export")


def _embed_metadata(model_proto, embedded: ArtifactInfo, graph: str) -> None:
    """metadata_props (readable by any ONNX runtime) and human-readable I/O descriptions.

    The exporter's per-node debug metadata (stack traces with local paths, fx names) is
    dropped: it tripled the file size and leaks the build machine's paths.
    """
    for node in model_proto.graph.node:
        del node.metadata_props[:]
        node.doc_string = ""
    del model_proto.metadata_props[:]
    for key, value in embedded.to_strings(graph).items():
        entry = model_proto.metadata_props.add()
        entry.key, entry.value = key, value
    model_proto.doc_string = f"cea-edge {embedded.preset} image restoration ({embedded.precision})"
    low, high = embedded.value_range
    model_proto.graph.input[0].doc_string = f"degraded RGB image, NCHW float32 in [{low:g}, {high:g}]"
    if graph != CONTEXT_GRAPH:
        model_proto.graph.output[0].doc_string = f"restored RGB image, NCHW float32, not clamped (clamp to [{low:g}, {high:g}])"


def integer_kernels(path: Path, ort: Any) -> dict[str, int]:
    """Op inventory after onnxruntime's graph optimizations, i.e. the kernels it will run.

    Optimized at the EXTENDED level: QDQ fusion is complete there, while the ALL level adds
    x86-specific layout nodes that do not belong in a portable inventory.
    """
    import onnx

    with tempfile.TemporaryDirectory() as folder:
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        options.optimized_model_filepath = str(Path(folder) / "optimized.onnx")
        ort.InferenceSession(str(path), options, providers=[PROVIDER])
        optimized = onnx.load(options.optimized_model_filepath)
    return dict(sorted(Counter(node.op_type for node in optimized.graph.node).items()))


def prediction_unavailable(recipe: Recipe) -> str:
    """onnxruntime runs everywhere the toolchain installs (check_toolchain demands it)."""
    return ""


def _export_graph(spec: GraphSpec, recipe: Recipe, embedded: ArtifactInfo, path: Path) -> dict[str, int]:
    """Write one graph; returns the integer forms made for onnxruntime (int8; see onnx_forms)."""
    import torch

    onnx = require("onnx", "ONNX export")
    # The exporter narrates every phase on stdout and warns that torchvision ops are not
    # registered (we use none); the CLI prints its own summary.
    logging.getLogger("torch.onnx._internal.exporter._registration").setLevel(logging.ERROR)
    with redirect_stdout(io.StringIO()), torch.no_grad():
        try:
            program = torch.onnx.export(
                spec.module, spec.example, input_names=spec.input_names, output_names=spec.output_names,
                opset_version=recipe.opset, dynamo=True, external_data=False, verbose=False,
            )
        except Exception as error:  # noqa: BLE001 -- the exporter raises many types; the first line says which op
            raise CeaError(f"ONNX export of the {spec.name} graph failed: {str(error).strip().splitlines()[0]}") from None
    model_proto = program.model_proto
    forms = rewrite_for_onnxruntime(model_proto) if recipe.quantized else {}
    _embed_metadata(model_proto, embedded, spec.name)
    onnx.save_model(model_proto, str(path))
    onnx.checker.check_model(str(path), full_check=True)  # from the file: what ships is what is checked
    return forms


def build(model: CEANet, recipe: Recipe, embedded: ArtifactInfo, path: Path) -> BuiltArtifact:
    import torch

    onnx = require("onnx", "ONNX export")
    ort = require("onnxruntime", "ONNX verification")

    def quantize(model: CEANet, side: int) -> Any:
        # uint8 activations: onnxruntime's x86 integer kernels take u8 x s8; int32 biases: the
        # form its QDQ fusion needs (DequantizeLinear -> Conv -> QuantizeLinear => QLinearConv).
        return quantized_graph(model, side, int32_bias=True, activation_dtype=torch.uint8)

    specs, graph = target_graphs(model, recipe, recipe.precision, quantize)
    quantization: dict[str, Any] = graph.to_dict() if graph is not None else {}
    siblings = {spec.name: sibling_path(path, spec.name) for spec in specs if spec.name != FORWARD_GRAPH}
    forms = {spec.name: _export_graph(spec, recipe, embedded, siblings.get(spec.name, path)) for spec in specs}

    saved = onnx.load(str(path))
    opset = next(entry.version for entry in saved.opset_import if entry.domain in ("", "ai.onnx"))
    ops = Counter(node.op_type for node in saved.graph.node)
    initializer_types = Counter(onnx.TensorProto.DataType.Name(t.data_type) for t in saved.graph.initializer)
    checks = [f"onnx.checker full_check passed (opset {opset})"]
    problems = []
    if opset < MIN_ONNX_OPSET:
        problems.append(f"opset {opset} < {MIN_ONNX_OPSET}")
    if recipe.precision == "fp16" and "FLOAT16" not in initializer_types:
        problems.append("fp16 export has no FLOAT16 weights")

    summary = [f"onnx: opset {opset}, {sum(ops.values())} nodes, weights {dict(initializer_types)}"]
    if siblings:
        side = recipe.context_size
        summary.append(f"global context ({side}x{side}): context + forward_global graphs written beside it "
                       "(<name>.context.onnx, <name>.global.onnx)")
    if quantization:
        quantization["onnxruntime_forms"] = forms
        quantization["ort_kernels"] = integer_kernels(path, ort)
        if GLOBAL_GRAPH in siblings:
            quantization["global_ort_kernels"] = integer_kernels(siblings[GLOBAL_GRAPH], ort)
        fused = sum(n for op, n in quantization["ort_kernels"].items() if op.startswith(("QLinear", "QGemm")))
        if "INT8" not in initializer_types:
            problems.append("int8 export stores no INT8 weights")
        (checks if fused else problems).append(f"onnxruntime fuses {fused} integer kernels (QLinear*/QGemm)")
        if quantization["overflow_safe_weights"]:
            checks.append(f"weights within ±{quantization['max_weight_level']}: no u8 x s8 overflow on CPUs without VNNI")
        else:
            problems.append(f"weights reach ±{quantization['max_weight_level']} (8-bit, no overflow fix): onnxruntime's "
                            "u8 x s8 kernels saturate on x86 CPUs without VNNI; quantize with overflow_fix = \"enable\"")
        summary.append(f"int8: {describe_quantization(quantization)}; onnxruntime integer kernels: {fused}")

    return BuiltArtifact(
        runtime=f"onnxruntime {ort.__version__} {PROVIDER}",
        siblings=siblings,
        checks=checks,
        problems=problems,
        details={
            "opset": opset,
            "exporter": "torch.onnx.export(dynamo=True)",
            "metadata_props": embedded.to_strings(FORWARD_GRAPH),
            "op_inventory": dict(sorted(ops.items())),
            "initializer_dtypes": dict(initializer_types),
            "fp16_strategy": "fp16 weights/activations, float32 I/O via Cast" if recipe.precision == "fp16" else None,
            "quantization": quantization or None,
        },
        summary=summary,
    )
