"""The trade-off report: Pareto front and recommendations on synthetic rows, the JSON schema
round trip, and (on tiny, --quick-sized) the whole command: every file, the HTML holding its
images and table, the PNGs, resume, a baseline comparison and the page in a real browser."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cea_edge import machine, panels
from cea_edge.errors import CeaError, run_cli
from cea_edge.report import document as doc
from cea_edge.report import pareto, plots
from tests.helpers import CONTEXT, OVERLAP, TILE


def row(key: str, ms: float | None, drop: float | None, mb: float | None = 1.0, **extra) -> doc.Row:
    return doc.Row(key=key, cell=key, target=extra.pop("target", "onnx"), precision=extra.pop("precision", "fp32"),
                   tile=256, threads=1, source="measured", artifact_mb=mb, psnr_db=None if drop is None else 22 - drop,
                   psnr_drop_db=drop, ms_per_mp=ms, **extra)


# ---- Pareto front and recommendations ---------------------------------------------------------

def test_front_drops_dominated_rows_and_sorts_by_speed():
    rows = [row("slow-exact", 900, 0.0), row("fast-lossy", 300, 0.5), row("dominated", 950, 0.1),
            row("middle", 500, 0.05), row("worse-middle", 600, 0.06)]
    assert [r.key for r in pareto.pareto_front(rows)] == ["fast-lossy", "middle", "slow-exact"]


def test_front_keeps_ties_and_a_single_row_and_ignores_unmeasured():
    rows = [row("a", 400, 0.1), row("b", 400, 0.1), row("c", 500, 0.2), row("coreml", None, None),
            row("no-quality", 100, None)]
    assert [r.key for r in pareto.pareto_front(rows)] == ["a", "b"]
    assert [r.key for r in pareto.pareto_front([row("only", 700, 0.3)])] == ["only"]
    assert pareto.pareto_front([row("coreml", None, None)]) == []


def test_fastest_within_the_bar_breaks_ties_by_drop_then_name():
    rows = [row("int8", 200, 0.15), row("fp16-b", 400, 0.02), row("fp16-a", 400, 0.02), row("fp32", 400, 0.0)]
    pick = pareto.fastest_within(rows, 0.1)
    assert pick.key == "fp32" and "400 ms/MP" in pick.why
    assert pareto.fastest_within(rows, 0.2).key == "int8"
    assert pareto.fastest_within([row("x", 100, 0.5)], 0.1).key is None


def test_budget_recommendation_without_with_and_beyond_the_budget():
    rows = [row("int8", 200, 0.15), row("fp32", 400, 0.0)]
    assert pareto.best_under_budget(rows, None).key is None
    assert pareto.best_under_budget(rows, 300).key == "int8"
    assert pareto.best_under_budget(rows, 500).key == "fp32"
    missed = pareto.best_under_budget(rows, 100)
    assert missed.key is None and "200 ms/MP" in missed.why


def test_smallest_within_the_bar_prefers_the_faster_of_equal_sizes():
    rows = [row("big", 300, 0.0, mb=2.0), row("small-slow", 500, 0.1, mb=1.0), row("small-fast", 400, 0.15, mb=1.0),
            row("tiny-lossy", 100, 0.5, mb=0.5), row("unsized", 50, 0.0, mb=None)]
    assert pareto.smallest_within(rows, 0.2).key == "small-fast"
    goals = [item.goal for item in pareto.recommend(rows, 450)]
    assert goals == ["fastest within 0.1 dB of fp32", "best quality under 450 ms/MP",
                     "smallest artifact within 0.2 dB of fp32"]


def spread_row(key: str, runs: list[float], drop: float = 0.0, mb: float = 1.0, threads: int = 2, **extra) -> doc.Row:
    made = row(key, float(np.median(runs)), drop, mb, **extra)
    made.threads, made.ms_per_mp_runs = threads, runs
    made.ms_per_mp_low, made.ms_per_mp_high = min(runs), max(runs)
    return made


def test_overlapping_spreads_are_ties_and_the_recommendation_names_them():
    # Medians 466 / 518 / 557 / 565 as in the report that prompted this, but with their measured spreads:
    # the first three overlap, the fourth is clearly slower.
    rows = [spread_row("et-int8-t512", [440, 466, 560], drop=0.054, mb=1.50),
            spread_row("onnx-int8-t256", [500, 518, 530], drop=0.063, mb=2.69),
            spread_row("onnx-fp16-t256", [540, 557, 600], drop=0.016, mb=3.55),
            spread_row("et-fp32-t512", [640, 661, 700], drop=0.0, mb=2.47)]
    pick = pareto.fastest_within(rows, 0.1)
    assert pick.key == "et-int8-t512", "of the tied rows, the smallest artifact"
    assert sorted(pick.ties) == ["onnx-fp16-t256", "onnx-int8-t256"]
    assert "indistinguishable here" in pick.why and "et-int8-t512, onnx-int8-t256, onnx-fp16-t256" in pick.why
    assert "(440–560)" in pick.why, "the chosen row's spread is stated"
    # Without overlap there is no tie: the same medians, each measured as one exact value.
    exact = [spread_row(r.key, [r.ms_per_mp], r.psnr_drop_db, r.artifact_mb) for r in rows]
    assert pareto.fastest_within(exact, 0.1).ties == [] and "indistinguishable" not in pareto.fastest_within(exact, 0.1).why
    # The slower tied row wins when it is smaller: ties are decided by size, not by a median inside the noise.
    rows[1].artifact_mb = 1.0
    assert pareto.fastest_within(rows, 0.1).key == "onnx-int8-t256"


def test_a_long_tie_is_named_in_part_and_counted():
    rows = [spread_row(f"fp-{index}", [500 + index, 510 + index, 520 + index], drop=0.001 * index) for index in range(9)]
    best = pareto.best_under_budget(rows, 1000)
    assert len(best.ties) == 8 and "and 4 more: indistinguishable here" in best.why


def test_quality_and_size_ties_never_decide_by_noise():
    rows = [spread_row("fp32-slow", [900, 910, 920], drop=0.000), spread_row("fp16-fast", [500, 510, 520], drop=0.004),
            spread_row("int8", [400, 410, 420], drop=0.06)]
    best = pareto.best_under_budget(rows, 1000)
    assert best.key == "fp16-fast" and best.ties == ["fp32-slow"] and "drops within 0.02 dB" in best.why
    sized = [spread_row("t128", [1100, 1125, 1150], drop=0.07, mb=1.5000), spread_row("t512", [450, 466, 480], drop=0.05,
                                                                                    mb=1.5007)]
    small = pareto.smallest_within(sized, 0.2)
    assert small.key == "t512" and small.ties == ["t128"], "652 bytes never buy a 2.4x slowdown"


def test_rows_of_another_machine_are_never_ranked_with_this_machines(monkeypatch):
    """An imported profile from another machine lands in a section of its own: its fast rows neither
    enter this machine's front nor its recommendations."""
    from cea_edge.report.__main__ import Measured, assemble

    result = {"cell": "executorch-int8-t256", "target": "executorch", "precision": "int8", "tile": 256,
              "artifact_mb": 1.5, "quality": {"average": {"psnr_db": 21.95, "ssim": 0.8}},
              "ms_per_mp": {"2": 500.0}, "ms_per_mp_runs": {"2": [490.0, 500.0, 520.0]}, "notes": []}
    fp32 = dict(result, cell="executorch-fp32-t256", precision="fp32", artifact_mb=2.5,
                quality={"average": {"psnr_db": 22.0, "ssim": 0.8}}, ms_per_mp={"2": 700.0},
                ms_per_mp_runs={"2": [690.0, 700.0, 720.0]})
    here = {"cpu": "Laptop x86", "arch": "x86_64", "usable_cpus": 2, "isa": {"avx2": True}, "runtimes": {}}
    phone = {"format": "executorch", "precision": "int8", "tile": 256, "preset": "edge2",
             "source": "imported from phone.json", "artifact": "model.pte",
             "machine": {"cpu": "Snapdragon 8 Gen 3", "arch": "aarch64", "isa": {"asimddp": True}},
             "latency": [{"graph": "forward_global", "threads": 4, "runs": 5, "median_ms": 9.5, "p10_ms": 9, "p90_ms": 10}],
             "end_to_end": {"megapixels": 12.0, "runs": [{"mode": "global", "threads": 4, "ms_per_mp": 90.0,
                                                          "ms_per_mp_runs": [88.0, 90.0, 95.0]}]}}
    found = Measured({256: {"average": {"psnr_db": 22.0}}}, [result, fp32], [], 0, [])
    settings = {"threads": [2], "budget_ms_per_mp": 1000.0}
    rows, sections, machines = assemble(found, settings, here, [phone], "edge2", "a" * 64)
    assert [section.machine for section in sections] == ["M1", "M2"]
    assert machines["M2"]["cpu"] == "Snapdragon 8 Gen 3"
    local, foreign = sections
    assert {row.machine for row in local.rows} == {"M1"} and [row.machine for row in foreign.rows] == ["M2"]
    assert all("@phone.json" not in row.key for row in local.front)
    assert all(item.key is None or "@phone.json" not in item.key for item in local.recommendations)
    assert local.recommendations[0].key == "executorch-int8-t256-2thr"
    assert foreign.recommendations[0].key == "executorch-int8-t256-4thr@phone.json"
    assert foreign.rows[0].ms_per_mp_low == 88.0 and foreign.rows[0].ms_per_tile == 9.5
    assert any("matched by preset only" in note for note in foreign.rows[0].notes)
    # A profile of another model is refused, before any measuring.
    with pytest.raises(CeaError, match="preset 'edge'.*of preset 'edge2'"):
        assemble(found, settings, here, [phone | {"preset": "edge"}], "edge2", "a" * 64)
    with pytest.raises(CeaError, match="made from checkpoint bbbbbbbbbbbb"):
        assemble(found, settings, here, [phone | {"source_sha256": "b" * 64}], "edge2", "a" * 64)


