"""Photo reading and writing: every accepted kind gives exact pixels, every bad file one CeaError line.

Fixtures are tiny files made in tmp_path. Pillow cannot write 16-bit colour PNGs: they come from
imagecodecs (libpng), with each of its row filters, and Adam7-interlaced ones (which libpng here
does not write) from the small files in INTERLACED below.
"""

from __future__ import annotations

import base64
import io
import os
import struct
import tracemalloc
import warnings
import zlib
from pathlib import Path

import imagecodecs
import numpy as np
import pytest
import tifffile
from PIL import Image, ImageCms, ImageFile, ImageOps

from cea_edge import photo_io
from cea_edge.errors import CeaError
from cea_edge.photo_io import (
    DEFAULT_MAX_PIXELS,
    Photo,
    from_float,
    output_suffix_for,
    read_photo,
    read_rgb,
    to_float,
    to_uint8,
    write_photo,
    write_rgb,
)

RNG = np.random.default_rng(7)
ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
# 2x3, every pixel different: any flip or rotation is visible.
ASYMMETRIC = np.arange(18, dtype=np.uint8).reshape(2, 3, 3) * 14


# ---------------------------------------------------------------- 16-bit PNG fixtures

def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png16(samples: np.ndarray, *, extra: bytes = b"", row_filter=None) -> bytes:
    """(H, W, C) uint16 -> PNG bytes by libpng; `extra` chunks go right after IHDR (33 bytes in)."""
    data = imagecodecs.png_encode(np.ascontiguousarray(samples[..., 0] if samples.shape[2] == 1 else samples),
                                  filter=row_filter)
    assert data[24] == 16  # bit depth
    return data[:33] + extra + data[33:]


# Adam7-interlaced 16-bit PNGs, 5 x 6 (every pass non-empty), one per channel count (gray, gray+alpha,
# RGB, RGBA), rows filtered with all five filter types; written once by an encoder made from the PNG
# spec. Their samples are `interlaced_samples(channels)`.
INTERLACED = {
    1: "iVBORw0KGgoAAAANSUhEUgAAAAYAAAAFEAAAAAFkpC7vAAAAJElEQVR4nGMU+scUzMU82a1Ln8WYhWGzD+NlJQU2BTYmZUZn9mRe5kvODwufAA"
       "AAJUlEQVSqBaIfRFkOqBwACjIUCzQLTxZbLLlZ5rA8o7GJADMMAgBfBg+wuC3/kwAAAABJRU5ErkJggg==",
    2: "iVBORw0KGgoAAAANSUhEUgAAAAYAAAAFEAQAAAHrxrm4AAAAMklEQVR4nGMS+qfMyDxZbLEki3Cf8sQGiQYJhmCuZF7G4FnJc5kmuy32vBz0OF"
       "Q4TjmR2ZjFmeV55ygAAAAySURBVD2KL0mgSqRJjKXBo8HDgQcCGYynOE8vXtC8ePOaw+sZLys9VlVgw4RMIC3YIACPySXLtGJwGQAAAABJRU5E"
       "rkJggg==",
    3: "iVBORw0KGgoAAAANSUhEUgAAAAYAAAAFEAIAAAHOreZkAAAAUUlEQVR4nGMW+qfMaMzCclnpsepnDYbJ1xbf3Hwn+Ffy3xIGxmKBZuHJYkwNN0"
       "CQOTgrObe4oMt9kucsr10Bh4JOBbM4swdzJfMmCCEgQ3Px5LLFlY88HszKAAAAUUlEQVRbP3cwdztPD56VPJfx8P3Ljx4/hcgngiGTsYmzebBV"
       "sm2xQ7PzZLfFnpt9DvtfDnoc+jmCOVo4TjnROMU5nTmqLakjq9PCGh3uQGIDAEBDRqyg4ESxAAAAAElFTkSuQmCC",
    4: "iVBORw0KGgoAAAANSUhEUgAAAAYAAAAFEAYAAAFBz3EzAAAAVklEQVR4nGMR+qfMaMzizM4grKdsaGzibM4oIqeiaKLios5gAIFMk8UWS26WOS"
       "zP7K0drButl2zAItynPNF4ivP0BglUyBDMlcxbLNAsfFnpsepnDWbtYKtk2wUbq8EAAABWSURBVGKHZmfG4FnJc4sXNC9G18HEOAE7ZJ7stthz"
       "s89h/y79SYazjBaZrDLdZL7LwsnKyzrINsouySHLsci5yqXJrct9kucsr0U+LAwToJAHEzJigQAfYD+2bNQEQwAAAABJRU5ErkJggg==",
}


def interlaced_samples(channels: int) -> np.ndarray:
    """The (5, 6, channels) uint16 samples of INTERLACED[channels]: low bytes all differ."""
    return ((np.arange(5 * 6 * channels).reshape(5, 6, channels) * 4099 + 0x12FE) % 65536).astype(np.uint16)


