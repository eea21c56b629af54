"""The CEA model: config presets, the network, checkpoints.

The network's names load on first use (PEP 562): the config and the memory estimate
(``cea_edge.model.config``, ``cea_edge.model.memory``) stay importable without torch, for the
runtime that checks an ONNX/ExecuTorch artifact's sizes.
"""

from __future__ import annotations

import importlib
from typing import Any

from cea_edge.model.config import PRESETS, AdapterConfig, CEAConfig, get_preset

_LAZY = {"AdapterFactors": "adapter", "HyperAdapter": "adapter", "CEANet": "network", "RestorationOutput": "network",
         "build_model": "network", "count_parameters": "network"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "PRESETS",
    "AdapterConfig",
    "AdapterFactors",
    "CEAConfig",
    "CEANet",
    "HyperAdapter",
    "RestorationOutput",
    "build_model",
    "count_parameters",
    "get_preset",
]