def test_baseline_deltas_separate_the_machines_drift_from_the_change():
    now = [spread_row("onnx-fp32-t256-2thr", [590, 600, 610], artifact_sha256="same-1"),
           spread_row("et-fp32-t512-2thr", [980, 1000, 1020], artifact_sha256="same-2"),
           spread_row("et-int8-t512-2thr", [390, 400, 410], artifact_sha256="new-int8")]
    for made in now:
        made.ms_per_tile = made.ms_per_mp / 10
    before = {"created": "2026-12-02", "machine": {"cpu": "Old CPU", "isa": {"avx2": True}},
              "rows": [asdict(made) for made in now]}
    before["rows"][0]["ms_per_mp"], before["rows"][1]["ms_per_mp"] = 300.0, 500.0  # the controls ran 2x faster then
    before["rows"][2] |= {"ms_per_mp": 400.0, "artifact_sha256": "old-int8"}  # int8: same raw, changed artifact
    comparison = doc.add_deltas(now, before, "old/report.json", {"cpu": "New CPU", "isa": {"avx512f": True}})
    assert (comparison.matched_rows, comparison.controls) == (3, 2) and comparison.control_method == "artifact sha256"
    (drift,) = comparison.drift
    assert drift.threads == 2 and drift.ratio == pytest.approx(2.0) and drift.controls == 2
    control, changed = now[0], now[2]
    assert control.control and not changed.control
    assert control.delta_pct["ms_per_mp"] == pytest.approx(100.0) and control.delta_corrected_pct["ms_per_mp"] == \
        pytest.approx(0.0)
    assert changed.delta_pct["ms_per_mp"] == pytest.approx(0.0), "raw: no change"
    assert changed.delta_corrected_pct["ms_per_mp"] == pytest.approx(-50.0), "corrected: the new int8 is 2x faster"
    assert "another machine" in comparison.machine_note and "Old CPU" in comparison.machine_note
    # Quality measured on another suite is not compared (its numbers mean something else).
    before["settings"] = {"suite": "aio-synth"}
    other_suite = doc.add_deltas(now, before, "old/report.json", suite="aio-whole")
    assert "psnr_db" not in now[0].delta and "ms_per_mp" in now[0].delta and "aio-synth" in other_suite.quality_note
    assert doc.add_deltas(now, before, "old/report.json", suite="aio-synth").quality_note is None
    # Schema 1 reports have no hashes: controls are told by their exact size, and the report says so.
    for entry in before["rows"]:
        entry.pop("artifact_sha256")
    before["rows"][2]["artifact_mb"] = 1.7
    again = doc.add_deltas(now, before, "old/report.json", {"cpu": "Old CPU", "isa": {"avx2": True}})
    assert again.controls == 2 and "exact artifact size" in again.control_method
    # No controls at all: raw deltas only, nothing corrected.
    for entry in before["rows"]:
        entry["artifact_mb"] = 9.9
    blind = doc.add_deltas(now, before, "old/report.json")
    assert blind.controls == 0 and blind.drift == [] and all(made.delta_corrected_pct is None for made in now)


