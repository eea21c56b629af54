"""Reading and writing photos, with one clear error per bad file.

`read_photo` gives upright 8- or 16-bit RGB pixels plus alpha, ICC profile and EXIF, so the
output can carry what the input had. Pillow reads the header and metadata of every file and the
samples of all but 16-bit ones, which it silently cuts to 8 bits: those go through photo_deep.py
(libpng for PNG, tifffile for TIFF). `read_rgb`/`write_rgb` are the 8-bit RGB float interface of
the first stage.
"""

from __future__ import annotations

import io
import os
import stat
import struct
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Iterator

import numpy as np
import tifffile
from PIL import Image, ImageFile, UnidentifiedImageError

from cea_edge.atomic import atomic_write, check_output_file
from cea_edge.errors import CeaError
from cea_edge.photo_deep import png16_samples, tiff16_samples, write_png16
from cea_edge.photo_exif import EXIF_PREFIX, exif_of, upright

DEFAULT_MAX_PIXELS = 100_000_000  # decompression-bomb guard; 48 MP photos must pass
# Bytes per pixel while a photo is read and restored: its samples, the float copy, the blended output
# and its weights, the result, a --compare image (all at once, 16-bit worst case), rounded up.
PHOTO_BYTES_PER_PIXEL = 48
WRITABLE_SUFFIXES = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF", ".bmp": "BMP",
                     ".webp": "WEBP"}
READABLE_SUFFIXES = set(WRITABLE_SUFFIXES)
ALPHA_FORMATS = {"PNG", "TIFF", "WEBP"}
DEEP_FORMATS = {"PNG", "TIFF"}  # formats written with 16-bit samples
JPEG_QUALITY = 95
# What Pillow, tifffile and imagecodecs raise for damaged data (CeaError passes through untouched).
# imagecodecs raises one RuntimeError subclass per codec (PngError, DeflateError, ...), and their
# shared base class is private.
DAMAGED = (OSError, SyntaxError, ValueError, EOFError, struct.error, KeyError, IndexError, Image.DecompressionBombError,
           RuntimeError)
_PILLOW_SETTINGS = threading.Lock()


@dataclass(eq=False)  # arrays have no single truth value to compare by
class Photo:
    """A photo as read: pixels (H, W, 3) uint8/uint16 RGB, upright (EXIF orientation applied),
    C-contiguous; alpha (H, W) of the same dtype or None, carried through untouched."""

    pixels: np.ndarray
    alpha: np.ndarray | None
    bit_depth: int
    icc_profile: bytes | None
    exif: bytes | None  # starts with b"Exif\0\0"; Orientation reset to 1 since the pixels are upright
    notes: tuple[str, ...]  # conversions made, for a verbose CLI line

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def max_value(self) -> int:
        return 65535 if self.bit_depth == 16 else 255


def to_float(pixels: np.ndarray) -> np.ndarray:
    """uint8/uint16 -> float32 in [0, 1], any shape; `from_float` inverts it exactly."""
    if pixels.dtype not in (np.uint8, np.uint16):
        raise TypeError(f"expected uint8 or uint16 pixels, got {pixels.dtype}")
    image = pixels.astype(np.float32)
    image /= np.float32(np.iinfo(pixels.dtype).max)
    return image


