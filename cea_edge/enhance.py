"""`python -m cea_edge.enhance`: restore photos with a CEA checkpoint or an exported model.

An exported model (.onnx, .pte, .mlpackage) runs tile by tile at its own tile size, with
feathered blending (cea_edge/runtime); a checkpoint runs on the whole image unless
--tile is given. Files are processed one by one; a bad file is reported and skipped, and
the run ends with a summary and exit code 2 when any file failed.
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
from cea_edge.runtime.backends import open_backend
from cea_edge.runtime.tiling import tiled_apply


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
    parser.add_argument("--model", "--checkpoint", dest="model", type=Path, default=DEFAULT_CHECKPOINT,
                        help="a checkpoint (.pt) or an exported model (.onnx, .pte, .mlpackage); "
                             "default: the bundled edge checkpoint")
    parser.add_argument("--tile", type=int, help="tile side for a checkpoint (default: whole image); exported models "
                                                 "use their own")
    parser.add_argument("--overlap", type=int, help="tile overlap in pixels (default: the exported model's "
                                                    "recommendation; for a checkpoint min(32, tile/4))")
    parser.add_argument("--compare", action="store_true", help="write input and output side by side")
    parser.add_argument("--overwrite", action="store_true", help="replace existing output files")
    parser.add_argument("--threads", type=int, help="torch intra-op threads")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    tiled = args.model.suffix.lower() != ".pt" or args.tile is not None
    if tiled:
        tile = args.tile or 256
        backend = open_backend(args.model, threads=args.threads, tile=tile,
                               overlap=min(32, tile // 4) if args.overlap is None else args.overlap)
        overlap = backend.overlap if args.overlap is None else args.overlap
        if not 0 <= overlap < backend.tile:
            raise CeaError(f"--overlap must be in [0, {backend.tile}) for this model's {backend.tile}-pixel tiles")

        def restore(image: np.ndarray) -> np.ndarray:
            return np.clip(tiled_apply(image, backend.run, backend.tile, overlap, batch=backend.max_batch), 0.0, 1.0)
    else:
        model = load_checkpoint(args.model).model

        def restore(image: np.ndarray) -> np.ndarray:
            return restore_array(model, image)
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
            restored = restore(image)
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
