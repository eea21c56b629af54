"""Core ML export: torch.export -> ct.convert(mlprogram) -> .mlpackage (a directory).

Inputs and outputs stay float32 (1, 3, T, T) at every precision; an fp16 program casts
at its edges and computes in fp16 (what the Neural Engine runs). Prediction needs Core
ML itself, so on Linux the saved program is inspected instead: op inventory, shapes,
the precision of every op, and the metadata; on macOS the package also runs.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cea_edge.contract import (
    CONTEXT_GRAPH,
    FORWARD_GRAPH,
    GRAPH_KEY,
    INPUT_NAME,
    OUTPUT_NAME,
    ArtifactInfo,
    sibling_path,
)
from cea_edge.errors import CeaError
from cea_edge.export.common import BuiltArtifact, GraphSpec, export_program, target_graphs
from cea_edge.export.quantized_graph import describe_quantization, quantized_graph
from cea_edge.export.recipes import Recipe
from cea_edge.model.network import CEANet
from cea_edge.targets import TARGETS
from cea_edge.toolchain import require

# coremltools 9.0's fuse_linear_bias pass indexes bias.shape[-1] and crashes on the
# scalar eps added after TokenNorm's mean-as-linear; without it the add stays an add.
SKIPPED_PASSES = ("common::fuse_linear_bias",)
DEBUG_MAPPING = "executorch_debug_handle_mapping.json"


@dataclass(frozen=True)
class CoreMLOptions:
    deployment_target: Any  # coremltools.target member
    compute_units: Any  # coremltools.ComputeUnit member
    compute_precision: Any  # coremltools.precision member
    pass_names: list[str]


def check_toolchain(recipe: Recipe) -> None:
    """coremltools importable and the recipe's Core ML names valid -- before anything is written."""
    require("coremltools", "Core ML export" if recipe.target == "coreml" else "the ExecuTorch Core ML delegate")
    coreml_options(recipe)


def prediction_unavailable(recipe: Recipe) -> str:
    """Why this machine cannot run a Core ML model ('' when it can): Core ML is macOS-only."""
    return TARGETS["coreml"].unavailable()


def coreml_options(recipe: Recipe) -> CoreMLOptions:
    """Recipe strings -> coremltools values (shared with the ExecuTorch Core ML delegate)."""
    ct = require("coremltools", "Core ML export")
    # Members only (a recipe is data): getattr would also find the class's own attributes.
    target = ct.target.__members__.get(recipe.deployment_target or "")
    if target is None:
        known = ", ".join(name for name in dir(ct.target) if name[:1] in "im" and name[-1].isdigit())
        raise CeaError(f"unknown Core ML deployment target '{recipe.deployment_target}'; choose one of: {known}")
    if target < ct.target.iOS16:  # fp16 I/O types and the passes used here need ML programs of iOS16+
        raise CeaError(f"deployment target {recipe.deployment_target} is too old; use iOS16 / macOS13 or newer")
    # int8 programs compute between their quantize/dequantize ops in fp16, as the Neural Engine does.
    precision = ct.precision.FLOAT32 if recipe.precision == "fp32" else ct.precision.FLOAT16
    passes = [name for name in ct.PassPipeline.DEFAULT.passes if name not in SKIPPED_PASSES]
    return CoreMLOptions(target, ct.ComputeUnit[recipe.compute_units], precision, passes)


def _describe(mlmodel: Any, embedded: ArtifactInfo, graph: str) -> None:
    low, high = embedded.value_range
    mlmodel.user_defined_metadata.update(embedded.to_strings(graph))
    if graph == CONTEXT_GRAPH:
        mlmodel.short_description = (f"cea-edge {embedded.preset}: adapter factors and routing maps of a "
                                     f"{embedded.context_size}x{embedded.context_size} context image (global-context mode)")
        return
    side = embedded.tile
    mlmodel.short_description = f"cea-edge {embedded.preset}: all-in-one image restoration of one {side}x{side} tile"
    mlmodel.input_description[INPUT_NAME] = f"degraded RGB tile, NCHW (1, 3, {side}, {side}) float32 in [{low:g}, {high:g}]"
    mlmodel.output_description[OUTPUT_NAME] = f"restored RGB tile, same layout, not clamped (clamp to [{low:g}, {high:g}])"


