"""Backbone building blocks, chosen so that every op lowers into XNNPACK.

Normalisations compute their means with frozen 1x1 convolutions / linear maps instead of
``nn.LayerNorm`` or ``Tensor.mean``: ExecuTorch's XNNPACK partitioner (1.5.1) leaves
``native_layer_norm``, ``mean.dim`` and ``GroupNorm`` outside the delegate, while a
convolution with fixed weights 1/C plus elementwise ops is delegated whole.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ChannelNorm(nn.Module):
    """LayerNorm over the channels of a (B, C, H, W) map, at every pixel."""

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        # Stored pre-shaped: a view of a parameter in forward would be an extra op.
        self.weight = nn.Parameter(torch.ones(1, channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.register_buffer("mean_kernel", torch.full((1, channels, 1, 1), 1.0 / channels), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        centred = x - F.conv2d(x, self.mean_kernel)
        variance = F.conv2d(centred * centred, self.mean_kernel)
        return centred * torch.rsqrt(variance + self.eps) * self.weight + self.bias


class TokenNorm(nn.Module):
    """LayerNorm over the last dimension of (B, T, D) tokens, means as a frozen linear map."""

    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim))
        self.register_buffer("mean_weight", torch.full((1, dim), 1.0 / dim), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        centred = x - F.linear(x, self.mean_weight)
        variance = F.linear(centred * centred, self.mean_weight)
        return centred * torch.rsqrt(variance + self.eps) * self.weight + self.bias


class SimpleGate(nn.Module):
    """Multiply the first half of the channels by the second (NAFNet's gate, no nonlinearity).

    Halves are taken by static slicing: ``chunk`` lowers to ``split_with_sizes_copy``,
    which XNNPACK does not delegate.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.half = channels // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, : self.half] * x[:, self.half :]


class SigmoidGELU(nn.Module):
    """GELU approximated as x * sigmoid(1.702 x) (within 0.02 of the exact curve).

    XNNPACK (ExecuTorch 1.5.1) delegates ``aten.gelu`` in fp32 but not in fp16, where it
    fell back to the portable kernels; sigmoid and mul are delegated in both precisions.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


class GridPool(nn.Module):
    """Average-pool a feature map to a fixed g x g grid of key/value tokens.

    Training and eager inference use adaptive pooling (any input size). For a fixed
    deployment tile, ``fix_kernel`` switches to ``avg_pool2d`` with a constant kernel:
    the same numbers when the size divides evenly, but an op XNNPACK delegates and no
    shape arithmetic in the exported graph.
    """

    def __init__(self, grid: int) -> None:
        super().__init__()
        self.grid = grid
        self.kernel: tuple[int, int] | None = None

    def fix_kernel(self, height: int, width: int) -> None:
        self.kernel = (height // self.grid, width // self.grid)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kernel is None:
            return F.adaptive_avg_pool2d(x, self.grid)
        return F.avg_pool2d(x, self.kernel, self.kernel)
