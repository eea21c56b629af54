"""A QAT checkpoint as an explicit quantize/dequantize graph: the one int8 source of every target.

NNCF's fake quantizers are replaced, hook for hook, by the standard
``quantized_decomposed`` ops with the scales and zero points NNCF trained:

- weights become int8 constants behind ``dequantize_per_channel`` (stored as int8 in
  every artifact);
- each activation quantizer becomes ``quantize_per_tensor -> dequantize_per_tensor``,
  int8 for XNNPACK and uint8 for onnxruntime (the same values: the grid is shifted by 128
  where needed).

ExecuTorch's XNNPACK partitioner, onnxruntime's QDQ fusion and coremltools all read that
pattern, so the three int8 artifacts reproduce the QAT model rather than a fresh PTQ.

A convolution or linear runs in integer arithmetic only when its input, weight *and*
output are quantized (XNNPACK's and onnxruntime's rule). NNCF places quantizers for
OpenVINO-style fusion and leaves some outputs float (a conv feeding a residual add, a
gate). Those layers keep their QAT-quantized weight values and compute in float: the
numbers stay those of the QAT model, and the report says which layers stay float.
"""

from __future__ import annotations

import copy
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from cea_edge.errors import CeaError
from cea_edge.model.network import CEANet
from cea_edge.model.quantized import OVERFLOW_SAFE_LEVEL, quantizer_inputs, wrapped_hooks


def _decomposed_ops() -> Any:
    import torch.ao.quantization.fx._decomposed

    return torch.ops.quantized_decomposed


def quantizer_grid(quantizer: nn.Module, dtype: torch.dtype = torch.int8) -> tuple[torch.Tensor, torch.Tensor, int, int]:
    """(scale, zero point, qmin, qmax) of an NNCF quantizer on an int8 or uint8 grid (same values)."""
    from nncf.torch.quantization.layers import SymmetricQuantizer

    with torch.no_grad():
        low, high = quantizer.get_input_low_input_high()  # after NNCF's range tuning: zero is on the grid
        scale = (high - low) / (quantizer.level_high - quantizer.level_low)
        if isinstance(quantizer, SymmetricQuantizer):
            zero_point, qmin, qmax = torch.zeros_like(scale), int(quantizer.level_low), int(quantizer.level_high)
        else:
            zero_point, qmin, qmax = torch.round(-low / scale), 0, int(quantizer.levels) - 1
    if dtype == torch.int8:
        shift = 128 if qmin >= 0 and qmax > 127 else 0  # unsigned 8-bit grid -> int8
    else:
        shift = -128 if qmin < 0 else 0  # signed 8-bit grid -> uint8
    return scale.detach().clone(), zero_point - shift, qmin - shift, qmax - shift


