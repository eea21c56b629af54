"""Equivalent forms of an int8 QDQ ONNX graph that onnxruntime's CPU provider runs on integers.

onnxruntime fuses DequantizeLinear -> op -> QuantizeLinear into one integer kernel only where
it has one and the pattern is its own. Two patterns of our int8 graphs missed that, and ran in
float between quantize/dequantize pairs and layout transposes (edge2, tile 256, 1 thread: 4
float depthwise convolutions 8.0 ms and 3 transposed ones 4.1 ms of 54 ms, with ~4 ms of their
Q/DQ): the export rewrites them into forms it fuses, each the same arithmetic on the same
integers. ExecuTorch and Core ML read the torch graph and need neither (XNNPACK runs both as
integer ops).

- **conv -> relu -> quantize whose zero point is above the floor.** onnxruntime drops a relu
  only before a quantizer whose zero point is the floor (QAT trains some ranges below zero).
  On the grid, relu is max(q, zero point), so conv -> quantize -> dequantize -> relu ->
  quantize (same scale and zero point) is exact; relu is written LeakyRelu(alpha = 0), which
  onnxruntime fuses into its integer QLinearLeakyRelu.
- **Transposed convolution with kernel = stride and a quantized output** (the U-Net's 2x2
  up-sampling): onnxruntime has no integer ConvTranspose. Each output pixel of a k x k stride-k transposed convolution
  takes exactly one input pixel, so it is a 1x1 convolution to k*k times the channels followed
  by DepthToSpace (CRD order): the same int8 weights and int32 biases, reordered.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

RELU = "relu_requantized"
TRANSPOSED_CONV = "conv_transpose_as_conv_depth_to_space"

_FLOOR = {2: 0, 3: -128}  # TensorProto UINT8, INT8: the lowest level of each activation type


class _Graph:
    """Name lookups over one GraphProto and fresh names for what the rewrites add."""

    def __init__(self, graph: Any) -> None:
        self.graph = graph
        self.initializers = {tensor.name: tensor for tensor in graph.initializer}
        # Constant nodes holding a tensor (the torch exporter's form); value_int & co. are not weights
        self.constants = {node.output[0]: node for node in graph.node
                          if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value"}
        self.producer = {output: node for node in graph.node for output in node.output}
        self.consumers: dict[str, list[Any]] = {}
        for node in graph.node:
            for name in node.input:
                self.consumers.setdefault(name, []).append(node)
        self._count = 0

    def fresh(self, stem: str) -> str:
        self._count += 1
        return f"{stem}__ort_form{self._count}"

    def stored(self, name: str) -> Any | None:
        """The TensorProto of an initializer or Constant output; None for a computed tensor."""
        if name in self.initializers:
            return self.initializers[name]
        if name in self.constants:
            return self.constants[name].attribute[0].t
        return None

    def array(self, name: str) -> Any | None:
        from onnx import numpy_helper

        tensor = self.stored(name)
        return None if tensor is None else numpy_helper.to_array(tensor)

    def add_array(self, stem: str, value: Any) -> str:
        """A new initializer: values are shared between nodes (one zero point for many
        dequantizers), so a rewrite never edits one in place."""
        from onnx import numpy_helper

        name = self.fresh(stem)
        self.graph.initializer.append(numpy_helper.from_array(value, name))
        return name

    def only_consumer(self, name: str, op_type: str) -> Any | None:
        users = self.consumers.get(name, [])
        return users[0] if len(users) == 1 and users[0].op_type == op_type else None

    def dequantized(self, name: str) -> Any | None:
        """The DequantizeLinear that makes ``name`` from a stored integer tensor, if one does."""
        node = self.producer.get(name)
        if node is None or node.op_type != "DequantizeLinear" or self.array(node.input[0]) is None:
            return None
        return node


def _attributes(node: Any) -> dict[str, Any]:
    from onnx import helper

    return {attribute.name: helper.get_attribute_value(attribute) for attribute in node.attribute}


def _requantize(graph: _Graph, source: str, quantizer: Any, stem: str) -> tuple[list[Any], str]:
    """QuantizeLinear -> DequantizeLinear of ``source`` on ``quantizer``'s grid: nodes and output."""
    from onnx import helper

    levels, values = graph.fresh(f"{stem}_q"), graph.fresh(f"{stem}_dq")
    grid = list(quantizer.input[1:3])
    return [helper.make_node("QuantizeLinear", [source, *grid], [levels], name=graph.fresh(f"{stem}_quantize")),
            helper.make_node("DequantizeLinear", [levels, *grid], [values], name=graph.fresh(f"{stem}_dequantize"))
            ], values


def _relu_form(graph: _Graph, node: Any) -> list[Any] | None:
    from onnx import helper

    producer = graph.producer.get(node.input[0])
    quantizer = graph.only_consumer(node.output[0], "QuantizeLinear")
    if producer is None or producer.op_type != "Conv" or quantizer is None or len(quantizer.input) < 3:
        return None
    activation = graph.producer.get(producer.input[0])
    if activation is None or activation.op_type != "DequantizeLinear" or graph.dequantized(producer.input[1]) is None:
        return None  # a float convolution stays float whatever follows it
    stored, zero_point = graph.stored(quantizer.input[2]), graph.array(quantizer.input[2])
    if stored is None or stored.data_type not in _FLOOR or zero_point.size != 1:
        return None
    if int(zero_point.reshape(-1)[0]) == _FLOOR[stored.data_type]:
        return None  # onnxruntime removes this relu itself
    nodes, values = _requantize(graph, node.input[0], quantizer, node.name or "relu")
    return [*nodes, helper.make_node("LeakyRelu", [values], list(node.output), name=node.name, alpha=0.0)]


