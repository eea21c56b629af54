"""The report's pictures on tiny synthetic inputs: the Pareto chart (labels that never overlap, the
bar and budget where they belong, recommended rows ringed, threads and tile told apart, the
baseline overlaid), the drop heatmap's numbers, the fp32-vs-int8 difference window and gain, and
the seam picture's lines."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib.colors import to_rgba
from PIL import Image

from cea_edge import panels
from cea_edge.report import pictures, plots
from cea_edge.report.document import Row

DROPS = {("fp32", 128): 0.026, ("fp32", 256): 0.015, ("fp32", 512): 0.0, ("fp16", 128): 0.027,
         ("fp16", 256): 0.016, ("fp16", 512): 0.0006, ("int8", 128): 0.066, ("int8", 256): 0.063, ("int8", 512): 0.050}
MB = {"fp32": 6.8, "fp16": 3.5, "int8": 1.5}


def config(target: str, precision: str, tile: int, threads: int, ms: float | None, **extra: Any) -> Row:
    drop = extra.pop("drop", DROPS[precision, tile])
    return Row(key=f"{target}-{precision}-t{tile}-{threads}thr", cell=f"{target}-{precision}-t{tile}", target=target,
               precision=precision, tile=tile, threads=threads, source=extra.pop("source", "measured"),
               artifact_mb=MB[precision], psnr_db=22.6 - drop, psnr_drop_db=drop, ms_per_mp=ms,
               ms_per_mp_low=None if ms is None else ms * 0.95, ms_per_mp_high=None if ms is None else ms * 1.08,
               **extra)


def crowded_rows() -> list[Row]:
    """36 rows shaped like reports/tradeoff (2 targets x 3 precisions x 3 tiles x 1/2 threads, drops
    0..0.07 dB, 460..1950 ms/MP), with a tie on the front: onnx fp16 and fp32 t256 at 2 threads
    share one point."""
    rng = np.random.default_rng(7)
    fixed = {"onnx-fp16-t256-2thr": (560.0, 0.015), "onnx-fp32-t256-2thr": (560.0, 0.015),
             "executorch-int8-t512-2thr": (466.0, 0.054), "executorch-fp32-t512-2thr": (661.0, 0.0)}
    rows = []
    for target, precision, tile, threads in itertools.product(("onnx", "executorch"), ("fp32", "fp16", "int8"),
                                                              (128, 256, 512), (1, 2)):
        ms = float(rng.uniform(600, 1950)) / (1.3 if threads == 2 else 1.0)
        ms, drop = fixed.get(f"{target}-{precision}-t{tile}-{threads}thr", (ms, DROPS[precision, tile]))
        rows.append(config(target, precision, tile, threads, ms, drop=drop))
    return rows + [Row(key="coreml-int8-t256", cell="coreml-int8-t256", target="coreml", precision="int8", tile=256,
                       threads=None, source="not measured here", artifact_mb=2.6)]


def front_of(rows: list[Row]) -> list[Row]:
    """Non-dominated rows (ties kept), by speed: what cea_edge.report.pareto computes, kept local."""
    points = [r for r in rows if r.ms_per_mp is not None and r.psnr_drop_db is not None]
    return sorted((r for r in points if not any(o.ms_per_mp <= r.ms_per_mp and o.psnr_drop_db <= r.psnr_drop_db and
                                                (o.ms_per_mp, o.psnr_drop_db) != (r.ms_per_mp, r.psnr_drop_db)
                                                for o in points)), key=lambda r: r.ms_per_mp)


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The figures the charts save (still written to disk): their artists are what the tests read."""
    figures: list[Any] = []
    save = plots._save

    def keep(figure: Any, path: Path) -> Path:
        figures.append(figure)
        return save(figure, path)

    monkeypatch.setattr(plots, "_save", keep)
    return figures


def crowded_chart(tmp_path: Path, drawn: list[Any], **options: Any) -> tuple[Path, Any, list[Row]]:
    rows = crowded_rows()
    recommended = {"executorch-int8-t512-2thr": "fastest ≤0.1 dB", "executorch-fp32-t512-2thr": "best ≤1000 ms/MP",
                   "onnx-int8-t128-1thr": "a slow pick, for a label off the front"}
    baseline = [config(r.target, r.precision, r.tile, r.threads, r.ms_per_mp * 1.2, drop=r.psnr_drop_db) for r in rows[:10]]
    path = plots.pareto_chart(rows, front_of(rows), tmp_path / "pareto.png", "edge2.pt on AMD EPYC (M1)",
                              **({"recommended": recommended, "budget_ms_per_mp": 1000.0, "baseline": baseline}
                                 | options))
    return path, drawn[-1], rows


