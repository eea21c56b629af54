"""NNCF graph surgery: insert fake quantizers on a CEA model, then fix the ranges NNCF gets wrong.

Also the calibration set NNCF sets the ranges on, and the record a checkpoint needs to
rebuild the quantizers exactly (cea_edge.model.quantized restores it).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from cea_edge.data.stream import TrainingStream
from cea_edge.errors import CeaError
from cea_edge.model.config import CEAConfig
from cea_edge.model.memory import USABLE_FRACTION, activation_bytes, available_memory, check_fits
from cea_edge.model.network import CEANet
from cea_edge.model.quantized import OVERFLOW_SAFE_LEVEL, import_nncf, portable_config, quantizer_inputs
from cea_edge.quantize.recipe import QuantRecipe
from cea_edge.toolchain import quiet_toolchains

# float32 copies of each calibration patch at the stream's peak: the clean and degraded patch
# lists, their stacked arrays and the tensors made from them.
CALIBRATION_COPIES = 6


def check_calibration_fits(recipe: QuantRecipe, config: CEAConfig) -> None:
    """CeaError, before anything is drawn, when the calibration set (``calibration_size`` patches of
    ``calibration_patch``) and one forward pass on a patch do not fit the memory here; the message
    names the largest calibration size (or patch) that fits."""
    where = recipe.where("calibration_patch")
    try:
        check_fits(config, recipe.calibration_patch, what="calibration patch")
    except CeaError as error:
        raise CeaError(f"{where}: {error}") from None
    available = available_memory()
    if available is None:
        return
    budget = int(available * USABLE_FRACTION) - activation_bytes(config, recipe.calibration_patch)
    per_patch = CALIBRATION_COPIES * 3 * recipe.calibration_patch ** 2 * 4
    largest = max(0, budget // per_patch)
    if recipe.calibration_size > largest:
        raise CeaError(f"{recipe.where('calibration_size')}: {recipe.calibration_size} calibration patches of "
                       f"{recipe.calibration_patch}x{recipe.calibration_patch} need about "
                       f"{recipe.calibration_size * per_patch / 1e9:.1f} GB of memory, more than this machine can give "
                       f"now ({available / 1e9:.1f} GB available); the largest calibration size that fits is {largest}")


def calibration_set(recipe: QuantRecipe, photos: Sequence[np.ndarray] = ()) -> list[torch.Tensor]:
    """Seeded degraded patches from the training stream (its own seed: not the fine-tuning batches);
    with ``photos``, the stream of a model trained on real photos (camera degradations)."""
    stream = TrainingStream(recipe.calibration_patch, seed=10_000 + recipe.train.seed, photos=photos)
    degraded, _ = stream.batch(recipe.calibration_size)
    return [patch[None] for patch in degraded]


def insert_quantizers(model: CEANet, recipe: QuantRecipe, calibration: list[torch.Tensor]) -> CEANet:
    """nncf.quantize: fake quantizers on weights and activations, ranges from the calibration set."""
    nncf = import_nncf()
    from nncf.quantization.advanced_parameters import (
        AdvancedQuantizationParameters,
        OverflowFix,
        QuantizationParameters,
    )
    from nncf.quantization.range_estimator import RangeEstimatorParametersSet
    from nncf.torch.function_hook.nncf_graph.nncf_graph_builder import build_nncf_graph

    model.eval()
    convolutions_only = recipe.activations == "convolutions"
    names: list[str] = []
    graph = None
    if recipe.float_hyper_network or convolutions_only:
        graph = build_nncf_graph(model, calibration[0])
        names = hyper_network_nodes(graph)
        if convolutions_only:
            names = sorted(set(names) | set(non_convolution_nodes(graph, model)))
    ignored = nncf.IgnoredScope(names=names, patterns=list(recipe.ignored_patterns), validate=False)
    with quiet_toolchains():  # NNCF's own progress bars and notices
        quantized = nncf.quantize(
            model, nncf.Dataset(calibration), subset_size=len(calibration),
            preset=nncf.QuantizationPreset(recipe.nncf_preset), ignored_scope=ignored,
            advanced_parameters=AdvancedQuantizationParameters(
                overflow_fix=OverflowFix(recipe.overflow_fix),
                # NNCF would quantize the inputs of depthwise convolutions per channel; onnxruntime's
                # integer kernels (QLinearConv) and XNNPACK take per-tensor activations only.
                activations_quantization_params=QuantizationParameters(per_channel=False),
                activations_range_estimator_params=getattr(RangeEstimatorParametersSet, recipe.activation_range.upper()),
            ),
        )
    pin_input_range(quantized)
    if convolutions_only:
        quantize_convolution_outputs(quantized, calibration, graph, set(names))
    if recipe.overflow_fix != "disable":
        hold_overflow_range(quantized, calibration[0])
    return quantized


CONVOLUTIONS = ("conv2d", "conv_transpose2d")


def non_convolution_nodes(graph: Any, model: CEANet) -> list[str]:
    """NNCF node names (in ``graph``, NNCF's graph of ``model``) of every op but the learned
    convolutions: what activations = "convolutions" keeps in float. A convolution with a frozen
    buffer for its weight (ChannelNorm's channel mean) is a norm's arithmetic, not a layer: float too."""
    buffers = {name for name, _ in model.named_buffers()}
    names = []
    for node in graph.get_all_nodes():
        if _is_constant(node) or node.node_type in ("nncf_model_input", "nncf_model_output"):
            continue
        weights = [edge.from_node.node_name for edge in graph.get_input_edges(node) if _is_constant(edge.from_node)]
        if node.node_type not in CONVOLUTIONS or any(name in buffers for name in weights):
            names.append(node.node_name)
    return names


def quantize_convolution_outputs(model: CEANet, calibration: list[torch.Tensor], graph: Any, ignored: set[str]) -> int:
    """An activation quantizer on the output of every quantized convolution that has none yet
    (NNCF quantizes inputs only, and the float ops after a convolution take none): XNNPACK's and
    onnxruntime's static int8 convolutions write int8. Ranges: the calibration set's extremes,
    like NNCF's minmax. ``graph``: NNCF's graph of the fp32 model, whose node names the quantizers'
    hooks carry (the one ``ignored`` was read from). Returns how many were added.

    Not before a ReLU that NNCF quantized (it feeds a convolution): the runtimes fuse the two into
    one convolution that writes the ReLU's int8 (XNNPACK's clamp, onnxruntime's QLinearConv), so a
    second quantizer there would be noise the artifacts do not have -- on edge3's twin it cost
    0.05 dB of parity drop in PyTorch and onnxruntime, not in ExecuTorch."""
    from nncf.torch.function_hook import register_post_function_hook
    from nncf.torch.function_hook.wrapper import get_hook_storage
    from nncf.torch.quantization.layers import AsymmetricQuantizer, PTQuantizerSpec

    storage = get_hook_storage(model)
    hooks = dict(storage.named_hooks())
    template = next(hook for name, hook in hooks.items() if isinstance(hook, AsymmetricQuantizer))
    quantized_convolutions = {name.split(".", 1)[1].rsplit("__", 1)[0] for name in hooks
                              if name.startswith("pre_hooks.") and name.endswith("__1.0")}  # their weights
    nodes = {node.node_name: node for node in graph.get_all_nodes()}

    def quantized_relu(name: str) -> bool:
        return nodes[name].node_type == "relu" and f"post_hooks.{name}__0.0" in hooks

    added: dict[str, nn.Module] = {}
    for op_name in sorted(quantized_convolutions - ignored):
        if any(name.startswith(f"post_hooks.{op_name}__0.") for name in hooks):
            continue  # another convolution takes it: NNCF quantized it already
        consumers = [edge.to_node.node_name for edge in graph.get_output_edges(nodes[op_name])]
        if consumers and all(quantized_relu(name) for name in consumers):
            continue
        quantizer = AsymmetricQuantizer(PTQuantizerSpec.from_state(template._qspec.get_state()))
        quantizer.disable_quantization()  # until its range is set: it must not distort the calibration pass
        register_post_function_hook(model, op_name, 0, quantizer)
        added[f"post_hooks.{op_name}__0.0"] = quantizer
    low: dict[str, float] = {}
    high: dict[str, float] = {}
    for patch in calibration:
        for name, seen in quantizer_inputs(model, patch).items():
            if name in added:
                low[name] = min(low.get(name, 0.0), seen.tensor.min().item())
                high[name] = max(high.get(name, 0.0), seen.tensor.max().item())
    with torch.no_grad():
        for name, quantizer in added.items():
            quantizer.input_low.fill_(low[name])
            quantizer.input_range.fill_(max(high[name] - low[name], quantizer.eps))
            quantizer.enable_quantization()
    return len(added)


# Ops that turn an adapter's per-pixel features into its g x g grid (GridPool): where a hyper-network starts.
POOLING_OPS = ("adaptive_avg_pool2d", "avg_pool2d")


def hyper_network_nodes(graph: Any) -> list[str]:
    """NNCF node names of the adapters' hyper-networks (in ``graph``, NNCF's graph of a CEA model):
    what runs on the pooled grid, not per pixel.

    Read from the graph, not from names (NNCF numbers ops across all adapters): an adapter op is
    in a hyper-network when it pools, or when every input it takes from another op comes out of
    the hyper-network. The per-pixel ops (the expert convolutions, the multiplies by the gains,
    the residual add) take the block's features and stay out.
    """
    hyper: set[str] = set()
    for node in graph.topological_sort():
        name = node.node_name
        if not name.startswith("adapter/"):
            continue
        sources = [edge.from_node for edge in graph.get_input_edges(node)]
        ops = [source for source in sources if not _is_constant(source)]
        if name.split("/")[-2] in POOLING_OPS or (ops and all(source.node_name in hyper for source in ops)):
            hyper.add(name)
    return sorted(hyper)


def _is_constant(node: Any) -> bool:
    """A parameter or buffer node of NNCF's graph (named after it: 'adapter.hyper.token_embedding')."""
    return node.node_type in ("nncf_model_const", "const") or "." in node.node_name


def pin_input_range(model: CEANet) -> int:
    """Quantize the input image on exactly [0, 1] in 255 steps, and keep it there in QAT.

    That grid holds every value of an 8-bit photo, so the first quantizer loses nothing on
    real inputs; calibrated instead, it followed the calibration patches (0 to 0.85 with
    NNCF's default estimator: every brighter pixel clipped). The image's quantizer is the input's
    own (NNCF's placement) or, with only convolutions quantized, the first convolution's input
    quantizer: found as the one given the input tensor itself. Returns the quantizers pinned.
    """
    from nncf.torch.quantization.layers import AsymmetricQuantizer

    side = model.config.min_tile
    example = torch.rand(1, 3, side, side)
    pinned = 0
    for seen in quantizer_inputs(model, example).values():
        if isinstance(seen.quantizer, AsymmetricQuantizer) and seen.tensor is example:
            with torch.no_grad():
                seen.quantizer.input_low.fill_(0.0)
                seen.quantizer.input_range.fill_(1.0 - seen.quantizer.eps)
            seen.quantizer.input_low.requires_grad_(False)
            seen.quantizer.input_range.requires_grad_(False)
            pinned += 1
    return pinned


def activation_ranges(model: CEANet, example: torch.Tensor) -> list[nn.Parameter]:
    """The trainable range parameters of the activation quantizers (not the weights' scales).

    At the weights' fine-tuning rate (2e-5) a range of 2-10 moves by under 0.01 in 400 steps:
    QAT would keep the calibration extremes, which on the norm-free residual stream of v2
    waste most of the 256 levels on rare values. The recipe's range_lr_factor lets them learn.
    """
    return [parameter for seen in quantizer_inputs(model, example).values() if seen.weight_of is None
            for parameter in seen.quantizer.parameters() if parameter.requires_grad]


def hold_overflow_range(model: CEANet, example: torch.Tensor) -> int:
    """Keep the overflow fix through QAT; returns how many weight quantizers were rebuilt.

    NNCF's torch backend applies the fix only to the *initial* scales: the quantizers
    stay 8-bit, and QAT then trains the scales down until weights reach level 78 of 127
    (measured after 400 steps), where onnxruntime's u8 x s8 kernels on CPUs without VNNI
    saturate. Rebuilt as 7-bit (NNCF's half_range spec, saved in the checkpoint's
    config), the same weights keep at most 63 levels however the scales train.
    """
    from nncf.torch.function_hook.wrapper import get_hook_storage
    from nncf.torch.quantization.layers import PTQuantizerSpec, SymmetricQuantizer

    storage = get_hook_storage(model)
    rebuilt = 0
    for name, seen in quantizer_inputs(model, example).items():
        old = seen.quantizer
        if seen.weight_of is None or not isinstance(old, SymmetricQuantizer) or old.is_half_range:
            continue
        with torch.no_grad():
            step = (old.scale.abs() + old.eps) / old.level_high
            if torch.max(torch.abs(old(seen.tensor)) / step) > OVERFLOW_SAFE_LEVEL + 0.5:
                continue  # a layer the fix does not cover (depthwise): full 8-bit range
            new = SymmetricQuantizer(PTQuantizerSpec.from_state(old._qspec.get_state() | {"half_range": True}))
            new.signed = old.signed
            new.scale = nn.Parameter(step * new.level_high - new.eps)
        storage.set_submodule(name, new)
        rebuilt += 1
    return rebuilt


def quantization_record(model: CEANet, recipe: QuantRecipe, source: dict[str, Any]) -> dict[str, Any]:
    """What a QAT checkpoint carries besides the weights: enough to rebuild the quantizers exactly."""
    nncf = import_nncf()
    return {"scheme": recipe.scheme, "method": "ptq" if recipe.ptq else "qat", "recipe": recipe.to_dict(),
            "source_checkpoint": source, "nncf": nncf.__version__,
            "nncf_config": portable_config(nncf.torch.get_config(model))}