def from_float(image: np.ndarray, bit_depth: int) -> np.ndarray:
    """Float (any shape) -> uint8 (bit_depth 8) or uint16 (16), clipped to [0, 1] and rounded; NaN -> 0."""
    if bit_depth not in (8, 16):
        raise ValueError(f"bit_depth must be 8 or 16, not {bit_depth}")
    top = 255 if bit_depth == 8 else 65535
    scaled = np.clip(np.asarray(image, dtype=np.float32 if image.dtype != np.float64 else np.float64), 0.0, 1.0)
    np.nan_to_num(scaled, copy=False, nan=0.0)
    scaled *= top
    scaled += 0.5
    return scaled.astype(np.uint8 if bit_depth == 8 else np.uint16)


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Float [0, 1] -> uint8 with rounding (values outside the range are clipped)."""
    return (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


@contextmanager
def _pillow_settings() -> Iterator[None]:
    """Pillow's globals as reading needs them, put back afterwards.

    Its bomb check is off (it warns at 89 MP; our own header check replaces it) and truncated
    files fail even if other code allowed them. The lock keeps concurrent reads from
    restoring each other's values.
    """
    with _PILLOW_SETTINGS:
        previous = Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES
        Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES = None, False
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES = previous


def _raw_bit_depth(image: Image.Image) -> int:
    """Bits per sample as stored: Pillow opens 48-bit RGB files as 8-bit 'RGB' silently."""
    for tile in image.tile:
        args = tile.args if hasattr(tile, "args") else tile[3]
        rawmode = args[0] if isinstance(args, tuple) else args
        if isinstance(rawmode, str) and ";16" in rawmode:
            return 16
    return 16 if image.mode.startswith("I;16") else 32 if image.mode in ("I", "F") else 8


def _keyed_alpha(pixels: np.ndarray, key: Any, top: int) -> np.ndarray:
    """Alpha for a tRNS colour key: transparent where the pixel equals the key."""
    match = (pixels == np.asarray(key, pixels.dtype)).all(axis=-1) if pixels.ndim == 3 else pixels == key
    return np.where(match, 0, top).astype(pixels.dtype)


def _split(samples: np.ndarray, key: Any = None) -> tuple[np.ndarray, np.ndarray | None, list[str]]:
    """(H, W, C) gray/gray+alpha/RGB/RGBA samples -> RGB pixels, alpha (or None), notes."""
    channels, top = samples.shape[2], np.iinfo(samples.dtype).max
    alpha = samples[..., channels - 1] if channels in (2, 4) else None
    notes = ["alpha kept"] if alpha is not None else []
    if channels <= 2:
        gray = samples[..., 0]
        pixels = np.empty((*gray.shape, 3), samples.dtype)
        pixels[...] = gray[..., None]
        notes.insert(0, "grayscale promoted to RGB")
    else:
        pixels = samples[..., :3]
    if alpha is None and key is not None:
        alpha = _keyed_alpha(samples[..., 0] if channels == 1 else pixels, key, top)
        notes.append("transparent colour turned into alpha")
    return pixels, alpha, notes


def _pillow_samples(image: Image.Image, name: str) -> tuple[np.ndarray, Any, list[str]]:
    """(H, W, C) samples of an 8-bit (or 16-bit gray) image Pillow decodes, its tRNS key, notes."""
    mode, key, notes = image.mode, image.info.get("transparency"), []
    if mode == "CMYK":
        raise CeaError(f"{name} is a CMYK image; convert it to RGB with a colour-managed tool")
    if mode in ("F", "I") and _raw_bit_depth(image) == 32:
        kind = "floating-point" if mode == "F" else "integer"
        raise CeaError(f"{name} has 32-bit {kind} samples; convert it to 8- or 16-bit RGB")
    if mode in ("P", "PA"):
        transparent = mode == "PA" or key is not None or (image.palette is not None and image.palette.mode == "RGBA")
        image = image.convert("RGBA" if transparent else "RGB")
        notes.append("palette expanded to RGB")
        mode, key = image.mode, None
    elif mode == "1":
        image, mode = image.convert("L"), "L"
        notes.append("black-and-white promoted to RGB")
    elif mode == "YCbCr":
        image, mode = image.convert("RGB"), "RGB"
    else:
        image.load()  # decode now, so damage shows up as Pillow's error and not half-way through numpy
    if mode in ("I", "I;16", "I;16B", "I;16L", "I;16N"):
        samples = np.asarray(image).astype(np.uint16)[..., None]
    elif mode in ("L", "LA", "RGB", "RGBA", "RGBX"):
        samples = np.asarray(image)
        samples = samples[..., None] if samples.ndim == 2 else samples[..., :3] if mode == "RGBX" else samples
    else:
        raise CeaError(f"{name} has colour mode '{mode}', which cea-edge cannot read; convert it to RGB")
    return samples, key, notes


@contextmanager
def _decoding(name: str, damaged: tuple[type[BaseException], ...], path: Path | None = None) -> Iterator[None]:
    """Turn a decoder's complaint about the file into one CeaError line naming it."""
    try:
        yield
    except UnidentifiedImageError:
        raise CeaError(_unidentified(path, name)) from None
    except MemoryError:
        raise CeaError(f"not enough memory to read {name}; lower the image size") from None
    except PermissionError:
        raise CeaError(f"cannot read {name}: permission denied") from None
    except damaged as error:
        raise CeaError(f"{name} is damaged or truncated ({error})") from None


