"""Does bfloat16 autocast speed up CPU training here, and does it cost quality?

Times training steps (forward, backward, AdamW) of a preset in fp32 and under bf16 autocast,
alternating the two so that both see the same machine state, then (``--steps N``) trains the
same start for N steps in each mode on the same data stream and scores both on a suite.
Prints a table and writes JSON with the machine (CPU, ISA flags: avx512_bf16 and amx_* decide
whether bf16 has native kernels). Ratios are comparable only within one run.

    python benchmarks/train_bf16.py --preset edge3 --init cea_edge/checkpoints/edge2.pt \\
        --photos /work/cea-photos --steps 300 --json reports/train-bf16.json
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

from cea_edge.data.stream import TrainingStream
from cea_edge.data.suite import build_suite
from cea_edge.evaluate import evaluate_model
from cea_edge.machine import machine_info
from cea_edge.model.checkpoint import load_checkpoint
from cea_edge.model.config import get_preset
from cea_edge.model.network import CEANet


def train_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, degraded: torch.Tensor, clean: torch.Tensor,
               bf16: bool) -> float:
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        restored = model(degraded)
    loss = (restored.float() - clean).abs().mean()
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.item()


def spread(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {"median": statistics.median(values), "p10": pick(0.1), "p90": pick(0.9), "min": ordered[0],
            "max": ordered[-1], "runs": len(values)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="edge3")
    parser.add_argument("--init", type=Path, help="start from this checkpoint (of the preset or one it extends)")
    parser.add_argument("--photos", type=Path, help="a photo corpus: train on it as the real run does")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--patch", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=12, help="timed steps per mode")
    parser.add_argument("--steps", type=int, default=0, help="training steps per mode for the quality comparison")
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--suite", default="aio-synth-mini")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    from cea_edge.train.run import grow

    torch.manual_seed(0)
    start = CEANet(get_preset(args.preset))
    if args.init:
        loaded = load_checkpoint(args.init).model
        if loaded.config == start.config:
            start.load_state_dict(loaded.state_dict())
        else:
            grow(start, loaded)
    photos = []
    if args.photos:
        from cea_edge.data.photos import load_photo_folder, read_photo

        photos = [read_photo(path) for path in load_photo_folder(args.photos, "train")]
    machine = machine_info()
    print(f"machine: {machine['cpu']}, {machine['usable_cpus']} CPUs, torch threads {torch.get_num_threads()}, ISA: "
          + " ".join(name for name, present in machine["isa"].items() if present))

    # Timing: one batch, the two modes alternating after two warm-up steps each.
    model = copy.deepcopy(start).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr)
    degraded, clean = TrainingStream(args.patch, seed=0, photos=photos).batch(args.batch)
    times: dict[str, list[float]] = {"fp32": [], "bf16": []}
    for mode in times:
        for _ in range(2):
            train_step(model, optimizer, degraded, clean, mode == "bf16")
    for _ in range(args.repeats):
        for mode in times:
            began = time.perf_counter()
            train_step(model, optimizer, degraded, clean, mode == "bf16")
            times[mode].append(time.perf_counter() - began)
    timing = {mode: spread(values) for mode, values in times.items()}
    speedup = timing["fp32"]["median"] / timing["bf16"]["median"]
    print("\n| mode | step s (median) | p10-p90 | min-max | runs |\n|---|---|---|---|---|")
    for mode, row in timing.items():
        print(f"| {mode} | {row['median']:.3f} | {row['p10']:.3f}-{row['p90']:.3f} | {row['min']:.3f}-{row['max']:.3f} "
              f"| {row['runs']} |")
    print(f"bf16 speed-up: {speedup:.2f}x ({args.preset}, batch {args.batch} x {args.patch}^2)")

    quality = {}
    if args.steps:
        samples = build_suite(args.suite)
        for mode in ("fp32", "bf16"):
            model = copy.deepcopy(start).train()
            optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr)
            stream = TrainingStream(args.patch, seed=1, photos=photos)
            began = time.perf_counter()
            losses = [train_step(model, optimizer, *stream.batch(args.batch), mode == "bf16") for _ in range(args.steps)]
            seconds = time.perf_counter() - began
            report = evaluate_model(model.eval(), samples, args.suite, "cpu", compute_ssim=False)
            quality[mode] = {"psnr": report.summary["average"].output_psnr, "seconds": seconds,
                             "last_loss": float(np.mean(losses[-20:]))}
        print(f"\n| mode | {args.suite} PSNR after {args.steps} steps | train s | mean L1 of the last 20 steps |")
        print("|---|---|---|---|")
        for mode, row in quality.items():
            print(f"| {mode} | {row['psnr']:.3f} | {row['seconds']:.0f} | {row['last_loss']:.4f} |")
        print(f"bf16 - fp32: {quality['bf16']['psnr'] - quality['fp32']['psnr']:+.3f} dB")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine, "settings": vars(args) | {"init": str(args.init),
                                         "photos": str(args.photos), "json": str(args.json)},
                                         "torch_threads": torch.get_num_threads(), "timing_s": timing,
                                         "bf16_speedup": speedup, "quality": quality}, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
