"""Helpers shared by tests."""

from __future__ import annotations

import torch

from cea_edge.model import CEANet


def make_active(model: CEANet, seed: int = 0) -> CEANet:
    """Give every zero-initialised scale a random value, so adapters and blocks act."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith(("gamma", "mixer_scale", "ffn_scale")) or name.startswith("ending"):
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.5)
    return model.eval()
