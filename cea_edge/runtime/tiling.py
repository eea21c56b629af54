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


def _band_source(image: np.ndarray, plan: TilePlan, top: int, bottom: int) -> np.ndarray:
    """Rows [top, bottom) of the padded image, mirrored at the bottom/right like
    np.pad(mode='symmetric') -- which repeats as often as needed, and pads a 1-pixel side."""
    rows = np.arange(top, bottom)
    period = 2 * plan.height
    rows = np.where(rows % period < plan.height, rows % period, period - 1 - rows % period)
    band = image[rows[0]:rows[-1] + 1] if np.all(np.diff(rows) == 1) else image[rows]
    if plan.padded_width > plan.width:
        cols = np.arange(plan.padded_width) % (2 * plan.width)
        cols = np.where(cols < plan.width, cols, 2 * plan.width - 1 - cols)
        band = band[:, cols]
    return band


def sample_scale(dtype: np.dtype) -> float:
    """What maps stored samples onto [0, 1]: 255 for uint8, 65535 for uint16, 1 for floats."""
    return float(np.iinfo(dtype).max) if np.issubdtype(dtype, np.integer) else 1.0


def _store(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Float [0, 1] rows -> the output's sample type (rounded and clipped for integers)."""
    if not np.issubdtype(dtype, np.integer):
        return values
    scale = sample_scale(dtype)
    return (np.clip(values, 0.0, 1.0) * scale + 0.5).astype(dtype)


def tiled_apply(image: np.ndarray, run: TileRunner, tile: int, overlap: int, batch: int = 1,
                progress: Progress | None = None, out: np.ndarray | None = None) -> np.ndarray:
    """Run ``run`` over ``image`` tile by tile and blend; returns ``out``.

    image: (H, W, 3) uint8, uint16 or float32 (integers are read as [0, 1] in 255 or 65535
    steps). out: (H, W, 3) of any of those types, allocated as float32 when None; integer
    outputs are clipped to [0, 1] and rounded, float outputs are left unclamped.

    Streams one row of tiles at a time: only that row's float tiles and a float
    accumulator a tile high are held beside the image and the output, which is what lets
    a 48 MP photo run in bounded memory. The blend weight of a pixel is the outer product
    of per-axis sums (the plan is a product of row and column starts), so no weight plane
    is stored. Stateless otherwise: several threads may call it at once.
    """
    if image.ndim != 3 or image.shape[2] != 3:
        raise CeaError(f"expected an (H, W, 3) image, got shape {image.shape}")
    plan = plan_tiles(image.shape[0], image.shape[1], tile, overlap)
    if out is None:
        out = np.empty(image.shape, dtype=np.float32)
    elif out.shape != image.shape:
        raise CeaError(f"output shape {out.shape} does not match the image {image.shape}")
    ramp = edge_ramp(tile, overlap).astype(np.float32)
    window = np.outer(ramp, ramp)[..., None]
    row_weight = np.zeros(plan.padded_height, dtype=np.float32)
    for y in plan.ys:
        row_weight[y:y + tile] += ramp
    col_weight = np.zeros(plan.padded_width, dtype=np.float32)
    for x in plan.xs:
        col_weight[x:x + tile] += ramp
    inverse_weight = (1.0 / col_weight[:plan.width])[None, :, None]
    scale = np.float32(1.0 / sample_scale(image.dtype))

    accumulator = np.zeros((0, plan.padded_width, 3), dtype=np.float32)
    base = 0  # image row of accumulator[0]; rows above it are written to `out`
    done = 0
    for index, y in enumerate(plan.ys):
        source = _band_source(image, plan, y, y + tile)
        rows_needed = y + tile - base
        if rows_needed > len(accumulator):
            accumulator = np.concatenate(
                [accumulator, np.zeros((rows_needed - len(accumulator), plan.padded_width, 3), dtype=np.float32)])
        for first in range(0, len(plan.xs), batch):
            xs = plan.xs[first:first + batch]
            tiles = np.stack([source[:, x:x + tile].transpose(2, 0, 1) for x in xs]).astype(np.float32)
            if scale != 1.0:
                tiles *= scale
            results = run(np.ascontiguousarray(tiles))
            for x, result in zip(xs, results):
                accumulator[y - base:y - base + tile, x:x + tile] += result.transpose(1, 2, 0) * window
            done += len(xs)
            if progress is not None:
                progress(done, plan.count)
        # Rows no later tile touches are final: normalise, store, drop.
        final = plan.ys[index + 1] if index + 1 < len(plan.ys) else plan.padded_height
        final_in_image = min(final, plan.height)
        if final_in_image > base:
            rows = accumulator[:final_in_image - base, :plan.width]
            rows = rows * inverse_weight / row_weight[base:final_in_image, None, None]
            out[base:final_in_image] = _store(rows, out.dtype)
        accumulator = accumulator[final - base:]
        base = final
    return out


def _shrink_edges(size: int, target: int) -> np.ndarray:
    """Start index of each of ``target`` boxes that tile ``size`` pixels (area resampling)."""
    return np.floor(np.linspace(0, size, target + 1)).astype(int)


def context_image(image: np.ndarray, size: int) -> np.ndarray:
    """A (size, size, 3) float32 view of the whole (H, W, 3) image in [0, 1] for global context.

    A side longer than ``size`` is shrunk by box averaging (area resize: noise and rain
    streaks are averaged, not aliased); a shorter side is mirror-padded, never enlarged --
    the adapters read texture statistics at the photo's own scale, and upscaling measured
    worse (benchmarks/tiling_fidelity.py). An image of exactly size x size comes back
    unchanged, so its factors are those of the whole image. Works band by band: a 48 MP
    photo is never converted to float at once.
    """
    scale = np.float32(1.0 / sample_scale(image.dtype))
    height, width = image.shape[:2]
    out_h, out_w = min(height, size), min(width, size)
    col_edges = _shrink_edges(width, out_w)
    col_counts = np.diff(col_edges).astype(np.float32)[None, :, None]
    row_edges = _shrink_edges(height, out_h)
    shrunk = np.empty((out_h, out_w, 3), dtype=np.float32)
    for index in range(out_h):
        band = image[row_edges[index]:row_edges[index + 1]].astype(np.float32)
        row = band.sum(axis=0, keepdims=True) / np.float32(len(band))
        shrunk[index] = (np.add.reduceat(row, col_edges[:-1], axis=1) / col_counts)[0] * scale
    if out_h == size and out_w == size:
        return shrunk
    return np.pad(shrunk, ((0, size - out_h), (0, size - out_w), (0, 0)), mode="symmetric")