def test_fp16_is_marked_emulated_on_a_cpu_without_fp16_arithmetic():
    result = {"cell": "onnx-fp16-t256", "target": "onnx", "precision": "fp16", "tile": 256, "artifact_mb": 3.5,
              "quality": {"average": {"psnr_db": 22.0, "ssim": 0.8}}, "ms_per_mp": {"1": 900.0}, "notes": []}
    (emulated,) = doc.rows_for_cell(result, {"average": {"psnr_db": 22.0}}, [1], fp16_native=False)
    (native,) = doc.rows_for_cell(result, {"average": {"psnr_db": 22.0}}, [1], fp16_native=True)
    assert emulated.emulated and any("emulated" in note for note in emulated.notes) and not native.emulated
    assert machine.fp16_native({"isa": {"avx2": True, "avx512_fp16": False}}) is False
    assert machine.fp16_native({"isa": {"asimd": True, "asimdhp": True}}) is True
    assert machine.fp16_native({"isa": {}}) is None
    notes = " ".join(machine.isa_notes({"isa": {"avx2": True}}))
    assert "no int8 dot-product" in notes and "emulated" in notes
    assert "can beat fp32" in " ".join(machine.isa_notes({"isa": {"avx512_vnni": True, "avx512_fp16": True}}))


def test_a_row_whose_end_to_end_disagrees_with_its_calls_is_flagged():
    result = {"cell": "onnx-int8-t512", "target": "onnx", "precision": "int8", "tile": 512, "artifact_mb": 2.7,
              "quality": {"average": {"psnr_db": 22.0, "ssim": 0.8}}, "notes": [],
              "photo": {"megapixels": 12.0, "size": [3000, 4000], "tiles": 72},
              "latency_ms": {"2": {"forward": 90.0, "forward_global": 100.0, "context": 60.0}},
              "latency_spread_ms": {"2": {"forward_global": [95.0, 110.0]}},
              "ms_per_mp": {"2": 466.0}, "ms_per_mp_runs": {"2": [460.0, 466.0, 470.0]}}
    (flagged,) = doc.rows_for_cell(result, {"average": {"psnr_db": 22.0}}, [2])
    assert flagged.ms_per_tile == 100.0, "the graph the end-to-end run executes (forward_global), not forward"
    assert (flagged.ms_per_tile_p10, flagged.ms_per_tile_p90) == (95.0, 110.0)
    assert flagged.tiles_per_mp == pytest.approx(6.0) and flagged.calls_ms_per_mp == pytest.approx(605.0)
    assert flagged.consistent is False and any("differ by more than 20%" in note for note in flagged.notes)
    result["ms_per_mp"] = {"2": 600.0}
    (fine,) = doc.rows_for_cell(result, {"average": {"psnr_db": 22.0}}, [2])
    assert fine.consistent is True and not any("differ" in note for note in fine.notes)


