"""The report's pictures of pixels, PIL canvases at 1:1: an fp32-vs-int8 difference pair, a crop
across tile seams of a 12 MP photo, and the before/after crops with routing maps. Each function
writes one PNG atomically (a temporary name, then replace) and returns its path."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from cea_edge.panels import row_picture

SEAM_COLOUR = (255, 0, 255)  # magenta: absent from photos, so a drawn seam cannot be mistaken for content


def largest_difference_window(reference: np.ndarray, other: np.ndarray, side: int) -> tuple[int, int]:
    """(top, left) of the side x side window with the most |other - reference|, on a grid of side/8."""
    difference = np.abs(other.astype(np.float32) - reference.astype(np.float32)).sum(axis=2)
    height, width = difference.shape
    side = min(side, height, width)
    # summed[y, x]: sum over [:y, :x], in float64: float32 loses the small differences of a 12 MP sum
    summed = np.pad(difference, ((1, 0), (1, 0))).cumsum(0, dtype=np.float64).cumsum(1)
    step = max(1, side // 8)
    tops = np.unique(np.r_[np.arange(0, height - side + 1, step), height - side])
    lefts = np.unique(np.r_[np.arange(0, width - side + 1, step), width - side])
    y, x = tops[:, None], lefts[None, :]
    totals = summed[y + side, x + side] - summed[y, x + side] - summed[y + side, x] + summed[y, x]
    i, j = np.unravel_index(int(np.argmax(totals)), totals.shape)
    return int(tops[i]), int(lefts[j])


def _nice_gain(wanted: float) -> float:
    """``wanted`` clipped to 1..200 and rounded down to 1, 2 or 5 x 10^k: a caption's factor reads at a
    glance, and rounding down keeps the bright end from saturating."""
    return float(max(m * 10**e for e in range(3) for m in (1, 2, 5) if m * 10**e <= np.clip(wanted, 1, 200)))


def difference_gain(difference: np.ndarray) -> float:
    """Amplification putting the 99.5th percentile of |Δ| (in [0, 1]) near half scale; 1 where there
    is no difference."""
    level = float(np.percentile(difference, 99.5)) or float(difference.max())  # sparse: the peak decides
    return _nice_gain(0.5 / level) if level > 0 else 1.0


def difference_caption(difference: np.ndarray, gain: float) -> str:
    if not difference.any():
        return "|Δ| = 0 at 8 bits: identical here (× 1)"
    return (f"|Δ| × {gain:g}, max |Δ| = {difference.max() * 255:.0f}/255, "
            f"mean {difference.mean() * 255:.2f}/255")


def difference_picture(reference: np.ndarray, other: np.ndarray, labels: tuple[str, str], path: Path, title: str, *,
                       side: int = 256, gain: float | None = None) -> Path:
    """Two restorations of one input, float32 (H, W, 3) in [0, 1]: the 1:1 window where they differ
    most, each, and |other - reference| (largest channel) amplified."""
    from cea_edge.photo_io import from_float

    if reference.shape != other.shape:
        raise ValueError(f"difference_picture needs two restorations of one input, got {reference.shape} and "
                         f"{other.shape}")
    top, left = largest_difference_window(reference, other, side)
    side = min(side, *reference.shape[:2])
    window = (slice(top, top + side), slice(left, left + side))
    first, second = np.clip(reference[window], 0, 1), np.clip(other[window], 0, 1)
    difference = np.abs(from_float(second, 8).astype(np.int16) - from_float(first, 8)).max(axis=2) / 255.0
    gain = difference_gain(difference) if gain is None else gain
    shown = from_float(np.repeat(np.clip(difference * gain, 0, 1)[..., None], 3, axis=2), 8)
    return row_picture([(labels[0], from_float(first, 8)), (labels[1], from_float(second, 8)),
                        (difference_caption(difference, gain), shown)],
                       f"{title} — window at x={left}, y={top}, {side}×{side} px, 1:1", path)


def seam_picture(crop: np.ndarray, seams_x: Sequence[int], seams_y: Sequence[int], path: Path, title: str) -> Path:
    """A 1:1 uint8 (h, w, 3) window of a restored photo across tile seams (crop coordinates: the
    first column/row of the next tile): the crop, the crop with the seams drawn, and the luminance
    gradient |∂x| + |∂y| amplified, where a step at a seam would stand out as a line."""
    height, width = crop.shape[:2]
    # A seam at 0 or beyond the crop is an edge, not a place where two tiles meet.
    seams_x, seams_y = [x for x in seams_x if 0 < x < width], [y for y in seams_y if 0 < y < height]
    luminance = crop.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    across_x = np.abs(np.diff(luminance, axis=1, prepend=luminance[:, :1]))  # column x: step from x-1 to x
    across_y = np.abs(np.diff(luminance, axis=0, prepend=luminance[:1]))
    gradient = across_x + across_y
    level = float(np.percentile(gradient, 99)) or float(gradient.max())  # flat crop: the step itself decides
    gain = _nice_gain(128 / level) if level > 0 else 1.0  # the 99th percentile at half scale: a seam's step brighter
    marked = crop.copy()
    for x in seams_x:
        marked[:, x] = SEAM_COLOUR
    for y in seams_y:
        marked[y, :] = SEAM_COLOUR
    # How much larger the step across the seams is than across any column/row: ~1 means no seam.
    ratios = [values[:, list(seams)].mean() / (values[:, 1:].mean() or 1.0)
              for values, seams in ((across_x, seams_x), (across_y.T, seams_y)) if len(seams)]
    ratio = f", seam/elsewhere step {np.mean(ratios):.2f}" if ratios else ""
    shown = np.repeat(np.clip(gradient * gain, 0, 255).astype(np.uint8)[..., None], 3, axis=2)
    return row_picture([("restored, 1:1", crop), ("tile seams (magenta)", marked),
                        (f"|∂x|+|∂y| of luminance × {gain:g}{ratio}", shown)], title, path)


def crops_picture(crops: list[dict[str, Any]], path: Path, title: str) -> Path:
    """Per family: degraded | restored | clean, then the routing maps (cea_edge.runtime.routing)."""
    from PIL import Image, ImageDraw

    from cea_edge.photo_io import from_float
    from cea_edge.runtime.routing import routing_grid

    side = 256
    panels = []
    for crop in crops:
        images = [from_float(np.clip(crop[k], 0, 1), 8) for k in ("degraded", "restored", "clean")]
        images = [np.asarray(Image.fromarray(image).resize((side, side), Image.Resampling.LANCZOS))
                  for image in images]
        maps = (routing_grid(crop["routing_maps"], crop["degraded"].shape[:2], crop["context_size"])
                if crop["routing_maps"] else None)
        if maps is not None:  # half size: the maps are for their patterns, and they compress poorly
            maps = maps[::2, ::2]
        panels.append((crop, images, maps))
    map_width = max((m.shape[1] for *_, m in panels if m is not None), default=0)
    width = 3 * (side + 8) + (map_width + 8 if map_width else 0) + 8
    row_height = max([side] + [m.shape[0] for *_, m in panels if m is not None]) + 28
    canvas = Image.new("RGB", (width, 30 + row_height * len(panels)), "white")
    draw = ImageDraw.Draw(canvas)
    draw.text((8, 8), title, fill="black")
    for index, (crop, images, maps) in enumerate(panels):
        top = 30 + index * row_height
        labels = [f"{crop['family']}: {crop['case']} (input)", "restored", "clean"]
        for column, (image, label) in enumerate(zip(images, labels)):
            left = 8 + column * (side + 8)
            draw.text((left, top), label, fill="black")
            canvas.paste(Image.fromarray(image), (left, top + 16))
        if maps is not None:
            left = 8 + 3 * (side + 8)
            draw.text((left, top), "routing maps (a row per adapter)", fill="black")
            canvas.paste(Image.fromarray(maps), (left, top + 16))
    temporary = path.with_name(f".{path.name}.partial.png")
    canvas.save(temporary)
    temporary.replace(path)
    return path
