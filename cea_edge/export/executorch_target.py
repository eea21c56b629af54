"""ExecuTorch export: torch.export -> to_edge_transform_and_lower(partitioner) -> .pte.

The .pte describes itself with constant methods (tile_size, tile_overlap, context_size,
value_range, precision, preset, checkpoint_sha256: see cea_edge/contract.py), so an
app reads the input shape from the model. XNNPACK artifacts are verified with the real
ExecuTorch runtime; a Core ML delegated .pte lowers on Linux but runs only on Apple platforms.
"""

from __future__ import annotations

import operator
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from cea_edge.contract import FORWARD_GRAPH, GLOBAL_GRAPH, ArtifactInfo
from cea_edge.export.common import BuiltArtifact, export_program, target_graphs
from cea_edge.export.quantized_graph import describe_quantization, op_precisions, quantized_graph, unshare_dequantize
from cea_edge.export.recipes import Recipe
from cea_edge.model.network import CEANet
from cea_edge.toolchain import require

CAST = "_to_dim_order_copy"


def check_toolchain(recipe: Recipe) -> None:
    require("executorch.exir", "ExecuTorch export")
    if recipe.delegate == "coreml":
        from cea_edge.export.coreml_target import check_toolchain as check_coreml

        check_coreml(recipe)


def _partitioner(recipe: Recipe) -> Any:
    if recipe.delegate == "xnnpack":
        from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner

        return XnnpackPartitioner()
    from executorch.backends.apple.coreml.compiler import CoreMLBackend
    from executorch.backends.apple.coreml.partition import CoreMLPartitioner

    from cea_edge.export.coreml_target import coreml_options

    options = coreml_options(recipe)
    specs = CoreMLBackend.generate_compile_specs(
        compute_unit=options.compute_units, minimum_deployment_target=options.deployment_target,
        compute_precision=options.compute_precision, pass_names=options.pass_names,
    )
    return CoreMLPartitioner(compile_specs=specs)


def _fold_constants_pass() -> Any:
    """Constant propagation before partitioning.

    to_edge turns each python scalar of the fp16 model (norm eps, attention scales) into a
    float32 constant plus a cast to fp16: 25 casts that XNNPACK leaves outside. Folding
    them leaves fp16 constants the delegate takes.
    """
    from executorch.exir.pass_base import ExportedProgramPassBase, ExportedProgramPassResult
    from executorch.exir.passes.constant_prop_pass import constant_prop_pass

    class FoldConstants(ExportedProgramPassBase):
        def call(self, exported_program):
            return ExportedProgramPassResult(constant_prop_pass(exported_program), True)

    return FoldConstants()


def _op_name(target: Any) -> str:
    """'aten.gelu.default' for an edge op (its str() carries the whole schema)."""
    return str(getattr(target, "_op", target))


def delegation_report(program: Any) -> dict[str, Any]:
    """Ops inside delegates vs outside, from the lowered ExportedProgram.

    Casts that only convert the float32 input / output of an fp16 program are counted
    apart: they are the I/O contract, not compute left on the portable kernels.
    """
    from executorch.devtools.backend_debug import get_delegation_info

    graph_module = program.graph_module
    info = get_delegation_info(graph_module)
    table = info.get_operator_delegation_dataframe()
    delegated = {row.op_type: int(row.occurrences_in_delegated_graphs) for row in table.itertuples()
                 if row.op_type not in ("getitem", "Total") and row.occurrences_in_delegated_graphs}
    user_inputs = set(program.graph_signature.user_inputs)
    outside: Counter[str] = Counter()
    io_casts = 0
    for node in graph_module.graph.nodes:
        if node.op != "call_function" or node.target is operator.getitem or "call_delegate" in str(node.target):
            continue
        name = _op_name(node.target)
        at_boundary = any(arg.name in user_inputs for arg in node.all_input_nodes) or any(
            user.op == "output" for user in node.users)
        if CAST in name and at_boundary:
            io_casts += 1
        else:
            outside[name] += 1
    return {
        "delegates": info.num_delegated_subgraphs,
        "delegated_ops": delegated,
        "delegated_total": sum(delegated.values()),
        "outside_ops": dict(outside),
        "io_casts": io_casts,
        "all_compute_delegated": not outside,
    }


def prediction_unavailable(recipe: Recipe) -> str:
    """Why this machine cannot run the .pte ('' when it can): the Core ML delegate is Apple-only."""
    if recipe.delegate != "coreml":
        return ""
    if sys.platform != "darwin":
        return f"the ExecuTorch Core ML delegate runs on Apple platforms only, not on {sys.platform}"
    from executorch.runtime import Runtime

    if not Runtime.get().backend_registry.is_available("CoreMLBackend"):
        return "this executorch runtime build has no Core ML backend"
    return ""


def build(model: CEANet, recipe: Recipe, embedded: ArtifactInfo, path: Path) -> BuiltArtifact:
    from executorch.exir import to_edge_transform_and_lower

    constants = embedded.constant_methods()

    def quantize(model: CEANet, side: int) -> Any:
        return quantized_graph(model, side, float_layers_as_float=True)

    specs, graph = target_graphs(model, recipe, recipe.precision if recipe.delegate == "xnnpack" else "fp32",
                                 quantize if recipe.quantized else None)
    programs = {spec.name: export_program(spec.module, recipe.tile, spec.example) for spec in specs}
    quantization: dict[str, Any] = {}
    if graph is not None:
        quantization = graph.to_dict() | {"op_precisions": op_precisions(programs[FORWARD_GRAPH])}
        if GLOBAL_GRAPH in programs:
            quantization["global_op_precisions"] = op_precisions(programs[GLOBAL_GRAPH])
        for program in programs.values():
            unshare_dequantize(program)
        passes = []  # constant folding would turn the int8 weights back into float constants
    else:
        passes = [_fold_constants_pass()]
    # One program, one method per graph: an app loads `context` and `forward_global` from
    # the same .pte it runs `forward` from.
    lowered = to_edge_transform_and_lower(
        programs, transform_passes=passes, partitioner=[_partitioner(recipe)], constant_methods=constants,
    )
    delegation = delegation_report(lowered.exported_program())
    path.write_bytes(lowered.to_executorch().buffer)

    checks: list[str] = []
    backend = "XNNPACK" if recipe.delegate == "xnnpack" else "Core ML"
    if not delegation["all_compute_delegated"]:
        # Not a failure: the artifact runs (portable kernels); reported for the model owner.
        checks.append(f"ops outside {backend}: {delegation['outside_ops']}")
    if recipe.delegate == "coreml":
        checks.append("lowered whole graph into Core ML" if delegation["all_compute_delegated"] else "partly lowered")
    outside = ", ".join(f"{op} x{n}" for op, n in delegation["outside_ops"].items()) or "none"
    summary = [(f"delegation ({backend}): {delegation['delegated_total']} ops in {delegation['delegates']} "
                f"delegate(s); outside: {outside}; I/O casts: {delegation['io_casts']}")]
    if quantization:
        summary.append(f"int8: {describe_quantization(quantization)}")
    return BuiltArtifact(
        runtime="executorch runtime " + ("(XNNPACK)" if recipe.delegate == "xnnpack" else "(Core ML delegate)"),
        unavailable=prediction_unavailable(recipe),
        checks=checks,
        details={"delegate": recipe.delegate, "delegation": delegation, "constant_methods": constants,
                 "compute_precision": recipe.precision, "quantization": quantization or None,
                 "io": "float32 in/out; fp16 programs cast at the boundary" if recipe.precision == "fp16" else "float32"},
        summary=summary,
        io_names=(None, None),
    )
