"""`python -m cea_edge.enhance`: restore photos of any size with a checkpoint or an exported model.

Every model runs tile by tile at its tile size with feathered blending, streaming one row
of tiles at a time (cea_edge/runtime). In global-context mode (the default) the photo is
first shrunk to the model's context side, the context graph turns it into each adapter's
factors, and every tile is restored with those same factors -- the adapters see the whole
photo, as on whole-image inference. Files are processed one by one; a bad file is reported
and skipped, and the run ends with a summary and exit code 2 when any file failed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from tqdm import tqdm

from cea_edge.atomic import InputGuard, file_identity
from cea_edge.contract import CHECKPOINT_CONTEXT_SIZE, CHECKPOINT_OVERLAP, CHECKPOINT_TILE
from cea_edge.errors import CeaError, check_threads, run_cli
from cea_edge.model.config import BUNDLED_PRESET
from cea_edge.photo_io import DEFAULT_MAX_PIXELS, READABLE_SUFFIXES, check_output, peek_photo, read_photo, write_photo
from cea_edge.runtime.backends import Backend, open_backend
from cea_edge.runtime.restore import CONTEXT_MODES, restore_photo
from cea_edge.runtime.routing import routing_grid
from cea_edge.runtime.tiling import plan_tiles
from cea_edge.targets import ARTIFACT_SUFFIXES, CHECKPOINT_SUFFIX, TARGETS

# What `python -m cea_edge.export --target T` writes without --out or a flag (the bundled recipes),
# target by target; DEFAULT_ARTIFACTS: those of the targets that run on every platform.
EXPORT_DEFAULTS = {name: target.default_artifact(BUNDLED_PRESET) for name, target in TARGETS.items()}
DEFAULT_ARTIFACTS = tuple(EXPORT_DEFAULTS[name] for name, target in TARGETS.items() if target.platform is None)


def default_model() -> Path:
    """The default exported artifact when one is present here, else the bundled checkpoint.

    Among the targets that run here, a platform's own (Core ML on macOS) comes first, then the
    portable ones in the registry's order (ONNX, ExecuTorch).
    """
    runnable = [target for target in TARGETS.values() if not target.unavailable()]
    for target in sorted(runnable, key=lambda target: target.platform is None):
        if EXPORT_DEFAULTS[target.name].exists():
            return EXPORT_DEFAULTS[target.name]
    from cea_edge.model.checkpoint import DEFAULT_CHECKPOINT  # imports torch: only when needed

    return DEFAULT_CHECKPOINT


OUTPUT_TAGS = ("_enhanced", "_compare", "_routing")  # the stems of what enhance writes end with these
MODEL_SUFFIXES = (CHECKPOINT_SUFFIX, *ARTIFACT_SUFFIXES)  # a file named so is a model given where the photos go


def expand_inputs(inputs: Sequence[Path], include_outputs: bool = False) -> tuple[list[Path], list[str]]:
    """Files as given; folders contribute their image files (sorted), but not enhance's own
    outputs (unless ``include_outputs``). Returns the files and one line per folder that says
    what was skipped and why."""
    files: list[Path] = []
    notes: list[str] = []
    for item in inputs:
        if item.suffix.lower() == ".mlpackage":
            raise CeaError(f"'{item}' is a model (a Core ML package), not a photo or folder of photos; pass it with --model")
        if not item.is_dir():
            files.append(item)
            continue
        try:
            entries = sorted(item.iterdir())
        except OSError as error:
            raise CeaError(f"cannot list folder '{item}': {error.strerror or error}") from None
        reasons: dict[str, list[str]] = {}
        for entry in entries:
            reason = ("hidden" if entry.name.startswith(".") else "a folder (not searched)" if entry.is_dir()
                      else "not an image suffix" if entry.suffix.lower() not in READABLE_SUFFIXES
                      else "an output of enhance; pass --include-outputs to take it"
                      if entry.stem.endswith(OUTPUT_TAGS) and not include_outputs else None)
            if reason is None:
                files.append(entry)
            else:
                reasons.setdefault(reason, []).append(entry.name)
        if reasons:
            notes.append(f"skipped in '{item}': " + "; ".join(
                f"{len(names)} {reason} ({', '.join(names[:3])}{', ...' if len(names) > 3 else ''})"
                for reason, names in reasons.items()))
        if not any(f.parent == item for f in files):
            raise CeaError(f"folder '{item}' holds no image files to enhance" + (f" ({notes[-1]})" if reasons else ""))
    return files, notes


@dataclass(frozen=True)
class Outputs:
    restored: Path
    compare: Path | None
    routing: Path | None

    def all(self) -> list[Path]:
        return [p for p in (self.restored, self.compare, self.routing) if p is not None]


def output_paths(source: Path, out: Path | None, to_folder: bool, compare: bool, routing: bool) -> Outputs:
    if out is None:
        restored = source.with_name(f"{source.stem}_enhanced.png")
    elif to_folder or out.is_dir():
        restored = out / f"{source.stem}_enhanced.png"
    else:
        restored = out
    base = restored.with_suffix("")
    return Outputs(restored, base.with_name(base.name + "_compare.png") if compare else None,
                   base.with_name(base.name + "_routing.png") if routing else None)


def check_plan(files: Sequence[Path], plans: Sequence[Outputs], protected: Sequence[Path]) -> None:
    """Before any work: no input given twice, no two inputs write the same output, and no output is an
    input (or another protected file, the model), whatever the flags."""
    given: dict[object, Path] = {}
    for source in files:
        spelled, inode = file_identity(source)
        first = given.get(spelled) or (given.get(inode) if inode is not None else None)
        if first is not None:  # else "would all be written to ... rename one": the fix is to name it once
            also = "" if str(first) == str(source) else f" (also as '{first}')"
            raise CeaError(f"'{source}' is given twice{also}; give each photo once (a folder given takes all its photos)")
        given[spelled] = source
        if inode is not None:
            given[inode] = source
    writers: dict[str, list[Path]] = {}
    for source, targets in zip(files, plans):
        for target in targets.all():
            writers.setdefault(file_identity(target)[0], []).append(source)
    for name, sources in writers.items():
        if len(sources) > 1:
            listed = ", ".join(f"'{s}'" for s in dict.fromkeys(sources))
            raise CeaError(f"inputs {listed} would all be written to '{name}' (same name, different suffix or "
                           "folder); rename one, or enhance them in separate runs with different -o folders")
    guard = InputGuard(protected)
    for source, targets in zip(files, plans):
        for target in targets.all():
            original = guard.input_at(target)
            if original is not None:
                raise CeaError(f"output '{target}' (for '{source}') is the input '{original}' itself; "
                               "enhance never replaces an input, even with --overwrite: choose another -o")


def prepare_out_folder(out: Path, count: int, named_folder: bool = False) -> None:
    """-o for several inputs (or written as a folder, ``named_folder``: "-o results/"): an existing folder,
    or a new name without an image suffix (created)."""
    if out.is_dir():
        return
    if out.exists():
        why = "it ends with '/'" if named_folder else f"there are {count} inputs"
        raise CeaError(f"-o '{out}' must be a folder ({why}), but it is a file")
    if out.suffix.lower() in READABLE_SUFFIXES and not named_folder:
        raise CeaError(f"-o '{out}' names an image file, but there are {count} inputs; give a folder "
                       "(an existing one, or a new name without an image suffix)")
    try:
        out.mkdir(parents=True)
    except OSError as error:
        raise CeaError(f"cannot create output folder '{out}': {error.strerror or error}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m cea_edge.enhance", description=__doc__.splitlines()[0])
    parser.add_argument("inputs", nargs="+", type=Path, help="image files or folders (PNG, JPEG, TIFF, WebP, BMP; "
                                                             "8 or 16 bit; gray, alpha and palette images too)")
    parser.add_argument("-o", "--out", help="output file (one input) or folder (several inputs, or a name ending in "
                                            "'/'; default: <name>_enhanced.png beside the input)")
    parser.add_argument("--model", "--checkpoint", dest="model", type=Path,
                        help=f"a checkpoint ({CHECKPOINT_SUFFIX}) or an exported model ({', '.join(ARTIFACT_SUFFIXES)}); "
                             f"default: {' or '.join(map(str, DEFAULT_ARTIFACTS))} when present, else the bundled "
                             "edge checkpoint")
    parser.add_argument("--tile", type=int, help=f"tile side for a checkpoint (default {CHECKPOINT_TILE}); exported "
                                                 "models use their own")
    parser.add_argument("--overlap", type=int, help="tile overlap in pixels (default: the exported model's "
                                                    f"recommendation; for a checkpoint min({CHECKPOINT_OVERLAP}, tile/4))")
    parser.add_argument("--context", choices=CONTEXT_MODES, default=CONTEXT_MODES[0],
                        help="global: every tile uses adapter factors computed once from the whole photo (default); "
                             "tile: every tile computes its own")
    parser.add_argument("--context-size", type=int, help=f"context side for a checkpoint (default {CHECKPOINT_CONTEXT_SIZE}); "
                                                         "exported models use their own")
    parser.add_argument("--threads", type=int, help="runtime threads (default: the runtime's choice)")
    parser.add_argument("--compare", action="store_true", help="also write <name>_compare.png: before | after")
    parser.add_argument("--routing-maps", action="store_true",
                        help="also write <name>_routing.png: each adapter's routing maps (rows) on the whole photo")
    parser.add_argument("--overwrite", action="store_true", help="replace existing output files (never an input)")
    parser.add_argument("--include-outputs", action="store_true",
                        help="in folders, also take files named like enhance's outputs (*_enhanced, *_compare, *_routing)")
    parser.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS,
                        help=f"refuse images above this many pixels (decompression-bomb guard; default {DEFAULT_MAX_PIXELS:,})")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def open_model(args: argparse.Namespace) -> Backend:
    model = args.model or default_model()
    is_checkpoint = model.suffix.lower() == CHECKPOINT_SUFFIX
    if not is_checkpoint and (args.tile is not None or args.context_size is not None):
        raise CeaError(f"--tile and --context-size apply to checkpoints; '{model.name}' has its own "
                       "(export it again to change them)")
    tile = args.tile or CHECKPOINT_TILE
    backend = open_backend(model, threads=args.threads, tile=tile,
                           overlap=min(CHECKPOINT_OVERLAP, tile // 4) if args.overlap is None else args.overlap,
                           context_size=args.context_size or CHECKPOINT_CONTEXT_SIZE)
    if args.context == "global" and not backend.global_mode:
        raise CeaError(f"'{model}' carries no global-context graphs (exported with context 0 or by an older "
                       "cea-edge); pass --context tile, or export it again")
    if args.routing_maps and not backend.global_mode:
        raise CeaError(f"--routing-maps needs the global-context graph, which '{model}' does not carry")
    if args.routing_maps and backend.adapters == 0:
        raise CeaError(f"--routing-maps shows the hyper-adapters' routing, and '{model}' has no adapters; "
                       "drop --routing-maps")
    return backend


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    check_threads(args.threads)
    for name in ("tile", "overlap", "context_size", "max_pixels"):
        value = getattr(args, name)
        if value is not None and value < (0 if name == "overlap" else 1):
            raise CeaError(f"--{name.replace('_', '-')} must be {'>= 0' if name == 'overlap' else 'positive'}, got {value}")
    files, skipped = expand_inputs(args.inputs, args.include_outputs)
    for note in skipped:
        print(note)
    named_folder = args.out is not None and args.out.endswith(("/", os.sep))  # "-o results/": a folder, made if new
    args.out = None if args.out is None else Path(args.out)
    to_folder = len(files) > 1 or any(item.is_dir() for item in args.inputs) or named_folder
    plans = [output_paths(source, args.out, to_folder, args.compare, args.routing_maps) for source in files]
    model = args.model or default_model()
    check_plan(files, plans, [*files, model])
    if to_folder and args.out is not None:
        prepare_out_folder(args.out, len(files), named_folder)
    failures: list[str] = []
    work = []  # everything checkable from headers and paths is checked before the model opens
    for source, targets in zip(files, plans):
        try:
            if source.suffix.lower() in MODEL_SUFFIXES:  # `enhance model.onnx photo.jpg`: --model left out
                raise CeaError(f"'{source}' is a model ({source.suffix}), not a photo; pass it with --model")
            alpha = peek_photo(source, args.max_pixels)
            for target in targets.all():
                check_output(target, alpha=alpha and target != targets.routing, overwrite=args.overwrite)
            work.append((source, targets))
        except CeaError as error:
            failures.append(f"{source}: {error}")
            print(f"error: {error}", file=sys.stderr)
    if work:
        args.model = model
        backend = open_model(args)
        overlap = backend.overlap if args.overlap is None else args.overlap
        if overlap >= backend.tile:  # only a flag can say so: an artifact's own overlap is checked at open
            tile = (f"--tile {backend.tile}" if args.tile else f"{backend.tile}, the tile '{model.name}' was exported with"
                    if backend.info is not None else f"{backend.tile}, a checkpoint's default tile (see --tile)")
            raise CeaError(f"--overlap {overlap}: must be below the tile side, {tile}")
        plan_tiles(1, 1, backend.tile, overlap)  # a clear error for an overlap the tile cannot take
        mode = args.context
        print(f"model: {backend.name}, tile {backend.tile}, overlap {overlap}, context: {mode}"
              + (f" ({backend.context_size}x{backend.context_size})" if mode == "global" else ""))
        for source, targets in work:
            try:
                photo = read_photo(source, max_pixels=args.max_pixels)
                started = time.perf_counter()
                # leave=False: the bar clears itself; the summary line below says what was done
                with tqdm(desc=source.name, unit="tile", leave=False, disable=args.quiet or not sys.stderr.isatty()) as bar:
                    def progress(done: int, total: int) -> None:
                        bar.total = total
                        bar.update(done - bar.n)

                    restored, context = restore_photo(photo.pixels, backend, mode, overlap, progress, args.routing_maps)
                seconds = time.perf_counter() - started
                keep = {"icc_profile": photo.icc_profile, "exif": photo.exif, "overwrite": args.overwrite}
                write_photo(targets.restored, restored, alpha=photo.alpha, **keep)
                if targets.compare is not None:
                    alpha = None if photo.alpha is None else np.concatenate([photo.alpha, photo.alpha], axis=1)
                    write_photo(targets.compare, np.concatenate([photo.pixels, restored], axis=1), alpha=alpha, **keep)
                if targets.routing is not None:
                    grid = routing_grid(context.routing_maps, (photo.height, photo.width), backend.context_size)
                    write_photo(targets.routing, grid, overwrite=args.overwrite)
                megapixels = photo.width * photo.height / 1e6
                notes = f"; {', '.join(photo.notes)}" if photo.notes else ""
                print(f"{source} -> {', '.join(str(p) for p in targets.all())} ({photo.width}x{photo.height}, "
                      f"{photo.bit_depth}-bit, {seconds:.2f} s, {megapixels / seconds:.2f} MP/s{notes})")
            except CeaError as error:
                failures.append(f"{source}: {error}")
                print(f"error: {error}", file=sys.stderr)
            except MemoryError:
                failures.append(f"{source}: out of memory")
                print(f"error: '{source}': out of memory; lower --max-pixels or free memory", file=sys.stderr)
    if failures:
        print(f"{len(failures)} of {len(files)} file(s) failed" + (":" if len(files) > 1 else ""), file=sys.stderr)
        for failure in failures if len(files) > 1 else ():
            print(f"  {failure}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
