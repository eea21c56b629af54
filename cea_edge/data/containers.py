"""Readers for the two resource containers that hold photos inside Debian packages.

- Qt resource files (``.rcc``, GCompris): header ``qres`` then big-endian version, tree, data and
  names offsets. The tree is an array of fixed-size nodes (14 bytes in version 1, 22 from version 2:
  a modification time is added); a directory node names its children by index, a file node points
  into the data block. Names are UTF-16BE. A file node with flag 1 holds zlib data after a 4-byte
  big-endian uncompressed size (Qt's qCompress layout).
- EET files (``.edj``, Enlightenment): magic ``0x1ee70f42``, directory and dictionary counts, then
  24-byte directory entries (offset, stored size, data size, name offset, name size, flags). An
  Edje background keeps its picture as plain JPEGs at several sizes.

Both readers take the container's bytes and return its entries; damage raises ContainerError.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

RCC_MAGIC = b"qres"
RCC_COMPRESSED = 0x01
RCC_DIRECTORY = 0x02
RCC_COMPRESSED_ZSTD = 0x04
EET_MAGIC = 0x1EE70F42
EET_COMPRESSED = 0x01
EET_CIPHERED = 0x02
EET_ALIAS = 0x04


class ContainerError(ValueError):
    """A container whose bytes do not follow its format (truncated, bad offsets, bad magic)."""


@dataclass(frozen=True)
class ContainerEntry:
    path: str  # the member's name inside the container ("images/x.jpg")
    data: bytes


def _unpack(fmt: str, data: bytes, offset: int) -> tuple:
    try:
        if offset < 0:
            raise struct.error("negative offset")
        return struct.unpack_from(fmt, data, offset)
    except struct.error:
        raise ContainerError(f"truncated at byte {offset}") from None


def _slice(data: bytes, offset: int, size: int) -> bytes:
    if offset < 0 or size < 0 or offset + size > len(data):
        raise ContainerError(f"{size} bytes at {offset} lie outside the file ({len(data)} bytes)")
    return data[offset:offset + size]


def read_rcc(data: bytes) -> list[ContainerEntry]:
    """Every file in a Qt ``.rcc`` resource, depth first, with its path and uncompressed bytes.

    zstd-compressed entries (Qt 6's flag 4) are skipped: Python's standard library cannot read them.
    """
    if data[:4] != RCC_MAGIC:
        raise ContainerError("not a Qt resource file (no 'qres' magic)")
    version, tree_offset, data_offset, names_offset = _unpack(">iiii", data, 4)
    if version not in (1, 2, 3):
        raise ContainerError(f"unknown Qt resource version {version}")
    node_size = 14 if version == 1 else 22

    def name_at(node: int) -> str:
        (name_offset,) = _unpack(">i", data, tree_offset + node * node_size)
        (length,) = _unpack(">H", data, names_offset + name_offset)
        raw = _slice(data, names_offset + name_offset + 6, 2 * length)  # skip the length and a 4-byte hash
        return raw.decode("utf-16-be", errors="replace")

    entries: list[ContainerEntry] = []
    pending = [(0, "")]  # (node index, parent path); node 0 is the unnamed root directory
    visited: set[int] = set()
    while pending:
        node, parent = pending.pop()
        if node in visited:
            raise ContainerError("the resource tree has a cycle")
        visited.add(node)
        (flags,) = _unpack(">H", data, tree_offset + node * node_size + 4)
        path = f"{parent}/{name_at(node)}".lstrip("/") if node else ""
        if flags & RCC_DIRECTORY:
            count, first = _unpack(">ii", data, tree_offset + node * node_size + 6)
            if count < 0 or first < 0 or (tree_offset + (first + count) * node_size) > len(data):
                raise ContainerError(f"directory '{path or '/'}' points outside the tree")
            pending.extend((child, path) for child in reversed(range(first, first + count)))
            continue
        (offset,) = _unpack(">i", data, tree_offset + node * node_size + 10)
        (size,) = _unpack(">i", data, data_offset + offset)
        payload = _slice(data, data_offset + offset + 4, size)
        if flags & RCC_COMPRESSED_ZSTD:
            continue
        if flags & RCC_COMPRESSED:
            try:
                payload = zlib.decompress(payload[4:])
            except zlib.error as error:
                raise ContainerError(f"'{path}': damaged zlib data ({error})") from None
        entries.append(ContainerEntry(path, payload))
    return entries


def read_eet(data: bytes) -> list[ContainerEntry]:
    """The entries of an EET file (``.edj``) stored as they are: neither compressed, ciphered nor aliases.

    Compressed entries hold Edje's own structures (and lossless image data), not photos, so they are
    not decoded.
    """
    magic, count, dictionary = _unpack(">iii", data, 0)
    if magic != EET_MAGIC:
        raise ContainerError("not an EET file (bad magic)")
    if count < 0 or dictionary < 0 or 12 + 24 * count > len(data):
        raise ContainerError(f"directory of {count} entries does not fit the file")
    entries = []
    for index in range(count):
        offset, size, data_size, name_offset, name_size, flags = _unpack(">6i", data, 12 + 24 * index)
        name = _slice(data, name_offset, name_size).split(b"\0", 1)[0].decode("utf-8", errors="replace")
        if flags & (EET_COMPRESSED | EET_CIPHERED | EET_ALIAS) or size != data_size:
            continue
        entries.append(ContainerEntry(name, _slice(data, offset, size)))
    return entries