def filter_kinds(png: bytes) -> set[int]:
    """Filter types used by a non-interlaced PNG's rows."""
    position, idat = 8, b""
    while position < len(png):
        (length,), kind = struct.unpack(">I", png[position:position + 4]), png[position + 4:position + 8]
        body = png[position + 8:position + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
        idat += body if kind == b"IDAT" else b""
        position += 12 + length
    raw = zlib.decompress(idat)
    stride = 1 + width * {0: 1, 2: 3, 4: 2, 6: 4}[colour] * depth // 8
    return {raw[y * stride] for y in range(height)}


def deep(shape) -> np.ndarray:
    """uint16 values whose low bytes matter: same high byte, different low byte side by side."""
    values = RNG.integers(0, 65536, shape, dtype=np.uint16)
    values.reshape(-1)[:2] = (0x1234, 0x12FE)
    return values


def exif_bytes(orientation: int = 1, make: str = "TestCam") -> bytes:
    exif = Image.Exif()
    exif[0x0112], exif[0x010F] = orientation, make
    return exif.tobytes()


def exif_tags(data: bytes | None) -> dict:
    exif = Image.Exif()
    exif.load(data)
    return dict(exif)


def smooth(height: int, width: int) -> np.ndarray:
    """Gradients plus noise: Pillow's adaptive filtering picks several filter types on it."""
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 5, y * 4, (x + y) * 3], axis=-1) + RNG.integers(0, 6, (height, width, 3))
    base[: height // 3] = RNG.integers(0, 256, (height // 3, width, 3))
    return (base % 256).astype(np.uint8)


# ---------------------------------------------------------------- 8-bit modes through Pillow

def test_8bit_rgb_exact(tmp_path):
    pixels = RNG.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "rgb.png")
    photo = read_photo(tmp_path / "rgb.png")
    assert isinstance(photo, Photo) and photo.bit_depth == 8 and photo.max_value == 255
    assert (photo.height, photo.width) == (5, 7) and photo.alpha is None and photo.notes == ()
    assert photo.pixels.dtype == np.uint8 and photo.pixels.flags.c_contiguous and photo.pixels.flags.writeable
    np.testing.assert_array_equal(photo.pixels, pixels)


GRAY = np.array([[0, 60, 255], [7, 128, 200]], np.uint8)
COLOURS = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255]], [[9, 9, 9], [255, 0, 0], [1, 2, 3]]], np.uint8)


def palette_image(transparency=None) -> Image.Image:
    image = Image.fromarray(np.array([[0, 1, 2], [3, 0, 1]], np.uint8), "P")
    image.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 9, 9])
    if transparency is not None:
        image.info["transparency"] = transparency
    return image


PALETTE_RGB = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255]], [[9, 9, 9], [255, 0, 0], [0, 255, 0]]], np.uint8)

MODE_CASES = {
    # name: (image to save as PNG, expected pixels, expected alpha, note)
    "L": (Image.fromarray(GRAY), np.repeat(GRAY[..., None], 3, 2), None, "grayscale promoted to RGB"),
    "LA": (Image.fromarray(np.dstack([GRAY, 255 - GRAY]), "LA"), np.repeat(GRAY[..., None], 3, 2), 255 - GRAY,
           "grayscale promoted to RGB"),
    "RGBA": (Image.fromarray(np.dstack([COLOURS, GRAY])), COLOURS, GRAY, "alpha kept"),
    "1": (Image.fromarray(GRAY > 100), np.repeat(np.where(GRAY > 100, 255, 0).astype(np.uint8)[..., None], 3, 2),
          None, "black-and-white promoted to RGB"),
    "P": (palette_image(), PALETTE_RGB, None, "palette expanded to RGB"),
    "P+tRNS index": (palette_image(transparency=1), PALETTE_RGB,
                     np.array([[255, 0, 255], [255, 255, 0]], np.uint8), "palette expanded to RGB"),
    "P+tRNS table": (palette_image(transparency=bytes([10, 20, 30, 40])), PALETTE_RGB,
                     np.array([[10, 20, 30], [40, 10, 20]], np.uint8), "palette expanded to RGB"),
}


@pytest.mark.parametrize("case", MODE_CASES)
def test_every_8bit_mode_gives_rgb_and_alpha(tmp_path, case):
    image, pixels, alpha, note = MODE_CASES[case]
    path = tmp_path / "image.png"
    image.save(path, **({"transparency": image.info["transparency"]} if "transparency" in image.info else {}))
    photo = read_photo(path)
    assert photo.bit_depth == 8 and photo.pixels.shape == (2, 3, 3) and note in photo.notes
    np.testing.assert_array_equal(photo.pixels, pixels)
    if alpha is None:
        assert photo.alpha is None
    else:
        assert photo.alpha.dtype == np.uint8 and photo.alpha.flags.c_contiguous
        np.testing.assert_array_equal(photo.alpha, alpha)


def test_transparent_colour_keys_become_alpha(tmp_path):
    Image.fromarray(GRAY).save(tmp_path / "gray.png", transparency=128)
    Image.fromarray(COLOURS).save(tmp_path / "rgb.png", transparency=(255, 0, 0))
    gray, rgb = read_photo(tmp_path / "gray.png"), read_photo(tmp_path / "rgb.png")
    np.testing.assert_array_equal(gray.alpha, [[255, 255, 255], [255, 0, 255]])
    np.testing.assert_array_equal(rgb.alpha, [[0, 255, 255], [255, 0, 255]])
    np.testing.assert_array_equal(rgb.pixels, COLOURS)