def _unidentified(path: Path | None, name: str) -> str:
    """Why Pillow could not identify a file: say what a TIFF it cannot read holds (float RGB, ...)."""
    try:
        if path is not None and path.read_bytes()[:4] in (b"II*\x00", b"MM\x00*"):
            with tifffile.TiffFile(path) as tiff:
                page = tiff.pages[0]
                kind = {"f": "floating-point", "i": "signed-integer", "u": "integer"}.get(page.dtype.kind, str(page.dtype))
                return (f"{name} is a TIFF with {page.dtype.itemsize * 8}-bit {kind} samples ({page.samplesperpixel} per "
                        "pixel), which cea-edge does not read (it reads 8- and 16-bit unsigned integer images); "
                        "convert it to a 16-bit integer TIFF or PNG")
    except Exception:  # noqa: BLE001 -- a TIFF tifffile cannot parse either: the plain message below
        pass
    return f"{name} is not an image file Pillow can read"


def check_input(path: str | Path) -> None:
    """Refuse what is not a non-empty regular file, without opening it (a FIFO would block)."""
    path = Path(path)
    name = f"'{path}'"
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise CeaError(f"{name} does not exist") from None
    except NotADirectoryError:
        raise CeaError(f"{name} does not exist (a part of its path is a file, not a folder)") from None
    except OSError as error:
        raise CeaError(f"cannot read {name}: {error.strerror or error}") from None
    if stat.S_ISDIR(info.st_mode):
        raise CeaError(f"{name} is a folder, not an image file")
    if not stat.S_ISREG(info.st_mode):
        kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(info.st_mode) else "a socket" if stat.S_ISSOCK(info.st_mode)
                else "a device" if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode) else "not a regular file")
        raise CeaError(f"{name} is {kind}, not an image file; save the image to a file first")
    if info.st_size == 0:
        raise CeaError(f"{name} is empty (0 bytes)")


def _size(pixels: int, *, limit: bool = False) -> str:
    """120000000 -> '120.0 MP' (a limit: '120 MP'); small counts (test limits) stay in pixels."""
    if pixels < 100_000:
        return f"{pixels} pixels"
    return f"{pixels / 1e6:g} MP" if limit else f"{pixels / 1e6:.1f} MP"


