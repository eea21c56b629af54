"""A small PNG codec for what Pillow cannot do: read and write 16-bit colour samples.

Pillow opens 48/64-bit PNGs as 8-bit RGB/RGBA (dropping the low byte) and will not write
them. Reading covers every 16-bit colour type (gray, gray+alpha, RGB, RGBA), all five row
filters and Adam7 interlacing; writing uses filter 0 and adds iCCP/eXIf when given.
Metadata (ICC, EXIF, tRNS) is read by Pillow from the same file; this module only decodes
samples.
"""

from __future__ import annotations

import struct
import zlib
from typing import BinaryIO

import numpy as np
from numpy.lib.stride_tricks import as_strided

SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}  # colour type -> samples per pixel (palette is Pillow's job)
COLOUR_TYPES = {channels: colour for colour, channels in CHANNELS.items()}
# Adam7 passes: (first row, first column, row step, column step).
ADAM7 = ((0, 0, 8, 8), (0, 4, 8, 8), (4, 0, 8, 4), (0, 2, 4, 4), (2, 0, 4, 2), (0, 1, 2, 2), (1, 0, 2, 1))
IDAT_SIZE = 1 << 23


class PngError(ValueError):
    """The bytes are not a PNG this codec can decode; the caller names the file."""


def _chunks(data: bytes) -> list[tuple[bytes, memoryview]]:
    """(type, body) for every chunk up to IEND, with lengths and CRCs checked; bodies are not copied."""
    if not data.startswith(SIGNATURE):
        raise PngError("no PNG signature")
    chunks, position, view = [], len(SIGNATURE), memoryview(data)
    while True:
        if position + 8 > len(view):
            raise PngError("file ends before IEND")
        (length,), kind = struct.unpack(">I", view[position:position + 4]), bytes(view[position + 4:position + 8])
        end = position + 12 + length
        if end > len(view):
            raise PngError(f"file ends inside a {kind!r} chunk")
        body = view[position + 8:end - 4]
        if zlib.crc32(body, zlib.crc32(kind)) != struct.unpack(">I", view[end - 4:end])[0]:
            raise PngError(f"{kind!r} chunk has a bad CRC")
        chunks.append((kind, body))
        if kind == b"IEND":
            return chunks
        position = end


def unfilter(filtered: np.ndarray, bytes_per_pixel: int) -> np.ndarray:
    """Undo PNG row filters: filtered (H, 1 + W*bpp) uint8 rows, each led by its filter type.

    Returns (H, W*bpp) uint8. Sub, Average and Paeth depend on the pixel to the left and
    every filter but Sub on the row above, so pixels are rebuilt one anti-diagonal
    (row + column = const) at a time: a diagonal needs only the two before it, and numpy
    handles a whole diagonal at once (H + W steps instead of H * W).
    """
    height, row_bytes = filtered.shape[0], filtered.shape[1] - 1
    width, pixel = row_bytes // bytes_per_pixel, bytes_per_pixel
    kinds = filtered[:, 0].copy()
    if kinds.size and kinds.max() > 4:
        raise PngError(f"unknown row filter type {int(kinds.max())}")
    if not kinds.any():  # all rows unfiltered, as `encode` writes them
        return filtered[:, 1:].copy()
    filtered = np.ascontiguousarray(filtered)
    # Skewed storage: skewed[s, :, Y] holds the bytes of padded pixel (Y, X = s - Y), where the
    # padding is a zero row above and a zero column left of the image, so every neighbour
    # exists; a diagonal is then contiguous. source[t, :, y] views filtered pixel (y, t - y).
    skewed = np.zeros((height + width + 1, pixel, height + 1), np.uint8)
    in_row = row_bytes + 1
    source = as_strided(filtered.reshape(-1)[1:], (height + width - 1, pixel, height), (pixel, 1, in_row - pixel))
    uses_average, uses_paeth = bool((kinds == 3).any()), bool((kinds == 4).any())
    for diagonal in range(height + width - 1):
        first, last = max(0, diagonal - width + 1), min(height - 1, diagonal) + 1
        s = diagonal + 2  # its padded diagonal
        left, up = skewed[s - 1, :, first + 1:last + 1], skewed[s - 1, :, first:last]
        kind = kinds[None, first:last]
        prediction = np.where(kind == 1, left, 0) + np.where(kind == 2, up, 0)
        if uses_average:
            prediction += np.where(kind == 3, (left.astype(np.uint16) + up) >> 1, 0).astype(np.uint8)
        if uses_paeth:
            a, b, c = left.astype(np.int16), up.astype(np.int16), skewed[s - 2, :, first:last].astype(np.int16)
            to_a, to_b, to_c = np.abs(b - c), np.abs(a - c), np.abs(a + b - 2 * c)
            paeth = np.where((to_a <= to_b) & (to_a <= to_c), a, np.where(to_b <= to_c, b, c))
            prediction += np.where(kind == 4, paeth, 0).astype(np.uint8)
        skewed[s, :, first + 1:last + 1] = source[diagonal, :, first:last] + prediction
    diagonal_stride = pixel * (height + 1)  # unskew: pixel (y, x) sits at skewed[y + x + 2, :, y + 1]
    image = as_strided(skewed.reshape(-1)[2 * diagonal_stride + 1:], (height, width, pixel),
                       (diagonal_stride + 1, diagonal_stride, height + 1))
    return np.ascontiguousarray(image).reshape(height, width * pixel)