# ---- the document --------------------------------------------------------------------------

def test_rows_round_trip_through_json_and_bad_reports_are_refused(tmp_path):
    rows = [row("a", 400, 0.1, family_psnr_db={"single": 20.5}, parity_passed=True, notes=["n"]),
            row("coreml", None, None, target="coreml")]
    document = {"schema": doc.SCHEMA, "rows": [asdict(r) for r in rows]}
    path = tmp_path / "report.json"
    path.write_text(doc.to_json(document))
    loaded = doc.load_report(path)
    assert [doc.row_from_dict(r) for r in loaded["rows"]] == rows
    for broken, message in [({"schema": "other"}, "schema is 'other'"), ({"schema": doc.SCHEMA}, "'rows'"),
                            ({"schema": doc.SCHEMA, "rows": [{"key": "x"}]}, "lacks cell")]:
        path.write_text(json.dumps(broken))
        with pytest.raises(CeaError, match=message):
            doc.load_report(path)
    path.write_text("{")
    with pytest.raises(CeaError, match="is not JSON"):
        doc.load_report(path)


def test_rows_for_a_cell_and_deltas_against_a_baseline():
    result = {"cell": "onnx-int8-t256", "target": "onnx", "precision": "int8", "tile": 256, "artifact_mb": 1.1,
              "quality": {"average": {"psnr_db": 21.9, "ssim": 0.8}, "single": {"psnr_db": 20.0, "ssim": 0.7}},
              "parity": {"worst_psnr_db": 34.5, "passed": False}, "latency_ms": {"1": {"forward": 40.0}},
              "ms_per_mp": {"1": 700.0, "2": 450.0}, "peak_rss_mb": 300.0, "notes": []}
    fp32 = {"average": {"psnr_db": 22.0}}
    rows = doc.rows_for_cell(result, fp32, [1, 2])
    assert [r.key for r in rows] == ["onnx-int8-t256-1thr", "onnx-int8-t256-2thr"]
    assert rows[0].psnr_drop_db == pytest.approx(0.1) and rows[1].ms_per_mp == 450.0
    assert rows[0].ms_per_tile == 40.0 and rows[1].ms_per_tile is None and rows[0].parity_passed is False
    unmeasured = doc.rows_for_cell({"cell": "coreml-fp32-t256", "target": "coreml", "precision": "fp32", "tile": 256,
                                    "artifact_mb": 2.0, "notes": ["not measured here"]}, fp32, [1, 2])
    assert len(unmeasured) == 1 and unmeasured[0].source == "not measured here" and unmeasured[0].threads is None
    baseline = {"rows": [asdict(r) for r in rows]}
    baseline["rows"][0]["ms_per_mp"] = 800.0
    assert doc.add_deltas(rows, baseline).matched_rows == 2
    assert rows[0].delta["ms_per_mp"] == pytest.approx(-100.0) and rows[1].delta["ms_per_mp"] == 0.0


