"""The report's charts: the Pareto chart (what to ship), the drop heatmap (family x configuration)
and latency against threads; matplotlib (Agg) at fixed pixel sizes (SIZES, heatmap_size). Each
function writes one PNG atomically (a temporary name, then replace) and returns its path. Pictures
of pixels (restorations, seams, differences) are in pictures.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from cea_edge.report.document import Row

DPI = 100
SIZES = {"pareto": (1200, 720), "threads": (1000, 520)}  # pixels (width, height); the heatmap: heatmap_size()
MARKERS = {"onnx": "o", "executorch": "s", "coreml": "^"}
COLOURS = {"fp32": "#1f77b4", "fp16": "#2ca02c", "int8": "#ff7f0e"}
SHADES = {"fp32": "Blues", "fp16": "Greens", "int8": "Oranges"}  # precision's hue; the tile picks the shade
FAMILY_ORDER = ("single", "spatial", "composite")
RING, BAR, BUDGET = "#d62728", "#333333", "#9467bd"  # recommended ring, quality bar, latency budget
LABEL_GID = "pareto-label"  # every placed label of the Pareto chart carries it (label_boxes finds them)


# ---- matplotlib plumbing ------------------------------------------------------------------------

def _wrap(title: str, width: int = 120) -> str:
    """Titles carry the machine line (CPU, ISA, runtimes): wrapped, never cut at the figure's edge."""
    import textwrap

    return "\n".join(textwrap.wrap(title, width)) or title


def _figure(name: str, size: tuple[int, int] | None = None) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    width, height = size or SIZES[name]
    return plt.figure(figsize=(width / DPI, height / DPI), dpi=DPI)


def _save(figure: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    temporary = path.with_name(f".{path.name}.partial.png")
    figure.savefig(temporary, dpi=DPI)  # no bbox_inches="tight": the pixel size stays SIZES'
    plt.close(figure)
    temporary.replace(path)
    return path


def _text_box(text: Any, renderer: Any) -> Any:
    """A text's box in pixels, padded by its white background (the bbox patch draws outside the glyphs)."""
    from matplotlib.text import Text

    return Text.get_window_extent(text, renderer).padded(3)  # Text's: an Annotation's adds its arrow


def label_boxes(figure: Any) -> list[Any]:
    """The pixel boxes (matplotlib Bbox) of the Pareto chart's labels, as drawn at DPI."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.text import Text

    # A saved figure is closed, and closing leaves it a canvas that cannot render: give it Agg's again.
    canvas = figure.canvas if isinstance(figure.canvas, FigureCanvasAgg) else FigureCanvasAgg(figure)
    renderer = canvas.get_renderer()
    texts = figure.findobj(lambda artist: isinstance(artist, Text) and artist.get_gid() == LABEL_GID)
    return [_text_box(text, renderer) for text in texts]


# ---- the Pareto chart ---------------------------------------------------------------------------

def _short(row: Row) -> str:
    label = f"{row.target} {row.precision} t{row.tile}" + (f"·{row.threads}" if row.threads is not None else "")
    return label + ("  (imported)" if row.source.startswith("imported") else "")


def _shade(precision: str, tile: int, tiles: Sequence[int]) -> Any:
    import matplotlib

    rank = sorted(tiles).index(tile) if tile in tiles else len(tiles) - 1
    return matplotlib.colormaps[SHADES.get(precision, "Greys")](0.45 + 0.5 * rank / max(1, len(tiles) - 1))


def _area(mb: float | None, largest: float) -> float:
    """Marker area (points²) proportional to the artifact's size; the size key uses the same scale."""
    return 25 + 300 * (mb or 0) / largest


def _size_key(sizes: Sequence[float]) -> list[float]:
    """Two or three reference sizes (MB) spanning the plotted ones; none when no size is known."""
    known = [size for size in sizes if size > 0]
    if not known:
        return []
    low, high = min(known), max(known)
    return sorted({round(low, 1), round((low + high) / 2, 1), round(high, 1)})


def _place_labels(axes: Any, items: Sequence[tuple[float, float, str]], placed: list[Any], avoid: list[Any]) -> None:
    """Greedy placement: for each (x, y, text), the first candidate offset around the point whose box
    overlaps no placed label, stays inside the axes and, if possible, covers no marker (``avoid``);
    rings further out get a leader line. ``placed`` grows with each label."""
    renderer = axes.figure.canvas.get_renderer()
    frame = axes.get_window_extent(renderer)
    directions = [(1, 1), (1, -1), (-1, 1), (-1, -1), (1, 0), (-1, 0), (0, 1), (0, -1)]
    rings = (7, 18, 32, 50, 72)  # points from the marker's centre
    candidates = [(ring * dx, ring * dy) for ring in rings for dx, dy in directions]
    for x, y, text in items:
        label = axes.annotate(text, (x, y), textcoords="offset points", xytext=(0, 0), fontsize=7.5, gid=LABEL_GID,
                              zorder=6, bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85},
                              arrowprops={"arrowstyle": "-", "color": "#444444", "lw": 0.6, "shrinkB": 4})

        def box_at(offset: tuple[float, float]) -> Any:
            label.xyann = offset
            label.set_ha("left" if offset[0] > 0 else "right" if offset[0] < 0 else "center")
            label.set_va("bottom" if offset[1] > 0 else "top" if offset[1] < 0 else "center")
            label.update_positions(renderer)
            return _text_box(label, renderer)

        def fits(box: Any, obstacles: list[Any]) -> bool:
            inside = frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1
            return inside and not any(box.overlaps(other) for other in obstacles)

        # First without covering markers, then allowing it: a crowded plot may leave no marker-free spot.
        chosen = next((offset for obstacles in (placed + avoid, placed) for offset in candidates
                       if fits(box_at(offset), obstacles)), None)
        if chosen is None:  # nowhere free: the least-overlapping spot of the outer ring, leader line drawn
            chosen = min(candidates[-8:], key=lambda o: sum(box_at(o).overlaps(other) for other in placed))
        box = box_at(chosen)
        # Next to its point a label needs no leader; further out, a thin line says whose it is.
        label.arrow_patch.set_visible(max(abs(chosen[0]), abs(chosen[1])) > rings[0])
        placed.append(box)