def inspect_program(path: Path, recipe: Recipe, embedded: ArtifactInfo) -> tuple[dict[str, Any], list[str], list[str]]:
    """Read the saved package's spec: ops, dtypes, I/O shapes, metadata -> (details, checks, problems)."""
    import coremltools as ct
    from coremltools.proto import MIL_pb2

    spec = ct.models.MLModel(str(path), skip_model_load=True).get_spec()
    function = spec.mlProgram.functions["main"]
    block = function.block_specializations[function.opset]
    ops = Counter(op.type for op in block.operations)
    output_dtypes = Counter(
        MIL_pb2.DataType.Name(output.type.tensorType.dataType)
        for op in block.operations if op.type != "const" for output in op.outputs
    )
    shape = [1, 3, recipe.tile, recipe.tile]
    io = {
        "inputs": {f.name: (list(f.type.multiArrayType.shape), f.type.multiArrayType.dataType) for f in spec.description.input},
        "outputs": {f.name: (list(f.type.multiArrayType.shape), f.type.multiArrayType.dataType) for f in spec.description.output},
    }
    float32 = ct.proto.FeatureTypes_pb2.ArrayFeatureType.FLOAT32
    checks, problems = [], []
    for kind, name in (("inputs", INPUT_NAME), ("outputs", OUTPUT_NAME)):
        if io[kind].get(name) == (shape, float32):
            checks.append(f"{name}: float32 {shape}")
        else:
            problems.append(f"{kind[:-1]} '{name}' is {io[kind].get(name)}, expected float32 {shape}")
    compute = {dtype: n for dtype, n in output_dtypes.items() if dtype.startswith("FLOAT")}
    if recipe.precision == "fp32":
        ok = "FLOAT16" not in compute
    else:
        # All compute in fp16; the only float32 values are the cast back to the output.
        ok = compute.get("FLOAT16", 0) > 0 and compute.get("FLOAT32", 0) <= 1 and ops.get("cast", 0) >= 2
    (checks if ok else problems).append(f"{recipe.precision} program: op output dtypes {compute}, casts {ops.get('cast', 0)}")
    if recipe.quantized:
        int8_weights = ops.get("constexpr_affine_dequantize", 0) + ops.get("constexpr_blockwise_shift_scale", 0)
        (checks if int8_weights else problems).append(f"int8 weights: {int8_weights} constexpr dequantize ops")
        if recipe.precision == "int8":
            activations = min(ops.get("quantize", 0), ops.get("dequantize", 0))
            (checks if activations else problems).append(f"int8 activations: {ops.get('quantize', 0)} quantize / "
                                                         f"{ops.get('dequantize', 0)} dequantize ops")
    metadata = dict(spec.description.metadata.userDefined)
    missing = {k: v for k, v in embedded.to_strings(FORWARD_GRAPH).items() if metadata.get(k) != v}
    (problems if missing else checks).append(f"user metadata {'missing ' + str(missing) if missing else 'present'}")
    details = {
        "specification_version": spec.specificationVersion,
        "opset": function.opset,
        "op_inventory": dict(sorted((k, v) for k, v in ops.items() if k != "const")),
        "op_output_dtypes": dict(output_dtypes),
        "user_metadata": metadata,
    }
    return details, checks, problems


def _convert(spec: GraphSpec, recipe: Recipe, options: CoreMLOptions, embedded: ArtifactInfo, path: Path) -> None:
    ct = require("coremltools", "Core ML export")
    program = export_program(spec.module, recipe.tile, spec.example).run_decompositions({})
    pipeline = ct.PassPipeline(pass_names=options.pass_names, pipeline_name="cea-edge")
    mlmodel = ct.convert(
        program, convert_to="mlprogram", minimum_deployment_target=options.deployment_target,
        compute_precision=options.compute_precision, compute_units=options.compute_units,
        inputs=[ct.TensorType(name=name, shape=tuple(example.shape), dtype=np.float32)
                for name, example in zip(spec.input_names, spec.example)],
        outputs=[ct.TensorType(name=name, dtype=np.float32) for name in spec.output_names],
        pass_pipeline=pipeline,
    )
    _describe(mlmodel, embedded, spec.name)
    mlmodel.save(str(path))
    # coremltools writes an ExecuTorch debug-handle map (MIL op -> fx node) for torch.export
    # sources: not a package item (Manifest.json does not list it), only for ET devtools,
    # and as large as the fp16 weights of a small model -- not shipped.
    (path / DEBUG_MAPPING).unlink(missing_ok=True)


def build(model: CEANet, recipe: Recipe, embedded: ArtifactInfo, path: Path) -> BuiltArtifact:
    ct = require("coremltools", "Core ML export")
    options = coreml_options(recipe)

    def quantize(model: CEANet, side: int) -> Any:
        # W8A8 (int8) or W8 (int8w) from the same QAT graph as the other targets: coremltools
        # turns its dequantize_per_channel weights into constexpr int8 and its activation
        # quantize/dequantize pairs into MIL quantize/dequantize.
        return quantized_graph(model, side, weights_only=recipe.precision == "int8w")

    specs, graph = target_graphs(model, recipe, "fp32", quantize)
    quantization: dict[str, Any] = graph.to_dict() if graph is not None else {}
    siblings = {spec.name: sibling_path(path, spec.name) for spec in specs if spec.name != FORWARD_GRAPH}
    for spec in specs:
        _convert(spec, recipe, options, embedded, siblings.get(spec.name, path))
    details, checks, problems = inspect_program(path, recipe, embedded)
    details |= {"deployment_target": recipe.deployment_target, "compute_units": recipe.compute_units,
                "quantization": quantization or None}
    for spec in specs[1:]:
        sibling = ct.models.MLModel(str(siblings[spec.name]), skip_model_load=True).get_spec().description
        names = ([f.name for f in sibling.input], [f.name for f in sibling.output])
        ok = names == (spec.input_names, spec.output_names) and sibling.metadata.userDefined.get(GRAPH_KEY) == spec.name
        (checks if ok else problems).append(
            f"{spec.name} package: {len(names[0])} inputs, {len(names[1])} outputs" + ("" if ok else f" ({names})"))

    unavailable = prediction_unavailable(recipe)
    ops = details["op_inventory"]
    summary = [(f"core ml: {details['opset']} ML program, {sum(ops.values())} ops "
                f"({', '.join(f'{k} {v}' for k, v in sorted(ops.items(), key=lambda kv: -kv[1])[:6])}, ...)")]
    if quantization:
        summary.append(f"{recipe.precision}: {describe_quantization(quantization)}")
    return BuiltArtifact(
        runtime="coremltools spec inspection" if unavailable else "Core ML (coremltools predict)",
        unavailable=unavailable,
        siblings=siblings,
        checks=checks,
        problems=problems,
        details=details,
        summary=summary,
    )
