"""Write the fixtures that pin the Java core (android_demo/core) to the Python runtime.

Run from the repository root with the project's Python:

    .venv/bin/python android_demo/tools/make_core_fixtures.py [OUT]

(OUT defaults to the test resources; tests/test_android_demo.py writes elsewhere and compares.)

Every array goes to core/src/test/resources/fixtures/<name>.bin (little-endian, C order)
and one line of fixtures/index.txt: "<name> <dtype> <dim> <dim> ...". Plans go to
plans.txt, one "height width tile overlap | ys | xs" per line. Deterministic (fixed seed),
so rerunning it rewrites identical files.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from PIL import Image

from cea_edge.errors import CeaError
from cea_edge.photo_exif import exif_of, upright
from cea_edge.photo_io import DEFAULT_MAX_PIXELS, from_float, read_photo, to_float
from cea_edge.runtime.restore import restore_photo
from cea_edge.runtime.tiling import blend_window, context_image, edge_ramp, plan_tiles, tiled_apply

OUT = Path(__file__).resolve().parents[1] / "core" / "src" / "test" / "resources" / "fixtures"

# (height, width, tile, overlap): 1x1, 1xN, Nx1, smaller than a tile, exactly a tile, one more,
# overlap 0 and tile - 1, tile 1, and a few photo-like shapes.
PLAN_CASES = [(1, 1, 32, 8), (1, 1, 1, 0), (1, 50, 32, 8), (50, 1, 32, 8), (1, 200, 16, 4), (7, 5, 32, 8),
              (32, 32, 32, 8), (33, 33, 32, 8), (31, 65, 32, 8), (64, 64, 32, 0), (100, 37, 32, 31),
              (70, 45, 32, 8), (5, 5, 1, 0), (9, 4, 2, 1), (256, 256, 256, 32), (257, 511, 256, 32),
              (3000, 4000, 256, 32), (6000, 8000, 256, 32), (4032, 3024, 512, 64), (24, 24, 24, 23),
              (25, 1000, 24, 23), (1000, 3, 10, 3)]

# (tile, overlap) windows
WINDOW_CASES = [(1, 0), (5, 2), (8, 7), (16, 0), (32, 8), (64, 16)]

# (height, width, size) context images of random uint8 pixels
CONTEXT_CASES = [(1, 1, 8), (1, 9, 16), (5, 70, 16), (37, 53, 16), (64, 48, 24), (100, 33, 32), (16, 16, 16),
                 (200, 3, 8)]

# (height, width) images for tiled_apply with tile 32, overlap 8
TILED_CASES = [(70, 45), (20, 45), (1, 50), (1, 1), (40, 70)]
TILE, OVERLAP = 32, 8


class Writer:
    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.bin"):
            old.unlink()
        self.folder = folder
        self.lines: list[str] = []

    def add(self, name: str, array: np.ndarray) -> None:
        array = np.ascontiguousarray(array)
        dtype = {np.dtype(np.uint8): "uint8", np.dtype(np.int32): "int32", np.dtype(np.float32): "float32",
                 np.dtype(np.float64): "float64"}[array.dtype]
        array.astype(array.dtype.newbyteorder("<")).tofile(self.folder / f"{name}.bin")
        self.lines.append(" ".join([name, dtype, *map(str, array.shape)]))

    def close(self) -> None:
        (self.folder / "index.txt").write_text("\n".join(self.lines) + "\n")


def affine_model(tile: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel gain (3,) and a position-dependent bias (3, tile, tile), float32: the test
    "model" is gain * x + bias, which depends on where a pixel sits in its tile, so a wrongly
    placed or weighted tile changes the blend."""
    gain = np.array([1.1, 0.9, 1.0], dtype=np.float32)
    rows = np.arange(tile, dtype=np.float32)[:, None]
    cols = np.arange(tile, dtype=np.float32)[None, :]
    bias = np.stack([0.01 + 0.002 * rows - 0.001 * cols, -0.02 + 0.001 * cols + 0 * rows, 0.003 * (rows - cols)])
    return gain, bias.astype(np.float32)


