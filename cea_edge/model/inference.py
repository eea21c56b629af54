"""Whole-image inference helpers (the tiled runtime builds on the model, not on these)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from cea_edge.model.network import CEANet


def pad_to_multiple(image: torch.Tensor, multiple: int) -> torch.Tensor:
    """Reflect-pad (B, C, H, W) at the bottom/right so H and W are multiples of ``multiple``."""
    height, width = image.shape[-2:]
    pad_h, pad_w = -height % multiple, -width % multiple
    if pad_h == 0 and pad_w == 0:
        return image
    mode = "reflect" if pad_h < height and pad_w < width else "replicate"
    return F.pad(image, (0, pad_w, 0, pad_h), mode=mode)


def image_batch(image: np.ndarray) -> torch.Tensor:
    """One (H, W, 3) image as a (1, 3, H, W) batch."""
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None]


@torch.no_grad()
def restore_tensor(model: CEANet, image: torch.Tensor, factors: list | None = None) -> torch.Tensor:
    """Restore a (B, 3, H, W) batch of any size: pad, run, crop, clamp to [0, 1].

    factors: every adapter's factors to use instead of the image's own (see CEANet.restore)."""
    height, width = image.shape[-2:]
    padded = pad_to_multiple(image, model.config.downsample_factor)
    return model(padded, factors)[..., :height, :width].clamp(0.0, 1.0)


def restore_array(model: CEANet, image: np.ndarray, device: torch.device | str = "cpu",
                  factors: list | None = None) -> np.ndarray:
    """Restore one (H, W, 3) float32 image in [0, 1]."""
    batch = image_batch(image).to(device)
    return restore_tensor(model, batch, factors)[0].permute(1, 2, 0).cpu().numpy()