def decode(data: bytes, max_pixels: int | None = None) -> np.ndarray:
    """Samples of a gray/RGB(+alpha) PNG as (H, W, C) uint16 (16-bit) or uint8 (8-bit).

    Raises PngError for damaged data and for palette or sub-byte files (Pillow reads those).
    """
    chunks = _chunks(data)
    if chunks[0][0] != b"IHDR" or len(chunks[0][1]) != 13:
        raise PngError("first chunk is not IHDR")
    width, height, depth, colour, compression, filtering, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    if colour not in CHANNELS or depth not in (8, 16) or compression or filtering or interlace > 1:
        raise PngError(f"unsupported PNG layout (colour type {colour}, bit depth {depth})")
    if width == 0 or height == 0 or (max_pixels is not None and width * height > max_pixels):
        raise PngError(f"bad or too large size {width}x{height}")
    channels, sample_bytes = CHANNELS[colour], depth // 8
    bpp = channels * sample_bytes
    passes = ADAM7 if interlace else ((0, 0, 1, 1),)
    shapes = [(-(-(height - y0) // dy), -(-(width - x0) // dx)) for y0, x0, dy, dx in passes]
    expected = sum(h * (1 + w * bpp) for h, w in shapes if h and w)
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"), expected + 1)
    except zlib.error as error:
        raise PngError(f"pixel data does not decompress ({error})") from None
    if len(raw) != expected:
        raise PngError(f"pixel data has {len(raw)} bytes, expected {expected}")
    stream = np.frombuffer(raw, np.uint8)
    dtype = np.dtype(">u2") if depth == 16 else np.dtype(np.uint8)
    if not interlace:
        rows = unfilter(stream.reshape(height, 1 + width * bpp), bpp)
        return rows.view(dtype).reshape(height, width, channels).astype(dtype.newbyteorder("="))
    image = np.empty((height, width, channels), dtype.newbyteorder("="))
    start = 0
    for (y0, x0, dy, dx), (h, w) in zip(passes, shapes):
        if h and w:
            size = h * (1 + w * bpp)
            rows = unfilter(stream[start:start + size].reshape(h, 1 + w * bpp), bpp)
            image[y0::dy, x0::dx] = rows.view(dtype).reshape(h, w, channels)
            start += size
    return image


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def encode(stream: BinaryIO, samples: np.ndarray, *, icc_profile: bytes | None = None,
           exif: bytes | None = None, level: int = 6) -> None:
    """Write (H, W, C) uint16 or uint8 samples, C in 1..4 (gray, gray+alpha, RGB, RGBA), as PNG.

    Rows use filter 0 (none): simple and standard; any PNG reader decodes them.
    """
    if samples.ndim != 3 or samples.shape[2] not in COLOUR_TYPES or samples.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"cannot encode samples of shape {samples.shape} and type {samples.dtype}")
    height, width, channels = samples.shape
    depth = 8 * samples.dtype.itemsize
    rows = np.zeros((height, 1 + width * channels * samples.dtype.itemsize), np.uint8)
    rows[:, 1:].view(samples.dtype.newbyteorder(">"))[...] = samples.reshape(height, -1)  # PNG is big-endian
    stream.write(SIGNATURE + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth,
                                                         COLOUR_TYPES[channels], 0, 0, 0)))
    if icc_profile:
        stream.write(_chunk(b"iCCP", b"ICC Profile\x00\x00" + zlib.compress(icc_profile)))
    if exif:
        stream.write(_chunk(b"eXIf", exif[6:] if exif.startswith(b"Exif\x00\x00") else exif))
    compressed = zlib.compress(rows.data, level)
    del rows
    for start in range(0, len(compressed), IDAT_SIZE):
        stream.write(_chunk(b"IDAT", compressed[start:start + IDAT_SIZE]))
    stream.write(_chunk(b"IEND", b""))
