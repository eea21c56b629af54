"""EXIF orientation for photo I/O: read it, apply it to the pixels, and mark the EXIF upright.

Split from photo_io.py so that module stays about reading, checking and writing files.
"""

from __future__ import annotations

import struct

import numpy as np
from PIL import Image

EXIF_PREFIX = b"Exif\x00\x00"
ORIENTATION = 0x0112


def upright_exif(exif: bytes) -> bytes:
    """EXIF with IFD0's Orientation set to 1 (SHORT), patched in place so every other byte is kept."""
    data = bytearray(exif if exif.startswith(EXIF_PREFIX) else EXIF_PREFIX + exif)
    order = {b"II": "<", b"MM": ">"}.get(bytes(data[6:8]))
    if order is None:
        return bytes(data)
    try:
        ifd = 6 + struct.unpack_from(order + "I", data, 10)[0]
        for entry in range(ifd + 2, ifd + 2 + 12 * struct.unpack_from(order + "H", data, ifd)[0], 12):
            tag = struct.unpack_from(order + "H", data, entry)[0]
            if tag == ORIENTATION:
                # Whatever type the file used (SHORT, LONG, BYTE, a rational ...: readers accept them all),
                # make it the standard SHORT count 1 with value 1, stored in the entry itself.
                struct.pack_into(order + "HIHH", data, entry + 2, 3, 1, 1, 0)
    except struct.error:
        pass  # a damaged IFD: keep the bytes as they are
    return bytes(data)


def upright(array: np.ndarray, orientation: int) -> np.ndarray:
    """Apply EXIF orientation 1-8 (the transforms of PIL.ImageOps.exif_transpose) to (H, W, ...)."""
    transforms = {2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
                  5: lambda a: a.swapaxes(0, 1), 6: lambda a: np.rot90(a, -1),
                  7: lambda a: np.rot90(a, 2).swapaxes(0, 1), 8: lambda a: np.rot90(a, 1)}
    return transforms[orientation](array) if orientation in transforms else array


def exif_of(image: Image.Image) -> tuple[int, bytes | None]:
    """EXIF orientation (1 when absent or unreadable) and the EXIF bytes to carry, made upright."""
    try:
        orientation = int(image.getexif().get(ORIENTATION, 1))
    except Exception:  # noqa: BLE001 -- a broken EXIF block must not stop the photo from being read
        orientation = 1
    raw = image.info.get("exif")
    return orientation, upright_exif(raw) if isinstance(raw, bytes) and raw else None