def pareto_chart(rows: Sequence[Row], front: Sequence[Row], path: Path, title: str, *,
                 recommended: dict[str, str] | None = None, drop_bar_db: float | None = 0.1,
                 budget_ms_per_mp: float | None = None, baseline: Sequence[Row] = ()) -> Path:
    """ms/MP (linear) against PSNR drop. Shape: target; hue: precision; shade: tile (light = smallest);
    hollow: one thread; area: artifact MB; bars: fastest..slowest end-to-end run. Recommended rows
    (key -> goal) get a ring and a label, front rows a label; baseline rows are grey, with an arrow
    to where the same key is now. Rows without ms/MP or drop are left out."""
    from matplotlib.transforms import Bbox

    recommended = recommended or {}
    figure = _figure("pareto")
    # Fixed margins, not tight_layout: labels are placed in pixels, so the axes must not move after.
    figure.subplots_adjust(left=0.07, right=0.77, top=0.93, bottom=0.09)
    axes = figure.add_subplot(1, 1, 1)
    points, old = _plotted(rows), _plotted(baseline)
    largest = max((row.artifact_mb or 0 for row in points), default=1) or 1
    tiles = sorted({row.tile for row in points})
    for row in points:
        _draw_point(axes, row, _shade(row.precision, row.tile, tiles), _area(row.artifact_mb, largest))
    now = {row.key: row for row in points}
    _draw_baseline(axes, old, now)
    chosen = [now[key] for key in recommended if key in now]
    for row in chosen:
        axes.scatter(row.ms_per_mp, row.psnr_drop_db, s=_area(row.artifact_mb, largest) + 260, marker="o",
                     facecolors="none", edgecolors=RING, linewidths=2.0, zorder=4, gid="recommended")
    on_front = sorted(_plotted(front), key=lambda row: (row.ms_per_mp, row.psnr_drop_db))
    if on_front:  # a staircase: from each front point, the best drop reachable at that speed or slower
        axes.step([row.ms_per_mp for row in on_front], [row.psnr_drop_db for row in on_front], where="post",
                  color="black", linewidth=1.0, linestyle=":", zorder=2)
    _set_limits(axes, points + old, drop_bar_db, budget_ms_per_mp)
    axes.set_xlabel("ms per megapixel, end to end (median; bars: fastest..slowest run)")
    axes.set_ylabel("PSNR drop from fp32 (dB; lower is better)")
    axes.set_title(_wrap(title), fontsize=10)
    axes.grid(True, alpha=0.3)

    # Labels last, once limits and margins are final: their boxes are measured in pixels.
    placed = _draw_limits(axes, drop_bar_db, budget_ms_per_mp)
    avoid = []
    for row in points:
        centre = axes.transData.transform((row.ms_per_mp, row.psnr_drop_db))
        radius = np.sqrt(_area(row.artifact_mb, largest)) / 2 * DPI / 72  # marker area in points² -> pixels
        avoid.append(Bbox.from_extents(*(centre - radius), *(centre + radius)))
    labelled = chosen + [row for row in on_front if row.key not in recommended]
    _place_labels(axes, [(row.ms_per_mp, row.psnr_drop_db, _short(row) + (f"\n★ {recommended[row.key]}"
                          if row.key in recommended else "")) for row in labelled], placed, avoid)
    _pareto_legend(axes, points, tiles, largest, chosen=bool(chosen), front=bool(on_front), baseline=bool(old))
    return _save(figure, path)


