"""Photos come out upright, exactly once: every format x 8 EXIF orientations x tag types.

Each case stores a small asymmetric image turned as orientation N says (built here by the TIFF/EXIF
definition, cross-checked against Pillow's own transpose), tags it, reads it with the project's
reader (pixels must equal the upright original), then writes it as enhance does (pixels plus the
EXIF the reader kept) and reads that back: still upright, and the output's metadata says upright
(Orientation 1 or absent), so a viewer does not turn it again.
"""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
import tifffile
from PIL import Image, ImageOps

from cea_edge.photo_deep import write_png16
from cea_edge.photo_exif import EXIF_PREFIX, upright_exif
from cea_edge.photo_io import read_photo, write_photo

ORIENTATION = 0x0112
# 16 x 24, six flat 8 x 8 blocks of different colours: any flip or turn moves a colour, and flat
# blocks survive JPEG / lossy WebP closely enough to tell.
BLOCKS = np.array([[[230, 20, 20], [20, 200, 30], [30, 40, 220]],
                   [[240, 230, 30], [200, 40, 210], [20, 210, 220]]], dtype=np.uint8)
UPRIGHT8 = BLOCKS.repeat(8, axis=0).repeat(8, axis=1)
UPRIGHT16 = UPRIGHT8.astype(np.uint16) * 257 + np.arange(16 * 24 * 3, dtype=np.uint16).reshape(16, 24, 3)

# The stored pixels of an upright image U under each orientation (TIFF 6.0 / EXIF: where row 0 and
# column 0 of the stored image lie when viewed upright), written out here rather than imported.
STORED = {
    1: lambda u: u,
    2: lambda u: u[:, ::-1],
    3: lambda u: u[::-1, ::-1],
    4: lambda u: u[::-1],
    5: lambda u: u.swapaxes(0, 1),
    6: lambda u: np.rot90(u, 1),
    7: lambda u: np.rot90(u.swapaxes(0, 1), 2),
    8: lambda u: np.rot90(u, -1),
}
TAG_TYPES = {"SHORT": (3, "H"), "LONG": (4, "I")}
FORMATS = ("tiff8", "tiff16", "jpeg", "png8", "png16", "webp-lossless", "webp-lossy")
# Lossy formats: mean abs error per sample (about 10 per generation here, from chroma subsampling of
# saturated blocks), far below what a flip or turn gives (over 100). enhance writes WebP lossy
# whatever the input was, so a lossless WebP's output is judged as lossy.
LOSSY = {"jpeg": 25, "webp-lossy": 25, "webp-written": 25}


def exif_with(orientation: int, tag_type: str, order: str = "<") -> bytes:
    """EXIF (with the Exif\\0\\0 prefix): IFD0 with Make and Orientation, the latter of ``tag_type``."""
    kind, code = TAG_TYPES[tag_type]
    make = b"TestCam\x00"
    header = (b"II*\x00" if order == "<" else b"MM\x00*") + struct.pack(order + "I", 8)
    entries = 2
    make_offset = 8 + 2 + 12 * entries + 4
    value = struct.pack(order + code, orientation).ljust(4, b"\x00")
    ifd = struct.pack(order + "H", entries)
    ifd += struct.pack(order + "HHI", 0x010F, 2, len(make)) + struct.pack(order + "I", make_offset)
    ifd += struct.pack(order + "HHI", ORIENTATION, kind, 1) + value
    ifd += struct.pack(order + "I", 0)
    return EXIF_PREFIX + header + ifd + make


def build(tmp_path, fmt: str, orientation: int, tag_type: str):
    """(file, upright pixels) of ``fmt`` whose stored pixels are turned by ``orientation``."""
    upright = UPRIGHT16 if fmt in ("tiff16", "png16") else UPRIGHT8
    stored = np.ascontiguousarray(STORED[orientation](upright))
    kind, code = TAG_TYPES[tag_type]
    if fmt.startswith("tiff"):
        path = tmp_path / "in.tif"
        tifffile.imwrite(path, stored, photometric="rgb", extratags=[(ORIENTATION, code, 1, orientation, True)])
    elif fmt == "png16":
        path = tmp_path / "in.png"
        with open(path, "wb") as stream:
            write_png16(stream, stored, None, exif_with(orientation, tag_type))
    else:
        suffix, options = {"jpeg": (".jpg", {"quality": 95}), "png8": (".png", {}),
                           "webp-lossless": (".webp", {"lossless": True}),
                           "webp-lossy": (".webp", {"quality": 90})}[fmt]
        path = tmp_path / f"in{suffix}"
        Image.fromarray(stored).save(path, exif=exif_with(orientation, tag_type), **options)
    return path, upright


def assert_upright(pixels: np.ndarray, upright: np.ndarray, fmt: str) -> None:
    assert pixels.shape == upright.shape
    if fmt in LOSSY:
        error = np.abs(pixels.astype(np.int32) - upright.astype(np.int32)).mean()
        assert error <= LOSSY[fmt], f"mean error {error:.1f}: not the upright image"
    else:
        np.testing.assert_array_equal(pixels, upright)


def written_orientation(path) -> int | None:
    """The Orientation a viewer would apply to ``path`` (None: no tag)."""
    if path.suffix == ".tif":
        with tifffile.TiffFile(path) as tiff:
            tag = tiff.pages[0].tags.get(ORIENTATION)
            return None if tag is None else int(tag.value)
    with Image.open(path) as image:
        value = image.getexif().get(ORIENTATION)
        return None if value is None else int(value)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_stored_layouts_match_pillows_transpose(orientation):
    """The test's own orientation table agrees with Pillow's exif_transpose (an independent check)."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(STORED[orientation](UPRIGHT8))).save(
        buffer, format="PNG", exif=exif_with(orientation, "SHORT"))
    with Image.open(buffer) as image:
        np.testing.assert_array_equal(np.asarray(ImageOps.exif_transpose(image)), UPRIGHT8)


@pytest.mark.parametrize("tag_type", TAG_TYPES)
@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("fmt", FORMATS)
def test_orientation_applied_exactly_once(tmp_path, fmt, orientation, tag_type):
    path, upright = build(tmp_path, fmt, orientation, tag_type)
    photo = read_photo(path)
    assert_upright(photo.pixels, upright, fmt)
    if photo.exif is not None:  # what enhance carries to its output says upright
        exif = Image.Exif()
        exif.load(photo.exif)
        assert exif.get(ORIENTATION, 1) == 1
    # enhance writes the restored pixels with the photo's ICC and EXIF, in the input's format
    out = tmp_path / f"out{path.suffix}"
    write_photo(out, photo.pixels, icc_profile=photo.icc_profile, exif=photo.exif)
    assert written_orientation(out) in (None, 1)
    again = read_photo(out)
    assert not any("orientation" in note for note in again.notes)
    assert_upright(again.pixels, upright, "webp-written" if fmt.startswith("webp") else fmt)


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("tag_type", TAG_TYPES)
def test_upright_exif_rewrites_orientation_of_any_integer_type(order, tag_type):
    exif = Image.Exif()
    exif.load(upright_exif(exif_with(6, tag_type, order)))
    assert exif[ORIENTATION] == 1 and exif[0x010F] == "TestCam"
