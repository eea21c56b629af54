"""Tile plans and feathered blending: running a fixed-tile model over an image of any size.

An exported model takes one square tile shape. The plan covers the image with full-size
tiles that overlap by at least ``overlap`` pixels; the last tile of a row or column is
shifted inward rather than padded, so every tile the model sees is real image. Images (or
sides) smaller than a tile are reflect-padded up to it. Each tile's output is weighted by
a smooth window that falls towards the tile's edges and never reaches zero; dividing by
the summed weights makes the blend exact where tiles agree and seamless where they do not.

Pure numpy, no model code: the runtime imports this, never the training stack.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from cea_edge.errors import CeaError

# (N, 3, T, T) float32 tiles -> (N, 3, T, T) outputs
TileRunner = Callable[[np.ndarray], np.ndarray]
Progress = Callable[[int, int], None]  # (tiles done, tiles in all)


def axis_starts(size: int, tile: int, overlap: int) -> tuple[int, ...]:
    """Tile starts along one axis of ``size`` (>= tile) pixels: stride tile - overlap, the
    last start at size - tile so that the final tile ends at the border."""
    if size <= tile:
        return (0,)
    stride = tile - overlap
    starts = list(range(0, size - tile, stride))
    starts.append(size - tile)
    return tuple(starts)


@dataclass(frozen=True)
class TilePlan:
    height: int  # the image's size
    width: int
    tile: int
    overlap: int
    ys: tuple[int, ...]  # tile starts in the padded image (padded_height x padded_width)
    xs: tuple[int, ...]

    @property
    def padded_height(self) -> int:
        return max(self.height, self.tile)

    @property
    def padded_width(self) -> int:
        return max(self.width, self.tile)

    @property
    def count(self) -> int:
        return len(self.ys) * len(self.xs)

    def tiles(self) -> Iterator[tuple[int, int]]:
        """(y, x) of every tile, row by row."""
        for y in self.ys:
            for x in self.xs:
                yield y, x


def plan_tiles(height: int, width: int, tile: int, overlap: int) -> TilePlan:
    if height < 1 or width < 1:
        raise CeaError(f"cannot tile an image of {width}x{height} pixels")
    if tile < 1 or not 0 <= overlap < tile:
        raise CeaError(f"tile {tile} with overlap {overlap}: need tile >= 1 and 0 <= overlap < tile")
    return TilePlan(height, width, tile, overlap,
                    axis_starts(max(height, tile), tile, overlap), axis_starts(max(width, tile), tile, overlap))


def edge_ramp(tile: int, overlap: int) -> np.ndarray:
    """1-D weights: a raised-cosine rise over ``overlap`` pixels at both ends, 1 in between.

    Sampled at pixel centres, so the smallest weight (at the very edge) stays above zero:
    a pixel that only one tile covers is still defined.
    """
    ramp = np.ones(tile, dtype=np.float64)
    if overlap:
        distance = np.minimum(np.arange(tile), np.arange(tile)[::-1])  # pixels to the nearer edge
        rising = distance < overlap
        ramp[rising] = 0.5 - 0.5 * np.cos(math.pi * (distance[rising] + 0.5) / (overlap + 1))
    return ramp


def blend_window(tile: int, overlap: int) -> np.ndarray:
    """(tile, tile) weights: the outer product of the 1-D ramps."""
    ramp = edge_ramp(tile, overlap)
    return np.outer(ramp, ramp).astype(np.float32)


def pad_to_plan(image: np.ndarray, plan: TilePlan) -> np.ndarray:
    """(H, W, C) -> (padded_height, padded_width, C), mirrored at the bottom and right.

    'symmetric' mirroring repeats as often as needed, and also pads a 1-pixel side.
    """
    pad_h, pad_w = plan.padded_height - plan.height, plan.padded_width - plan.width
    if not pad_h and not pad_w:
        return image
    return np.pad(image, ((0, pad_h), (0, pad_w), (0, 0)), mode="symmetric")


def tiled_apply(image: np.ndarray, run: TileRunner, tile: int, overlap: int, batch: int = 1,
                progress: Progress | None = None) -> np.ndarray:
    """Run ``run`` over ``image`` (H, W, 3 float32) tile by tile and blend: (H, W, 3) float32.

    Holds the padded image, one output accumulator and one weight plane; stateless
    otherwise, so several threads may call it at once with their own images.
    """
    plan = plan_tiles(image.shape[0], image.shape[1], tile, overlap)
    source = pad_to_plan(np.asarray(image, dtype=np.float32), plan)
    window = blend_window(tile, overlap)
    output = np.zeros((plan.padded_height, plan.padded_width, source.shape[2]), dtype=np.float32)
    weight = np.zeros((plan.padded_height, plan.padded_width), dtype=np.float32)
    positions = list(plan.tiles())
    for first in range(0, len(positions), batch):
        group = positions[first:first + batch]
        tiles = np.stack([source[y:y + tile, x:x + tile].transpose(2, 0, 1) for y, x in group])
        results = run(np.ascontiguousarray(tiles, dtype=np.float32))
        for (y, x), result in zip(group, results):
            output[y:y + tile, x:x + tile] += result.transpose(1, 2, 0) * window[..., None]
            weight[y:y + tile, x:x + tile] += window
        if progress is not None:
            progress(first + len(group), len(positions))
    return (output / weight[..., None])[:plan.height, :plan.width]