def _plotted(rows: Sequence[Row]) -> list[Row]:
    return [row for row in rows if row.ms_per_mp is not None and row.psnr_drop_db is not None]


def _draw_point(axes: Any, row: Row, colour: Any, area: float) -> None:
    if row.ms_per_mp_low is not None and row.ms_per_mp_high is not None:
        # max(0, ...): a row whose runs and median come from different files must not stop the report
        spread = [[max(0.0, row.ms_per_mp - row.ms_per_mp_low)], [max(0.0, row.ms_per_mp_high - row.ms_per_mp)]]
        axes.errorbar(row.ms_per_mp, row.psnr_drop_db, xerr=spread, fmt="none", ecolor=colour, elinewidth=0.9,
                      capsize=2, alpha=0.8, zorder=2, gid="spread")
    hollow, imported = row.threads == 1, row.source.startswith("imported")
    # Imported rows were timed on another machine: a black dashed edge keeps them apart at a glance.
    axes.scatter(row.ms_per_mp, row.psnr_drop_db, s=area, marker=MARKERS.get(row.target, "D"),
                 facecolors="white" if hollow else [colour], edgecolors="black" if imported else [colour],
                 linewidths=1.8 if hollow or imported else 0.6, linestyles="--" if imported else "-", zorder=3, gid=row.key)


def _draw_baseline(axes: Any, old: Sequence[Row], now: dict[str, Row]) -> None:
    for row in old:
        axes.scatter(row.ms_per_mp, row.psnr_drop_db, s=30, marker=MARKERS.get(row.target, "D"), c="#8c8c8c",
                     alpha=0.6, linewidths=0, zorder=1, gid="baseline")
        current = now.get(row.key)
        if current is not None and (row.ms_per_mp, row.psnr_drop_db) != (current.ms_per_mp, current.psnr_drop_db):
            axes.annotate("", xy=(current.ms_per_mp, current.psnr_drop_db), xytext=(row.ms_per_mp, row.psnr_drop_db),
                          zorder=1, gid="baseline-arrow",
                          arrowprops={"arrowstyle": "->", "color": "#8c8c8c", "lw": 0.8, "shrinkA": 2, "shrinkB": 5})


def _set_limits(axes: Any, rows: Sequence[Row], drop_bar_db: float | None, budget_ms_per_mp: float | None) -> None:
    """Room for every point's spread, the bar and the budget, and some headroom for labels."""
    xs = [r.ms_per_mp_low or r.ms_per_mp for r in rows] + [r.ms_per_mp_high or r.ms_per_mp for r in rows]
    ys = [r.psnr_drop_db for r in rows]
    xs += [budget_ms_per_mp] if budget_ms_per_mp is not None else []
    ys += [drop_bar_db] if drop_bar_db is not None else []
    xs, ys = xs or [0.0, 1.0], ys or [0.0, 0.1]
    x_span, y_span = (max(xs) - min(xs)) or 1.0, (max(ys) - min(ys)) or 0.1
    axes.set_xlim(min(xs) - 0.06 * x_span, max(xs) + 0.06 * x_span)
    axes.set_ylim(min(0.0, min(ys)) - 0.08 * y_span, max(ys) + 0.18 * y_span)


