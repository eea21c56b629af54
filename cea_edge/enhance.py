"""`python -m cea_edge.enhance`: restore photos with a CEA checkpoint (whole-image inference).

Files are processed one by one; a bad file is reported and skipped, and the run ends
with a summary and exit code 2 when any file failed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from cea_edge.errors import CeaError, run_cli
from cea_edge.imageio import READABLE_SUFFIXES, read_rgb, write_rgb
from cea_edge.model.checkpoint import DEFAULT_CHECKPOINT, load_checkpoint
from cea_edge.model.inference import restore_array


def expand_inputs(inputs: Sequence[Path]) -> list[Path]:
    """Files as given; folders contribute their image files (sorted)."""
    files: list[Path] = []
    for item in inputs:
        if item.is_dir():
            found = sorted(p for p in item.iterdir() if p.suffix.lower() in READABLE_SUFFIXES)
            if not found:
                raise CeaError(f"folder '{item}' holds no image files")
            files.extend(found)
        else:
            files.append(item)
    return files


def output_path(source: Path, out: Path | None, many: bool) -> Path:
    if out is None:
        return source.with_name(f"{source.stem}_enhanced.png")
    if many or out.is_dir():
        return out / f"{source.stem}_enhanced.png"
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cea_edge.enhance", description=__doc__.splitlines()[0])
    parser.add_argument("inputs", nargs="+", type=Path, help="image files or folders (8-bit RGB)")
    parser.add_argument("-o", "--out", type=Path, help="output file (one input) or folder (default: <name>_enhanced.png beside the input)")
    parser.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT, help="default: the bundled edge checkpoint")
    parser.add_argument("--compare", action="store_true", help="write input and output side by side")
    parser.add_argument("--overwrite", action="store_true", help="replace existing output files")
    parser.add_argument("--threads", type=int, help="torch intra-op threads")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    model = load_checkpoint(args.checkpoint).model
    files = expand_inputs(args.inputs)
    many = len(files) > 1
    if many and args.out is not None and not args.out.is_dir():
        raise CeaError(f"several inputs need -o to be an existing folder; '{args.out}' is not one")
    failures: list[str] = []
    for source in files:
        try:
            target = output_path(source, args.out, many)
            if target.exists() and not args.overwrite:
                raise CeaError(f"'{target}' exists; pass --overwrite to replace it")
            image = read_rgb(source)
            started = time.perf_counter()
            restored = restore_array(model, image)
            seconds = time.perf_counter() - started
            write_rgb(np.concatenate([image, restored], axis=1) if args.compare else restored, target, args.overwrite)
            print(f"{source} -> {target} ({image.shape[1]}x{image.shape[0]}, {seconds:.2f} s)")
        except CeaError as error:
            failures.append(str(error))
            print(f"error: {error}", file=sys.stderr)
    if failures:
        print(f"{len(failures)} of {len(files)} file(s) failed", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
