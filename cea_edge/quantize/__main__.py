"""`python -m cea_edge.quantize`: NNCF quantization-aware training of a trained checkpoint to int8.

NNCF inserts fake quantizers (weights and activations) into the fp32 model and sets their
ranges on a seeded calibration set drawn from the training distribution; the foundation's
training loop then fine-tunes weights and ranges together (same losses, progress bar,
torchrun). ``--ptq`` (= ``--steps 0``) stops after calibration: post-training quantization,
the baseline. The result is a checkpoint that restores exactly (NNCF config + state).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Sequence

import torch

from cea_edge.atomic import atomic_write_json
from cea_edge.data.suite import SUITES
from cea_edge.errors import CeaError, check_threads, run_cli
from cea_edge.model.checkpoint import DEFAULT_CHECKPOINT, check_checkpoint_file, load_checkpoint
from cea_edge.quantize.recipe import QAT_TARGETS, load_quant_recipe, validate
from cea_edge.quantize.run import compare_quality, quantize, record_quality
from cea_edge.train.run import check_run_dir

# The schedule values a flag may override (the rest only in a recipe file), in --help order.
SCHEDULE_FLAGS = ("steps", "batch", "patch", "lr", "min_lr", "warmup", "seed", "val_every", "save_every")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cea_edge.quantize", description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT,
                        help=f"trained fp32 checkpoint (default: bundled {DEFAULT_CHECKPOINT.name})")
    parser.add_argument("--recipe", type=Path, help="quantization recipe TOML (default: the bundled quantization/int8.toml)")
    parser.add_argument("--ptq", action="store_true", help="post-training quantization only (same as --steps 0)")
    parser.add_argument("--target", choices=QAT_TARGETS,
                        help="what QAT fits: the fp32 model's outputs (distillation) or the clean images "
                             "(default: from the recipe)")
    parser.add_argument("--range-lr-factor", type=float,
                        help="activation ranges learn at this multiple of --lr (default: from the recipe)")
    for name in SCHEDULE_FLAGS + ("calibration_size",):
        parser.add_argument(f"--{name.replace('_', '-')}", type=float if name in ("lr", "min_lr") else int,
                            help="default: from the recipe")
    parser.add_argument("--out", type=Path, default=Path("runs/qat"), help="run folder (default: runs/qat)")
    parser.add_argument("--resume", type=Path, help="continue an interrupted run from its last.pt")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the outputs of an earlier run in --out (never an input)")
    parser.add_argument("--photos", type=Path,
                        help="the folder of real photos the checkpoint was trained on (train --photos): calibration "
                             "and fine-tuning draw from its training split, --eval-suite aio-photo from its held-out one")
    parser.add_argument("--eval-suite", default="aio-synth", choices=sorted(SUITES),
                        help="suite for the closing fp32-vs-int8 comparison (default: aio-synth)")
    parser.add_argument("--no-eval", action="store_true", help="skip the closing comparison")
    parser.add_argument("--device", choices=("cpu", "cuda"))
    parser.add_argument("--threads", type=int, help="torch intra-op threads per process")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)

    # Every flag and output location is checked here: PTQ takes minutes, QAT hours, before the first save.
    if args.resume and (args.recipe or args.ptq):
        raise CeaError("--resume continues with the run's own recipe; drop --recipe / --ptq")
    if args.ptq and args.steps not in (None, 0):
        raise CeaError(f"--ptq means --steps 0; drop --steps {args.steps}")
    if args.device == "cuda" and not torch.cuda.is_available():
        raise CeaError("--device cuda: no CUDA device is available on this machine")
    check_threads(args.threads)
    if not args.no_eval and SUITES[args.eval_suite].corpus and args.photos is None:  # found at the end of the run otherwise
        raise CeaError(f"--eval-suite {args.eval_suite}: its photos are the held-out part of a photo corpus: pass "
                       "--photos DIR (python -m cea_edge.data photos --out DIR makes one), or choose a bundled suite")
    if args.photos is not None:
        from cea_edge.data.photos import load_photo_folder

        load_photo_folder(args.photos, "train")  # a missing or empty folder fails here, saying how to get one
    overrides = {name: getattr(args, name) for name in SCHEDULE_FLAGS + ("calibration_size", "target", "range_lr_factor")}
    if args.ptq:
        overrides["steps"] = 0
    recipe = validate(load_quant_recipe(args.recipe).with_overrides(**overrides))
    for flag, path in (("--checkpoint", None if args.resume else args.checkpoint), ("--resume", args.resume)):
        if path is not None:
            check_checkpoint_file(path, flag)
    check_run_dir(args.out, inputs={"--checkpoint": None if args.resume else args.checkpoint, "--resume": args.resume,
                                    "--recipe": args.recipe}, overwrite=args.overwrite)
    if args.threads:
        torch.set_num_threads(args.threads)
    final = quantize(args.checkpoint, recipe, args.out, args.resume, args.device, progress=not args.no_progress,
                     photos=args.photos)
    if int(os.environ.get("RANK", "0")) != 0:
        return 0
    print(f"wrote {final}")
    if not args.no_eval:
        source = Path(load_checkpoint(final).quantization["source_checkpoint"]["path"])
        quality = compare_quality(source, final, args.eval_suite, args.photos)
        report = args.out / "quality.json"
        atomic_write_json(report, quality)
        record_quality(final, quality)
        print(f"{args.eval_suite}: fp32 {quality['fp32']['psnr']:.2f} dB, int8 (fake-quant, PyTorch) "
              f"{quality['int8']['psnr']:.2f} dB: drop {quality['drop_db']:+.3f} dB; wrote {report}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
