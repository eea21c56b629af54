"""Pieces every exporter uses: what a target hands back, the fp16 wrapper, the graphs of
the artifact contract (cea_edge/contract.py) and the torch.export step."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from torch import nn

from cea_edge.contract import (
    CONTEXT_GRAPH,
    FORWARD_GRAPH,
    GLOBAL_GRAPH,
    INPUT_NAME,
    OUTPUT_NAME,
    factor_names,
    routing_map_names,
)
from cea_edge.model.network import CEANet


@dataclass
class BuiltArtifact:
    """What a target returns after writing its artifact (and siblings) to the staged path.

    The pipeline then runs it through the runtime's backend (cea_edge/runtime/backends.py),
    the one way to run an artifact, unless ``unavailable`` says why this machine cannot.
    """

    runtime: str  # what runs it, e.g. "onnxruntime 1.23 CPUExecutionProvider"
    unavailable: str = ""  # why the runtime cannot run it here ('' when it can)
    siblings: dict[str, Path] = field(default_factory=dict)  # graph -> its own file (ONNX, Core ML)
    checks: list[str] = field(default_factory=list)  # structural checks that passed
    problems: list[str] = field(default_factory=list)  # structural checks that failed
    details: dict[str, Any] = field(default_factory=dict)  # target-specific manifest section
    summary: list[str] = field(default_factory=list)  # extra lines for the CLI summary
    io_names: tuple[str | None, str | None] = (INPUT_NAME, OUTPUT_NAME)  # None: positional (ExecuTorch)


class Float16Compute(nn.Module):
    """The model in fp16 behind float32 inputs and outputs.

    Every artifact keeps the same float32 (1, 3, T, T) interface whatever its precision,
    so apps and the tiled runtime feed all of them alike; the two casts sit at the edges.
    """

    def __init__(self, model: CEANet) -> None:
        super().__init__()
        self.model = copy.deepcopy(model).half()  # a copy: the fp32 model stays the reference

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.model(image.half()).float()


def module_for(model: CEANet, precision: str) -> nn.Module:
    """The module to trace for a weights-and-activations precision (fp32 or fp16)."""
    if precision == "fp16":
        return Float16Compute(model).eval()
    return model


def example_input(tile: int) -> torch.Tensor:
    return torch.zeros(1, 3, tile, tile)


def export_program(module: nn.Module, tile: int, example: tuple[torch.Tensor, ...] | None = None
                   ) -> torch.export.ExportedProgram:
    """One fixed tile shape per artifact (static shapes keep XNNPACK, Core ML and NPUs happy)."""
    with torch.no_grad():
        return torch.export.export(module, example or (example_input(tile),))


# --- the global-context graphs (named and laid out as cea_edge/contract.py says) ---
class ContextGraph(nn.Module):
    """(1, 3, S, S) context image -> (*factors, *routing maps), flat (see factor_names).

    ``half``: compute in fp16 behind float32 inputs and outputs, like Float16Compute.
    """

    def __init__(self, model: nn.Module, half: bool = False) -> None:
        super().__init__()
        self.model, self.half = model, half

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, ...]:
        output = self.model(image.half() if self.half else image, full_output=True)
        flat = [tensor for factors in output.factors for tensor in factors] + list(output.routing_maps)
        return tuple(tensor.float() for tensor in flat) if self.half else tuple(flat)


class GlobalGraph(nn.Module):
    """(1, 3, T, T) tile + flat factors -> the restored tile, with the given factors.

    ``factor_qdq`` (int8): per factor, the quantize/dequantize of the quantizer that makes it
    in the context graph (None: leave it float). Re-quantizing a factor on the grid it came
    from changes nothing, but without it the per-pixel multiplies that take the factors
    have a float input and run in float (between converts) where ``forward``'s run on integers.
    """

    def __init__(self, model: nn.Module, half: bool = False, factor_qdq: Sequence[nn.Module | None] = ()) -> None:
        super().__init__()
        self.model, self.half = model, half
        self.factor_qdq = nn.ModuleList(qdq or nn.Identity() for qdq in factor_qdq)

    def forward(self, image: torch.Tensor, *factors: torch.Tensor) -> torch.Tensor:
        if self.half:
            image, factors = image.half(), tuple(tensor.half() for tensor in factors)
        if len(self.factor_qdq):
            factors = tuple(qdq(tensor) for qdq, tensor in zip(self.factor_qdq, factors, strict=True))
        restored = self.model(image, self.model.pair_factors(factors))
        return restored.float() if self.half else restored


@dataclass
class GraphSpec:
    """One graph to export: the module, example inputs (fixing every shape) and I/O names."""

    name: str
    module: nn.Module
    example: tuple[torch.Tensor, ...]
    input_names: list[str]
    output_names: list[str]


def graph_specs(model: CEANet, recipe: Any, tile_module: nn.Module, context_module: nn.Module | None,
                factor_qdq: Sequence[nn.Module | None] = ()) -> list[GraphSpec]:
    """forward, and (when recipe.context_size) context + forward_global, from the modules a target built.

    tile_module: what ``forward`` runs (the model, its int8 QDQ graph or a Float16Compute);
    context_module: the same kind of module pinned to the context side (for fp16: the
    model copy in half precision). The global graph shares tile_module's weights.
    factor_qdq: see GlobalGraph (QuantizedGraph.factor_qdq of an int8 tile module).
    """
    tile = example_input(recipe.tile)
    specs = [GraphSpec(FORWARD_GRAPH, tile_module, (tile,), [INPUT_NAME], [OUTPUT_NAME])]
    if not recipe.context_size or context_module is None:
        return specs
    with torch.no_grad():
        factors = [t.contiguous() for f in model(tile, full_output=True).factors for t in f]
    names = factor_names(len(factors) // 2, model.config.design)
    half = isinstance(tile_module, Float16Compute)
    base = tile_module.model if half else tile_module
    specs.append(GraphSpec(CONTEXT_GRAPH, ContextGraph(context_module, half).eval(), (example_input(recipe.context_size),),
                           [INPUT_NAME], names + routing_map_names(len(names) // 2)))
    specs.append(GraphSpec(GLOBAL_GRAPH, GlobalGraph(base, half, factor_qdq).eval(), (tile, *factors),
                           [INPUT_NAME, *names], [OUTPUT_NAME]))
    return specs


def context_model(model: CEANet, size: int) -> CEANet:
    """A copy of ``model`` pinned to the context side (the tile model stays as it is)."""
    return copy.deepcopy(model).fix_input_size(size, size)


def target_graphs(model: CEANet, recipe: Any, module_precision: str,
                  quantize: Callable[[CEANet, int], Any] | None = None) -> tuple[list[GraphSpec], Any]:
    """The graphs a target exports, and the forward graph's QuantizedGraph (None unless int8).

    module_precision: "fp32" or "fp16", what the target traces for float recipes (Core ML
    traces fp32 and converts to fp16 itself). quantize(model, side): the target's own
    int8 QDQ graph builder (each runtime wants its own int8 form).
    """
    context = context_model(model, recipe.context_size) if recipe.context_size else None
    if recipe.quantized:
        graph = quantize(model, recipe.tile)
        context_module = quantize(context, recipe.context_size).module if context is not None else None
        return graph_specs(model, recipe, graph.module, context_module, graph.factor_qdq), graph
    tile_module = module_for(model, module_precision)
    if context is not None and module_precision == "fp16":
        context = context.half()
    return graph_specs(model, recipe, tile_module, context), None
