"""The CEA U-Net: local blocks, hyper-adapters in the bottleneck and decoder.

The backbone is purely local (convolutions, depthwise convolutions, and in v1 channel norms
and gates): no global pooling, FFT or data-dependent control flow. The hyper-adapters are
the only global path, which keeps tiled inference faithful and every op exportable.

v1 blocks are NAFNet's (LayerNorm, SimpleGate, learned residual scales). v2 blocks keep the
same shape with nothing an integer kernel cannot fuse: no norm (the zero-initialised last
convolution of each branch keeps a fresh block the identity, as the residual scales did),
ReLU instead of the gate (fused into the convolution before it), no scale multiply.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torch import nn

from cea_edge.errors import CeaError
from cea_edge.model.adapter import Adapter, ExpertAdapter, HyperAdapter
from cea_edge.model.config import AdapterConfig, CEAConfig
from cea_edge.model.layers import ChannelNorm, GridPool, SimpleGate

# One adapter's factors: AdapterFactors (v1) or ExpertGains (v2), each a pair of tensors.
Factors = tuple[torch.Tensor, torch.Tensor]
# (features, routing maps, factors used, factors generated); the last three None without an adapter.
BlockOutput = tuple[torch.Tensor, "torch.Tensor | None", "Factors | None", "Factors | None"]


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

    def forward(self, x: torch.Tensor, factors: Factors | None = None) -> BlockOutput:
        x = x + self.mixer_scale * self.mixer(x)
        x = x + self.ffn_scale * self.ffn(x)
        if self.adapter is None:
            return x, None, None, None
        return self.adapter(x, factors)


class PlainBlock(nn.Module):
    """v2: depthwise-conv mixer + FFN, ReLU activations, zero-initialised residual branches; then the adapter."""

    def __init__(self, channels: int, ffn_expansion: int, adapter: AdapterConfig | None) -> None:
        super().__init__()
        hidden = 2 * channels
        self.mixer = nn.Sequential(
            nn.Conv2d(channels, hidden, 1),
            nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden),
            nn.ReLU(),
            nn.Conv2d(hidden, channels, 1),
        )
        ffn_hidden = ffn_expansion * channels
        self.ffn = nn.Sequential(
            nn.Conv2d(channels, ffn_hidden, 1),
            nn.ReLU(),
            nn.Conv2d(ffn_hidden, channels, 1),
        )
        for branch in (self.mixer, self.ffn):
            nn.init.zeros_(branch[-1].weight)
            nn.init.zeros_(branch[-1].bias)
        self.adapter = ExpertAdapter(channels, adapter) if adapter is not None else None

    def forward(self, x: torch.Tensor, factors: Factors | None = None) -> BlockOutput:
        x = x + self.mixer(x)
        x = x + self.ffn(x)
        if self.adapter is None:
            return x, None, None, None
        return self.adapter(x, factors)


BLOCKS = {"v1": CEABlock, "v2": PlainBlock}


@dataclass
class RestorationOutput:
    """image: (B, 3, H, W); per adapter one routing map (B, r, h, w) and its factors.

    factors: what each adapter used; generated: what each adapter generated from this input
    (the same objects unless factors were supplied, i.e. in global-context mode).
    """

    image: torch.Tensor
    routing_maps: list[torch.Tensor]
    factors: list[Factors]
    generated: list[Factors]


class CEANet(nn.Module):
    """Restore a (B, 3, H, W) image in [0, 1]; H and W multiples of ``config.downsample_factor``.

    The output is the input plus a predicted residual, not clamped (clamp for display).
    """

    def __init__(self, config: CEAConfig) -> None:
        super().__init__()
        self.config = config
        width = config.width
        adapter_in = {site: config.adapter if site in config.adapter_sites else None for site in ("middle", "decoder")}
        block = BLOCKS[config.design]

        # stem 1: a 3x3 convolution at full resolution; stem s > 1: an s x s patch embedding
        # (stride s) in, a transposed one out.
        self.intro = (nn.Conv2d(3, width, 3, padding=1) if config.stem == 1
                      else nn.Conv2d(3, width, config.stem, stride=config.stem))
        self.encoders = nn.ModuleList()
        self.downs = nn.ModuleList()
        channels = width
        for count in config.encoder_blocks:
            self.encoders.append(nn.ModuleList(block(channels, config.ffn_expansion, None) for _ in range(count)))
            self.downs.append(nn.Conv2d(channels, 2 * channels, 2, stride=2))
            channels *= 2
        self.middle = nn.ModuleList(
            block(channels, config.ffn_expansion, adapter_in["middle"]) for _ in range(config.middle_blocks)
        )
        self.ups = nn.ModuleList()
        self.decoders = nn.ModuleList()
        for count in reversed(config.decoder_blocks):
            self.ups.append(nn.ConvTranspose2d(channels, channels // 2, 2, stride=2))
            channels //= 2
            self.decoders.append(
                nn.ModuleList(block(channels, config.ffn_expansion, adapter_in["decoder"]) for _ in range(count))
            )
        self.ending = (nn.Conv2d(width, 3, 3, padding=1) if config.stem == 1
                       else nn.ConvTranspose2d(width, 3, config.stem, stride=config.stem))
        # Zero-initialised output: an untrained network is the identity, training learns
        # the residual from there.
        nn.init.zeros_(self.ending.weight)
        nn.init.zeros_(self.ending.bias)

    @property
    def adapters(self) -> list[Adapter]:
        """All hyper-adapters in execution order (the order of factors and routing maps)."""
        return [module for module in self.modules() if isinstance(module, Adapter)]

    def forward(self, image: torch.Tensor, factors: Sequence[Factors] | None = None,
                full_output: bool = False, context: torch.Tensor | None = None) -> torch.Tensor | RestorationOutput:
        """The restored image; with ``full_output`` the RestorationOutput (routing maps, factors).

        context: an image whose factors ``image`` is restored with (global-context mode in one
        call, gradients through both: how v2 trains its adapters to agree across scales).
        Call the model (this method), not ``restore``, on a quantized model: NNCF wraps
        ``forward`` to run its quantizer hooks.
        """
        if context is not None:
            factors = self.restore(context).generated
        output = self.restore(image, factors)
        return output if full_output else output.image

    def pair_factors(self, flat: Sequence[torch.Tensor]) -> list[Factors]:
        """Flat factor tensors (two per adapter, as artifacts pass them) as each adapter's factor type."""
        return [adapter.factors_from(flat[2 * i], flat[2 * i + 1]) for i, adapter in enumerate(self.adapters)]

    def restore(self, image: torch.Tensor, factors: Sequence[Factors] | None = None) -> RestorationOutput:
        """Run the network, optionally with externally supplied (U, D) for every adapter.

        ``factors`` (global-context mode): one AdapterFactors per adapter, in the order of
        ``self.adapters``, with the batch size of ``image`` -- typically computed once by
        ``generate_factors`` on a downscaled copy of a whole photo and shared by its tiles.
        """
        if factors is not None and len(factors) != len(self.adapters):
            raise CeaError(f"expected factors for {len(self.adapters)} adapters, got {len(factors)}")
        supplied = iter(factors) if factors is not None else None
        routing_maps: list[torch.Tensor] = []
        used: list[Factors] = []
        generated: list[Factors] = []

        def run_blocks(x: torch.Tensor, blocks: nn.ModuleList) -> torch.Tensor:
            for block in blocks:
                given = next(supplied) if supplied is not None and block.adapter is not None else None
                x, routing, factors_used, factors_generated = block(x, given)
                if routing is not None:
                    routing_maps.append(routing)
                    used.append(factors_used)
                    generated.append(factors_generated)
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
        return RestorationOutput(image + self.ending(x), routing_maps, used, generated)

    @torch.no_grad()
    def generate_factors(self, image: torch.Tensor) -> list[Factors]:
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
            for pool in (module for module in adapter.modules() if isinstance(module, GridPool)):
                pool.fix_kernel(height // stride, width // stride)
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
