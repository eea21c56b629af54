"""NNCF-quantized CEA models: importing NNCF safely and restoring quantizers from a checkpoint.

The quantization stage (`cea_edge.quantize`) inserts the quantizers and trains them; this
module only rebuilds a saved one, so that every stage (export, runtime, evaluation) loads
a QAT checkpoint with the plain checkpoint loader.
"""

from __future__ import annotations

import enum
import math
import os
import re
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
# How deep a quantization config may nest (NNCF's own: 4 levels); deeper is not a config it wrote.
MAX_CONFIG_DEPTH = 16
# A quantizer's scale: one value per output channel at most (the widest preset has 256 channels).
MAX_SCALE_ELEMENTS = 1 << 16
QUANTIZER_KEYS = ("num_bits", "mode", "signedness_to_force", "narrow_range", "half_range", "scale_shape",
                  "logarithm_scale", "is_quantized_on_export")  # NNCF 3.4's PTQuantizerSpec
COMMAND_KEYS = ("hook_names_in_model", "module_path", "module_cls_name", "module_config")
# NNCF's hook slots: "pre_hooks.<op>__<port>.<index>" or "post_hooks...", op names with ':' for '.'.
HOOK_NAME = re.compile(r"(pre_hooks|post_hooks)\.[\w/:\-]*__\d+\.\d+")


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


def _type_name(kind: type) -> str:
    return f"{kind.__module__}:{kind.__qualname__}"


def restorable_enums() -> dict[str, tuple[type[enum.Enum], frozenset[enum.Enum]]]:
    """The enums a saved NNCF config may name ("module:qualname" -> class, the members it may
    hold): a fixed table of imported classes, never a lookup by a name from the file."""
    from nncf.common.quantization.structs import QuantizationScheme

    return {_type_name(QuantizationScheme): (QuantizationScheme, frozenset({QuantizationScheme.SYMMETRIC,
                                                                            QuantizationScheme.ASYMMETRIC}))}


def restorable_modules() -> dict[tuple[str, str], type]:
    """The NNCF modules a saved config may insert, by (module path, class name) as NNCF records them."""
    from nncf.torch.quantization.layers import AsymmetricQuantizer, SymmetricQuantizer

    return {(kind.__module__, kind.__name__): kind for kind in (SymmetricQuantizer, AsymmetricQuantizer)}


def _refuse(named: Any) -> CeaError:
    shown = named if isinstance(named, str) else type(named).__name__
    return CeaError(f"its quantization config names {shown!r}, which is not an NNCF type this version restores; "
                    "quantize the fp32 checkpoint again with python -m cea_edge.quantize")


def from_portable_config(portable: Any, _depth: int = 0) -> Any:
    """NNCF's config back from portable_config's form: plain values (None, bool, int, float, str,
    lists, tuples, dicts with str keys) and the enum members of ``restorable_enums``; anything
    else is refused with a CeaError -- nothing in the file picks a module or calls a function."""
    if _depth > MAX_CONFIG_DEPTH:
        raise CeaError(f"its quantization config nests deeper than {MAX_CONFIG_DEPTH} levels, which NNCF never writes")
    if portable is None or isinstance(portable, (bool, int, float, str)):
        return portable
    if isinstance(portable, dict):
        if ENUM_KEY in portable:
            tag = portable[ENUM_KEY]
            if set(portable) != {ENUM_KEY, "value"} or not isinstance(tag, str):
                raise CeaError(f"its quantization config has an enum entry {sorted(map(str, portable))} that is not "
                               f"{{'{ENUM_KEY}', 'value'}}")
            kind, members = restorable_enums().get(tag, (None, frozenset()))
            member = next((m for m in members if m.value == portable["value"] and type(m.value) is type(portable["value"])),
                          None)
            if kind is None:
                raise _refuse(tag)
            if member is None:
                raise _refuse(f"{tag}({portable['value']!r})")
            return member
        if not all(isinstance(key, str) for key in portable):
            raise _refuse(next(key for key in portable if not isinstance(key, str)))
        return {key: from_portable_config(value, _depth + 1) for key, value in portable.items()}
    if isinstance(portable, (list, tuple)):
        return type(portable)(from_portable_config(value, _depth + 1) for value in portable)
    raise _refuse(portable)