def _draw_limits(axes: Any, drop_bar_db: float | None, budget_ms_per_mp: float | None) -> list[Any]:
    """The quality bar (horizontal) and the latency budget (vertical), labelled; returns the labels' boxes."""
    renderer = axes.figure.canvas.get_renderer()
    boxes = []
    if drop_bar_db is not None:
        axes.axhline(drop_bar_db, color=BAR, linestyle="--", linewidth=1.1, gid="drop-bar", zorder=1)
        boxes.append(_text_box(axes.text(0.995, drop_bar_db, f" {drop_bar_db:g} dB bar ", ha="right", va="bottom",
                                         transform=axes.get_yaxis_transform(), fontsize=8, color=BAR, gid=LABEL_GID),
                               renderer))
    if budget_ms_per_mp is not None:
        axes.axvline(budget_ms_per_mp, color=BUDGET, linestyle="--", linewidth=1.1, gid="budget", zorder=1)
        boxes.append(_text_box(axes.text(budget_ms_per_mp, 0.99, f" budget {budget_ms_per_mp:g} ms/MP ", ha="right",
                                         va="top", rotation=90, transform=axes.get_xaxis_transform(), fontsize=8,
                                         color=BUDGET, gid=LABEL_GID), renderer))
    return boxes


def _pareto_legend(axes: Any, points: Sequence[Row], tiles: Sequence[int], largest: float, *, chosen: bool,
                   front: bool, baseline: bool) -> None:
    from matplotlib.lines import Line2D

    def entry(label: str, **style: Any) -> Any:
        return Line2D([], [], linestyle=style.pop("linestyle", ""), marker=style.pop("marker", "o"), label=label, **style)

    grey = "#555555"
    handles = [entry(t, marker=m, color=grey) for t, m in MARKERS.items() if any(r.target == t for r in points)]
    handles += [entry(p, color=_shade(p, tiles[len(tiles) // 2], tiles)) for p in COLOURS
                if any(r.precision == p for r in points)]
    handles += [entry(f"tile {t}", color=_shade("grey", t, tiles)) for t in tiles]
    handles += [entry("1 thread (hollow)", markerfacecolor="white", markeredgecolor=grey, markeredgewidth=1.8),
                entry("2+ threads (filled)", color=grey)]
    handles += [entry(f"{mb:g} MB", color="#bbbbbb", markersize=np.sqrt(_area(mb, largest)))
                for mb in _size_key([r.artifact_mb or 0 for r in points])]
    if chosen:
        handles.append(entry("recommended", markerfacecolor="none", markeredgecolor=RING, markeredgewidth=2.0,
                             markersize=14))
    if front:
        handles.append(entry("Pareto front", marker="", color="black", linestyle=":"))
    if baseline:
        handles.append(entry("baseline → now", color="#8c8c8c", alpha=0.6))
    if any(r.source.startswith("imported") for r in points):
        handles.append(entry("imported profile", markerfacecolor="white", markeredgecolor="black"))
    axes.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), labelspacing=0.9,
                title="shape: target · hue: precision\nshade: tile · area: artifact MB\nlabels: target precision "
                      "t<tile>·<threads>", title_fontsize=8, frameon=False)


# ---- quality and latency ------------------------------------------------------------------------

def heatmap_size(columns: int) -> tuple[int, int]:
    """Pixels of drop_heatmap for ``columns`` configurations: ~52 px a column, within 640..1600."""
    return int(np.clip(260 + 52 * columns, 640, 1600)), 460


def _drop_text(value: float, decimals: int) -> str:
    # + 0.0 turns the -0.0 of a rounded -4e-9 into 0.0: "+0.000", not "-0.000"
    return "n/a" if not np.isfinite(value) else f"{round(value, decimals) + 0.0:+.{decimals}f}"


def drop_heatmap(rows: Sequence[Row], reference: dict[str, float], path: Path, title: str) -> Path:
    """PSNR drop (reference[family] - the configuration's PSNR) per family (rows, then "average")
    and configuration (columns: one per measured cell; threads do not change quality), each square
    annotated; a diverging colormap centred on 0 (red: worse than fp32)."""
    target_rank = {t: i for i, t in enumerate(MARKERS)}
    precision_rank = {p: i for i, p in enumerate(COLOURS)}
    cells: dict[str, Row] = {}
    for row in rows:
        if row.source == "measured" and row.psnr_db is not None:
            cells.setdefault(row.cell, row)
    columns = sorted(cells.values(), key=lambda r: (target_rank.get(r.target, 99), precision_rank.get(r.precision, 99),
                                                    r.tile, r.cell))
    families = [*FAMILY_ORDER, "average"]
    drops = np.array([[reference.get(family, np.nan) - (row.psnr_db if family == "average"
                                                        else row.family_psnr_db.get(family, np.nan))
                       for row in columns] for family in families], dtype=float).reshape(len(families), len(columns))
    finite = drops[np.isfinite(drops)]
    limit = float(np.max(np.abs(finite))) if finite.size else 0.0
    limit = limit or 0.01  # all zero: any symmetric range centres the colours on white
    decimals = 3 if limit < 0.1 else 2  # drops of a few hundredths need the third decimal to differ

    figure = _figure("heatmap", heatmap_size(len(columns)))
    axes = figure.add_subplot(1, 1, 1)
    image = axes.imshow(np.ma.masked_invalid(drops), cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
    for (i, j), value in np.ndenumerate(drops):
        dark = np.isfinite(value) and abs(value) > 0.6 * limit  # white text on the saturated squares
        axes.text(j, i, _drop_text(value, decimals), ha="center", va="center", fontsize=7,
                  color="white" if dark else "black", gid="drop-value")
    axes.set_xticks(range(len(columns)), [f"{r.target} {r.precision} t{r.tile}" for r in columns], rotation=55,
                    ha="right", rotation_mode="anchor", fontsize=8)
    axes.set_yticks(range(len(families)), families, fontsize=9)
    axes.set_title(_wrap(title), fontsize=10)
    figure.colorbar(image, ax=axes, fraction=0.04, pad=0.02).set_label("PSNR drop from fp32 (dB)")
    figure.tight_layout()
    return _save(figure, path)


def threads_chart(rows: Sequence[Row], tile: int, path: Path, title: str) -> Path:
    """ms/MP against threads at ``tile``, a line per target and precision; bars: fastest..slowest run."""
    figure = _figure("threads")
    axes = figure.add_subplot(1, 1, 1)
    lines: dict[tuple[str, str, str], list[Row]] = {}
    for row in rows:
        if row.tile == tile and row.threads is not None and row.ms_per_mp is not None:
            lines.setdefault((row.target, row.precision, row.source), []).append(row)
    for (target, precision, source), members in sorted(lines.items()):
        members.sort(key=lambda r: r.threads)
        label = f"{target} {precision}" + ("" if source == "measured" else f" ({source})")
        x, y = [r.threads for r in members], [r.ms_per_mp for r in members]
        spread = [[max(0.0, r.ms_per_mp - (r.ms_per_mp_low if r.ms_per_mp_low is not None else r.ms_per_mp))
                   for r in members],
                  [max(0.0, (r.ms_per_mp_high if r.ms_per_mp_high is not None else r.ms_per_mp) - r.ms_per_mp)
                   for r in members]]
        axes.errorbar(x, y, yerr=spread, marker=MARKERS.get(target, "D"), color=COLOURS.get(precision, "#7f7f7f"),
                      linestyle="-" if target != "onnx" else "--", capsize=3, label=label)
    counts = sorted({row.threads for row in rows if row.threads is not None})
    if counts:
        axes.set_xticks(counts)
    axes.set_xlabel("threads")
    axes.set_ylabel("ms per megapixel, end to end (bars: fastest..slowest run)")
    axes.set_title(_wrap(title), fontsize=10)
    axes.grid(True, alpha=0.3)
    if lines:
        axes.legend(fontsize=8)
    figure.tight_layout()
    return _save(figure, path)