# ---- the Pareto chart ---------------------------------------------------------------------------

def test_pareto_labels_never_overlap_and_stay_inside_the_figure(tmp_path, drawn):
    path, figure, rows = crowded_chart(tmp_path, drawn)
    front = front_of(rows)
    assert len({(r.ms_per_mp, r.psnr_drop_db) for r in front}) < len(front)  # the tie is on the front
    boxes = plots.label_boxes(figure)
    # one per front row and recommended row (the two sets share two rows), the bar's and the budget's
    labelled = {r.key for r in front} | {"executorch-int8-t512-2thr", "executorch-fp32-t512-2thr", "onnx-int8-t128-1thr"}
    assert len(boxes) == len(labelled) + 2
    for first, second in itertools.combinations(boxes, 2):
        assert not first.overlaps(second), (first, second)
    frame = figure.bbox
    assert all(frame.x0 <= b.x0 and b.x1 <= frame.x1 and frame.y0 <= b.y0 and b.y1 <= frame.y1 for b in boxes)
    texts = [t.get_text() for t in figure.axes[0].texts if t.get_gid() == plots.LABEL_GID]
    assert any(text.startswith("executorch int8 t512·2") and "fastest ≤0.1 dB" in text for text in texts)
    assert "0.1 dB bar" in " ".join(texts) and "budget 1000 ms/MP" in " ".join(texts)
    assert Image.open(path).size == plots.SIZES["pareto"]
    assert [p.name for p in tmp_path.iterdir()] == ["pareto.png"]  # written atomically: no partial file left


def test_pareto_draws_the_bar_and_the_budget_at_their_values(tmp_path, drawn):
    _, figure, _ = crowded_chart(tmp_path, drawn, drop_bar_db=0.1, budget_ms_per_mp=1000.0)
    lines = {line.get_gid(): line for line in figure.axes[0].get_lines() if line.get_gid()}
    assert list(lines["drop-bar"].get_ydata()) == [0.1, 0.1]
    assert list(lines["budget"].get_xdata()) == [1000.0, 1000.0]
    low, high = figure.axes[0].get_ylim()
    assert low <= 0.0 and high > 0.1  # the bar is inside the plot even though every drop is below it

    _, figure, _ = crowded_chart(tmp_path, drawn, drop_bar_db=None, budget_ms_per_mp=None)
    assert not [line for line in figure.axes[0].get_lines() if line.get_gid() in ("drop-bar", "budget")]


def test_pareto_rings_the_recommended_rows_and_overlays_the_baseline(tmp_path, drawn):
    _, figure, rows = crowded_chart(tmp_path, drawn)
    axes = figure.axes[0]
    by_key = {r.key: r for r in rows}
    rings = [c for c in axes.collections if c.get_gid() == "recommended"]
    ringed = {tuple(np.round(c.get_offsets()[0], 6)) for c in rings}
    assert ringed == {(round(by_key[k].ms_per_mp, 6), round(by_key[k].psnr_drop_db, 6))
                      for k in ("executorch-int8-t512-2thr", "executorch-fp32-t512-2thr", "onnx-int8-t128-1thr")}
    assert len([c for c in axes.collections if c.get_gid() == "baseline"]) == 10
    arrows = [t for t in axes.texts if t.get_gid() == "baseline-arrow"]
    assert sorted(a.xy for a in arrows) == sorted((r.ms_per_mp, r.psnr_drop_db) for r in rows[:10])  # to now
    assert np.array(sorted(a.xyann for a in arrows)) == pytest.approx(  # from the baseline
        np.array(sorted((r.ms_per_mp * 1.2, r.psnr_drop_db) for r in rows[:10])))
    assert "baseline → now" in [t.get_text() for t in axes.get_legend().get_texts()]


