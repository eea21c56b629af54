"""The report's pictures (matplotlib, Agg): the Pareto chart, quality per family per precision,
latency against threads, and the before/after crops with routing maps. Each function writes one
PNG of a fixed pixel size (SIZES) and returns its path."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from cea_edge.report.document import Row

DPI = 100
SIZES = {"pareto": (1000, 650), "quality": (1000, 520), "threads": (1000, 520)}  # pixels (width, height)
MARKERS = {"onnx": "o", "executorch": "s", "coreml": "^"}
COLOURS = {"fp32": "#1f77b4", "fp16": "#2ca02c", "int8": "#ff7f0e"}
FAMILY_ORDER = ("single", "spatial", "composite")


def _figure(name: str) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    width, height = SIZES[name]
    return plt.figure(figsize=(width / DPI, height / DPI), dpi=DPI)


def _save(figure: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    temporary = path.with_name(f".{path.name}.partial.png")
    figure.savefig(temporary, dpi=DPI)
    plt.close(figure)
    temporary.replace(path)
    return path


def pareto_chart(rows: Sequence[Row], front: Sequence[Row], path: Path, title: str) -> Path:
    figure = _figure("pareto")
    axes = figure.add_subplot(1, 1, 1)
    points = [row for row in rows if row.ms_per_mp is not None and row.psnr_drop_db is not None]
    largest = max((row.artifact_mb or 0 for row in points), default=1) or 1
    for row in points:
        imported = row.source.startswith("imported")
        axes.scatter(row.ms_per_mp, row.psnr_drop_db, marker="D" if imported else MARKERS.get(row.target, "o"),
                     s=30 + 270 * (row.artifact_mb or 0) / largest, c=COLOURS.get(row.precision, "#7f7f7f"),
                     alpha=0.75, edgecolors="black" if imported else "none", linewidths=1.0)
    if front:
        axes.plot([row.ms_per_mp for row in front], [row.psnr_drop_db for row in front], color="black",
                  linewidth=1.2, linestyle="--", zorder=0, label="Pareto front")
        for row in front:
            axes.annotate(row.key, (row.ms_per_mp, row.psnr_drop_db), textcoords="offset points", xytext=(6, 6),
                          fontsize=8)
    axes.set_xscale("log")
    axes.set_xlabel("ms per megapixel, end to end, global-context mode (log)")
    axes.set_ylabel("PSNR drop from fp32 (dB, aio-synth; lower is better)")
    axes.set_title(title, fontsize=10)
    axes.grid(True, which="both", alpha=0.3)
    # Legend: shape = target, colour = precision, size = artifact MB.
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], marker=m, linestyle="", color="#555555", label=t) for t, m in MARKERS.items()
               if any(r.target == t for r in points)]
    if any(r.source.startswith("imported") for r in points):
        handles.append(Line2D([], [], marker="D", linestyle="", color="#555555", markeredgecolor="black",
                              label="imported profile"))
    handles += [Line2D([], [], marker="o", linestyle="", color=c, label=p) for p, c in COLOURS.items()
                if any(r.precision == p for r in points)]
    if front:
        handles.append(Line2D([], [], color="black", linestyle="--", label="Pareto front"))
    axes.legend(handles=handles, fontsize=8, loc="best", title="shape: target, colour: precision, size: MB",
                title_fontsize=8)
    figure.tight_layout()
    return _save(figure, path)


def quality_bars(rows: Sequence[Row], fp32: dict[str, dict[str, float]] | None, tile: int, path: Path) -> Path:
    """PSNR per family per precision at ``tile`` (mean over targets: their numbers differ by rounding)."""
    figure = _figure("quality")
    axes = figure.add_subplot(1, 1, 1)
    groups = [*FAMILY_ORDER, "average"]
    series: dict[str, list[float]] = {}
    if fp32:
        series["fp32 model (PyTorch)"] = [fp32.get(g, {}).get("psnr_db", np.nan) for g in groups]
    for precision in COLOURS:
        chosen = [r for r in rows if r.precision == precision and r.tile == tile and r.psnr_db is not None
                  and r.source == "measured"]
        if chosen:
            series[precision] = [float(np.mean([r.psnr_db if g == "average" else r.family_psnr_db.get(g, np.nan)
                                                for r in chosen])) for g in groups]
    width = 0.8 / max(1, len(series))
    for index, (label, values) in enumerate(series.items()):
        positions = np.arange(len(groups)) + (index - (len(series) - 1) / 2) * width
        bars = axes.bar(positions, values, width, label=label, color=COLOURS.get(label, "#9e9e9e"))
        axes.bar_label(bars, fmt="%.2f", fontsize=7, padding=2)
    finite = [v for values in series.values() for v in values if np.isfinite(v)]
    if finite:
        axes.set_ylim(min(finite) - 1.0, max(finite) + 0.8)
    axes.set_xticks(np.arange(len(groups)), groups)
    axes.set_ylabel("PSNR (dB)")
    axes.set_title(f"aio-synth quality per degradation family and precision, tile {tile}", fontsize=10)
    axes.legend(fontsize=8)
    axes.grid(True, axis="y", alpha=0.3)
    figure.tight_layout()
    return _save(figure, path)


def threads_chart(rows: Sequence[Row], tile: int, path: Path) -> Path:
    figure = _figure("threads")
    axes = figure.add_subplot(1, 1, 1)
    lines = {}
    for row in rows:
        if row.tile == tile and row.threads is not None and row.ms_per_mp is not None:
            lines.setdefault((row.target, row.precision, row.source), []).append((row.threads, row.ms_per_mp))
    for (target, precision, source), values in sorted(lines.items()):
        values.sort()
        label = f"{target} {precision}" + ("" if source == "measured" else f" ({source})")
        axes.plot([v[0] for v in values], [v[1] for v in values], marker=MARKERS.get(target, "D"),
                  color=COLOURS.get(precision, "#7f7f7f"), linestyle="-" if target != "onnx" else "--", label=label)
    counts = sorted({row.threads for row in rows if row.threads is not None})
    if counts:
        axes.set_xticks(counts)
    axes.set_xlabel("threads")
    axes.set_ylabel("ms per megapixel (end to end)")
    axes.set_title(f"latency against threads, tile {tile}", fontsize=10)
    axes.grid(True, alpha=0.3)
    if lines:
        axes.legend(fontsize=8)
    figure.tight_layout()
    return _save(figure, path)


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