def test_imported_profiles_become_rows_with_the_quality_measured_here():
    here = doc.rows_for_cell({"cell": "executorch-int8-t256", "target": "executorch", "precision": "int8", "tile": 256,
                              "artifact_mb": 1.75, "quality": {"average": {"psnr_db": 21.9, "ssim": 0.8}},
                              "ms_per_mp": {"1": 600.0}, "notes": []}, {"average": {"psnr_db": 22.0}}, [1])
    phone = {"format": "executorch", "precision": "int8", "tile": 256, "source": "imported from phone.json",
             "machine": {"cpu": "Snapdragon 8 Gen 3"}, "latency": [{"graph": "forward", "threads": 4, "median_ms": 9.5}],
             "end_to_end": {"runs": [{"mode": "global", "threads": 4, "ms_per_mp": 150.0},
                                     {"mode": "tile", "threads": 4, "ms_per_mp": 140.0}], "peak_rss_mb": 210.0}}
    other = phone | {"precision": "fp16", "source": "imported from phone.json"}
    labels = {doc.machine_key({"cpu": "Laptop"}): "M1"}
    (imported, unmatched) = doc.rows_from_profiles([phone, other], here, labels)
    assert imported.machine == unmatched.machine == "M2" and len(labels) == 2
    assert imported.key == "executorch-int8-t256-4thr@phone.json" and imported.ms_per_mp == 150.0
    assert imported.psnr_drop_db == pytest.approx(0.1) and imported.artifact_mb == 1.75
    assert "Snapdragon 8 Gen 3" in imported.notes[0]
    assert unmatched.psnr_db is None and unmatched.precision == "fp16"
    assert [r.key for r in pareto.pareto_front([*here, imported, unmatched])] == [imported.key]


# ---- the command, end to end on tiny -------------------------------------------------------

def report_argv(fp32: Path, qat: Path, out: Path, cache: Path, *extra: str) -> list[str]:
    return ["--checkpoint", str(fp32), "--qat-checkpoint", str(qat), "--targets", "onnx", "executorch",
            "--precisions", "fp32", "int8", "--tiles", str(TILE), "--overlap", str(OVERLAP), "--context-size",
            str(CONTEXT), "--threads", "1", "--quick", "--photo-mp", "0.05", "--runs", "2", "--out", str(out),
            "--cache", str(cache), "--quiet", *extra]


# The report run on tiny (~5 min even with the session's exports reused: it measures four cells on
# a suite and a photo): slow, with every test that reads it. The unit tests above stay in the default suite.
REPORT_RUN = pytest.mark.slow


def session_exports(export_once, fp32_checkpoint: Path, qat_checkpoint: Path) -> list[Path]:
    """The session's exports of the report's four cells (test_int8_export builds the int8 ones too)."""
    return [export_once(fp32_checkpoint, target, "fp32").artifact for target in ("onnx", "executorch")] + \
           [export_once(qat_checkpoint, target, "int8").artifact for target in ("onnx", "executorch")]


