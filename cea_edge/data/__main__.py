"""``python -m cea_edge.data``: ``photos --out DIR`` gathers the natural-photo corpus (see data/corpus.py);
``examples --out F.png`` draws the camera-realistic degradations (data/camera.py) on photos, a grid for the docs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from cea_edge.errors import run_cli


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cea_edge.data", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    photos = commands.add_parser("photos", help="gather real camera photos from Debian packages and prepare them "
                                                "as clean training targets, with a manifest and a fixed held-out split")
    photos.add_argument("--out", type=Path, required=True, help="output folder (re-running completes it)")
    photos.add_argument("--cache", type=Path, default=None,
                        help="folder for the downloaded and unpacked packages (default: OUT/.packages)")
    examples = commands.add_parser("examples", help="a grid of camera-realistic degradations of photos (PNG)")
    examples.add_argument("--out", type=Path, required=True, help="the PNG to write")
    examples.add_argument("--photos", type=Path, required=True, help="a photo corpus (its held-out photos are drawn) "
                          "or any folder of photos")
    examples.add_argument("--count", type=int, default=3, help="rows: photos (default 3)")
    examples.add_argument("--size", type=int, default=192, help="side of each square crop (default 192)")
    examples.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)
    if args.command == "examples":
        return write_examples(args.out, args.photos, args.count, args.size, args.overwrite)
    from cea_edge.data.corpus import build_corpus

    build_corpus(args.out, cache=args.cache)
    return 0


EXAMPLE_COLUMNS = ("clean", "camera", "camera_high_iso", "noise25", "rain", "haze", "motion", "defocus", "lowlight",
                   "low+haze+rain")


def write_examples(out: Path, folder: Path, count: int, size: int, overwrite: bool) -> int:
    """One row per photo (spread over the folder), one column per EXAMPLE_COLUMNS case of aio-photo."""
    import numpy as np
    from PIL import Image, ImageDraw

    from cea_edge.atomic import atomic_write, check_output_file
    from cea_edge.data.camera import PHOTO_CASES
    from cea_edge.data.photos import load_photo_folder, read_photo
    from cea_edge.data.sources import center_crop
    from cea_edge.errors import CeaError
    from cea_edge.photo_io import to_uint8

    if not 1 <= count <= 12 or not 64 <= size <= 512:
        raise CeaError(f"--count {count} --size {size}: rows 1..12, crop side 64..512")
    check_output_file(out, "--out", inputs=[folder], overwrite=overwrite)
    paths = load_photo_folder(folder, "heldout") or load_photo_folder(folder, "train")
    chosen = [paths[int(i)] for i in np.linspace(0, len(paths) - 1, min(count, len(paths)))]
    label = 14
    sheet = Image.new("RGB", (len(EXAMPLE_COLUMNS) * (size + 4), label + len(chosen) * (size + 4)), "white")
    draw = ImageDraw.Draw(sheet)
    for column, name in enumerate(EXAMPLE_COLUMNS):
        draw.text((column * (size + 4) + 2, 1), name, fill="black")
    for row, path in enumerate(chosen):
        clean = center_crop(read_photo(path).astype(np.float32) / 255.0, size)
        for column, name in enumerate(EXAMPLE_COLUMNS):
            degraded = PHOTO_CASES[name](clean, np.random.default_rng([row, column]))
            sheet.paste(Image.fromarray(to_uint8(degraded)), (column * (size + 4), label + row * (size + 4)))
    atomic_write(out, lambda stream: sheet.save(stream, format="PNG"), replace=overwrite)
    print(f"wrote {out} ({len(chosen)} photos x {len(EXAMPLE_COLUMNS)} cases)")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
