"""Static census of a program: what runs where, read from the artifact file itself.

- ExecuTorch: every execution plan of the .pte (forward, context, forward_global; constant
  methods listed apart): its instructions, the kernels left outside delegates, its delegates, and
  for XNNPACK delegates the operators inside (node type -> output dtype -> count), decoded from
  the delegate's XNNGraph flatbuffer with ExecuTorch's bundled flatc. A .pte given on the command
  line has no ExportedProgram, so export/executorch_target.delegation_report cannot be used.
- Core ML: each package of the export (main, context, global siblings): ML program ops by type
  and output precision, I/O shapes, weight and package sizes.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from cea_edge.contract import CONTEXT_GRAPH, FORWARD_GRAPH, GLOBAL_GRAPH, sibling_path
from cea_edge.errors import CeaError
from cea_edge.runtime.backends import check_executorch_file
from cea_edge.toolchain import require

XNNPACK_ID = "XnnpackBackend"


_NON_FINITE = re.compile(r'(?<![\w".])(-?)(inf|nan)(?![\w".])')


def read_flatc_json(text: str) -> Any:
    """flatc's JSON output, parsed. flatc writes non-finite floats (an unbounded clamp of edge2's
    XNNPACK graphs: output_max) as bare inf / -inf / nan, which is not JSON; Python reads them
    as Infinity / NaN."""
    return json.loads(_NON_FINITE.sub(lambda m: m.group(1) + ("Infinity" if m.group(2) == "inf" else "NaN"), text))


def _xnnpack_ops(blob: bytes) -> dict[str, dict[str, int]]:
    """XNNGraph node type -> output dtype -> count, from one XNNPACK delegate's processed bytes."""
    from executorch.backends.xnnpack.serialization.xnnpack_graph_serialize import XNNHeader, _get_schema_bytes
    from executorch.exir._serialize._flatbuffer import _flatc_decompile

    header = XNNHeader.from_bytes(blob[:XNNHeader.EXPECTED_LENGTH])
    flatbuffer = blob[header.flatbuffer_offset:header.flatbuffer_offset + header.flatbuffer_size]
    with tempfile.TemporaryDirectory(prefix="cea-xnngraph-") as folder:
        Path(folder, "schema.fbs").write_bytes(_get_schema_bytes())
        Path(folder, "graph.bin").write_bytes(flatbuffer)
        _flatc_decompile(folder, str(Path(folder, "schema.fbs")), str(Path(folder, "graph.bin")))
        graph = read_flatc_json(Path(folder, "graph.json").read_text())
    dtypes = {}
    for value in graph.get("xvalues", []):
        tensor = value.get("xvalue_union", {})
        tensor = tensor.get("tensor_value", tensor)  # quantized values wrap a plain tensor value
        dtypes[tensor.get("id_out")] = str(tensor.get("datatype", "?")).removeprefix("xnn_datatype_")
    ops: dict[str, Counter] = defaultdict(Counter)
    for node in graph.get("xnodes", []):
        fields = node.get("xnode_union", {})
        ops[node["xnode_union_type"].removeprefix("XNN")][dtypes.get(fields.get("output_id"), "?")] += 1
    return {op: dict(counts) for op, counts in sorted(ops.items())}


def executorch_census(path: Path) -> dict[str, Any]:
    """{"methods": {name: {...}}, "constant_methods": [...], "delegates": n, ...} of a .pte file."""
    check_executorch_file(path)  # bytes that are no program (no ET12 identifier) decode to nothing: one error
    require("executorch.exir", "reading an ExecuTorch program")
    from executorch.exir._serialize._program import deserialize_pte_binary

    try:
        program = deserialize_pte_binary(path.read_bytes()).program
    except Exception as error:  # noqa: BLE001 -- the deserializer raises what flatbuffers raises
        raise CeaError(f"'{path}' is not a readable ExecuTorch program ({str(error)[:160]})") from None
    methods, constants, notes = {}, [], []
    for plan in program.execution_plan:
        instructions = [i.instr_args for chain in plan.chains for i in chain.instructions]
        if not instructions:
            constants.append(plan.name)
            continue
        kinds = Counter(type(args).__name__ for args in instructions)
        outside = Counter(f"{plan.operators[args.op_index].name}.{plan.operators[args.op_index].overload}".rstrip(".")
                          for args in instructions if type(args).__name__ == "KernelCall")
        inside: dict[str, Counter] = defaultdict(Counter)
        for args in instructions:
            if type(args).__name__ != "DelegateCall":
                continue
            delegate = plan.delegates[args.delegate_index]
            if delegate.id != XNNPACK_ID or delegate.processed.location != 0:  # 0: INLINE
                notes.append(f"{plan.name}: ops inside the {delegate.id} delegate not decoded")
                continue
            try:
                for op, counts in _xnnpack_ops(program.backend_delegate_data[delegate.processed.index].data).items():
                    inside[op].update(counts)
            except Exception as error:  # noqa: BLE001 -- private executorch API: report, do not fail the profile
                notes.append(f"{plan.name}: XNNPACK graph not decoded ({type(error).__name__}: {str(error)[:120]})")
        methods[plan.name] = {
            "instructions": dict(kinds), "delegate_calls": kinds.get("DelegateCall", 0),
            "delegates": [d.id for d in plan.delegates], "ops_outside": dict(outside),
            "ops_inside": {op: dict(c) for op, c in sorted(inside.items())},
            "ops_inside_total": sum(sum(c.values()) for c in inside.values()),
            "all_compute_delegated": not outside,
        }
    return {"kind": "executorch program", "methods": methods, "constant_methods": sorted(constants),
            "delegates": sum(len(m["delegates"]) for m in methods.values()), "notes": notes}


def _folder_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def coreml_graph(package: Path) -> dict[str, Any]:
    ct = require("coremltools", "reading a Core ML package")
    from coremltools.proto import MIL_pb2

    try:
        spec = ct.models.MLModel(str(package), skip_model_load=True).get_spec()
    except Exception as error:  # noqa: BLE001 -- coremltools raises its own types for bad packages
        raise CeaError(f"'{package}' is not a loadable Core ML package ({str(error).splitlines()[0][:160]})") from None
    function = spec.mlProgram.functions["main"]
    block = function.block_specializations[function.opset]
    ops: dict[str, Counter] = defaultdict(Counter)
    for op in block.operations:
        for output in op.outputs[:1]:
            ops[op.type][MIL_pb2.DataType.Name(output.type.tensorType.dataType).lower()] += 1
    weights = package / "Data" / "com.apple.CoreML" / "weights"
    return {
        "opset": function.opset, "specification_version": spec.specificationVersion,
        "ops": {op: dict(c) for op, c in sorted(ops.items()) if op != "const"},
        "ops_total": sum(sum(c.values()) for op, c in ops.items() if op != "const"),
        "inputs": {f.name: list(f.type.multiArrayType.shape) for f in spec.description.input},
        "outputs": {f.name: list(f.type.multiArrayType.shape) for f in spec.description.output},
        "weights_bytes": _folder_bytes(weights) if weights.is_dir() else 0, "package_bytes": _folder_bytes(package),
    }


def coreml_census(path: Path) -> dict[str, Any]:
    graphs = {FORWARD_GRAPH: coreml_graph(path)}
    for graph in (CONTEXT_GRAPH, GLOBAL_GRAPH):
        if sibling_path(path, graph).is_dir():
            graphs[graph] = coreml_graph(sibling_path(path, graph))
    return {"kind": "core ml packages", "methods": graphs, "notes": []}