def test_the_artifact_cache_key_follows_the_exporter(monkeypatch, tmp_path):
    """A cached cell is the same artifact only if the same code and toolchain made it."""
    from cea_edge.export import manifest
    from cea_edge.export.recipes import recipe_for
    from cea_edge.report.grid import cache_key

    recipe, sha = recipe_for("onnx"), "a" * 64
    before, fingerprint = cache_key(recipe, sha), manifest.exporter_fingerprint()
    assert cache_key(recipe, sha) == before and manifest.exporter_fingerprint() == fingerprint
    assert cache_key(recipe.with_overrides(tile=128), sha) != before and cache_key(recipe, "b" * 64) != before
    versions = manifest.toolchain_versions()
    monkeypatch.setattr(manifest, "toolchain_versions", lambda: versions | {"onnxruntime": "0.0.1"})
    assert manifest.exporter_fingerprint() != fingerprint and cache_key(recipe, sha) != before
    monkeypatch.undo()
    # the code: a copy of the package with one exporter source changed
    package = Path(manifest.__file__).resolve().parents[1]
    copy = tmp_path / "cea_edge"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__", "*.pt", "*.png"))
    copied = copy / "export" / "manifest.py"
    monkeypatch.setattr(manifest, "__file__", str(copied))
    assert manifest.exporter_fingerprint() == fingerprint
    (copy / "export" / "onnx_target.py").write_text((copy / "export" / "onnx_target.py").read_text() + "\n# changed\n")
    assert manifest.exporter_fingerprint() != fingerprint


@pytest.fixture(scope="module")
def tiny_report(fp32_checkpoint, qat_checkpoint, export_once, tmp_path_factory) -> tuple[Path, list[str]]:
    from cea_edge.report.__main__ import main

    folder = tmp_path_factory.mktemp("report")
    reuse = [flag for artifact in session_exports(export_once, fp32_checkpoint, qat_checkpoint)
             for flag in ("--reuse", str(artifact.parent))]
    argv = report_argv(fp32_checkpoint, qat_checkpoint, folder / "out", folder / "cache", *reuse)
    assert run_cli(main, argv) == 0
    return folder / "out", argv


@REPORT_RUN
def test_cells_reuse_matching_exports_and_nothing_else(tiny_report, export_once, fp32_checkpoint, qat_checkpoint,
                                                       tmp_path):
    from cea_edge.export.recipes import recipe_for
    from cea_edge.model.checkpoint import file_sha256
    from cea_edge.report.grid import ExportSearch, find_export, search_exports

    out, argv = tiny_report
    cache = Path(argv[argv.index("--cache") + 1])
    records = [json.loads(p.read_text()) for p in cache.glob("*/cell.json")]
    origins = {record["cell"]: record["origin"] for record in records}
    exports = session_exports(export_once, fp32_checkpoint, qat_checkpoint)
    assert sorted(origins.values()) == sorted(f"reused {a.parent / (a.name + '.json')}" for a in exports)
    pte = exports[3]
    recipe = recipe_for("executorch").with_overrides(precision="int8", tile=TILE, overlap=OVERLAP, context_size=CONTEXT)
    sha = file_sha256(qat_checkpoint)
    assert find_export([pte.parent], recipe, sha) == pte.parent / (pte.name + ".json")
    assert find_export([pte.parent], recipe.with_overrides(overlap=OVERLAP * 2), sha) is None
    assert find_export([pte.parent], recipe, file_sha256(fp32_checkpoint)) is None
    copy = tmp_path / "copy"
    shutil.copytree(pte.parent, copy)
    with open(copy / pte.name, "r+b") as stream:  # same size, one byte changed: the manifest's hash no longer holds
        stream.seek(100)
        byte = stream.read(1)
        stream.seek(100)
        stream.write(bytes([byte[0] ^ 1]))
    assert find_export([copy], recipe, sha) is None
    copy = tmp_path / "other-exporter"  # intact files, but made by other code or another toolchain
    shutil.copytree(pte.parent, copy)
    manifest = copy / (pte.name + ".json")
    manifest.write_text(json.dumps(json.loads(manifest.read_text()) | {"exporter_sha256": "0" * 64}))
    assert find_export([copy], recipe, sha) is None
    # ... and said: the report notes each export it passed over for that reason
    assert search_exports([copy], recipe, sha) == ExportSearch(None, (manifest,))
    assert search_exports([copy, pte.parent], recipe, sha).other_exporter == (manifest,)
    assert search_exports([pte.parent], recipe, sha).other_exporter == ()
    onnx_int8 = exports[2]
    copy = tmp_path / "onnx"
    shutil.copytree(onnx_int8.parent, copy)
    siblings = [p for p in copy.iterdir() if p.suffix == ".onnx" and p.name != onnx_int8.name]
    assert siblings, "the ONNX export has its context / global graphs beside it"
    siblings[0].unlink()
    onnx_recipe = recipe_for("onnx").with_overrides(precision="int8", tile=TILE, overlap=OVERLAP, context_size=CONTEXT)
    assert find_export([copy], onnx_recipe, sha) is None
    assert find_export([onnx_int8.parent], onnx_recipe, sha) is not None


