"""`python -m cea_edge.parity`: the FP32 reference set, and artifacts checked against it.

    python -m cea_edge.parity reference [--checkpoint edge.pt] [--device cuda|cpu] [--set standard]
        [--tile 256 --overlap 32 --context-size 512] [--out parity/reference-edge3] [--overwrite]
    python -m cea_edge.parity check ARTIFACT... [--reference DIR] [--bars parity/bars.toml]
        [--threads N] [--json OUT] [--markdown OUT]

`check` exits 0 when every artifact meets its precision's bar, 1 when one does not, 2 on a
user error (a missing artifact, a reference of another checkpoint or tiling, a bad flag).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Sequence

from tqdm import tqdm

from cea_edge.atomic import atomic_write, atomic_write_json, check_output_dir, check_output_file, file_identity
from cea_edge.contract import CHECKPOINT_CONTEXT_SIZE, CHECKPOINT_OVERLAP, CHECKPOINT_TILE
from cea_edge.errors import CeaError, check_threads, checked_flag, run_cli
from cea_edge.model.checkpoint import DEFAULT_CHECKPOINT
from cea_edge.parity.cases import PARITY_SETS, get_parity_set
from cea_edge.recipe_io import recipe_dirs
from cea_edge.targets import ARTIFACT_SUFFIXES, CHECKPOINT_SUFFIX

REFERENCE_NAME = f"reference-{DEFAULT_CHECKPOINT.stem}"  # the committed reference of the bundled checkpoint, beside bars.toml


def default_reference() -> Path:
    """The bundled reference set: the repository's parity/ folder, else the installed share/ one."""
    candidates = [folder / REFERENCE_NAME for folder in recipe_dirs("parity")]
    return next((path for path in candidates if path.is_dir()), candidates[0])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m cea_edge.parity", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("reference", help="run a checkpoint in PyTorch fp32 over a parity set")
    make.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT,
                      help=f"fp32 checkpoint (default: the bundled {DEFAULT_CHECKPOINT.name})")
    make.add_argument("--device", default="cuda", help="cuda (the GPU reference; cuda:N) or cpu (default: cuda)")
    make.add_argument("--set", dest="set_name", default="standard", help=f"parity set: {', '.join(PARITY_SETS)}")
    make.add_argument("--tile", type=int, default=CHECKPOINT_TILE, help=f"tile side (default {CHECKPOINT_TILE})")
    make.add_argument("--overlap", type=int, default=CHECKPOINT_OVERLAP, help=f"default {CHECKPOINT_OVERLAP}")
    make.add_argument("--context-size", type=int, default=CHECKPOINT_CONTEXT_SIZE,
                      help=f"context side of global-context mode (default {CHECKPOINT_CONTEXT_SIZE})")
    make.add_argument("--out", type=Path, help=f"reference folder (default: the bundled {REFERENCE_NAME})")
    make.add_argument("--overwrite", action="store_true", help="replace an existing reference set")
    make.add_argument("--quiet", action="store_true", help="no progress bar")
    check = commands.add_parser("check", help="run artifacts over a reference set and judge them by the bars")
    check.add_argument("artifacts", nargs="+", type=Path,
                       help=f"{', '.join(ARTIFACT_SUFFIXES)} or {CHECKPOINT_SUFFIX} (fp32 or QAT)")
    check.add_argument("--reference", type=Path, help=f"reference set folder (default: the bundled {REFERENCE_NAME})")
    check.add_argument("--bars", type=Path, help="bars per precision (default: the bundled parity/bars.toml)")
    check.add_argument("--threads", type=int, help="runtime threads (default: the runtime's choice)")
    check.add_argument("--json", type=Path, help="write the results here")
    check.add_argument("--markdown", type=Path, help="write the tables here")
    check.add_argument("--overwrite", action="store_true", help="replace existing --json/--markdown files (never an input)")
    check.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def _progress(quiet: bool, total: int, unit: str) -> tqdm:
    return tqdm(total=total, unit=unit, disable=quiet, leave=False, file=sys.stderr)


def reference_command(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from cea_edge.parity.reference import check_reference_out, make_reference

    for flag, value, low in (("--tile", args.tile, 1), ("--overlap", args.overlap, 0), ("--context-size", args.context_size, 0)):
        if value < low:
            raise CeaError(f"{flag} {value}: must be {'positive' if low else '>= 0'}")
    if args.overlap >= args.tile:
        raise CeaError(f"--overlap {args.overlap}: must be below the tile side, --tile {args.tile}")
    spec = checked_flag(get_parity_set, "--set", args.set_name)
    out = args.out or default_reference()
    check_output_dir(out.parent if str(out.parent) else Path("."), "--out")
    check_reference_out(out, args.overwrite, args.checkpoint)
    cases = len(spec.tile_cases) + len(spec.photos)
    with _progress(args.quiet, cases, "case") as bar:
        reference = make_reference(args.checkpoint, spec.name, args.device, args.tile, args.overlap, args.context_size,
                                   out, args.overwrite, "python -m cea_edge.parity " + shlex.join(argv),
                                   progress=lambda name: bar.update(1))
    device = reference.record["device"]
    print(f"reference set {out}: {len(reference.cases)} cases of {reference.record['checkpoint']['file']} on "
          f"{device['type']} ({device['name']}) in {reference.record['seconds']} s")
    for case in reference.cases:
        print(f"  {case.name} ({case.mode} mode, {case.width}x{case.height}): input {case.input_psnr:.2f} dB -> "
              f"reference {case.output_psnr:.2f} dB")
    return 0


def check_command(args: argparse.Namespace) -> int:
    from cea_edge.parity.check import check_artifact, load_bars, markdown
    from cea_edge.parity.reference import load_reference

    check_threads(args.threads)
    reference_folder = args.reference or default_reference()
    inputs = [*args.artifacts, *([args.bars] if args.bars else []),
              *(reference_folder.iterdir() if reference_folder.is_dir() else [])]
    outputs = [(flag, path) for flag, path in (("--json", args.json), ("--markdown", args.markdown)) if path is not None]
    for flag, path in outputs:
        check_output_file(path, flag, inputs=inputs, overwrite=args.overwrite)
    if len(outputs) == 2 and file_identity(args.json) == file_identity(args.markdown):
        raise CeaError(f"--json and --markdown name the same file '{args.json}'; give two names")
    bars = load_bars(args.bars)
    reference = load_reference(reference_folder)
    results = []
    with _progress(args.quiet, len(args.artifacts) * len(reference.cases), "case") as bar:
        for artifact in args.artifacts:
            results.append(check_artifact(artifact, reference, bars, args.threads, progress=lambda name: bar.update(1)))
    table = markdown(results, reference)
    print(table, end="")
    if args.json:
        from cea_edge.machine import machine_info

        record = reference.record
        atomic_write_json(args.json, {
            "machine": machine_info(),
            "reference": {"folder": str(reference.folder), "device": record["device"],
                          "checkpoint": record["checkpoint"], "tiling": record["tiling"]},
            "artifacts": [result.to_dict() for result in results]}, replace=args.overwrite)
    if args.markdown:
        atomic_write(args.markdown, lambda stream: stream.write(table.encode("utf-8")), replace=args.overwrite)
    failed = [Path(result.artifact).name for result in results if not result.passed]
    if failed:
        print(f"parity failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    if args.command == "reference":
        return reference_command(args, argv)
    return check_command(args)


if __name__ == "__main__":
    sys.exit(run_cli(main))
