"""Routing maps as a picture: the paper's "transparent routing", one row per adapter.

Each adapter routes every pixel token with r signed coefficients (LN(x) . U^T); the
context graph returns them for the photo's context image. A row shows an adapter's r maps
side by side on a diverging scale (blue negative, white zero, red positive), each map
scaled by its own largest magnitude so that weak and strong components are both legible.
"""

from __future__ import annotations

import numpy as np

CELL = 128  # pixels per map side in the grid
GAP = 4  # white pixels between maps


def diverging(values: np.ndarray) -> np.ndarray:
    """(h, w) signed values in [-1, 1] -> (h, w, 3) uint8, blue - white - red."""
    v = np.clip(values, -1.0, 1.0)[..., None]
    white = np.ones(3, dtype=np.float32)
    red, blue = np.array([0.80, 0.12, 0.10], np.float32), np.array([0.10, 0.25, 0.75], np.float32)
    rgb = np.where(v >= 0, white + v * (red - white), white - v * (blue - white))
    return (rgb * 255.0 + 0.5).astype(np.uint8)


def _resize_nearest(image: np.ndarray, height: int, width: int) -> np.ndarray:
    rows = np.arange(height) * image.shape[0] // height
    cols = np.arange(width) * image.shape[1] // width
    return image[rows][:, cols]


def routing_grid(routing_maps: list[np.ndarray], photo_size: tuple[int, int] | None = None,
                 context_size: int | None = None) -> np.ndarray:
    """Per-adapter maps (1, r, h, w) -> one uint8 RGB grid: a row per adapter, a map per column.

    photo_size (H, W) and context_size: the maps are of the context image, where a photo
    side shorter than the context was mirror-padded; that padding is cropped off and each
    map is shown at the photo's aspect ratio (long side CELL pixels).
    """
    if not routing_maps:
        raise ValueError("no routing maps")
    keep, (cell_h, cell_w) = (1.0, 1.0), (CELL, CELL)
    if photo_size is not None and context_size:
        height, width = photo_size
        keep = (min(height, context_size) / context_size, min(width, context_size) / context_size)
        scale = CELL / max(height, width)
        cell_h, cell_w = max(1, round(height * scale)), max(1, round(width * scale))
    rank = max(m.shape[1] for m in routing_maps)
    grid = np.full((len(routing_maps) * (cell_h + GAP) - GAP, rank * (cell_w + GAP) - GAP, 3), 255, dtype=np.uint8)
    for row, maps in enumerate(routing_maps):
        rows, cols = max(1, round(maps.shape[2] * keep[0])), max(1, round(maps.shape[3] * keep[1]))
        for col in range(maps.shape[1]):
            values = maps[0, col, :rows, :cols].astype(np.float32)
            peak = float(np.abs(values).max()) or 1.0
            y, x = row * (cell_h + GAP), col * (cell_w + GAP)
            grid[y:y + cell_h, x:x + cell_w] = diverging(_resize_nearest(values / peak, cell_h, cell_w))
    return grid