def _transposed_conv_form(graph: _Graph, node: Any) -> list[Any] | None:
    import numpy as np
    from onnx import helper

    attributes = _attributes(node)
    kernel = list(attributes.get("kernel_shape", []))
    if (len(kernel) != 2 or kernel[0] != kernel[1] or list(attributes.get("strides", [])) != kernel
            or any(attributes.get("pads", [0])) or any(attributes.get("output_padding", [0]))
            or any(d != 1 for d in attributes.get("dilations", [1])) or attributes.get("group", 1) != 1
            or attributes.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET") or "output_shape" in attributes):
        return None
    quantizer = graph.only_consumer(node.output[0], "QuantizeLinear")
    if quantizer is None:
        return None  # a float output (the last layer): float either way, and ConvTranspose is the faster float form
    has_bias = len(node.input) > 2 and bool(node.input[2])
    weight_dq = graph.dequantized(node.input[1])
    bias_dq = graph.dequantized(node.input[2]) if has_bias else None
    if weight_dq is None or (has_bias and bias_dq is None):
        return None  # float weights or bias: no integer convolution to gain
    side = kernel[0]
    weights = graph.array(weight_dq.input[0])  # (in, out, k, k)
    if weights.ndim != 4 or _attributes(weight_dq).get("axis", 1) != 1:
        return None
    inputs, outputs = weights.shape[:2]

    def per_output(array: Any) -> Any:
        # one value per output channel -> one per (channel, row, column) of the k x k block
        return np.repeat(array, side * side) if array.ndim == 1 and array.size == outputs else array

    # channel o*k*k + a*k + b of the 1x1 convolution is output channel o at offset (a, b):
    # DepthToSpace's CRD order
    reordered = weights.transpose(1, 2, 3, 0).reshape(outputs * side * side, inputs, 1, 1)
    new_weight = helper.make_node(
        "DequantizeLinear",
        [graph.add_array("weight", np.ascontiguousarray(reordered)),
         *(graph.add_array("weight_grid", per_output(graph.array(name))) for name in weight_dq.input[1:])],
        [graph.fresh("weight")], name=graph.fresh("weight_dequantize"), axis=0)
    nodes = [new_weight]
    conv_inputs = [node.input[0], new_weight.output[0]]
    if bias_dq is not None:
        new_bias = helper.make_node(
            "DequantizeLinear",
            [graph.add_array(f"bias{i}", per_output(graph.array(name))) for i, name in enumerate(bias_dq.input)],
            [graph.fresh("bias")], name=graph.fresh("bias_dequantize"), axis=0)
        nodes.append(new_bias)
        conv_inputs.append(new_bias.output[0])
    convolved = graph.fresh("convolved")
    nodes.append(helper.make_node("Conv", conv_inputs, [convolved], name=node.name, kernel_shape=[1, 1]))
    # quantizing before or after DepthToSpace (a permutation) is the same; before it,
    # DequantizeLinear -> Conv -> QuantizeLinear is the pattern onnxruntime fuses
    requantized, convolved = _requantize(graph, convolved, quantizer, node.name or "conv_transpose")
    nodes.extend(requantized)
    nodes.append(helper.make_node("DepthToSpace", [convolved], list(node.output), name=graph.fresh("depth_to_space"),
                                  blocksize=side, mode="CRD"))
    return nodes


def rewrite_for_onnxruntime(model_proto: Any) -> dict[str, int]:
    """Rewrite ``model_proto``'s main graph in place; returns how many of each form were made.

    The weight and bias dequantizers a rewrite replaces go, with the stored tensors only they
    read (dequantizers and constants that nothing reads are dropped with them); nothing else
    in the graph changes.
    """
    graph = _Graph(model_proto.graph)
    counts: Counter = Counter()
    rewritten = []
    for node in model_proto.graph.node:
        replacement = None
        if node.op_type == "Relu":
            replacement, form = _relu_form(graph, node), RELU
        elif node.op_type == "ConvTranspose":
            replacement, form = _transposed_conv_form(graph, node), TRANSPOSED_CONV
        if replacement is None:
            rewritten.append(node)
            continue
        rewritten.extend(replacement)
        counts[form] += 1
    if counts:
        _drop_unread(model_proto.graph, rewritten)
    return {RELU: counts[RELU], TRANSPOSED_CONV: counts[TRANSPOSED_CONV]}


def _drop_unread(graph: Any, nodes: list[Any]) -> None:
    """Set ``nodes`` as the graph's, less the dequantizers and constants nothing reads any more
    (the replaced weights' and biases'), their initializers and their stale shape records."""
    graph_outputs = {output.name for output in graph.output}
    while True:
        read = {name for node in nodes for name in node.input} | graph_outputs
        kept = [node for node in nodes
                if node.op_type not in ("DequantizeLinear", "Constant") or any(o in read for o in node.output)]
        if len(kept) == len(nodes):
            break
        nodes = kept
    read = {name for node in nodes for name in node.input} | graph_outputs
    made = {name for node in nodes for name in node.output} | {i.name for i in graph.input}
    del graph.node[:]
    graph.node.extend(nodes)
    unread = [tensor for tensor in graph.initializer if tensor.name not in read]
    for tensor in unread:
        graph.initializer.remove(tensor)
    stale = [info for info in graph.value_info if info.name not in made]
    for info in stale:
        graph.value_info.remove(info)