@REPORT_RUN
def test_the_report_writes_every_file(tiny_report):
    out, _ = tiny_report
    report = doc.load_report(out / "report.json")
    assert {p.name for p in out.iterdir()} >= {"report.md", "report.html", "report.json", "pareto.png", "drops.png",
                                               "threads.png", "crops.png", "difference.png", "seam.png", "cells"}
    assert [r["key"] for r in report["rows"]] == [f"{t}-{p}-t{TILE}-1thr" for t in ("onnx", "executorch")
                                                  for p in ("fp32", "int8")]
    assert report["machines"]["M1"] == report["machine"] and [s["machine"] for s in report["sections"]] == ["M1"]
    assert report["settings"]["qat_checkpoint_sha256"] and report["settings"]["repeats"] == 3
    for entry in report["rows"]:
        assert entry["ms_per_mp"] > 0 and entry["psnr_db"] > 0 and entry["artifact_mb"] > 0
        # Three end-to-end runs: the median stands for the row, min..max is its spread.
        assert len(entry["ms_per_mp_runs"]) == 3 and entry["ms_per_mp_low"] <= entry["ms_per_mp"] <= entry["ms_per_mp_high"]
        assert entry["ms_per_tile_p10"] <= entry["ms_per_tile"] <= entry["ms_per_tile_p90"]
        assert entry["tiles_per_mp"] > 0 and entry["calls_ms_per_mp"] > 0 and entry["consistent"] in (True, False)
        assert len(entry["artifact_sha256"]) == 64 and entry["machine"] == "M1"
        assert entry["parity_worst_psnr_db"] is not None and entry["ms_per_tile"] > 0
        assert set(entry["family_psnr_db"]) == {"single", "spatial", "composite"}
    fp32_rows = [r for r in report["rows"] if r["precision"] == "fp32"]
    assert all(abs(r["psnr_drop_db"]) < 1e-3 for r in fp32_rows), "fp32 artifacts restore as the fp32 model"
    assert report["pareto"] and len(report["recommendations"]) == 3 and report["failures"] == []
    text = (out / "report.md").read_text()
    assert "### Recommendations" in text and "![Pareto chart, M1](pareto.png)" in text
    assert "## M1 (this machine): " + report["machine"]["cpu"] in text and "min–max" in text
    assert all(r["key"] in text for r in report["rows"])
    for record in (out / "cells").glob("*-t*.json"):  # the measured cells, not the fp32 model's quality records
        if record.name.startswith("fp32-"):
            continue
        # Linux: how many CPUs other processes used while the cell was timed (not the report's own work).
        other = json.loads(record.read_text())["result"]["other_cpus"]
        assert other is None or 0 <= other <= machine.usable_cpus()


@REPORT_RUN
def test_the_html_holds_its_pictures_and_the_table(tiny_report):
    out, _ = tiny_report
    page = (out / "report.html").read_text()
    report = json.loads((out / "report.json").read_text())
    assert page.count("src='data:image/png;base64,") == len(report["pictures"]) >= 6
    assert "id='machine'" in page and "ISA:" in page, "the page says which machine measured it"
    assert "http://" not in page and "https://" not in page, "the page must not fetch anything"
    body = page.split("<tbody>")[1].split("</tbody>")[0]
    assert body.count("<tr") == len(report["rows"])
    assert all(r["key"] in body for r in report["rows"])


@pytest.mark.parametrize("name", ["pareto", "drops", "threads", "crops", "difference", "seam"])
@REPORT_RUN
def test_each_png_is_a_picture_of_its_size(tiny_report, name):
    out, _ = tiny_report
    report = json.loads((out / "report.json").read_text())
    with Image.open(out / f"{name}.png") as image:
        pixels = np.asarray(image.convert("RGB"), dtype=np.float32)
        if name in plots.SIZES:
            assert image.size == plots.SIZES[name]
        elif name == "drops":  # one column per measured cell
            assert image.size == plots.heatmap_size(len({r["cell"] for r in report["rows"] if r["psnr_db"]}))
        elif name == "crops":  # three 256-pixel panels per family and the routing maps
            assert image.width > 3 * 256 and image.height > 256
        else:  # three 1:1 panels side by side under a title: the difference pair, the seam crop
            assert image.width > 3 * (image.height - panels.PANEL_TOP)
    assert pixels.std() > 10, f"{name}.png is (nearly) one colour"