class ActivationQDQ(nn.Module):
    """One NNCF activation quantizer as quantize -> dequantize (per tensor, int8 or uint8)."""

    def __init__(self, quantizer: nn.Module, dtype: torch.dtype) -> None:
        super().__init__()
        self.dtype = dtype
        scale, zero_point, self.qmin, self.qmax = quantizer_grid(quantizer, dtype)
        self.scale, self.zero_point = float(scale.reshape(-1)[0]), int(zero_point.reshape(-1)[0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ops = _decomposed_ops()
        q = ops.quantize_per_tensor.default(x, self.scale, self.zero_point, self.qmin, self.qmax, self.dtype)
        return ops.dequantize_per_tensor.default(q, self.scale, self.zero_point, self.qmin, self.qmax, self.dtype)


class WeightDQ(nn.Module):
    """One NNCF weight quantizer applied once: int8 weights + per-channel dequantize.

    ``as_float`` keeps the same (QAT-quantized) values as a float constant instead, for
    layers that cannot run in integer arithmetic (see the module docstring).
    """

    def __init__(self, quantizer: nn.Module, weight: torch.Tensor) -> None:
        super().__init__()
        scale, zero_point, self.qmin, self.qmax = quantizer_grid(quantizer)
        if torch.count_nonzero(zero_point):
            raise CeaError("asymmetric weight quantizers are not supported (NNCF presets quantize weights symmetrically)")
        channel_dims = [d for d, n in enumerate(scale.shape) if n > 1]
        self.axis = channel_dims[0] if channel_dims else 0
        with torch.no_grad():
            fake = quantizer(weight)
            levels = torch.round(fake / scale).clamp(self.qmin, self.qmax)
        self.register_buffer("qweight", levels.to(torch.int8))
        self.register_buffer("scales", scale.reshape(-1).contiguous())
        self.register_buffer("zero_points", torch.zeros(scale.numel(), dtype=torch.int64))
        self.as_float = False

    @property
    def max_level(self) -> int:
        return int(self.qweight.abs().max())

    @property
    def depthwise(self) -> bool:
        return self.qweight.dim() == 4 and self.qweight.shape[1] == 1 and self.qweight.shape[2] * self.qweight.shape[3] > 1

    def dequantized(self) -> torch.Tensor:
        shape = [1] * self.qweight.dim()
        shape[self.axis] = -1
        return self.qweight.float() * self.scales.reshape(shape)

    def keep_float(self) -> None:
        self.register_buffer("float_weight", self.dequantized())
        self.as_float = True
        self.qweight = torch.empty(0, dtype=torch.int8)  # not stored twice

    def forward(self, weight: torch.Tensor) -> torch.Tensor:  # the float weight is replaced, not read
        if self.as_float:
            return self.float_weight
        return _decomposed_ops().dequantize_per_channel.default(
            self.qweight, self.scales, self.zero_points, self.axis, self.qmin, self.qmax, torch.int8)


class BiasDQ(nn.Module):
    """A bias as int32 at scale (input scale x weight scale), the QDQ form onnxruntime needs
    before it fuses DequantizeLinear -> Conv -> QuantizeLinear into QLinearConv."""

    def __init__(self, bias: torch.Tensor, scales: torch.Tensor) -> None:
        super().__init__()
        with torch.no_grad():
            self.register_buffer("qbias", torch.round(bias / scales).to(torch.int32))
        self.register_buffer("scales", scales.contiguous())
        self.register_buffer("zero_points", torch.zeros(scales.numel(), dtype=torch.int64))

    def forward(self, bias: torch.Tensor) -> torch.Tensor:  # the float bias is replaced, not read
        info = torch.iinfo(torch.int32)
        return _decomposed_ops().dequantize_per_channel.default(
            self.qbias, self.scales, self.zero_points, 0, info.min, info.max, torch.int32)


@dataclass
class QuantizedGraph:
    """The exportable module and what it quantizes."""

    module: nn.Module
    weights_only: bool
    # op -> layers with int8 input, weight and output (weights_only: layers with int8 weights)
    int8_layers: Counter = field(default_factory=Counter)
    float_layers: Counter = field(default_factory=Counter)  # op -> layers kept float (QAT weight values)
    activation_quantizers: int = 0
    max_weight_level: int = 0  # largest |int8 weight| outside depthwise convolutions
    # per flat factor (see cea_edge/contract.py): the QDQ of the quantizer that makes it (v2's gain
    # heads, v1's base/direction linears), None if no quantizer's output is the factor itself. forward_global
    # applies them to its factor inputs, so its per-pixel multiplies get int8 on both sides as forward's do.
    factor_qdq: list[ActivationQDQ | None] = field(default_factory=list)

    @property
    def overflow_safe(self) -> bool:
        return self.max_weight_level <= OVERFLOW_SAFE_LEVEL

    def to_dict(self) -> dict[str, Any]:
        return {"weights_only": self.weights_only, "int8_layers": dict(self.int8_layers),
                "float_layers": dict(self.float_layers), "activation_quantizers": self.activation_quantizers,
                "max_weight_level": self.max_weight_level, "overflow_safe_weights": self.overflow_safe,
                "quantized_factor_inputs": sum(qdq is not None for qdq in self.factor_qdq)}


def _retarget_pooling_hooks(storage: nn.Module) -> None:
    """A tile-fixed model pools with avg_pool2d where training used adaptive_avg_pool2d (same
    numbers, see GridPool); NNCF keys hooks by op name, so its pooling quantizers follow."""
    for kind in ("pre_hooks", "post_hooks"):
        hooks = getattr(storage, kind)
        setattr(storage, kind, nn.ModuleDict(
            {key.replace("/adaptive_avg_pool2d/", "/avg_pool2d/"): value for key, value in hooks.items()}))


@dataclass(frozen=True)
class _Layer:
    op: str  # conv2d | linear | conv_transpose2d
    int8: bool  # input, weight and output quantized: runs in integer arithmetic
    input_scale: float | None
    bias: str | None  # the bias parameter's name in the module


def _layer_inventory(program: torch.export.ExportedProgram) -> dict[str, _Layer]:
    """weight hook name -> its layer, for every weight dequantized in the exported graph."""
    ops = _decomposed_ops()
    signature = program.graph_signature
    gemms = {torch.ops.aten.conv2d.default: "conv2d", torch.ops.aten.linear.default: "linear",
             torch.ops.aten.conv_transpose2d.input: "conv_transpose2d"}
    inventory = {}
    for node in program.graph.nodes:
        if node.op != "call_function" or node.target not in gemms:
            continue
        weight = node.args[1]
        if getattr(weight, "target", None) != ops.dequantize_per_channel.default:
            continue
        hook = signature.inputs_to_buffers.get(weight.args[0].name, "")
        quantized_input = getattr(node.args[0], "target", None) == ops.dequantize_per_tensor.default
        int8 = quantized_input and _quantized_output(node)
        bias = node.args[2] if len(node.args) > 2 and node.args[2] is not None else None
        inventory[hook.removeprefix("__nncf_hooks.").removesuffix(".qweight")] = _Layer(
            gemms[node.target], int8, float(node.args[0].args[1]) if quantized_input else None,
            signature.inputs_to_parameters.get(bias.name) if bias is not None else None)
    return inventory


def quantized_graph(model: CEANet, tile: int, weights_only: bool = False, int32_bias: bool = False,
                    activation_dtype: torch.dtype = torch.int8, float_layers_as_float: bool = False) -> QuantizedGraph:
    """``model``: an NNCF-quantized CEA (a QAT or PTQ checkpoint) fixed to ``tile``.

    int32_bias: quantize the biases of integer layers (onnxruntime fuses only that form;
    XNNPACK quantizes float biases itself). activation_dtype: int8 (XNNPACK) or uint8
    (onnxruntime's x86 kernels take u8 activations with s8 weights).
    float_layers_as_float: store the weights of layers that stay float as float constants
    (XNNPACK takes a dequantized weight only into an integer layer); otherwise they stay
    int8 behind a dequantize, which onnxruntime and Core ML run as weight-only int8.
    """
    from nncf.torch.function_hook.hook_storage import decode_hook_name
    from nncf.torch.function_hook.wrapper import get_hook_storage, register_pre_function_hook
    from nncf.torch.quantization.layers import BaseQuantizer

    module = copy.deepcopy(model).eval()
    storage = get_hook_storage(module)
    _retarget_pooling_hooks(storage)
    seen = quantizer_inputs(module, torch.zeros(1, 3, tile, tile))
    if not seen:
        raise CeaError("the model carries no NNCF quantizers")
    missing = [name for name, hook in storage.named_hooks() if isinstance(hook, BaseQuantizer) and name not in seen]
    if missing:
        raise CeaError(f"{len(missing)} NNCF quantizers (e.g. '{missing[0]}') are never reached by a {tile}x{tile} "
                       "tile; the checkpoint does not match this model code")

    graph = QuantizedGraph(module, weights_only)
    weights: dict[str, WeightDQ] = {}
    for name, hook in seen.items():
        if hook.weight_of is not None:
            weights[name] = WeightDQ(hook.quantizer, hook.tensor.detach())
            storage.set_submodule(name, weights[name])
            owner, attr = hook.weight_of
            # The hook supplies the weight: drop the float copy so artifacts store int8 only.
            _drop(owner, attr)
        elif weights_only:
            storage.set_submodule(name, nn.Identity())
        else:
            storage.set_submodule(name, ActivationQDQ(hook.quantizer, activation_dtype))
            graph.activation_quantizers += 1
    if not weights_only:
        graph.factor_qdq = _factor_quantizers(module, tile)
    graph.max_weight_level = max((w.max_level for w in weights.values() if not w.depthwise), default=0)

    with torch.no_grad():
        program = torch.export.export(module, (torch.zeros(1, 3, tile, tile),))
    for name, layer in _layer_inventory(program).items():
        if not (weights_only or layer.int8):
            if float_layers_as_float:
                weights[name].keep_float()
            graph.float_layers[layer.op] += 1
            continue
        graph.int8_layers[layer.op] += 1
        if int32_bias and layer.int8 and layer.bias is not None:
            owner_name, _, attr = layer.bias.rpartition(".")
            owner = module.get_submodule(owner_name)
            scales = layer.input_scale * weights[name].scales
            register_pre_function_hook(module, decode_hook_name(name)[1], 2, BiasDQ(getattr(owner, attr).detach(), scales))
            _drop(owner, attr)
    return graph


class _OutputCapture(nn.Module):
    def __init__(self, qdq: ActivationQDQ, produced: list[tuple[torch.Tensor, ActivationQDQ]]) -> None:
        super().__init__()
        self.qdq, self.produced = qdq, produced

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        output = self.qdq(x)
        self.produced.append((output, self.qdq))  # the tensor too: ids of freed tensors get reused
        return output


def _factor_quantizers(module: nn.Module, tile: int) -> list[ActivationQDQ | None]:
    """The activation QDQ whose output *is* each factor, found by tensor identity on one pass.

    NNCF names hooks by op and call index, not by module, so matching outputs is what ties
    a quantizer to the factor it makes (and keeps the adapter order right).
    """
    produced: list[tuple[torch.Tensor, ActivationQDQ]] = []
    with wrapped_hooks(module, ActivationQDQ, lambda hook: _OutputCapture(hook, produced)), torch.no_grad():
        output = module(torch.zeros(1, 3, tile, tile), full_output=True)
    flat = [tensor for factors in output.factors for tensor in factors]
    return [next((qdq for made, qdq in produced if made is tensor), None) for tensor in flat]


def _drop(owner: nn.Module, attr: str) -> None:
    """Replace a tensor a hook now supplies by an empty one, so artifacts do not store it twice."""
    empty = torch.empty(0)
    setattr(owner, attr, nn.Parameter(empty, requires_grad=False) if isinstance(getattr(owner, attr), nn.Parameter) else empty)


def unshare_dequantize(program: torch.export.ExportedProgram) -> int:
    """Give every consumer of a dequantize its own copy (what PT2E's convert produces).

    XNNPACK's partitioner groups each integer op with its dequantize inputs; one
    dequantize feeding two ops (a gate's two halves) otherwise ties their partitions into
    a dependency cycle. Returns the number of copies made.
    """
    ops = _decomposed_ops()
    dequantizers = (ops.dequantize_per_tensor.default, ops.dequantize_per_channel.default)
    graph = program.graph_module.graph
    copies = 0
    for node in list(graph.nodes):
        if node.op != "call_function" or node.target not in dequantizers:
            continue
        for user in list(node.users)[1:]:
            with graph.inserting_after(node):
                duplicate = graph.call_function(node.target, node.args, node.kwargs)
            duplicate.meta = dict(node.meta)
            user.replace_input_with(node, duplicate)
            copies += 1
    program.graph_module.recompile()
    return copies


# Shape-only ops carry quantized values through unchanged; they are neither int8 nor float compute.
_LAYOUT_OPS = ("view", "reshape", "flatten", "unflatten", "permute", "transpose", "slice", "expand", "clone",
               "unsqueeze", "squeeze")
# Activations an integer conv/linear/add applies as its output clamp (XNNPACK's fused
# activation, onnxruntime's Relu-before-QuantizeLinear fusion): conv -> relu -> quantize is one int8 op.
_FUSED_ACTIVATIONS = (torch.ops.aten.relu.default, torch.ops.aten.relu_.default)


def _op_name(node: Any) -> str:
    return str(getattr(node.target, "__name__", node.target)).split(".")[0]


def _quantized_output(node: Any) -> bool:
    """The op's only consumer is a quantize, or a fused activation whose only consumer is."""
    ops = _decomposed_ops()
    users = list(node.users)
    if len(users) == 1 and users[0].target in _FUSED_ACTIVATIONS:
        users = list(users[0].users)
    return len(users) == 1 and users[0].target == ops.quantize_per_tensor.default


def _fused_activation(node: Any) -> bool:
    """A relu that an integer op before it absorbs (see _FUSED_ACTIVATIONS)."""
    if node.target not in _FUSED_ACTIVATIONS or not node.all_input_nodes:
        return False
    producer = node.all_input_nodes[0]
    ops = _decomposed_ops()
    return (len(producer.users) == 1 and _op_name(producer) in ("conv2d", "linear", "conv_transpose2d", "add")
            and len(node.users) == 1 and next(iter(node.users)).target == ops.quantize_per_tensor.default)


def _output_ancestors(graph: Any) -> set[Any]:
    """The nodes the graph's outputs depend on. forward_global still traces the hyper-network
    (see Adapter.forward) and lowering drops it: what runs is what the outputs need."""
    output = next(node for node in reversed(graph.nodes) if node.op == "output")
    live, stack = set(), [output]
    while stack:
        node = stack.pop()
        if node not in live:
            live.add(node)
            stack.extend(node.all_input_nodes)
    return live


def op_precisions(program: torch.export.ExportedProgram) -> dict[str, dict[str, int]]:
    """Compute ops of a quantize/dequantize graph by the arithmetic a QDQ backend gives them:
    "int8" when every tensor input is dequantized and the only consumer is a quantize
    (XNNPACK and onnxruntime then run the op on integers), "float" otherwise."""
    ops = _decomposed_ops()
    qdq = {ops.quantize_per_tensor.default, ops.dequantize_per_tensor.default, ops.dequantize_per_channel.default}
    table: dict[str, Counter] = {}
    live = _output_ancestors(program.graph)
    for node in program.graph.nodes:
        if node.op != "call_function" or node.target in qdq or node not in live:
            continue
        name = _op_name(node)
        if name.startswith(_LAYOUT_OPS) or name == "getitem":
            continue
        if _fused_activation(node):
            continue  # runs inside the integer op before it (its clamp)
        inputs = [arg for arg in node.all_input_nodes if arg.op != "placeholder"]  # weights, biases: constants
        int8 = bool(inputs) and all(getattr(arg, "target", None) in qdq for arg in inputs) and _quantized_output(node)
        table.setdefault(name, Counter())["int8" if int8 else "float"] += 1
    return {name: dict(counts) for name, counts in sorted(table.items())}


def describe_quantization(details: dict[str, Any]) -> str:
    """One summary line from QuantizedGraph.to_dict() (+ op_precisions)."""
    if details["weights_only"]:
        return f"int8 weights (per channel) in {sum(details['int8_layers'].values())} layers, float activations"
    layers = f"{sum(details['int8_layers'].values())} conv/linear layers int8"
    if details["float_layers"]:
        layers += f", {sum(details['float_layers'].values())} float (QAT weights)"
    table = details.get("op_precisions", {})
    float_ops = {op: n["float"] for op, n in table.items() if n.get("float")}
    int8_ops = sum(n.get("int8", 0) for n in table.values())
    ops = f"; {int8_ops} ops int8, float: {', '.join(f'{op} x{n}' for op, n in float_ops.items())}" if table else ""
    return f"{layers}; weights within ±{details['max_weight_level']}{ops}"