def peek_photo(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> bool:
    """Check a photo from its header only (a regular file, an image, within the pixel limit), before
    any work; returns whether it has alpha, so an output format without alpha is refused early."""
    path = Path(path)
    name = f"'{path}'"
    check_input(path)
    with _decoding(name, DAMAGED, path), _pillow_settings(), Image.open(path) as image:
        _check_size(image, name, max_pixels)
        palette = image.palette.mode if image.mode == "P" and image.palette is not None else ""
        return "A" in image.mode or "transparency" in image.info or palette == "RGBA"


def _check_size(image: Image.Image, name: str, max_pixels: int) -> None:
    width, height = image.size
    if width * height > max_pixels:
        raise CeaError(f"{name} has {_size(width * height)}, above the {_size(max_pixels, limit=True)} "
                       "limit (--max-pixels)")
    from cea_edge.model.memory import USABLE_FRACTION, available_memory  # torch-free

    available = available_memory()
    if available is not None and width * height * PHOTO_BYTES_PER_PIXEL > available * USABLE_FRACTION:
        fits = int(available * USABLE_FRACTION) // PHOTO_BYTES_PER_PIXEL
        raise CeaError(f"{name} has {_size(width * height)}; reading and restoring it needs about "
                       f"{width * height * PHOTO_BYTES_PER_PIXEL / 1e9:.1f} GB of memory, more than this machine can give "
                       f"now ({available / 1e9:.1f} GB available); the largest photo that fits is {_size(fits)}")


def _read(path: str | Path, max_pixels: int) -> tuple[Photo, str]:
    """The photo and its Pillow mode as stored (for `read_rgb`'s 8-bit RGB rule)."""
    path = Path(path)
    name = f"'{path}'"
    check_input(path)
    with _decoding(name, DAMAGED, path), _pillow_settings(), Image.open(path) as image:
        _check_size(image, name, max_pixels)
        mode, depth, fmt = image.mode, _raw_bit_depth(image), image.format
        icc, key = image.info.get("icc_profile") or None, image.info.get("transparency")
        orientation, exif = exif_of(image)
        if depth == 16 and fmt not in ("PNG", "TIFF") and not mode.startswith("I"):
            raise CeaError(f"{name} is a 16-bit {fmt} colour image; save it as 16-bit PNG or TIFF")
        if depth != 16 or fmt not in ("PNG", "TIFF"):
            samples, key, notes = _pillow_samples(image, name)
            if orientation != 1 and exif_of(image)[0] == 1:
                # Pillow turned these pixels itself while decoding (it does for TIFF) and dropped the
                # tag: the orientation is applied, and must not be applied a second time below.
                notes.append(f"EXIF orientation {orientation} applied")
                orientation = 1
        frames = getattr(image, "n_frames", 1)
    # 16-bit PNG and TIFF: Pillow would keep only the high byte. Decoded outside the lock.
    if depth == 16 and fmt == "PNG":
        with _decoding(name, DAMAGED):
            samples, notes = png16_samples(path.read_bytes(), has_key=key is not None), []
    elif depth == 16 and fmt == "TIFF":
        with _decoding(name, DAMAGED):
            samples, key, notes = tiff16_samples(path, name), None, []
    pixels, alpha, split_notes = _split(samples, key)
    del samples
    notes += split_notes
    if frames > 1:  # animated GIF/WebP/PNG, multi-page TIFF: say so rather than drop the rest silently
        notes.append(f"{frames} {'pages' if fmt == 'TIFF' else 'frames'} in the file: only the first restored")
    if orientation in range(2, 9):
        pixels, alpha = upright(pixels, orientation), None if alpha is None else upright(alpha, orientation)
        notes.append(f"EXIF orientation {orientation} applied")
    pixels, alpha = _owned(pixels), None if alpha is None else _owned(alpha)
    bit_depth = 16 if pixels.dtype == np.uint16 else 8
    return Photo(pixels, alpha, bit_depth, icc, exif, tuple(notes)), mode


def _owned(array: np.ndarray) -> np.ndarray:
    """A writable C-contiguous array of its own (Pillow's are read-only views of its bytes)."""
    return array if array.flags.owndata and array.flags.c_contiguous else array.copy(order="C")


def read_photo(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> Photo:
    """Read a photo as upright 8- or 16-bit RGB (+ alpha), refusing bad files with one CeaError line.

    The pixel count is checked from the header before any pixel is decoded.
    """
    return _read(path, max_pixels)[0]


def _to_8bit(samples: np.ndarray) -> np.ndarray:
    """uint16 -> uint8 rounded (65535 -> 255, 257 * k -> k); uint8 unchanged."""
    return samples if samples.dtype == np.uint8 else ((samples.astype(np.uint32) + 128) // 257).astype(np.uint8)


def _encoder(fmt: str, samples: np.ndarray, icc_profile: bytes | None, exif: bytes | None):
    """A function writing (H, W, 3 or 4) samples in `fmt` to a stream, with metadata where it fits."""
    if fmt == "PNG" and samples.dtype == np.uint16:
        return lambda stream: write_png16(stream, samples, icc_profile, exif)
    if fmt == "TIFF":
        extras = {"extrasamples": ["unassalpha"]} if samples.shape[2] == 4 else {}

        def write_tiff(stream: BinaryIO) -> None:
            buffer = io.BytesIO()  # tifffile wants a named file or a BytesIO, not a bare descriptor
            tifffile.imwrite(buffer, samples, photometric="rgb", compression="zlib", iccprofile=icc_profile, **extras)
            stream.write(buffer.getbuffer())

        return write_tiff
    options: dict[str, Any] = {"quality": JPEG_QUALITY} if fmt in ("JPEG", "WEBP") else {}
    if fmt != "BMP":
        options.update({"icc_profile": icc_profile} if icc_profile else {})
        options.update({"exif": exif if exif.startswith(EXIF_PREFIX) else EXIF_PREFIX + exif} if exif else {})
    image = Image.fromarray(_to_8bit(samples))

    def write(stream: BinaryIO) -> None:
        image.save(stream, format=fmt, **options)

    return write


def check_output(path: str | Path, *, alpha: bool = False, overwrite: bool = False) -> str:
    """Everything about an output path that can be checked before any work: a known suffix, an
    existing writable folder, alpha only where the format holds it, no file in the way without
    ``overwrite``. Returns the format name; CeaError naming the problem otherwise."""
    path = check_output_file(path, "-o", overwrite=True)  # existence below, after the suffix
    fmt = WRITABLE_SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        what = f"unknown image suffix '{path.suffix}'" if path.suffix else "no image suffix"
        raise CeaError(f"cannot write '{path}': use one of {', '.join(sorted(WRITABLE_SUFFIXES))} ({what})")
    if alpha and fmt not in ALPHA_FORMATS:
        raise CeaError(f"cannot write '{path}': {fmt} has no alpha channel and this image has one; "
                       "choose a .png output (or .tif/.webp)")
    if (path.exists() or path.is_symlink()) and not overwrite:
        raise CeaError(f"'{path}' exists; pass --overwrite to replace it")
    return fmt


def write_photo(path: str | Path, pixels: np.ndarray, *, alpha: np.ndarray | None = None,
                icc_profile: bytes | None = None, exif: bytes | None = None, overwrite: bool = False) -> None:
    """Write (H, W, 3) uint8/uint16 RGB (+ (H, W) alpha), format from the suffix, atomically.

    PNG and TIFF keep 16 bits; JPEG, WEBP and BMP get 8. ICC and EXIF go where the format
    holds them (TIFF: ICC only; BMP: neither). Without ``overwrite`` the final name is created
    exclusively: a file another process put there meanwhile is kept and this write refused.
    """
    path = Path(path)
    if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"pixels must be (H, W, 3) uint8 or uint16, not {pixels.shape} {pixels.dtype}")
    if alpha is not None and (alpha.shape != pixels.shape[:2] or alpha.dtype != pixels.dtype):
        raise ValueError(f"alpha must be {pixels.shape[:2]} {pixels.dtype}, not {alpha.shape} {alpha.dtype}")
    fmt = check_output(path, alpha=alpha is not None, overwrite=overwrite)
    samples = pixels if alpha is None else np.dstack([pixels, alpha])
    if fmt not in DEEP_FORMATS:
        samples = _to_8bit(samples)
    try:
        atomic_write(path, _encoder(fmt, samples, icc_profile, exif), replace=overwrite)
    except FileExistsError:
        raise CeaError(f"'{path}' exists; pass --overwrite to replace it") from None
    except OSError as error:
        raise CeaError(f"cannot write '{path}': {error.strerror or error}") from None


def output_suffix_for(photo: Photo, requested_suffix: str | None) -> str:
    """The suffix to save `photo` with: the requested one when its format holds the photo's
    alpha and bit depth, else '.png' (which holds alpha, 16 bits, ICC and EXIF)."""
    suffix = (requested_suffix or "").lower()
    fmt = WRITABLE_SUFFIXES.get(suffix)
    if fmt is None or (photo.alpha is not None and fmt not in ALPHA_FORMATS) or (
            photo.bit_depth == 16 and fmt not in DEEP_FORMATS):
        return ".png"
    return suffix


def read_rgb(path: str | Path) -> np.ndarray:
    """Read an 8-bit RGB image (no alpha) as float32 (H, W, 3) in [0, 1], upright.

    Other kinds are refused: this interface has no alpha and no 16 bits to hand them on.
    """
    photo, mode = _read(path, DEFAULT_MAX_PIXELS)
    if photo.bit_depth != 8:
        raise CeaError(f"'{path}' has {photo.bit_depth}-bit samples; convert it to 8-bit RGB")
    if mode not in ("RGB", "YCbCr") or photo.alpha is not None:
        kind = {"L": "grayscale", "1": "black-and-white", "LA": "grayscale with alpha", "RGBA": "RGB with alpha",
                "P": "palette", "PA": "palette with alpha", "RGB": "RGB with alpha"}.get(mode, f"'{mode}'")
        raise CeaError(f"'{path}' is a {kind} image; convert it to 8-bit RGB without alpha")
    return to_float(photo.pixels)


def write_rgb(image: np.ndarray, path: str | Path, overwrite: bool = False) -> None:
    """Write a float (H, W, 3) image in [0, 1] as 8-bit, atomically (temp file, then rename)."""
    write_photo(path, to_uint8(image), overwrite=overwrite)