def test_16bit_gray_png_from_pillow_with_adaptive_filters(tmp_path):
    y, x = np.mgrid[0:24, 0:32]
    gray = (x * 2000 + y * 37 + RNG.integers(0, 50, x.shape)).astype(np.uint16)
    Image.fromarray(gray).save(tmp_path / "gray16.png")
    assert len(filter_kinds((tmp_path / "gray16.png").read_bytes())) >= 2
    photo = read_photo(tmp_path / "gray16.png")
    assert photo.bit_depth == 16 and photo.max_value == 65535 and photo.pixels.dtype == np.uint16
    np.testing.assert_array_equal(photo.pixels, np.repeat(gray[..., None], 3, 2))


# ---------------------------------------------------------------- 16-bit colour

@pytest.mark.parametrize("channels", [1, 2, 3, 4])
@pytest.mark.parametrize("interlace", [False, True])
def test_16bit_png_reads_exactly(tmp_path, channels, interlace):
    samples = interlaced_samples(channels) if interlace else deep((11, 13, channels))
    path = tmp_path / "deep.png"
    path.write_bytes(base64.b64decode(INTERLACED[channels]) if interlace else png16(samples))
    photo = read_photo(path)
    assert photo.bit_depth == 16 and photo.pixels.dtype == np.uint16 and photo.pixels.flags.c_contiguous
    colour = samples[..., :3] if channels >= 3 else np.repeat(samples[..., :1], 3, 2)
    np.testing.assert_array_equal(photo.pixels, colour)
    if channels in (2, 4):
        np.testing.assert_array_equal(photo.alpha, samples[..., -1])
    else:
        assert photo.alpha is None


@pytest.mark.parametrize("channels", [1, 3])
def test_16bit_png_colour_key_becomes_alpha(tmp_path, channels):
    samples = deep((3, 4, channels))
    samples[samples[..., 0] == 0x0102] = 0x0103  # no other pixel matches the key
    samples[1, 2] = (0x0102, 0x0304, 0x0506)[:channels]
    path = tmp_path / "key.png"
    path.write_bytes(png16(samples, extra=chunk(b"tRNS", struct.pack(">" + "H" * channels, *samples[1, 2]))))
    photo = read_photo(path)
    expected = np.full((3, 4), 65535, np.uint16)
    expected[1, 2] = 0
    np.testing.assert_array_equal(photo.alpha, expected)
    np.testing.assert_array_equal(photo.pixels, np.broadcast_to(samples, (3, 4, 3)))
    assert "transparent colour turned into alpha" in photo.notes


F = imagecodecs.PNG.FILTER


@pytest.mark.parametrize("row_filter, kinds", [(F.NONE, {0}), (F.SUB, {1}), (F.UP, {2}), (F.AVG, {3}), (F.PAETH, {4}),
                                               (F.ALL, None)])
@pytest.mark.parametrize("channels", [3, 4])
def test_16bit_png_every_row_filter_reads_exactly_and_agrees_with_pillow(tmp_path, row_filter, kinds, channels):
    base = smooth(30, 40).astype(np.uint16) * 257 + RNG.integers(0, 200, (30, 40, 3), dtype=np.uint16)
    samples = np.dstack([base, deep((30, 40))])[..., :channels]
    path = tmp_path / "filtered.png"
    path.write_bytes(png16(samples, row_filter=row_filter))
    used = filter_kinds(path.read_bytes())
    assert used == kinds if kinds else len(used) >= 3  # one filter type, or libpng's adaptive mix of several
    photo = read_photo(path)
    np.testing.assert_array_equal(photo.pixels, samples[..., :3])
    if channels == 4:
        np.testing.assert_array_equal(photo.alpha, samples[..., 3])
    with Image.open(path) as image:  # Pillow's 8-bit view: the high bytes
        np.testing.assert_array_equal(np.asarray(image), samples >> 8)


@pytest.mark.parametrize("layout", ["rgb", "rgba", "gray", "separate"])
def test_16bit_tiff_reads_exactly(tmp_path, layout):
    shape = {"rgb": (5, 6, 3), "rgba": (5, 6, 4), "gray": (5, 6), "separate": (5, 6, 3)}[layout]
    samples = deep(shape)
    options = {"photometric": "minisblack" if layout == "gray" else "rgb", "compression": "zlib"}
    if layout == "rgba":
        options["extrasamples"] = ["unassalpha"]
    if layout == "separate":
        options["planarconfig"] = "separate"
        tifffile.imwrite(tmp_path / "deep.tif", np.moveaxis(samples, -1, 0), **options)
    else:
        tifffile.imwrite(tmp_path / "deep.tif", samples, **options)
    photo = read_photo(tmp_path / "deep.tif")
    assert photo.bit_depth == 16
    colour = np.repeat(samples[..., None], 3, 2) if layout == "gray" else samples[..., :3]
    np.testing.assert_array_equal(photo.pixels, colour)
    if layout == "rgba":
        np.testing.assert_array_equal(photo.alpha, samples[..., 3])
    else:
        assert photo.alpha is None


@pytest.mark.parametrize("compression, predictor", [("lzw", None), ("lzw", "horizontal"), ("zlib", None),
                                                    ("zlib", "horizontal"), ("packbits", None)])
