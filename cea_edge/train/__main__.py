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

from cea_edge.data.suite import get_suite_spec
from cea_edge.errors import CeaError, check_threads, checked_flag, run_cli
from cea_edge.model.config import get_preset
from cea_edge.train.config import DEFAULT_SCHEDULE, SCHEDULE_FIELDS, TrainConfig, TrainSchedule, check_schedule, flag_name
from cea_edge.train.run import check_run_dir, train

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

    # Every flag and output location is checked here, before any step: a run must not fail at its first save.
    downsample = checked_flag(get_preset, "--preset", args.preset).downsample_factor
    schedule = TrainSchedule(**{name: getattr(args, name) for name in SCHEDULE_FIELDS})
    check_schedule(schedule, lambda name: f"{flag_name(name)} {getattr(args, name)}")
    if args.patch % downsample:
        raise CeaError(f"--patch {args.patch}: must be a multiple of {downsample} for preset '{args.preset}'")
    checked_flag(get_suite_spec, "--val-suite", args.val_suite)
    check_threads(args.threads)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise CeaError("--device cuda: no CUDA device is available on this machine")
    if args.init and args.resume:
        raise CeaError("--init and --resume exclude each other: --resume already restores the weights")
    for flag, path in (("--init", args.init), ("--resume", args.resume)):
        if path is not None and not path.is_file():
            raise CeaError(f"{flag} '{path}': no such checkpoint file")
    check_run_dir(args.out)
    if args.threads:
        torch.set_num_threads(args.threads)
    config = TrainConfig(args.preset, not args.no_adapters, args.val_suite, schedule)
    final = train(config, args.out, args.resume, args.device, progress=not args.no_progress, init=args.init)
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"wrote {final}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
