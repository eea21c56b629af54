"""Natural photos as clean training targets: preparing them, and reading a folder of them.

A prepared photo is upright (EXIF orientation applied once), 8-bit RGB (alpha composited over grey
0.5), and downscaled with anti-aliasing by ``max(2, short side / 1024)``: the sources are mostly
heavily compressed wallpapers, and only a real reduction hides their compression artefacts, which a
model would otherwise learn to keep. Prepared photos are stored as PNG, so what trains is exactly
what was prepared; the corpus manifest records the sha256 of the raw RGB bytes.

``load_photo_folder`` takes the corpus folder that ``python -m cea_edge.data photos --out DIR``
writes (its manifest.json names each photo's split), or any folder of the user's own photos.
"""

from __future__ import annotations

import bz2
import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from cea_edge import photo_io
from cea_edge.errors import CeaError
from cea_edge.named_files import named_file

MANIFEST_NAME = "manifest.json"
SPLITS = ("train", "heldout")
PHOTO_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp")
MIN_FACTOR = 2.0  # at least 2x smaller than the source
MAX_SHORT_SIDE = 1024
MIN_SHORT_SIDE = 256  # smaller prepared photos are dropped
GREY = 128  # background for transparent pixels
GET_ONE = "make one with: python -m cea_edge.data photos --out DIR (or pass a folder of your own photos)"
Image.MAX_IMAGE_PIXELS = photo_io.DEFAULT_MAX_PIXELS  # the guard photo_io applies to every file it reads


@dataclass(frozen=True)
class PreparedPhoto:
    pixels: np.ndarray  # (H, W, 3) uint8 RGB, upright
    source_size: tuple[int, int]  # (width, height) upright, before the downscale
    factor: float


def pixel_sha256(pixels: np.ndarray) -> str:
    """sha256 of the raw (H, W, 3) uint8 bytes: independent of the PNG encoder."""
    return hashlib.sha256(np.ascontiguousarray(pixels, dtype=np.uint8).tobytes()).hexdigest()