@pytest.mark.parametrize("channels", [3, 4])
def test_compressed_16bit_tiff_reads_exactly(tmp_path, compression, predictor, channels):
    samples = deep((9, 14, channels))
    samples[:4] = samples[0, 0]  # runs, so PackBits and LZW actually compress
    extras = {"extrasamples": ["unassalpha"]} if channels == 4 else {}
    path = tmp_path / "deep.tif"
    tifffile.imwrite(path, samples, photometric="rgb", compression=compression, predictor=predictor, rowsperstrip=4,
                     **extras)
    with tifffile.TiffFile(path) as tiff:
        assert tiff.pages[0].compression.name == {"zlib": "ADOBE_DEFLATE"}.get(compression, compression.upper())
    photo = read_photo(path)
    assert photo.bit_depth == 16 and photo.pixels.dtype == np.uint16
    np.testing.assert_array_equal(photo.pixels, samples[..., :3])
    if channels == 4:
        np.testing.assert_array_equal(photo.alpha, samples[..., 3])
    else:
        assert photo.alpha is None


@pytest.mark.parametrize("suffix", [".png", ".tif"])
@pytest.mark.parametrize("with_alpha", [False, True])
def test_16bit_write_read_round_trip(tmp_path, suffix, with_alpha):
    pixels, alpha = deep((6, 9, 3)), deep((6, 9)) if with_alpha else None
    path = tmp_path / f"out{suffix}"
    write_photo(path, pixels, alpha=alpha)
    photo = read_photo(path)
    assert photo.bit_depth == 16
    np.testing.assert_array_equal(photo.pixels, pixels)
    if with_alpha:
        np.testing.assert_array_equal(photo.alpha, alpha)
    else:
        assert photo.alpha is None
    # Independent readers: tifffile for TIFF; Pillow (high bytes) for the colour PNG.
    if suffix == ".tif":
        np.testing.assert_array_equal(tifffile.imread(path), pixels if alpha is None else np.dstack([pixels, alpha]))
    else:
        with Image.open(path) as image:
            assert image.mode == ("RGBA" if with_alpha else "RGB")
            high = (pixels if alpha is None else np.dstack([pixels, alpha])) >> 8
            np.testing.assert_array_equal(np.asarray(image), high)
        assert path.read_bytes()[24:26] == bytes([16, 6 if with_alpha else 2])  # bit depth, colour type


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_16bit_png_read_write_read_keeps_every_sample(tmp_path, channels):
    samples = deep((7, 10, channels))
    (tmp_path / "in.png").write_bytes(png16(samples, row_filter=F.ALL))
    first = read_photo(tmp_path / "in.png")
    write_photo(tmp_path / "out.png", first.pixels, alpha=first.alpha)
    second = read_photo(tmp_path / "out.png")
    assert first.bit_depth == second.bit_depth == 16 and second.pixels.dtype == np.uint16
    np.testing.assert_array_equal(second.pixels, first.pixels)
    np.testing.assert_array_equal(second.pixels, samples[..., :3] if channels >= 3 else np.repeat(samples[..., :1], 3, 2))
    if channels in (2, 4):
        np.testing.assert_array_equal(second.alpha, samples[..., -1])
    else:
        assert first.alpha is None and second.alpha is None


def test_16bit_png_writes_strided_views(tmp_path):
    pixels, alpha = deep((6, 9, 3)), deep((6, 9))
    view = np.rot90(pixels)[:, ::2]  # neither C-contiguous nor positive-strided
    write_photo(tmp_path / "view.png", view)
    np.testing.assert_array_equal(read_photo(tmp_path / "view.png").pixels, view)
    write_photo(tmp_path / "alpha.png", view, alpha=np.rot90(alpha)[:, ::2])
    np.testing.assert_array_equal(read_photo(tmp_path / "alpha.png").alpha, np.rot90(alpha)[:, ::2])


def test_16bit_png_output_is_standard_for_pillow_and_libpng(tmp_path):
    pixels = deep((7, 5, 3))
    write_photo(tmp_path / "out.png", pixels, icc_profile=ICC, exif=exif_bytes(3))
    data = (tmp_path / "out.png").read_bytes()
    with Image.open(io.BytesIO(data)) as image:
        assert image.mode == "RGB" and image.info["icc_profile"] == ICC and image.getexif()[0x0112] == 3
        image.load()  # every chunk's CRC and the pixel data check out for Pillow too
    np.testing.assert_array_equal(imagecodecs.png_decode(data), pixels)  # full depth, by libpng alone


