"""The CEA U-Net: NAFNet-style local blocks, hyper-adapters in the bottleneck and decoder.

The backbone is purely local (convolutions, depthwise convolutions, channel norms, gates):
no global pooling, FFT or data-dependent control flow. The hyper-adapters are the only
global path, which keeps tiled inference faithful and every op exportable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torch import nn

from cea_edge.errors import CeaError
from cea_edge.model.adapter import AdapterFactors, HyperAdapter
from cea_edge.model.config import AdapterConfig, CEAConfig
from cea_edge.model.layers import ChannelNorm, SimpleGate


class CEABlock(nn.Module):
    """Gated depthwise-conv mixer + gated FFN, each a zero-initialised residual; then the adapter."""

    def __init__(self, channels: int, ffn_expansion: int, adapter: AdapterConfig | None) -> None:
        super().__init__()
        hidden = 2 * channels
        self.mixer = nn.Sequential(
            ChannelNorm(channels),
            nn.Conv2d(channels, hidden, 1),
            nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden),
            SimpleGate(hidden),
            nn.Conv2d(hidden // 2, channels, 1),
        )
        ffn_hidden = ffn_expansion * channels
        self.ffn = nn.Sequential(
            ChannelNorm(channels),
            nn.Conv2d(channels, ffn_hidden, 1),
            SimpleGate(ffn_hidden),
            nn.Conv2d(ffn_hidden // 2, channels, 1),
        )
        self.mixer_scale = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.ffn_scale = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.adapter = HyperAdapter(channels, adapter) if adapter is not None else None

    def forward(
        self, x: torch.Tensor, factors: AdapterFactors | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None, AdapterFactors | None]:
        x = x + self.mixer_scale * self.mixer(x)
        x = x + self.ffn_scale * self.ffn(x)
        if self.adapter is None:
            return x, None, None
        return self.adapter(x, factors)


@dataclass
class RestorationOutput:
    """image: (B, 3, H, W); one routing map (B, r, h, w) and one AdapterFactors per adapter."""

    image: torch.Tensor
    routing_maps: list[torch.Tensor]
    factors: list[AdapterFactors]


class CEANet(nn.Module):
    """Restore a (B, 3, H, W) image in [0, 1]; H and W multiples of ``config.downsample_factor``.

    The output is the input plus a predicted residual, not clamped (clamp for display).
    """

    def __init__(self, config: CEAConfig) -> None:
        super().__init__()
        self.config = config
        width = config.width
        adapter_in = {site: config.adapter if site in config.adapter_sites else None for site in ("middle", "decoder")}

        self.intro = nn.Conv2d(3, width, 3, padding=1)
        self.encoders = nn.ModuleList()
        self.downs = nn.ModuleList()
        channels = width
        for count in config.encoder_blocks:
            self.encoders.append(nn.ModuleList(CEABlock(channels, config.ffn_expansion, None) for _ in range(count)))
            self.downs.append(nn.Conv2d(channels, 2 * channels, 2, stride=2))
            channels *= 2
        self.middle = nn.ModuleList(
            CEABlock(channels, config.ffn_expansion, adapter_in["middle"]) for _ in range(config.middle_blocks)
        )
        self.ups = nn.ModuleList()
        self.decoders = nn.ModuleList()
        for count in reversed(config.decoder_blocks):
            self.ups.append(nn.ConvTranspose2d(channels, channels // 2, 2, stride=2))
            channels //= 2
            self.decoders.append(
                nn.ModuleList(CEABlock(channels, config.ffn_expansion, adapter_in["decoder"]) for _ in range(count))
            )
        self.ending = nn.Conv2d(width, 3, 3, padding=1)
        # Zero-initialised output: an untrained network is the identity, training learns
        # the residual from there.
        nn.init.zeros_(self.ending.weight)
        nn.init.zeros_(self.ending.bias)

    @property
    def adapters(self) -> list[HyperAdapter]:
        """All hyper-adapters in execution order (the order of factors and routing maps)."""
        return [module for module in self.modules() if isinstance(module, HyperAdapter)]

    def forward(self, image: torch.Tensor, factors: Sequence[AdapterFactors] | None = None,
                full_output: bool = False) -> torch.Tensor | RestorationOutput:
        """The restored image; with ``full_output`` the RestorationOutput (routing maps, factors).

        Call the model (this method), not ``restore``, on a quantized model: NNCF wraps
        ``forward`` to run its quantizer hooks.
        """
        output = self.restore(image, factors)
        return output if full_output else output.image

    def restore(self, image: torch.Tensor, factors: Sequence[AdapterFactors] | None = None) -> RestorationOutput:
        """Run the network, optionally with externally supplied (U, D) for every adapter.

        ``factors`` (global-context mode): one AdapterFactors per adapter, in the order of
        ``self.adapters``, with the batch size of ``image`` -- typically computed once by
        ``generate_factors`` on a downscaled copy of a whole photo and shared by its tiles.
        """
        if factors is not None and len(factors) != len(self.adapters):
            raise CeaError(f"expected factors for {len(self.adapters)} adapters, got {len(factors)}")
        supplied = iter(factors) if factors is not None else None
        routing_maps: list[torch.Tensor] = []
        used: list[AdapterFactors] = []

        def run_blocks(x: torch.Tensor, blocks: nn.ModuleList) -> torch.Tensor:
            for block in blocks:
                given = next(supplied) if supplied is not None and block.adapter is not None else None
                x, routing, generated = block(x, given)
                if routing is not None:
                    routing_maps.append(routing)
                    used.append(generated)
            return x

        x = self.intro(image)
        skips = []
        for blocks, down in zip(self.encoders, self.downs):
            x = run_blocks(x, blocks)
            skips.append(x)
            x = down(x)
        x = run_blocks(x, self.middle)
        for up, blocks, skip in zip(self.ups, self.decoders, reversed(skips)):
            x = run_blocks(up(x) + skip, blocks)
        return RestorationOutput(image + self.ending(x), routing_maps, used)

    @torch.no_grad()
    def generate_factors(self, image: torch.Tensor) -> list[AdapterFactors]:
        """(U, D) of every adapter for ``image`` -- e.g. a downscaled copy of a whole photo."""
        return self(image, full_output=True).factors

    def fix_input_size(self, height: int, width: int) -> "CEANet":
        """Pin the adapters' pooling to one input size (an export tile); returns self.

        Raises CeaError when the size does not divide into the pooled grid at every level.
        """
        step = self.config.min_tile
        if height % step or width % step:
            raise CeaError(
                f"tile {height}x{width} does not fit preset '{self.config.name}': "
                f"height and width must be multiples of {step} "
                f"(downsampling x{self.config.downsample_factor} times a {self.config.adapter.grid}x"
                f"{self.config.adapter.grid} pooled grid)"
            )
        for adapter, stride in zip(self.adapters, self._adapter_strides()):
            adapter.pool.fix_kernel(height // stride, width // stride)
        return self

    def _adapter_strides(self) -> list[int]:
        """Downsampling stride of each adapter's input, in execution order."""
        strides = [self.config.downsample_factor] * sum(
            block.adapter is not None for block in self.middle
        )
        for level, blocks in enumerate(self.decoders):
            stride = self.config.downsample_factor // 2 ** (level + 1)
            strides += [stride] * sum(block.adapter is not None for block in blocks)
        return strides


def build_model(config: CEAConfig) -> CEANet:
    return CEANet(config)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
