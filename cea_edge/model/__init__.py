"""The CEA model: config presets, the network, checkpoints."""

from cea_edge.model.adapter import AdapterFactors, HyperAdapter
from cea_edge.model.config import PRESETS, AdapterConfig, CEAConfig, get_preset
from cea_edge.model.network import CEANet, RestorationOutput, build_model, count_parameters

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