def test_16bit_to_8bit_formats_rounds(tmp_path):
    pixels = (np.arange(12, dtype=np.uint16).reshape(2, 2, 3) * 257 * 20)
    pixels[0, 0] = (65535, 128, 129)  # 65535 -> 255; 128 / 257 = 0.498 -> 0; 129 / 257 = 0.502 -> 1
    write_photo(tmp_path / "out.bmp", pixels)
    photo = read_photo(tmp_path / "out.bmp")
    expected = (pixels // 257).astype(np.uint8)
    expected[0, 0] = (255, 0, 1)
    assert photo.bit_depth == 8
    np.testing.assert_array_equal(photo.pixels, expected)


# ---------------------------------------------------------------- orientation and metadata

@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_orientation_matches_pillow(tmp_path, orientation):
    path = tmp_path / "o.png"
    Image.fromarray(ASYMMETRIC).save(path, exif=exif_bytes(orientation))
    with Image.open(path) as image:
        expected = np.asarray(ImageOps.exif_transpose(image))
    np.testing.assert_array_equal(read_photo(path).pixels, expected)


@pytest.mark.parametrize("orientation, transform", [
    (3, lambda a: a[::-1, ::-1]),  # upside down
    (6, lambda a: np.stack([a[::-1, x] for x in range(a.shape[1])])),  # 90 degrees clockwise
    (8, lambda a: np.stack([a[:, x] for x in range(a.shape[1] - 1, -1, -1)])),  # 90 degrees counter-clockwise
])
def test_orientation_by_hand(tmp_path, orientation, transform):
    alpha = np.array([[1, 2, 3], [4, 5, 6]], np.uint8)
    path = tmp_path / "o.jpg"
    Image.fromarray(ASYMMETRIC).save(path, exif=exif_bytes(orientation), quality=100, subsampling=0)
    photo = read_photo(path)
    assert photo.pixels.shape == transform(ASYMMETRIC).shape and photo.pixels.flags.c_contiguous
    assert np.abs(photo.pixels.astype(int) - transform(ASYMMETRIC)).max() <= 3  # JPEG, quality 100
    assert f"EXIF orientation {orientation} applied" in photo.notes
    assert exif_tags(photo.exif) == {0x0112: 1, 0x010F: "TestCam"}
    png = tmp_path / "o.png"
    Image.fromarray(np.dstack([ASYMMETRIC, alpha])).save(png, exif=exif_bytes(orientation))
    photo = read_photo(png)
    np.testing.assert_array_equal(photo.pixels, transform(ASYMMETRIC))
    np.testing.assert_array_equal(photo.alpha, transform(alpha))


def test_written_exif_says_upright_and_reads_back_unrotated(tmp_path):
    source = tmp_path / "rotated.png"
    Image.fromarray(ASYMMETRIC).save(source, exif=exif_bytes(6))
    photo = read_photo(source)
    write_photo(tmp_path / "out.jpg", photo.pixels, exif=photo.exif)
    with Image.open(tmp_path / "out.jpg") as image:
        assert image.getexif()[0x0112] == 1 and image.getexif()[0x010F] == "TestCam"
    assert read_photo(tmp_path / "out.jpg").pixels.shape == (3, 2, 3)


@pytest.mark.parametrize("suffix, bits, keeps_exif", [
    (".png", 8, True), (".jpg", 8, True), (".webp", 8, True), (".tif", 8, False),
    (".png", 16, True), (".tif", 16, False),
])
def test_icc_and_exif_survive_read_write_read(tmp_path, suffix, bits, keeps_exif):
    source = tmp_path / f"source{suffix}"
    pixels = deep((4, 5, 3)) if bits == 16 else RNG.integers(0, 256, (4, 5, 3), dtype=np.uint8)
    write_photo(source, pixels, icc_profile=ICC, exif=exif_bytes(1, "Camera A"))
    first = read_photo(source)
    write_photo(tmp_path / f"copy{suffix}", first.pixels, icc_profile=first.icc_profile, exif=first.exif)
    second = read_photo(tmp_path / f"copy{suffix}")
    assert first.icc_profile == second.icc_profile == ICC
    assert second.bit_depth == bits
    if keeps_exif:
        assert exif_tags(second.exif) == {0x0112: 1, 0x010F: "Camera A"}
    if suffix in (".png", ".tif"):
        np.testing.assert_array_equal(second.pixels, pixels)


def test_alpha_round_trips_through_png_tiff_and_webp(tmp_path):
    pixels, alpha = RNG.integers(0, 256, (4, 6, 3), dtype=np.uint8), RNG.integers(0, 256, (4, 6), dtype=np.uint8)
    for suffix in (".png", ".tif", ".webp"):
        write_photo(tmp_path / f"a{suffix}", pixels, alpha=alpha)
        photo = read_photo(tmp_path / f"a{suffix}")
        np.testing.assert_array_equal(photo.alpha, alpha)
        if suffix != ".webp":
            np.testing.assert_array_equal(photo.pixels, pixels)


def test_one_by_one_images(tmp_path):
    Image.fromarray(np.array([[[1, 2, 3]]], np.uint8)).save(tmp_path / "one.png")
    Image.fromarray(np.array([[[200, 100, 50]]], np.uint8)).save(tmp_path / "one.jpg", quality=100)
    (tmp_path / "one16.png").write_bytes(png16(np.array([[[1, 65535, 258]]], np.uint16)))
    assert read_photo(tmp_path / "one.png").pixels.tolist() == [[[1, 2, 3]]]
    assert np.abs(read_photo(tmp_path / "one.jpg").pixels.astype(int) - [200, 100, 50]).max() <= 2
    assert read_photo(tmp_path / "one16.png").pixels.tolist() == [[[1, 65535, 258]]]
    write_photo(tmp_path / "out.png", np.array([[[7, 8, 9]]], np.uint16))
    assert read_photo(tmp_path / "out.png").pixels.tolist() == [[[7, 8, 9]]]


# ---------------------------------------------------------------- pixel limit and Pillow's bomb guard

def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims a size, then truncated pixel data."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 100))


def test_pixel_limit_is_checked_from_the_header(tmp_path):
    big = tmp_path / "x.png"
    big.write_bytes(png_header_only(12_000, 10_000))
    with pytest.raises(CeaError) as caught:
        read_photo(big)
    assert str(caught.value) == f"'{big}' has 120.0 MP, above the 100 MP limit (--max-pixels)"
    huge = tmp_path / "huge.png"
    huge.write_bytes(png_header_only(20_000, 10_000))  # over Pillow's error threshold too: still our message
    with pytest.raises(CeaError, match="200.0 MP, above the 100 MP limit"):
        read_photo(huge)
    with pytest.raises(CeaError, match="has 120.0 MP, above the 50 MP limit"):
        read_photo(big, max_pixels=50_000_000)


def test_48_megapixel_header_passes_the_limit_without_pillow_warnings(tmp_path):
    path = tmp_path / "48mp.png"
    path.write_bytes(png_header_only(8000, 6000))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(CeaError, match="damaged or truncated"):  # got past the limit to the pixels
            read_photo(path)


def test_truncated_files_fail_even_if_other_code_allows_them(tmp_path, monkeypatch):
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    Image.fromarray(RNG.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(tmp_path / "cut.png")
    with pytest.raises(CeaError, match="damaged or truncated"):
        read_photo(truncated(tmp_path / "cut.png"))
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True


def test_pillow_limit_is_bypassed_and_restored(tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 20)  # 10x10 = 100 pixels: Pillow alone would refuse
    pixels = RNG.integers(0, 256, (10, 10, 3), dtype=np.uint8)
    write_photo(tmp_path / "a.png", pixels)
    write_photo(tmp_path / "a.tif", pixels)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in ("a.png", "a.tif"):
            np.testing.assert_array_equal(read_photo(tmp_path / name).pixels, pixels)
    assert Image.MAX_IMAGE_PIXELS == 20
    with pytest.raises(CeaError, match="has 100 pixels, above the 99 pixels limit"):
        read_photo(tmp_path / "a.png", max_pixels=99)
    assert Image.MAX_IMAGE_PIXELS == 20 and DEFAULT_MAX_PIXELS == 100_000_000


def test_reading_keeps_about_one_copy(tmp_path):
    pixels = RNG.integers(0, 256, (500, 700, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "big.png", exif=exif_bytes(6), compress_level=1)
    tracemalloc.start()
    try:
        photo = read_photo(tmp_path / "big.png")
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert photo.pixels.shape == (700, 500, 3) and photo.pixels.flags.owndata
    assert current < 1.2 * pixels.nbytes and peak < 2.3 * pixels.nbytes


@pytest.mark.slow
def test_48_megapixel_photo_reads(tmp_path):
    pixels = np.zeros((6000, 8000, 3), np.uint8)
    pixels[::7, ::5] = 200
    Image.fromarray(pixels).save(tmp_path / "big.bmp")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tracemalloc.start()
        photo = read_photo(tmp_path / "big.bmp")
        current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    np.testing.assert_array_equal(photo.pixels, pixels)
    assert current < 1.1 * pixels.nbytes and peak < 2.2 * pixels.nbytes


# ---------------------------------------------------------------- errors: one line naming the file

def truncated(path: Path) -> Path:
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    return path


def bad_files(folder: Path) -> dict[str, tuple[Path, str]]:
    """name -> (file, expected message fragment)."""
    noisy = RNG.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    empty, text = folder / "empty.png", folder / "notes.png"
    empty.write_bytes(b"")
    text.write_text("not an image")
    Image.fromarray(noisy).save(folder / "cut.png")
    Image.fromarray(noisy).save(folder / "cut.jpg")
    Image.new("CMYK", (4, 4), (10, 20, 30, 40)).save(folder / "cmyk.jpg")
    Image.fromarray(np.zeros((4, 4), np.float32)).save(folder / "float.tif")
    Image.fromarray(np.full((4, 4), 1 << 20, np.int32)).save(folder / "int32.tif")
    deep_png = folder / "cut16.png"
    deep_png.write_bytes(png16(deep((8, 8, 3)))[:-40])
    bad_crc = bytearray(png16(deep((4, 4, 3))))
    bad_crc[50] ^= 0xFF  # inside the first IDAT's data
    (folder / "crc16.png").write_bytes(bytes(bad_crc))
    for compression in ("lzw", "zlib", "packbits"):
        tifffile.imwrite(folder / f"cut16-{compression}.tif", deep((16, 16, 3)), photometric="rgb",
                         compression=compression)
    return {
        "missing": (folder / "missing.png", "does not exist"),
        "folder": (folder, "is a folder"),
        "empty": (empty, "is empty (0 bytes)"),
        "text": (text, "is not an image file"),
        "truncated png": (truncated(folder / "cut.png"), "damaged or truncated"),
        "truncated jpeg": (truncated(folder / "cut.jpg"), "damaged or truncated"),
        "truncated 16-bit png": (deep_png, "damaged or truncated"),
        "bad crc 16-bit png": (folder / "crc16.png", "damaged or truncated"),
        **{f"truncated 16-bit {compression} tiff": (truncated(folder / f"cut16-{compression}.tif"), "damaged or truncated")
           for compression in ("lzw", "zlib", "packbits")},
        "cmyk": (folder / "cmyk.jpg", "is a CMYK image; convert it to RGB with a colour-managed tool"),
        "float": (folder / "float.tif", "has 32-bit floating-point samples"),
        "int32": (folder / "int32.tif", "has 32-bit integer samples"),
    }


def test_every_bad_file_gives_one_clear_line(tmp_path):
    for case, (path, expected) in bad_files(tmp_path).items():
        with pytest.raises(CeaError) as caught:
            read_photo(path)
        message = str(caught.value)
        assert expected in message and f"'{path}'" in message and "\n" not in message, (case, message)


def test_16bit_tiff_with_a_compression_no_decoder_handles(tmp_path):
    path = tmp_path / "odd.tif"
    tifffile.imwrite(path, deep((4, 4, 3)), photometric="rgb")
    with tifffile.TiffFile(path) as tiff:
        offset = tiff.pages[0].tags["Compression"].valueoffset
    data = bytearray(path.read_bytes())
    data[offset:offset + 2] = struct.pack("<H", 32809)  # ThunderScan: Pillow opens the header, nothing decodes it
    path.write_bytes(bytes(data))
    with pytest.raises(CeaError) as caught:
        read_photo(path)
    assert str(caught.value) == (f"'{path}' is a 16-bit TIFF with THUNDERSCAN compression, which cea-edge cannot decode; "
                                 "re-save it uncompressed or with LZW or ZIP compression")


def test_failed_writes_leave_nothing(tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    pixels, alpha = np.zeros((2, 2, 3), np.uint8), np.zeros((2, 2), np.uint8)
    for name in ("a.jpg", "a.jpeg", "a.bmp"):
        with pytest.raises(CeaError, match=f"cannot write '{out / name}': .* no alpha channel.*choose a .png"):
            write_photo(out / name, pixels, alpha=alpha)
    with pytest.raises(CeaError, match=r"cannot write '.*a\.gif': use one of"):
        write_photo(out / "a.gif", pixels)

    def disk_full(stream, *args, **kwargs):
        stream.write(b"\x89PNG half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(photo_io, "write_png16", disk_full)
    with pytest.raises(CeaError, match=f"cannot write '{out / 'deep.png'}': No space left on device"):
        write_photo(out / "deep.png", np.zeros((2, 2, 3), np.uint16))
    assert list(out.iterdir()) == []


def test_existing_output_needs_overwrite(tmp_path):
    target = tmp_path / "result.png"
    write_photo(target, np.zeros((2, 2, 3), np.uint8))
    before = target.read_bytes()
    with pytest.raises(CeaError, match=f"'{target}' exists; pass --overwrite to replace it"):
        write_photo(target, np.full((2, 2, 3), 9, np.uint8))
    assert target.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["result.png"]
    write_photo(target, np.full((2, 2, 3), 9, np.uint8), overwrite=True)
    assert read_photo(target).pixels.max() == 9
    with pytest.raises(CeaError, match="is a folder"):
        write_photo(tmp_path, np.zeros((2, 2, 3), np.uint8), overwrite=True)


def test_wrong_arrays_are_bugs_not_user_errors(tmp_path):
    with pytest.raises(ValueError):
        write_photo(tmp_path / "x.png", np.zeros((2, 2), np.uint8))
    with pytest.raises(ValueError):
        write_photo(tmp_path / "x.png", np.zeros((2, 2, 3), np.uint8), alpha=np.zeros((2, 2), np.uint16))
    with pytest.raises(TypeError):
        to_float(np.zeros(3, np.int32))


# ---------------------------------------------------------------- conversions and the 8-bit RGB interface

def test_float_round_trip_is_exact_for_every_value():
    for dtype, bits in ((np.uint8, 8), (np.uint16, 16)):
        values = np.arange(np.iinfo(dtype).max + 1, dtype=dtype)
        floats = to_float(values)
        assert floats.dtype == np.float32 and floats[0] == 0.0 and floats[-1] == 1.0
        np.testing.assert_array_equal(from_float(floats, bits), values)
        np.testing.assert_array_equal(from_float(floats.astype(np.float64), bits), values)


def test_from_float_clips_and_rounds():
    image = np.array([-1.0, 0.0, 0.49 / 255, 0.51 / 255, 1.0, 7.0, np.nan], np.float32)
    assert from_float(image, 8).tolist() == [0, 0, 0, 1, 255, 255, 0]
    assert from_float(image, 16).tolist() == [0, 0, 126, 131, 65535, 65535, 0]
    assert from_float(image, 8).dtype == np.uint8 and from_float(image, 16).dtype == np.uint16
    with pytest.raises(ValueError):
        from_float(image, 12)


def test_output_suffix_for():
    plain = Photo(np.zeros((1, 1, 3), np.uint8), None, 8, None, None, ())
    with_alpha = Photo(np.zeros((1, 1, 3), np.uint8), np.zeros((1, 1), np.uint8), 8, None, None, ())
    deep_photo = Photo(np.zeros((1, 1, 3), np.uint16), None, 16, None, None, ())
    assert [output_suffix_for(plain, s) for s in (".JPG", ".webp", ".gif", None)] == [".jpg", ".webp", ".png", ".png"]
    assert [output_suffix_for(with_alpha, s) for s in (".jpg", ".bmp", ".webp", ".tif")] == [".png", ".png", ".webp",
                                                                                           ".tif"]
    assert [output_suffix_for(deep_photo, s) for s in (".jpg", ".tiff", ".png")] == [".png", ".tiff", ".png"]


def test_read_rgb_and_write_rgb_keep_their_8bit_contract(tmp_path):
    pixels = RNG.integers(0, 256, (4, 6, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "rgb.png", exif=exif_bytes(8))
    image = read_rgb(tmp_path / "rgb.png")
    assert image.dtype == np.float32 and image.shape == (6, 4, 3)  # upright now
    np.testing.assert_array_equal(to_uint8(image), np.rot90(pixels))
    write_rgb(image, tmp_path / "back.png")
    np.testing.assert_array_equal(read_photo(tmp_path / "back.png").pixels, np.rot90(pixels))
    Image.fromarray(GRAY).save(tmp_path / "gray.png")
    Image.fromarray(np.dstack([COLOURS, GRAY])).save(tmp_path / "rgba.png")
    (tmp_path / "deep.png").write_bytes(png16(deep((2, 2, 3))))
    for name, expected in (("gray.png", "grayscale"), ("rgba.png", "alpha"), ("deep.png", "16-bit")):
        with pytest.raises(CeaError, match=expected):
            read_rgb(tmp_path / name)
    assert photo_io.READABLE_SUFFIXES == set(photo_io.WRITABLE_SUFFIXES)


# --- issue 12: nothing lost, nothing crashes ------------------------------------------


def test_exclusive_write_keeps_a_file_another_process_made_meanwhile(tmp_path, monkeypatch):
    """Without overwrite the final name is created exclusively: a file that appears while we
    encode (another process writing the same output) is kept, and this write refused."""
    target = tmp_path / "out.png"
    encoder = photo_io._encoder

    def racing_encoder(*args, **kwargs):
        write = encoder(*args, **kwargs)

        def write_while_another_process_publishes(stream):
            target.write_bytes(b"the other process's result")
            write(stream)

        return write_while_another_process_publishes

    monkeypatch.setattr(photo_io, "_encoder", racing_encoder)
    with pytest.raises(CeaError, match="exists; pass --overwrite"):
        write_photo(target, np.zeros((2, 2, 3), np.uint8))
    assert target.read_bytes() == b"the other process's result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]  # no temporary left behind
    write_photo(target, np.zeros((2, 2, 3), np.uint8), overwrite=True)  # asked for: replaced
    assert read_photo(target).pixels.shape == (2, 2, 3)


@pytest.mark.parametrize("case", ["folder", "fifo", "device", "through_a_file", "missing"])
def test_what_is_not_a_regular_file_is_named_for_what_it_is(tmp_path, case):
    path = {"folder": tmp_path / "dir.png", "fifo": tmp_path / "pipe.png", "device": Path("/dev/null"),
            "through_a_file": tmp_path / "file.png" / "x.png", "missing": tmp_path / "none.png"}[case]
    expected = {"folder": "is a folder", "fifo": "is a FIFO", "device": "is a device",
                "through_a_file": "part of its path is a file", "missing": "does not exist"}[case]
    if case == "folder":
        path.mkdir()
    elif case == "fifo":
        os.mkfifo(path)  # opening it would block: the check must only stat it
    elif case == "through_a_file":
        path.parent.write_bytes(b"x")
    for check in (read_photo, photo_io.peek_photo):
        with pytest.raises(CeaError, match=expected):
            check(path)


def test_float_rgb_tiff_is_named_as_such(tmp_path):
    tifffile.imwrite(tmp_path / "float.tif", np.zeros((4, 5, 3), np.float32), photometric="rgb")
    with pytest.raises(CeaError, match=r"32-bit floating-point samples \(3 per pixel\).*convert it to a 16-bit"):
        read_photo(tmp_path / "float.tif")


def test_animated_images_say_only_the_first_frame_is_restored(tmp_path):
    frames = [Image.fromarray(np.full((6, 7, 3), v, np.uint8)) for v in (10, 200, 90)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    frames[0].save(tmp_path / "anim.webp", save_all=True, append_images=frames[1:], lossless=True)
    for name in ("anim.gif", "anim.webp"):
        assert "3 frames in the file: only the first restored" in read_photo(tmp_path / name).notes
    frames[0].save(tmp_path / "still.gif")
    assert not any("frames" in note for note in read_photo(tmp_path / "still.gif").notes)


@pytest.mark.parametrize("case", ["suffix", "no_suffix", "missing_folder", "folder_is_file", "alpha_in_jpeg", "exists",
                                  "is_folder"])
def test_output_paths_are_checked_before_any_work(tmp_path, case):
    (tmp_path / "file").write_bytes(b"x")
    (tmp_path / "old.png").write_bytes(b"x")
    path, alpha = {"suffix": ("a.gif", False), "no_suffix": ("result", False), "missing_folder": ("no/a.png", False),
                   "folder_is_file": ("file/a.png", False), "alpha_in_jpeg": ("a.jpg", True), "exists": ("old.png", False),
                   "is_folder": (".", False)}[case]
    expected = {"suffix": r"use one of .*unknown image suffix '\.gif'", "no_suffix": "no image suffix",
                "missing_folder": "folder .* does not exist", "folder_is_file": "folder .* is a file",
                "alpha_in_jpeg": "no alpha channel", "exists": "pass --overwrite", "is_folder": "-o .* is a folder"}[case]
    with pytest.raises(CeaError, match=expected):
        photo_io.check_output(tmp_path / path, alpha=alpha)
    assert photo_io.check_output(tmp_path / "new.png", alpha=True) == "PNG"


def test_peek_photo_reads_the_header_only(tmp_path):
    Image.fromarray(np.zeros((30, 40, 4), np.uint8), "RGBA").save(tmp_path / "a.png")
    Image.fromarray(np.zeros((30, 40, 3), np.uint8)).save(tmp_path / "b.png")
    assert photo_io.peek_photo(tmp_path / "a.png") and not photo_io.peek_photo(tmp_path / "b.png")
    with pytest.raises(CeaError, match="limit"):
        photo_io.peek_photo(tmp_path / "b.png", max_pixels=100)