def main(out: Path = OUT) -> None:
    writer = Writer(out)
    rng = np.random.default_rng(14)

    lines = []
    for height, width, tile, overlap in PLAN_CASES:
        plan = plan_tiles(height, width, tile, overlap)
        lines.append(f"{height} {width} {tile} {overlap} | {' '.join(map(str, plan.ys))} | {' '.join(map(str, plan.xs))}")
    (out / "plans.txt").write_text("\n".join(lines) + "\n")

    for tile, overlap in WINDOW_CASES:
        writer.add(f"ramp_{tile}_{overlap}", edge_ramp(tile, overlap))
        writer.add(f"window_{tile}_{overlap}", blend_window(tile, overlap))

    for height, width, size in CONTEXT_CASES:
        pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        writer.add(f"context_in_{height}_{width}_{size}", pixels)
        writer.add(f"context_out_{height}_{width}_{size}", context_image(pixels, size))

    # photo_io conversions: every uint8 value, and floats around the rounding points
    every = np.arange(256, dtype=np.uint8)
    writer.add("to_float_all", to_float(every))
    probes = np.concatenate([np.array([np.nan, -np.inf, np.inf, -1.0, 0.0, 1.0, 2.0, 0.5, 1e-9, 1 - 1e-9],
                                      dtype=np.float32),
                             (np.arange(256, dtype=np.float32) + 0.5) / np.float32(255),
                             (np.arange(256, dtype=np.float32) + 0.49999) / np.float32(255),
                             rng.random(600, dtype=np.float32) * np.float32(1.2) - np.float32(0.1)])
    writer.add("from_float_in", probes)
    writer.add("from_float_out", from_float(probes, 8))

    gain, bias = affine_model(TILE)
    writer.add("model_gain", gain)
    writer.add("model_bias", bias)

    def run(tiles: np.ndarray) -> np.ndarray:
        return tiles * gain[None, :, None, None] + bias[None]

    for height, width in TILED_CASES:
        pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        writer.add(f"tiled_in_{height}_{width}", pixels)
        writer.add(f"tiled_float_{height}_{width}", tiled_apply(pixels, run, TILE, OVERLAP, batch=3))
        writer.add(f"tiled_uint8_{height}_{width}",
                   tiled_apply(pixels, run, TILE, OVERLAP, batch=2, out=np.empty_like(pixels)))

    # restore_photo with a duck-typed backend: context factors are exact pixels of the context
    # image (no sums, so no summation order to match); forward_global adds them to the affine model.
    context_size = 24

    def context(image: np.ndarray) -> SimpleNamespace:
        chw = image.transpose(2, 0, 1)
        return SimpleNamespace(factors=[chw[:, 0, 0].copy(), chw[:, context_size // 2, context_size - 1].copy()],
                               routing_maps=[])

    def backend_run(tiles: np.ndarray, factors) -> np.ndarray:
        out = run(tiles)
        if factors is not None:
            out = out + (factors[0] * np.float32(0.5) - factors[1] * np.float32(0.25))[None, :, None, None]
        return out

    backend = SimpleNamespace(context_size=context_size, tile=TILE, overlap=OVERLAP, max_batch=4, run=backend_run,
                              context=context)
    for height, width in [(70, 45), (10, 100)]:
        pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        writer.add(f"restore_in_{height}_{width}", pixels)
        for mode in ("global", "tile"):
            writer.add(f"restore_{mode}_{height}_{width}", restore_photo(pixels, backend, mode=mode).pixels)
    write_photo_fixtures(writer, rng, out)
    writer.close()
    total = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    print(f"wrote {len(writer.lines)} arrays and {len(lines)} plans to {out} ({total / 1024:.0f} KiB)")


def write_photo_fixtures(writer: Writer, rng: np.random.Generator, out: Path) -> None:
    """EXIF orientation as photo_exif applies it, and photo files with Python's verdict on each:
    format, orientation (exif_of) and whether read_photo reads it (truncated files it refuses)."""
    stored = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    writer.add("orient_in", stored)
    for orientation in range(1, 9):
        writer.add(f"orient_out_{orientation}", np.ascontiguousarray(upright(stored, orientation)))

    folder = out / "photos"
    folder.mkdir(exist_ok=True)
    for old in folder.iterdir():
        old.unlink()
    y, x = np.mgrid[0:48, 0:64]
    pixels = np.stack([x * 4, y * 5, (x + y) * 2], -1).astype(np.uint8) + rng.integers(0, 8, (48, 64, 3), dtype=np.uint8)
    image = Image.fromarray(pixels)
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "cea-edge fixture"  # another IFD0 entry, so the orientation is not the only one
    files = {
        "plain.jpg": lambda path: image.save(path, quality=90),
        "rotated.jpg": lambda path: image.save(path, quality=90, exif=exif.tobytes()),
        "progressive.jpg": lambda path: image.save(path, quality=90, progressive=True, exif=exif.tobytes()),
        "rotated.png": lambda path: image.save(path, exif=exif.tobytes()),
        "rotated.webp": lambda path: image.save(path, quality=90, exif=exif.tobytes()),
        "plain.png": lambda path: image.save(path),
    }
    for name, save in files.items():
        save(folder / name)
    data = (folder / "rotated.jpg").read_bytes()
    (folder / "trailer.jpg").write_bytes(data + b"\x00\x00\x00\x18ftypmp42" + bytes(200))  # a motion-photo tail
    for name in ["rotated.jpg", "progressive.jpg", "rotated.png", "rotated.webp"]:
        data = (folder / name).read_bytes()
        (folder / f"cut-{name}").write_bytes(data[: len(data) * 3 // 5])
    (folder / "notes.txt").write_bytes(b"not a photo\n")
    rows = []
    for path in sorted(folder.iterdir()):
        try:
            with Image.open(path) as opened:
                kind = {"JPEG": "jpeg", "PNG": "png", "WEBP": "webp"}.get(opened.format, "none")
                orientation = exif_of(opened)[0]
        except OSError:
            kind, orientation = "none", 1
        try:
            read_photo(path)
            readable = "complete"
        except CeaError:
            readable = "refused"
        rows.append(f"{path.name} {kind} {orientation} {readable}")
    (out / "photos.txt").write_text("\n".join(rows) + "\n")
    (out / "limits.txt").write_text(f"max_pixels {DEFAULT_MAX_PIXELS}\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
