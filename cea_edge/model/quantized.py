"""NNCF-quantized CEA models: importing NNCF safely and restoring quantizers from a checkpoint.

The quantization stage (`cea_edge.quantize`) inserts the quantizers and trains them; this
module only rebuilds a saved one, so that every stage (export, runtime, evaluation) loads
a QAT checkpoint with the plain checkpoint loader.
"""

from __future__ import annotations

import enum
import importlib
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Iterator

import torch
from torch import nn

from cea_edge.errors import CeaError
from cea_edge.model.network import CEANet
from cea_edge.toolchain import require

# NNCF compiles a CPU extension on first use (73-134 s on 2 cores), longer than its own 60 s
# default timeout, which then leaves a stale lock behind: wait for the build instead.
EXTENSION_TIMEOUT_S = "600"

# The weight level (of 127) that NNCF's overflow fix keeps weights within, either side of
# zero: 8-bit levels at doubled scale. onnxruntime's AVX2 kernels (no VNNI) add pairs of
# u8 x s8 products in int16, and with weights within +-64, 255 * (64 + 64) still fits.
# Depthwise convolutions take another kernel and keep the full 8-bit range (as NNCF does).
# Quantization keeps the fix through QAT with it; export checks a graph against it.
OVERFLOW_SAFE_LEVEL = 64


def import_nncf() -> ModuleType:
    os.environ.setdefault("NNCF_EXTENSION_LOAD_TIMEOUT", EXTENSION_TIMEOUT_S)
    require("nncf.torch", "quantization")  # registers NNCF's torch backend
    return require("nncf", "quantization")


ENUM_KEY = "__nncf_enum__"


def portable_config(config: Any) -> Any:
    """NNCF's config with its enums as tagged plain values, so that checkpoints load with
    torch.load(weights_only=True) -- no pickled NNCF classes in the file."""
    if isinstance(config, enum.Enum):
        kind = type(config)
        return {ENUM_KEY: f"{kind.__module__}:{kind.__qualname__}", "value": config.value}
    if isinstance(config, dict):
        return {key: portable_config(value) for key, value in config.items()}
    if isinstance(config, list):
        return [portable_config(value) for value in config]
    return config


def from_portable_config(portable: Any) -> Any:
    """NNCF's config back from portable_config's form; only enums of NNCF's own modules are rebuilt."""
    if isinstance(portable, dict):
        if set(portable) == {ENUM_KEY, "value"}:
            module, _, name = portable[ENUM_KEY].partition(":")
            if not module.startswith("nncf."):
                raise ValueError(f"refusing to rebuild {portable[ENUM_KEY]!r}: not an NNCF type")
            return getattr(importlib.import_module(module), name)(portable["value"])
        return {key: from_portable_config(value) for key, value in portable.items()}
    if isinstance(portable, list):
        return [from_portable_config(value) for value in portable]
    return portable


def restore_quantizers(model: CEANet, quantization: dict[str, Any], path: Path) -> CEANet:
    """Re-insert the saved quantizers into a fresh model (weights and scales load afterwards)."""
    nncf = import_nncf()
    config = quantization.get("nncf_config")
    if not isinstance(config, dict):
        raise CeaError(f"'{path}': quantization-aware checkpoint without its NNCF configuration")
    try:
        return nncf.torch.load_from_config(model, from_portable_config(config))
    except Exception as error:  # noqa: BLE001 -- NNCF raises its own types for configs that do not fit the model
        raise CeaError(f"'{path}': its NNCF quantizers do not fit preset '{model.config.name}' ({error})") from None


def is_quantized(model: CEANet) -> bool:
    """True when NNCF quantizers are attached to ``model``."""
    return any("__nncf_hooks" in name for name, _ in model.named_modules())


@dataclass
class HookInput:
    """What one NNCF quantizer hook saw on a forward pass."""

    quantizer: nn.Module
    tensor: torch.Tensor
    weight_of: tuple[nn.Module, str] | None  # (owner module, attribute) when the tensor is a weight or buffer


class _Capture(nn.Module):
    def __init__(self, quantizer: nn.Module, seen: dict[int, torch.Tensor]) -> None:
        super().__init__()
        self.quantizer, self.seen = quantizer, seen

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen[id(self)] = x
        return self.quantizer(x)


@contextmanager
def wrapped_hooks(model: nn.Module, kind: type, wrap: Callable[[nn.Module], nn.Module]) -> Iterator[dict[str, nn.Module]]:
    """Every NNCF hook of ``model`` that is a ``kind`` replaced by ``wrap(hook)`` inside the block
    (e.g. to see what it is given or gives back on one pass), then put back. Yields name -> wrapper."""
    from nncf.torch.function_hook.wrapper import get_hook_storage

    storage = get_hook_storage(model)
    hooks = [(name, hook) for name, hook in storage.named_hooks() if isinstance(hook, kind)]
    wrappers = {name: wrap(hook) for name, hook in hooks}
    for name, wrapper in wrappers.items():
        storage.set_submodule(name, wrapper)
    try:
        yield wrappers
    finally:
        for name, hook in hooks:
            storage.set_submodule(name, hook)


def quantizer_inputs(model: nn.Module, example: torch.Tensor) -> dict[str, HookInput]:
    """Every NNCF quantizer of ``model`` by hook name, with the tensor it quantizes on ``example``.

    NNCF hooks ops, not modules: this is how a quantizer is told to be a weight's (its
    input is a parameter or buffer) or an activation's. Quantizers ``example`` never
    reaches are left out.
    """
    from nncf.torch.quantization.layers import BaseQuantizer

    seen: dict[int, torch.Tensor] = {}
    with wrapped_hooks(model, BaseQuantizer, lambda hook: _Capture(hook, seen)) as captures, torch.no_grad():
        model(example)
    owners = {id(tensor): (owner, attr) for owner in model.modules()
              for attr, tensor in [*owner.named_parameters(recurse=False), *owner.named_buffers(recurse=False)]}
    return {name: HookInput(capture.quantizer, seen[id(capture)], owners.get(id(seen[id(capture)])))
            for name, capture in captures.items() if id(capture) in seen}
