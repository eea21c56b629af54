"""Pictures of pixels at 1:1 on a white canvas: panels side by side under a title, one caption above
each (PIL). The report's difference/seam pictures and evaluate's before/after grid are drawn here;
the PNG is written with the project's output rules (cea_edge.atomic)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

PANEL_GAP, PANEL_TOP = 8, 64  # gap around panels, header height (2-line title + caption)
CAPTION_HEIGHT = 30  # a row of a grid: two lines of 10 px captions above its panels


def font(size: int) -> Any:
    """DejaVu Sans from matplotlib: PIL's default font has no Δ, × or ∂."""
    from matplotlib import font_manager
    from PIL import ImageFont

    return ImageFont.truetype(font_manager.findfont("DejaVu Sans"), size)


def panel_origin(index: int, panel_width: int) -> tuple[int, int]:
    """(left, top) in pixels of panel ``index`` on a canvas of equal-width panels (grid_canvas: its first row)."""
    return PANEL_GAP + index * (panel_width + PANEL_GAP), PANEL_TOP


def wrapped(text: str, face: Any, width: int) -> str:
    """``text`` in at most two lines no wider than ``width`` pixels, the rest cut with "…": a long
    caption must not run into the next panel."""
    words, lines = text.split(" "), [""]
    for word in words:
        trial = f"{lines[-1]} {word}".strip()
        if face.getlength(trial) <= width or not lines[-1]:
            lines[-1] = trial
        else:
            lines.append(word)
    if len(lines) > 2 or face.getlength(lines[-1]) > width:
        lines = lines[:2]
        while lines[1] and face.getlength(lines[1] + "…") > width:
            lines[1] = lines[1][:-1]
        lines[1] += "…"
    return "\n".join(lines)


def grid_canvas(rows: Sequence[Sequence[tuple[str, np.ndarray]]], title: str) -> Any:
    """Rows of (caption, uint8 (h, w, 3) image) panels at 1:1 under a title; every panel of the grid
    has the first one's size, the first row starts at PANEL_TOP (so panel_origin holds for it)."""
    from PIL import Image, ImageDraw

    height, width = rows[0][0][1].shape[:2]
    for row in rows:
        for caption, image in row:
            if image.shape[:2] != (height, width):
                raise ValueError(f"panel '{caption}' is {image.shape[1]}x{image.shape[0]}, the grid's {width}x{height}")
    columns = max(len(row) for row in rows)
    row_height = height + CAPTION_HEIGHT
    canvas = Image.new("RGB", (PANEL_GAP + columns * (width + PANEL_GAP),
                               PANEL_TOP + height + PANEL_GAP + (len(rows) - 1) * row_height), "white")
    draw = ImageDraw.Draw(canvas)
    heading, small = font(12), font(10)
    draw.multiline_text((PANEL_GAP, 3), wrapped(title, heading, canvas.width - 2 * PANEL_GAP), fill="black",
                        font=heading, spacing=2)
    for number, row in enumerate(rows):
        for index, (caption, image) in enumerate(row):
            left, top = panel_origin(index, width)
            top += number * row_height
            draw.multiline_text((left, top - 2), wrapped(caption, small, width), fill="black", font=small, anchor="ld",
                                spacing=2)
            canvas.paste(Image.fromarray(image), (left, top))
    return canvas


def save_png(canvas: Any, path: Path, *, replace: bool = True) -> Path:
    """Write ``canvas`` as a PNG atomically (without ``replace``: only where nothing is yet)."""
    from cea_edge.atomic import atomic_write

    return atomic_write(path, lambda stream: canvas.save(stream, format="PNG"), replace=replace)


def row_picture(panels: Sequence[tuple[str, np.ndarray]], title: str, path: Path) -> Path:
    """(caption, uint8 (h, w, 3) image) side by side at 1:1 under a title, written to ``path``."""
    return save_png(grid_canvas([panels], title), path)
