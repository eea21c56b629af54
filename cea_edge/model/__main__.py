"""`python -m cea_edge.model`: parameters and FLOPs per megapixel of every preset."""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

import torch
from torch.utils.flop_counter import FlopCounterMode

from cea_edge.errors import run_cli
from cea_edge.model.config import PRESETS, CEAConfig, get_preset
from cea_edge.model.network import CEANet, count_parameters


def flops_per_megapixel(config: CEAConfig, side: int = 256) -> float:
    """GFLOPs (multiply-add = 2 FLOPs; convolutions and matmuls, as torch counts them) per MP."""
    model = CEANet(config).eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros(1, 3, side, side))
    return counter.get_total_flops() / (side * side) * 1e6 / 1e9


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cea_edge.model", description=__doc__.splitlines()[0])
    parser.add_argument("presets", nargs="*", help="presets to show (default: all)")
    args = parser.parse_args(argv)
    configs = [get_preset(name) for name in args.presets] or list(PRESETS.values())
    print("| preset | params | GFLOPs/MP | width | blocks enc/mid/dec | adapters | r | M | grid | tile multiple |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for config in configs:
        model = CEANet(config)
        adapter = config.adapter
        encoder, decoder = ("-".join(map(str, blocks)) for blocks in (config.encoder_blocks, config.decoder_blocks))
        blocks = f"{encoder} / {config.middle_blocks} / {decoder}"
        print(f"| {config.name} | {count_parameters(model) / 1e6:.3f} M | {flops_per_megapixel(config):.1f} | "
              f"{config.width} | {blocks} | {len(model.adapters)} | {adapter.rank} | {adapter.hyper_tokens} | "
              f"{adapter.grid} | {config.min_tile} |")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
