"""16-bit samples, which Pillow silently cuts to 8 bits: libpng (through imagecodecs) for PNG,
tifffile (imagecodecs for LZW, deflate and PackBits) for TIFF. Split from photo_io.py, which
reads every header and all 8-bit samples with Pillow."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import BinaryIO

import imagecodecs
import numpy as np
import tifffile

from cea_edge.errors import CeaError
from cea_edge.photo_exif import EXIF_PREFIX

PNG_HEADER_END = 33  # signature (8) + IHDR chunk (25), which a PNG always starts with


def tiff16_samples(path: Path, name: str) -> np.ndarray:
    """(H, W, C) uint16 samples of a 16-bit TIFF (gray or RGB, optional unassociated alpha)."""
    with tifffile.TiffFile(path) as tiff:
        page = tiff.pages[0]
        compression = page.compression
        if compression != 1 and compression not in tifffile.TIFF.DECOMPRESSORS:
            kind = getattr(compression, "name", compression)
            raise CeaError(f"{name} is a 16-bit TIFF with {kind} compression, which cea-edge cannot decode; "
                           "re-save it uncompressed or with LZW or ZIP compression")
        if page.photometric not in (1, 2) or page.dtype != np.uint16 or 1 in tuple(page.extrasamples):
            raise CeaError(f"{name} is a 16-bit TIFF layout cea-edge cannot read (photometric "
                           f"{page.photometric.name}, extra samples {tuple(page.extrasamples)}); save it as 16-bit RGB")
        samples = page.asarray()
        if page.planarconfig == 2 and samples.ndim == 3:  # separate planes: (C, H, W)
            samples = np.moveaxis(samples, 0, -1)
        samples = samples[..., None] if samples.ndim == 2 else samples
        if samples.shape[2] == 4 and tuple(page.extrasamples) == (0,):
            samples = samples[..., :3]  # an unspecified extra sample is not alpha
    if samples.ndim != 3 or samples.shape[2] > 4:
        raise CeaError(f"{name} is a 16-bit TIFF with {samples.shape[-1]} samples per pixel; save it as 16-bit RGB")
    return samples


def png16_samples(data: bytes, has_key: bool) -> np.ndarray:
    """(H, W, C) samples of a 16-bit PNG, C in 1..4 (gray, gray+alpha, RGB, RGBA), by libpng."""
    samples = imagecodecs.png_decode(data)
    samples = samples[..., None] if samples.ndim == 2 else samples
    if has_key and data[25] in (0, 2) and samples.shape[2] in (2, 4):  # IHDR colour type gray or RGB
        # libpng turned the tRNS colour key into an alpha channel; drop it so `_split` builds
        # alpha from the key exactly as for 8-bit files (same rule, same note).
        samples = samples[..., :-1]
    return samples


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def write_png16(stream: BinaryIO, samples: np.ndarray, icc_profile: bytes | None, exif: bytes | None) -> None:
    """(H, W, 3 or 4) uint16 samples as a 16-bit PNG (Pillow cannot write one), ICC and EXIF included.

    imagecodecs writes no metadata, so iCCP and eXIf go in right after IHDR, where the PNG spec
    wants them (before any IDAT).
    """
    png = memoryview(imagecodecs.png_encode(np.ascontiguousarray(samples)))  # it refuses strided views
    stream.write(png[:PNG_HEADER_END])
    if icc_profile:
        stream.write(_png_chunk(b"iCCP", b"ICC Profile\x00\x00" + zlib.compress(icc_profile)))
    if exif:
        stream.write(_png_chunk(b"eXIf", exif[len(EXIF_PREFIX):] if exif.startswith(EXIF_PREFIX) else exif))
    stream.write(png[PNG_HEADER_END:])