def _flatten(image: Image.Image) -> np.ndarray:
    """Any Pillow image as uint8 RGB, transparent parts over neutral grey."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        image = Image.fromarray((np.asarray(image, dtype=np.float64) / 257.0).round().clip(0, 255).astype(np.uint8))
    if image.mode == "P" or "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (GREY, GREY, GREY, 255))
        image = Image.alpha_composite(background, rgba)
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def decode_source(data: bytes, name: str) -> np.ndarray:
    """A source file's bytes as upright uint8 RGB (H, W, 3).

    JPEG XL goes through imagecodecs (which applies the orientation); SciPy's ``face.dat`` is the
    raccoon as bz2-compressed raw 768x1024 RGB; everything else through Pillow, with the EXIF
    orientation applied exactly once by ``ImageOps.exif_transpose``.
    """
    lowered = name.lower()
    if lowered.endswith(".jxl"):
        import imagecodecs

        pixels = np.asarray(imagecodecs.jpegxl_decode(data))
        if pixels.dtype != np.uint8:
            pixels = (pixels.astype(np.float64) * (255.0 / np.iinfo(pixels.dtype).max)).round().astype(np.uint8)
        if pixels.ndim == 2:
            pixels = np.repeat(pixels[..., None], 3, axis=2)
        if pixels.shape[2] == 4:
            alpha = pixels[..., 3:4].astype(np.float64) / 255.0
            pixels = (pixels[..., :3] * alpha + GREY * (1 - alpha)).round().astype(np.uint8)
        return np.ascontiguousarray(pixels[..., :3])
    if lowered.endswith("face.dat"):
        return np.frombuffer(bz2.decompress(data), dtype=np.uint8).reshape(768, 1024, 3).copy()
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        upright = ImageOps.exif_transpose(image)
        return _flatten(upright)


def prepare(pixels: np.ndarray) -> PreparedPhoto:
    """Downscale upright RGB (H, W, 3) uint8 by ``max(2, short / 1024)`` with Lanczos (anti-aliased)."""
    height, width = pixels.shape[:2]
    factor = max(MIN_FACTOR, min(height, width) / MAX_SHORT_SIDE)
    size = (max(1, int(width / factor)), max(1, int(height / factor)))
    # reducing_gap: a box reduction first, then Lanczos: fast on 4K sources and still anti-aliased.
    small = Image.fromarray(pixels).resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    return PreparedPhoto(np.ascontiguousarray(np.asarray(small, dtype=np.uint8)), (width, height), factor)


def perceptual_hash(pixels: np.ndarray) -> int:
    """A 64-bit DCT hash of a 32x32 grey copy: bit i is whether DCT coefficient i of the top-left 8x8
    (without DC) lies above their median. Near duplicates (rescaled, recompressed) differ in few bits."""
    from scipy.fft import dctn

    grey = Image.fromarray(pixels).convert("L").resize((32, 32), Image.Resampling.BOX)
    coefficients = dctn(np.asarray(grey, dtype=np.float64), norm="ortho")[:8, :8].ravel()[1:]
    bits = coefficients > np.median(coefficients)
    return int("".join("1" if bit else "0" for bit in bits), 2)


def hamming(first: int, second: int) -> int:
    return bin(first ^ second).count("1")


def _manifest_photos(folder: Path, split: str) -> list[Path] | None:
    manifest = folder / MANIFEST_NAME
    if not manifest.is_file():
        return None
    try:
        photos = json.loads(manifest.read_text(encoding="utf-8"))["photos"]
        names = [entry["file"] for entry in photos if entry["split"] == split]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise CeaError(f"'{manifest}' is not a photo-corpus manifest ({error}); {GET_ONE}") from None
    # a manifest is data anyone can edit: the photos it names stay inside its folder
    chosen = [named_file(folder, name, f"photo corpus '{folder}': {MANIFEST_NAME}") for name in names]
    missing = [path for path in chosen if not path.is_file()]
    if missing:
        raise CeaError(f"'{folder}': {len(missing)} photos of its manifest are missing (first: '{missing[0]}'); "
                       f"re-run python -m cea_edge.data photos --out {folder} to restore them")
    return chosen


def load_photo_folder(folder: Path, split: str = "train") -> list[Path]:
    """The photos of ``split`` ("train" or "heldout") in ``folder``, sorted.

    A corpus folder (with the project's manifest.json): the photos its manifest gives that split. Any
    other folder: every png/jpg/jpeg/tif/tiff/webp below it, all "train" (so "heldout" is empty).
    """
    if split not in SPLITS:
        raise CeaError(f"unknown photo split '{split}'; choose one of: {', '.join(SPLITS)}")
    folder = Path(folder)
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise CeaError(f"photo folder '{folder}' {what}; {GET_ONE}")
    chosen = _manifest_photos(folder, split)
    if chosen is None:
        found = sorted(path for path in folder.rglob("*") if path.suffix.lower() in PHOTO_SUFFIXES and path.is_file()
                       and not any(part.startswith(".") for part in path.relative_to(folder).parts))
        if not found:
            raise CeaError(f"photo folder '{folder}' holds no photos (png, jpg, jpeg, tif, tiff, webp); {GET_ONE}")
        chosen = found if split == "train" else []
    return sorted(chosen)


def read_photo(path: Path) -> np.ndarray:
    """A photo as uint8 RGB (H, W, 3), upright: through the project's photo reader (one CeaError line
    for a bad file); 16-bit samples are rounded to 8 bits and alpha composited over grey 0.5."""
    photo = photo_io.read_photo(path)
    pixels = photo.pixels
    if photo.bit_depth == 16:
        pixels = (pixels.astype(np.float64) / 257.0).round().astype(np.uint8)
    if photo.alpha is not None:
        alpha = photo.alpha.astype(np.float64)[..., None] / photo.max_value
        pixels = (pixels.astype(np.float64) * alpha + GREY * (1.0 - alpha)).round().astype(np.uint8)
    return np.ascontiguousarray(pixels, dtype=np.uint8)