def test_pareto_tells_threads_tiles_and_spread_apart(tmp_path, drawn):
    rows = [config("onnx", "int8", tile, threads, 500.0 + 100 * tile / 128 + 50 * threads)
            for tile in (128, 256, 512) for threads in (1, 2)]
    rows.append(config("onnx", "int8", 256, 4, 900.0, source="imported from phone.json"))
    rows.append(config("coreml", "int8", 256, 1, None))  # not measured: no marker
    plots.pareto_chart(rows, [], tmp_path / "p.png", "M1")
    axes = drawn[-1].axes[0]
    markers = {c.get_gid(): c for c in axes.collections if c.get_gid() and c.get_gid().startswith(("onnx", "coreml"))}
    assert set(markers) == {r.key for r in rows[:-1]}
    white = to_rgba("white")
    for row in rows[:-1]:
        face = tuple(markers[row.key].get_facecolor()[0])
        assert (face == white) == (row.threads == 1), row.key  # hollow = one thread
    edges = {tuple(np.round(markers[f"onnx-int8-t{tile}-1thr"].get_edgecolor()[0], 3)) for tile in (128, 256, 512)}
    assert len(edges) == 3  # one shade per tile
    imported = markers["onnx-int8-t256-4thr"]
    assert tuple(imported.get_edgecolor()[0]) == to_rgba("black")
    spreads = sorted(tuple(segment[:, 0]) for c in axes.collections if c.get_gid() == "spread"
                     for segment in c.get_segments())
    assert np.array(spreads) == pytest.approx(np.array(sorted((r.ms_per_mp_low, r.ms_per_mp_high) for r in rows[:-1])))
    legend = [t.get_text() for t in axes.get_legend().get_texts()]
    assert {"tile 128", "tile 256", "tile 512", "1 thread (hollow)", "imported profile"} <= set(legend)
    assert sum(text.endswith(" MB") for text in legend) >= 1


# ---- quality and latency ------------------------------------------------------------------------

def test_heatmap_shows_reference_minus_psnr_one_column_per_cell(tmp_path, drawn):
    reference = {"single": 25.0, "spatial": 23.0, "composite": 16.8, "average": 22.6}
    rows = []
    for target, precision, tile in itertools.product(("executorch", "onnx"), ("int8", "fp32"), (512, 128)):
        quality = {"single": 25.0 - (0.09 if precision == "int8" else 0.02), "spatial": 23.0 - 0.005 * (tile == 128),
                   "composite": 16.8 + 0.04 * (precision == "int8")}
        for threads in (1, 2):  # threads share the cell's quality: still one column
            rows.append(Row(key=f"{target}-{precision}-t{tile}-{threads}thr", cell=f"{target}-{precision}-t{tile}",
                            target=target, precision=precision, tile=tile, threads=threads, source="measured",
                            psnr_db=22.6 - 0.01 * tile / 128, family_psnr_db=quality))
    rows.append(Row(key="coreml-int8-t256", cell="coreml-int8-t256", target="coreml", precision="int8", tile=256,
                    threads=None, source="not measured here"))
    path = plots.drop_heatmap(rows, reference, tmp_path / "heatmap.png", "drop per family (M1)")
    axes = drawn[-1].axes[0]
    order = [f"{t}-{p}-t{tile}" for t in ("onnx", "executorch") for p in ("fp32", "int8") for tile in (128, 512)]
    assert [t.get_text() for t in axes.get_xticklabels()] == [cell.replace("-", " ") for cell in order]
    values = [float(t.get_text()) for t in axes.texts if t.get_gid() == "drop-value"]  # row by row
    cells = {r.cell: r for r in rows}
    expected = [reference[family] - (cells[cell].psnr_db if family == "average" else cells[cell].family_psnr_db[family])
                for family in ("single", "spatial", "composite", "average") for cell in order]
    assert values == pytest.approx(expected, abs=5e-4)
    assert any(v < 0 for v in values)  # a gain over fp32 shows as a negative drop
    low, high = axes.images[0].get_clim()
    assert low == -high == pytest.approx(-max(abs(v) for v in expected), abs=1e-6)  # centred on 0
    assert Image.open(path).size == plots.heatmap_size(len(order))


def test_threads_chart_draws_the_spread_under_the_given_title(tmp_path, drawn):
    rows = [config("onnx", "fp32", 256, threads, 1000.0 / threads) for threads in (1, 2)]
    path = plots.threads_chart(rows, 256, tmp_path / "threads.png", "latency, tile 256, M1 (AMD EPYC)")
    axes = drawn[-1].axes[0]
    assert axes.get_title() == "latency, tile 256, M1 (AMD EPYC)"
    bars = [segment for c in axes.collections for segment in c.get_segments()]
    assert np.array([segment[:, 1] for segment in bars]) == pytest.approx(np.array([(950.0, 1080.0), (475.0, 540.0)]))
    assert Image.open(path).size == plots.SIZES["threads"]


# ---- pictures of pixels -------------------------------------------------------------------------

