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

from cea_edge.data.camera import mix_with
from cea_edge.data.suite import SUITES, get_suite_spec
from cea_edge.errors import CeaError, check_threads, checked_flag, run_cli
from cea_edge.model.checkpoint import check_checkpoint_file
from cea_edge.model.config import PRESETS, get_preset
from cea_edge.train.config import (
    DEFAULT_SCHEDULE,
    FLOAT_FIELDS,
    SCHEDULE_FIELDS,
    TrainConfig,
    TrainSchedule,
    check_schedule,
    flag_name,
)
from cea_edge.train.run import check_run_dir, train

# Flag order of --help: ints, then floats.
INT_FLAGS = tuple(name for name in SCHEDULE_FIELDS if name not in FLOAT_FIELDS)


def parse_mix(items: Sequence[str]) -> dict[str, float]:
    """KIND=WEIGHT items (each kind once) as a dict; the kinds and weights are checked by mix_with."""
    overrides: dict[str, float] = {}
    for item in items:
        kind, sep, weight = item.partition("=")
        try:
            value = float(weight)
        except ValueError:
            value = None
        if not sep or value is None:
            raise CeaError(f"--mix {item}: expected KIND=WEIGHT, e.g. composite=0.15")
        if kind in overrides:
            raise CeaError(f"--mix {kind}: given twice")
        overrides[kind] = value
    return overrides


def main(argv: Sequence[str] | None = None) -> int:
    defaults = TrainConfig()
    parser = argparse.ArgumentParser(prog="python -m cea_edge.train", description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default=defaults.preset, help=f"one of {', '.join(PRESETS)} (default: {defaults.preset})")
    parser.add_argument("--no-adapters", action="store_true", help="train the backbone without hyper-adapters (ablation)")
    parser.add_argument("--static-adapters", action="store_true",
                        help="v2 presets: adapters with learned factors that do not depend on the image (ablation)")
    for name in INT_FLAGS:
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=getattr(DEFAULT_SCHEDULE, name))
    for name in FLOAT_FIELDS:
        parser.add_argument(f"--{name.replace('_', '-')}", type=float, default=getattr(DEFAULT_SCHEDULE, name))
    parser.add_argument("--val-suite", default=defaults.val_suite)
    parser.add_argument("--out", type=Path, default=Path("runs/train"), help="run folder (default: runs/train)")
    parser.add_argument("--resume", type=Path, help="continue from a run's last.pt")
    parser.add_argument("--init", type=Path, help="start from the weights of a checkpoint of this preset, or of one "
                        "it extends (edge2 -> edge3): fine-tuning")
    parser.add_argument("--photos", type=Path, help="a folder of real photos to train on with camera-realistic degradations "
                        "(python -m cea_edge.data photos --out DIR makes one; any folder of your own photos works)")
    parser.add_argument("--mix", nargs="+", metavar="KIND=WEIGHT",
                        help="with --photos: re-weight the degradation mix (relative weights; kinds not named keep "
                        "theirs): clean, mild, gaussian, camera_noise, synthetic, camera, composite (default weight 0)")
    parser.add_argument("--bf16", action="store_true", help="forward passes under bfloat16 autocast (faster on CPUs with "
                        "AVX512-BF16 / AMX: benchmarks/train_bf16.py measures it)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the checkpoints of an earlier run in --out (never an input)")
    parser.add_argument("--device", choices=("cpu", "cuda"), help="default: cuda when available")
    parser.add_argument("--threads", type=int, help="torch intra-op threads per process")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)

    # Every flag and output location is checked here, before any step: a run must not fail at its first save.
    model_config = checked_flag(get_preset, "--preset", args.preset)
    downsample = model_config.downsample_factor
    schedule = TrainSchedule(**{name: getattr(args, name) for name in SCHEDULE_FIELDS})
    check_schedule(schedule, lambda name: f"{flag_name(name)} {getattr(args, name)}")
    if args.patch % downsample:
        raise CeaError(f"--patch {args.patch}: must be a multiple of {downsample} for preset '{args.preset}'")
    if args.context_loss and (args.patch // 2) % downsample:
        raise CeaError(f"--patch {args.patch}: global-context training (--context-loss) restores with the factors "
                       f"of the half-size patch, so half of it must be a multiple of {downsample}")
    if checked_flag(get_suite_spec, "--val-suite", args.val_suite).corpus:  # else refused at the first step, asking for
        bundled = ", ".join(name for name, spec in SUITES.items() if not spec.corpus)  # --photos (which it ignores)
        raise CeaError(f"--val-suite {args.val_suite}: its photos come from a photo corpus, and validation during training "
                       f"uses bundled photos (--photos is training data only); choose one of {bundled}, and score "
                       f"the result on {args.val_suite} with python -m cea_edge.evaluate --suite {args.val_suite} --photos DIR")
    check_threads(args.threads)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise CeaError("--device cuda: no CUDA device is available on this machine")
    if args.static_adapters and (args.no_adapters or model_config.design != "v2"):
        raise CeaError("--static-adapters: needs a v2 preset (edge2) with adapters")
    if args.context_loss and (args.no_adapters or args.static_adapters):
        raise CeaError("--context-loss: trains the factors of dynamic adapters; this run has none")
    mix = None
    if args.mix:
        if args.photos is None:
            raise CeaError("--mix: re-weights the camera-realistic mix of --photos training; pass --photos DIR")
        mix = mix_with(parse_mix(args.mix))
    if args.init and args.resume:
        raise CeaError("--init and --resume exclude each other: --resume already restores the weights")
    for flag, path in (("--init", args.init), ("--resume", args.resume)):
        if path is not None:
            check_checkpoint_file(path, flag)
    check_run_dir(args.out, inputs={"--init": args.init, "--resume": args.resume}, overwrite=args.overwrite)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.photos is not None:
        from cea_edge.data.photos import load_photo_folder

        load_photo_folder(args.photos, "train")  # a missing or empty folder fails here, saying how to get one
    config = TrainConfig(args.preset, not args.no_adapters, args.val_suite, schedule, args.static_adapters, args.bf16,
                         mix)
    final = train(config, args.out, args.resume, args.device, progress=not args.no_progress, init=args.init,
                  photos=args.photos)
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"wrote {final}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
