"""`python -m cea_edge.export`: a checkpoint -> a verified ONNX / ExecuTorch / Core ML artifact.

With only --target it exports the bundled `edge` checkpoint at the recipe's tile into
artifacts/<target>/, verifies it and prints a summary; a manifest lands beside the file.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import Sequence

from cea_edge.errors import run_cli
from cea_edge.export.recipes import COMPUTE_UNITS, DELEGATES, default_out_dir, recipe_for
from cea_edge.model.checkpoint import DEFAULT_CHECKPOINT, DEFAULT_QAT_CHECKPOINT
from cea_edge.targets import PRECISIONS, TARGETS
from cea_edge.toolchain import quiet_toolchains


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m cea_edge.export", description=__doc__.splitlines()[0])
    parser.add_argument("--target", required=True, choices=tuple(TARGETS))
    parser.add_argument("--recipe", type=Path, help="recipe TOML (default: the bundled export/<target>.toml)")
    parser.add_argument("--checkpoint", type=Path,
                        help=f"checkpoint to export (default: bundled {DEFAULT_QAT_CHECKPOINT.name} for int8 precisions, "
                             f"{DEFAULT_CHECKPOINT.name} for fp32/fp16)")
    parser.add_argument("--precision", choices=PRECISIONS,
                        help="int8 (weights and activations, from a QAT checkpoint) | int8w (Core ML: int8 weights) "
                             "| fp16 | fp32 (default: from the recipe)")
    parser.add_argument("--tile", type=int, help="fixed input side in pixels (default: from the recipe)")
    parser.add_argument("--overlap", type=int,
                        help="recommended tile overlap recorded for the runtime (default: from the recipe)")
    parser.add_argument("--context-size", type=int,
                        help="side of the global-context graph's input; 0: no global-context graphs (default: from the recipe)")
    parser.add_argument("--out", type=Path, help="output folder (default: artifacts/<target>/)")
    parser.add_argument("--delegate", choices=DELEGATES, help="ExecuTorch backend (default: from the recipe)")
    parser.add_argument("--deployment-target", help="Core ML minimum deployment target, e.g. iOS17")
    parser.add_argument("--compute-units", choices=COMPUTE_UNITS, help="Core ML compute units")
    parser.add_argument("--no-verify", action="store_true",
                        help="skip verification against the PyTorch model (the manifest says so)")
    parser.add_argument("--verbose", action="store_true", help="show the toolchains' own warnings and progress bars")
    parser.add_argument("--require-prediction", action="store_true",
                        help="fail unless the artifact can be run in its runtime here (Core ML: macOS only)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an export of the same name in --out (its graph, siblings and manifest); without "
                             "it an existing one is never replaced")
    parser.add_argument("--time-census", action="store_true",
                        help="int8: also measure where a tile's op time goes (int8 / float / convert / layout) with the "
                             "runtime's profiler, recorded in the manifest (target_details.time_census); off by default")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    recipe = recipe_for(args.target, args.recipe).with_overrides(
        precision=args.precision, tile=args.tile, overlap=args.overlap, context_size=args.context_size, delegate=args.delegate,
        deployment_target=args.deployment_target, compute_units=args.compute_units,
    )
    with contextlib.nullcontext() if args.verbose else quiet_toolchains():
        result = TARGETS[args.target].export(recipe, args.checkpoint, args.out or default_out_dir(args.target),
                                             verify=not args.no_verify, require_prediction=args.require_prediction,
                                             time_census=args.time_census, overwrite=args.overwrite)
    print(result.describe())
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