def test_difference_picture_shows_the_window_with_the_planted_difference(tmp_path):
    rng = np.random.default_rng(0)
    reference = rng.uniform(0.2, 0.8, (400, 600, 3)).astype(np.float32)
    other = reference + rng.normal(0, 0.5 / 255, reference.shape).astype(np.float32)  # int8-like jitter
    other[300:316, 450:470] += 12 / 255  # the one place that differs visibly
    top, left = pictures.largest_difference_window(reference, other, 128)
    assert top <= 300 and 316 <= top + 128 and left <= 450 and 470 <= left + 128
    path = pictures.difference_picture(reference, other, ("fp32", "int8"), tmp_path / "diff.png", "t512, M1", side=128)
    picture = np.asarray(Image.open(path).convert("L")).astype(int)
    assert picture.shape == (panels.PANEL_TOP + 128 + panels.PANEL_GAP, panels.PANEL_GAP + 3 * (128 + panels.PANEL_GAP))
    x0, y0 = panels.panel_origin(2, 128)
    amplified = picture[y0:y0 + 128, x0:x0 + 128]
    inside = amplified[300 - top:316 - top, 450 - left:470 - left]
    assert inside.min() > 3 * np.median(amplified)  # the planted block stands out, amplified
    assert [p.name for p in tmp_path.iterdir()] == ["diff.png"]


def test_difference_gain_is_a_nice_number_and_the_caption_names_it():
    difference = np.zeros((100, 100))
    difference[:5] = 0.01  # 5 % of pixels at 0.01: the 99.5th percentile
    assert pictures.difference_gain(difference) == 50.0  # 0.5 / 0.01
    difference[:5] = 0.03  # 0.5 / 0.03 = 16.7: rounded down to 10, not saturating
    assert pictures.difference_gain(difference) == 10.0
    assert pictures.difference_gain(np.full((4, 4), 0.9)) == 1.0  # clipped at 1
    assert pictures.difference_gain(np.full((4, 4), 1e-5)) == 200.0  # clipped at 200
    caption = pictures.difference_caption(difference, 10.0)
    assert caption.startswith("|Δ| × 10, max |Δ| = 8/255") and "mean" in caption


def test_identical_restorations_say_so_with_gain_one(tmp_path):
    image = np.random.default_rng(1).uniform(0, 1, (64, 80, 3)).astype(np.float32)
    assert pictures.difference_gain(np.zeros((8, 8))) == 1.0
    assert "identical" in pictures.difference_caption(np.zeros((8, 8)), 1.0)
    path = pictures.difference_picture(image, image.copy(), ("fp32", "fp32"), tmp_path / "same.png", "M1")
    picture = np.asarray(Image.open(path).convert("L"))
    x0, y0 = panels.panel_origin(2, 64)  # side 256 shrinks to the image's 64
    assert picture.shape == (panels.PANEL_TOP + 64 + panels.PANEL_GAP, panels.PANEL_GAP + 3 * (64 + panels.PANEL_GAP))
    assert not picture[y0:y0 + 64, x0:x0 + 64].any()


def test_seam_picture_draws_the_seams_and_the_step_they_hide(tmp_path):
    crop = np.full((90, 120, 3), 128, dtype=np.uint8)
    crop[:, 70:] = 134  # a 6-level step where the tiles meet at x = 70
    path = pictures.seam_picture(crop, [70], [40], tmp_path / "seam.png", "onnx int8 t512, 12 MP, M1")
    picture = np.asarray(Image.open(path).convert("RGB")).astype(int)
    assert picture.shape == (panels.PANEL_TOP + 90 + panels.PANEL_GAP, panels.PANEL_GAP + 3 * (120 + panels.PANEL_GAP), 3)
    magenta = np.all(picture == pictures.SEAM_COLOUR, axis=2)
    x0, y0 = panels.panel_origin(0, 120)
    assert not magenta[y0:y0 + 90, x0:x0 + 120].any()  # the 1:1 crop is left as it is
    x1, y1 = panels.panel_origin(1, 120)
    marked = magenta[y1:y1 + 90, x1:x1 + 120]
    assert marked[:, 70].all() and marked[40, :].all()
    assert marked.sum() == 90 + 120 - 1  # nothing else: the lines are one pixel thin
    x2, y2 = panels.panel_origin(2, 120)
    gradient = picture[y2:y2 + 90, x2:x2 + 120, 0]
    assert gradient[:, 70].min() > 100 and gradient[:, 20].max() == 0  # the step shows where it is, nowhere else