@REPORT_RUN
def test_a_second_run_resumes_from_the_finished_cells_and_compares_with_a_baseline(tiny_report, tmp_path,
                                                                                 monkeypatch):
    from cea_edge.report import grid, measure
    from cea_edge.report.__main__ import main

    out, argv = tiny_report
    baseline = tmp_path / "before.json"
    shutil.copy(out / "report.json", baseline)

    def must_not_run(*args, **kwargs):
        raise AssertionError("a finished cell was built or measured again")

    monkeypatch.setattr(grid, "build_cell", must_not_run)
    monkeypatch.setattr(measure, "measure_cell", must_not_run)
    # A profile taken elsewhere (the profile stage's schema) joins as its own row.
    phone = tmp_path / "phone.json"
    phone.write_text(json.dumps({"schema": "cea-edge-profile/1", "profiles": [{
        "artifact": "model.pte", "format": "executorch", "runtime": "executorch (XNNPACK)", "precision": "int8",
        "preset": "tiny", "tile": TILE, "context_size": CONTEXT, "machine": {"cpu": "Phone SoC"}, "ops": [],
        "not_measured": [], "census": None, "latency": [{"graph": "forward", "threads": 4, "runs": 5, "median_ms": 1.5,
                                                          "p10_ms": 1.4, "p90_ms": 1.6}],
        "end_to_end": {"megapixels": 12.0, "peak_rss_mb": 50.0,
                       "runs": [{"mode": "global", "threads": 4, "seconds": 1.19, "ms_per_mp": 99.0, "model_seconds": 1.0,
                                 "ms_per_mp_runs": [97.0, 99.0, 104.0]}]}}]}))
    assert run_cli(main, [*argv, "--baseline", str(baseline), "--add-profile", str(phone)]) == 0
    report = json.loads((out / "report.json").read_text())
    measured = [r for r in report["rows"] if r["source"] == "measured"]
    assert report["baseline"]["matched_rows"] == len(measured) == 4
    assert all(r["delta"] is not None and r["delta"]["psnr_db"] == 0 for r in measured)
    # The same artifacts, measured again (resumed here): every row is a control and the drift is nil.
    assert report["baseline"]["controls"] == 4 and all(r["control"] for r in measured)
    assert all(d["ratio"] == pytest.approx(1.0) for d in report["baseline"]["drift"])
    assert "drift-corrected" in (out / "report.md").read_text()
    (imported,) = [r for r in report["rows"] if r["source"] == "imported from phone.json"]
    assert imported["key"] == f"executorch-int8-t{TILE}-4thr@phone.json" and imported["ms_per_mp"] == 99.0
    assert imported["psnr_db"] == next(r["psnr_db"] for r in measured if r["cell"] == imported["cell"])
    assert imported["machine"] == "M2" and imported["key"] not in report["pareto"], "another machine: not ranked here"
    (phone_section,) = [s for s in report["sections"] if s["machine"] == "M2"]
    assert phone_section["pareto"] == [imported["key"]]
    assert imported["key"] in (out / "report.html").read_text()
    # The baseline is an input: the run refuses to write its report over it.
    assert run_cli(main, [*argv, "--baseline", str(out / "report.json")]) == 2


@REPORT_RUN
def test_the_page_renders_in_headless_chromium(tiny_report, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        if os.environ.get("CEA_REQUIRE_CHROMIUM"):
            pytest.fail("CEA_REQUIRE_CHROMIUM is set and there is no chromium (apt-get install chromium)")
        pytest.skip("no chromium here (Debian: apt-get install chromium; .ci/run installs it)")
    out, _ = tiny_report
    url = (out / "report.html").resolve().as_uri()
    flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--virtual-time-budget=5000"]
    dom = subprocess.run([*flags, "--dump-dom", url], capture_output=True, text=True, timeout=120).stdout
    report = json.loads((out / "report.json").read_text())
    shown = len(report["pictures"])
    assert f'data-images-loaded="{shown}/{shown}"' in dom, "the browser did not load every embedded picture"
    assert f'data-table-rows="{len(report["rows"])}"' in dom
    shot = tmp_path / "page.png"
    subprocess.run([*flags, "--window-size=1280,2400", f"--screenshot={shot}", url], capture_output=True,
                   timeout=120, check=True)
    with Image.open(shot) as image:
        pixels = np.asarray(image.convert("RGB"), dtype=np.float32)
    assert pixels.std() > 10, "the rendered page is blank"
    # The plots cover a good part of the page: far from all-white.
    assert (pixels.mean(axis=2) < 200).mean() > 0.02
