"""Reading and writing photos with Pillow, with one clear error per bad file.

This stage reads 8-bit RGB only; grayscale, alpha, palette, CMYK and 16-bit files are
refused with a message (the tiled runtime adds conversions for them).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from cea_edge.atomic import atomic_write
from cea_edge.errors import CeaError

WRITABLE_SUFFIXES = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF", ".bmp": "BMP", ".webp": "WEBP"}
READABLE_SUFFIXES = set(WRITABLE_SUFFIXES)


def _raw_bit_depth(image: Image.Image) -> int:
    """Bits per sample as stored: Pillow opens 48-bit RGB files as 8-bit 'RGB' silently."""
    for tile in image.tile:
        args = tile.args if hasattr(tile, "args") else tile[3]
        rawmode = args[0] if isinstance(args, tuple) else args
        if isinstance(rawmode, str) and ";16" in rawmode:
            return 16
    return 16 if image.mode.startswith("I;16") or image.mode in ("I", "F") else 8


def read_rgb(path: str | Path) -> np.ndarray:
    """Read an 8-bit RGB image as float32 (H, W, 3) in [0, 1]."""
    path = Path(path)
    if not path.exists():
        raise CeaError(f"'{path}' does not exist")
    if path.is_dir():
        raise CeaError(f"'{path}' is a folder, not an image")
    if path.stat().st_size == 0:
        raise CeaError(f"'{path}' is empty (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                depth = _raw_bit_depth(image)
                mode = image.mode
                image.load()
                pixels = np.asarray(image)
    except UnidentifiedImageError:
        raise CeaError(f"'{path}' is not an image file Pillow can read") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise CeaError(f"'{path}' is too large to open safely: {error}") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise CeaError(f"'{path}' is damaged or truncated ({error})") from None
    if depth != 8:
        raise CeaError(f"'{path}' has {depth}-bit samples; convert it to 8-bit RGB")
    if mode != "RGB":
        kind = {"L": "grayscale", "1": "black-and-white", "LA": "grayscale with alpha", "RGBA": "RGB with alpha",
                "P": "palette", "PA": "palette with alpha", "CMYK": "CMYK"}.get(mode, f"'{mode}'")
        raise CeaError(f"'{path}' is a {kind} image; convert it to 8-bit RGB without alpha")
    if min(pixels.shape[:2]) < 1:
        raise CeaError(f"'{path}' has no pixels")
    return pixels.astype(np.float32) / 255.0


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Float [0, 1] -> uint8 with rounding (values outside the range are clipped)."""
    return (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def write_rgb(image: np.ndarray, path: str | Path, overwrite: bool = False) -> None:
    """Write a float (H, W, 3) image in [0, 1] as 8-bit, atomically (temp file, then rename)."""
    path = Path(path)
    fmt = WRITABLE_SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise CeaError(f"cannot write '{path}': use one of {', '.join(sorted(WRITABLE_SUFFIXES))}")
    if path.exists() and not overwrite:
        raise CeaError(f"'{path}' exists; pass --overwrite to replace it")
    atomic_write(path, lambda stream: Image.fromarray(to_uint8(image)).save(
        stream, format=fmt, **({"quality": 95} if fmt == "JPEG" else {})))
