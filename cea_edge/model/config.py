"""Typed model configuration and the named presets (``tiny``, ``edge``, ``base``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from cea_edge.errors import CeaError

# Where hyper-adapters may sit: the bottleneck ("middle") and/or the decoder levels.
ADAPTER_SITES = ("middle", "decoder")
# v1: LayerNorm + gated NAFNet blocks, adapters that generate (U, D) per image (the `edge` model).
# v2: norm-free ReLU blocks and adapters that assemble static experts by generated gains, built
# for integer kernels (docs/model.md, "edge v2").
DESIGNS = ("v1", "v2")
# dynamic: factors generated per image; static (v2 ablation): learned factors, the same for every image.
ADAPTER_MODES = ("dynamic", "static")
# The ablation variants of a preset carry its name with a suffix (edge2-static, edge-noadapter).
NO_ADAPTER_SUFFIX, STATIC_SUFFIX = "-noadapter", "-static"


@dataclass(frozen=True)
class AdapterConfig:
    """Cross-Attention Hyper-Adapter sizes (docs/model.md says what each one does)."""

    rank: int = 4  # r: routing bases / residual directions per image
    hyper_tokens: int = 4  # M: learnable hyper tokens (queries)
    hyper_dim: int = 32  # d: width of the hyper-token space
    heads: int = 1  # attention heads over the pooled grid
    grid: int = 8  # g: features are pooled to a g x g grid of keys/values
    mode: str = "dynamic"  # see ADAPTER_MODES (v2 only)


@dataclass(frozen=True)
class CEAConfig:
    """A CEA U-Net: widths double per level, one block list per level."""

    name: str = "edge"
    width: int = 16
    encoder_blocks: tuple[int, ...] = (1, 1, 2)
    middle_blocks: int = 2
    decoder_blocks: tuple[int, ...] = (1, 1, 1)
    ffn_expansion: int = 2
    adapter: AdapterConfig = field(default_factory=AdapterConfig)
    adapter_sites: tuple[str, ...] = ADAPTER_SITES
    design: str = "v1"  # see DESIGNS; checkpoints written before v2 carry none and are v1
    # Pixel stride of the first convolution (and of the last, a transposed one): 2 runs the top
    # level at half resolution with 4x fewer, wider per-pixel ops (what integer kernels need).
    stem: int = 1

    def __post_init__(self) -> None:
        if self.design not in DESIGNS:
            raise CeaError(f"config '{self.name}': unknown design '{self.design}'; use one of {DESIGNS}")
        if self.adapter.mode not in ADAPTER_MODES or (self.adapter.mode != "dynamic" and self.design == "v1"):
            raise CeaError(f"config '{self.name}': adapter mode '{self.adapter.mode}' needs design v2 "
                           f"(modes: {ADAPTER_MODES})")
        if len(self.encoder_blocks) != len(self.decoder_blocks):
            raise CeaError(
                f"config '{self.name}': encoder_blocks and decoder_blocks need the same number of levels"
            )
        unknown = set(self.adapter_sites) - set(ADAPTER_SITES)
        if unknown:
            raise CeaError(f"config '{self.name}': unknown adapter sites {sorted(unknown)}; use {ADAPTER_SITES}")

    @property
    def levels(self) -> int:
        return len(self.encoder_blocks)

    @property
    def downsample_factor(self) -> int:
        """Input height and width must be multiples of this."""
        return self.stem * 2**self.levels

    @property
    def min_tile(self) -> int:
        """Smallest input side whose deepest adapter still sees a full pooled grid."""
        return self.downsample_factor * self.adapter.grid

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CEAConfig":
        try:
            known = {f.name for f in fields(cls)}
            values = {k: v for k, v in data.items() if k in known}
            values["adapter"] = AdapterConfig(**values.get("adapter", {}))
            for key in ("encoder_blocks", "decoder_blocks", "adapter_sites"):
                if key in values:
                    values[key] = tuple(values[key])
            return cls(**values)
        except TypeError as error:
            raise CeaError(f"model config is not a CEA config: {error}") from None

    def without_adapters(self) -> "CEAConfig":
        """The same backbone with no hyper-adapters (the ablation baseline)."""
        return replace(self, name=self.name + NO_ADAPTER_SUFFIX, adapter_sites=())

    def with_static_adapters(self) -> "CEAConfig":
        """The same model with image-independent adapter factors (the v2 ablation)."""
        if self.design != "v2":
            raise CeaError(f"config '{self.name}': static adapters exist for design v2 only")
        return replace(self, name=self.name + STATIC_SUFFIX, adapter=replace(self.adapter, mode="static"))


PRESETS: dict[str, CEAConfig] = {
    # Fast tests: a few thousand parameters, two levels.
    "tiny": CEAConfig(
        name="tiny",
        width=8,
        encoder_blocks=(1, 1),
        middle_blocks=1,
        decoder_blocks=(1, 1),
        adapter=AdapterConfig(rank=2, hyper_tokens=2, hyper_dim=16, heads=1, grid=4),
    ),
    # Fast tests of the v2 design.
    "tiny2": CEAConfig(
        name="tiny2",
        width=8,
        encoder_blocks=(1, 1),
        middle_blocks=1,
        decoder_blocks=(1, 1),
        adapter=AdapterConfig(rank=3, hyper_tokens=2, hyper_dim=16, heads=1, grid=4),
        design="v2",
    ),
    # The phone model: reduced rank and hyper tokens, small pooled grid.
    "edge": CEAConfig(
        name="edge",
        width=16,
        encoder_blocks=(1, 1, 2),
        middle_blocks=2,
        decoder_blocks=(1, 1, 1),
        adapter=AdapterConfig(rank=4, hyper_tokens=4, hyper_dim=32, heads=1, grid=8),
    ),
    # edge v2, built for integer kernels: no per-pixel norms or gates, adapters that are
    # convolutions plus per-image gains (r = 8 experts each), and a stride-2 stem, so that the
    # top level runs at half resolution with width 32 -- 4x fewer, 2x wider per-pixel ops than
    # width 16 at full resolution, for 0.9x the FLOPs of `edge` (docs/model.md, "edge v2").
    "edge2": CEAConfig(
        name="edge2",
        width=32,
        encoder_blocks=(1, 2),
        middle_blocks=2,
        decoder_blocks=(1, 1),
        adapter=AdapterConfig(rank=8, hyper_tokens=4, hyper_dim=32, heads=1, grid=8),
        design="v2",
        stem=2,
    ),
    # Near the paper's scale: width 48, several blocks per level, r = M = 16.
    "base": CEAConfig(
        name="base",
        width=48,
        encoder_blocks=(2, 2, 4, 4),
        middle_blocks=6,
        decoder_blocks=(2, 2, 2, 2),
        adapter=AdapterConfig(rank=16, hyper_tokens=16, hyper_dim=64, heads=4, grid=8),
    ),
}


# edge v3: edge2 with four bottleneck blocks instead of two -- at 1/8 resolution they widen the
# receptive field (heavy noise, haze, low light) for 1.25x edge2's FLOPs and 0.91 M parameters.
# edge2's weights are a valid edge3 (the new blocks start as identities), which is how the long
# real-photo run starts (`train --init cea_edge/checkpoints/edge2.pt`, docs/real-photos.md).
PRESETS["edge3"] = replace(PRESETS["edge2"], name="edge3", middle_blocks=4)


# The preset of the bundled default checkpoints (cea_edge/checkpoints): what `export` names its
# default artifacts after, known here without torch (tests/test_bundled.py pins the agreement).
# edge3 since issue 27 (trained on real photos); edge2 and v1 ship beside it, loadable by path.
BUNDLED_PRESET = "edge3"


def get_preset(name: str) -> CEAConfig:
    try:
        return PRESETS[name]
    except KeyError:
        raise CeaError(f"unknown preset '{name}'; choose one of: {', '.join(PRESETS)}") from None


def preset_named(name: str) -> CEAConfig | None:
    """The preset a config name belongs to -- its own (edge2) or one of its variants' (edge2-static,
    edge-noadapter) -- or None when no preset has that name (what an artifact's metadata is checked by)."""
    for suffix in ("", NO_ADAPTER_SUFFIX, STATIC_SUFFIX):
        preset = PRESETS.get(name[:len(name) - len(suffix)]) if name.endswith(suffix) else None
        if preset is not None and (suffix != STATIC_SUFFIX or preset.design == "v2"):  # static adapters: v2 only
            return preset
    return None