def _check_command(command: Any, index: int) -> None:
    """One of NNCF's serialized hook insertions, checked against what `cea_edge.quantize` saves."""
    where = f"compression_state[{index}]"
    if not isinstance(command, dict) or set(command) != set(COMMAND_KEYS):
        keys = sorted(map(str, command)) if isinstance(command, dict) else type(command).__name__
        raise CeaError(f"its quantization config's {where} holds {keys}, not {list(COMMAND_KEYS)}")
    module = (command["module_path"], command["module_cls_name"])
    if module not in restorable_modules():
        raise CeaError(f"its quantization config's {where} inserts {module[0]}.{module[1]}, which this version "
                       f"does not restore (it restores {', '.join(name for _, name in restorable_modules())})")
    hooks = command["hook_names_in_model"]
    if not isinstance(hooks, list) or not hooks or not all(isinstance(h, str) and HOOK_NAME.fullmatch(h) for h in hooks):
        raise CeaError(f"its quantization config's {where} names hook slots {hooks!r}; NNCF's look like "
                       "'pre_hooks.<op>__<port>.<index>'")
    config = command["module_config"]
    if not isinstance(config, dict) or set(config) != set(QUANTIZER_KEYS):
        keys = sorted(map(str, config)) if isinstance(config, dict) else type(config).__name__
        raise CeaError(f"its quantization config's {where}.module_config holds {keys}, not {list(QUANTIZER_KEYS)}")
    flags = ("narrow_range", "half_range", "logarithm_scale", "is_quantized_on_export")
    bits, shape = config["num_bits"], config["scale_shape"]
    if type(bits) is not int or not 2 <= bits <= 8:
        raise CeaError(f"its quantization config's {where}: num_bits {bits!r} is not 2-8")
    if not all(type(config[name]) is bool for name in flags) or config["signedness_to_force"] not in (None, True, False):
        raise CeaError(f"its quantization config's {where}: {', '.join(flags)} and signedness_to_force must be booleans")
    if not isinstance(config["mode"], tuple(kind for kind, _ in restorable_enums().values())):
        raise _refuse(config["mode"])
    if (not isinstance(shape, (tuple, list)) or not 1 <= len(shape) <= 4 or not all(type(n) is int and n > 0 for n in shape)
            or math.prod(shape) > MAX_SCALE_ELEMENTS):
        raise CeaError(f"its quantization config's {where}: scale_shape {shape!r} is not 1-4 positive sizes "
                       f"of at most {MAX_SCALE_ELEMENTS} values")


def checked_nncf_config(portable: Any, path: Path) -> dict[str, Any]:
    """A checkpoint's saved NNCF config, revived (from_portable_config) and checked to be what
    `cea_edge.quantize` saves: only quantizers of ``restorable_modules`` at NNCF hook slots, with
    their settings and nothing else, so that NNCF imports and builds nothing the file picks."""
    try:
        config = from_portable_config(portable)
        if not isinstance(config, dict) or set(config) != {"compression_state"}:
            keys = sorted(config) if isinstance(config, dict) else type(config).__name__
            raise CeaError(f"its quantization config holds {keys}, not NNCF's ['compression_state']")
        commands = config["compression_state"]
        if not isinstance(commands, list):
            raise CeaError("its quantization config's compression_state is not a list")
        for index, command in enumerate(commands):
            _check_command(command, index)
            command["module_config"]["scale_shape"] = tuple(command["module_config"]["scale_shape"])
    except CeaError as error:
        raise CeaError(f"'{path}': {error}") from None
    return config


def restore_quantizers(model: CEANet, quantization: dict[str, Any], path: Path) -> CEANet:
    """Re-insert the saved quantizers into a fresh model (weights and scales load afterwards)."""
    nncf = import_nncf()
    config = quantization.get("nncf_config")
    if not isinstance(config, dict):
        raise CeaError(f"'{path}': quantization-aware checkpoint without its NNCF configuration")
    config = checked_nncf_config(config, path)
    allowed = tuple(module for module, _ in restorable_modules())  # NNCF's own check, narrowed to those
    try:
        return nncf.torch.load_from_config(model, config, allowed_modules=allowed)
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
