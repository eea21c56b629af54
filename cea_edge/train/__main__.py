"""`python -m cea_edge.train`: all-in-one training of a CEA preset on synthetic degradations.

Runs unchanged on one process or under ``torchrun --nproc_per_node=N`` (DistributedDataParallel:
gloo on CPU, nccl on GPU). ``--batch`` is per process. Rank 0 validates, shows progress
and writes checkpoints; ``last.pt`` carries optimizer state for ``--resume``, ``final.pt``
is the weights-only checkpoint to ship.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Sequence

import torch

from cea_edge.errors import CeaError, run_cli
from cea_edge.model.config import get_preset
from cea_edge.train.config import DEFAULT_SCHEDULE, SCHEDULE_FIELDS, TrainConfig, TrainSchedule
from cea_edge.train.run import train

# Flag order of --help (ints, then floats), as it has always been.
INT_FLAGS = ("steps", "batch", "patch", "warmup", "seed", "val_every", "save_every")
FLOAT_FLAGS = ("lr", "min_lr", "weight_decay", "frequency_loss", "grad_clip")


def main(argv: Sequence[str] | None = None) -> int:
    defaults = TrainConfig()
    parser = argparse.ArgumentParser(prog="python -m cea_edge.train", description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default=defaults.preset, help="tiny, edge or base (default: edge)")
    parser.add_argument("--no-adapters", action="store_true", help="train the backbone without hyper-adapters (ablation)")
    for name in INT_FLAGS:
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=getattr(DEFAULT_SCHEDULE, name))
    for name in FLOAT_FLAGS:
        parser.add_argument(f"--{name.replace('_', '-')}", type=float, default=getattr(DEFAULT_SCHEDULE, name))
    parser.add_argument("--val-suite", default=defaults.val_suite)
    parser.add_argument("--out", type=Path, default=Path("runs/train"), help="run folder (default: runs/train)")
    parser.add_argument("--resume", type=Path, help="continue from a run's last.pt")
    parser.add_argument("--init", type=Path, help="start from the weights of a checkpoint (fine-tuning)")
    parser.add_argument("--device", choices=("cpu", "cuda"), help="default: cuda when available")
    parser.add_argument("--threads", type=int, help="torch intra-op threads per process")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)

    downsample = get_preset(args.preset).downsample_factor
    if args.patch % downsample:
        raise CeaError(f"--patch {args.patch} must be a multiple of {downsample} for preset '{args.preset}'")
    if min(args.steps, args.batch, args.patch, args.val_every, args.save_every) <= 0:
        raise CeaError("--steps, --batch, --patch, --val-every and --save-every must be positive")
    if args.device == "cuda" and not torch.cuda.is_available():
        raise CeaError("--device cuda: no CUDA device is available on this machine")
    if args.threads:
        torch.set_num_threads(args.threads)
    schedule = TrainSchedule(**{name: getattr(args, name) for name in SCHEDULE_FIELDS})
    config = TrainConfig(args.preset, not args.no_adapters, args.val_suite, schedule)
    if args.init and args.resume:
        raise CeaError("--init and --resume exclude each other: --resume already restores the weights")
    final = train(config, args.out, args.resume, args.device, progress=not args.no_progress, init=args.init)
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"wrote {final}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
