"""`python -m cea_edge.profile`: the machine description, the document and its tables for every
target, the runtime profilers' per-op records, imports, and one clear error for every user mistake."""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

import pytest

from cea_edge import machine
from cea_edge.contract import GRAPHS
from cea_edge.errors import run_cli
from cea_edge.machine import cpu_snapshot, machine_info, other_cpus
from cea_edge.profile.__main__ import main
from cea_edge.profile.census import read_flatc_json
from cea_edge.profile.ops import onnx_records, top_ops
from cea_edge.profile.run import gflop_per_tile
from cea_edge.profile.schema import SCHEMA, validate
from tests.helpers import CONTEXT, COREML_FLAGS, OVERLAP, TILE, error_lines, files_in

CHEAP = ["--runs", "2", "--warmup", "1", "--threads", "1", "--photo-mp", "0.01", "--quiet"]
PHOTO = [87, 116]  # photo_shape(0.01): 4:3


def run_profile(tmp_path: Path, capsys, *argv: str) -> tuple[dict, str]:
    """(the JSON document, the Markdown) of a run that must succeed; stdout is the Markdown."""
    out = tmp_path / "out"
    out.mkdir(parents=True, exist_ok=True)
    code = run_cli(main, [*argv, "--json", str(out / "p.json"), "--markdown", str(out / "p.md")])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert files_in(out) == ["p.json", "p.md"]  # nothing staged left behind
    text = (out / "p.md").read_text()
    assert captured.out == text
    doc = json.loads((out / "p.json").read_text())
    assert validate(doc, "p.json") is doc and doc["schema"] == SCHEMA
    return doc, text


def check_latency(profile: dict, threads: list[int], graphs: tuple[str, ...] = GRAPHS) -> None:
    rows = {(r["graph"], r["threads"]): r for r in profile["latency"]}
    assert sorted(rows) == sorted((g, t) for g in graphs for t in threads)
    gflop = gflop_per_tile(profile["preset"], profile["tile"])
    assert profile["gflop_per_tile"] == pytest.approx(gflop) and gflop > 0
    for (graph, _), row in rows.items():
        assert row["runs"] == 2 and 0 < row["p10_ms"] <= row["median_ms"] <= row["p90_ms"]
        if graph == "forward":  # achieved GFLOP/s = model GFLOPs per tile / median latency, against the measured peak
            assert row["gflops"] == pytest.approx(gflop / (row["median_ms"] / 1e3))
            assert row["peak_fraction"] == pytest.approx(row["gflops"] / row["peak_fp32_gflops"])
        else:
            assert row["gflops"] is None


def check_ops(profile: dict, runs: int = 2) -> dict[str, dict]:
    """graph -> breakdown; every record ran once per run (the warm-up calls are not in the trace)."""
    found = {b["graph"]: b for b in profile["ops"]}
    assert sorted(found) == sorted(GRAPHS)
    for breakdown in found.values():
        assert breakdown["runs"] == runs and breakdown["records"]
        assert all(r["calls"] % runs == 0 and r["total_ms"] >= 0 for r in breakdown["records"])
    return found


def check_end_to_end(profile: dict, modes: tuple[str, ...] = ("global", "tile")) -> None:
    e2e = profile["end_to_end"]
    assert e2e["size"] == PHOTO and e2e["megapixels"] == pytest.approx(87 * 116 / 1e6)
    assert [(r["mode"], r["threads"]) for r in e2e["runs"]] == [(m, 1) for m in modes]
    for run in e2e["runs"]:
        assert run["ms_per_mp"] == pytest.approx(run["seconds"] * 1e3 / e2e["megapixels"])
        # Three timed runs (the default --repeats): the row is the median run, every run kept for the spread.
        assert len(run["ms_per_mp_runs"]) == 3 and run["ms_per_mp"] == pytest.approx(sorted(run["ms_per_mp_runs"])[1])
        assert 0 < run["model_seconds"] <= run["seconds"]
    assert 0 < e2e["baseline_rss_mb"] <= e2e["peak_rss_mb"] < 4096


def test_machine_info_names_this_cpu_and_its_runtimes():
    import onnxruntime

    info = machine_info()
    assert info["usable_cpus"] == len(os.sched_getaffinity(0)) <= info["logical_cpus"]
    assert info["runtimes"]["onnxruntime"] == onnxruntime.__version__ and info["python"] == sys.version.split()[0]
    json.dumps(info)  # JSON-ready as it is
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        lines = cpuinfo.read_text().splitlines()
        model = next((line.split(":", 1)[1].strip() for line in lines if line.lower().startswith("model name")), None)
        flags = next((set(line.split(":", 1)[1].split()) for line in lines if line.lower().startswith(("flags", "features"))))
        if model:
            assert info["cpu"] == model
        assert info["isa"] and all(present == (name in flags) for name, present in info["isa"].items())
        assert ("avx2" in info["isa"]) == (info["arch"] == "x86_64")


def snapshot(wall_s: float, busy_s: float | None, own_s: float, cpus: int = 2) -> machine.CpuSnapshot:
    return machine.CpuSnapshot(wall_s=wall_s, machine_busy_s=busy_s, own_s=own_s, cpus=cpus)


def test_other_cpus_counts_a_neighbour_but_not_our_own_work():
    """The busy-neighbour figure from two clock readings: a measurement's own threads are not 'other
    processes' (the load average counted them); what the counted CPUs did beyond them is."""
    since = snapshot(100.0, 50.0, 10.0)
    # one second: we kept one CPU busy, nobody else did
    assert other_cpus(since, snapshot(101.0, 51.0, 11.0)) == pytest.approx(0.0)
    # one second: we kept one CPU busy, a neighbour another
    assert other_cpus(since, snapshot(101.0, 52.0, 11.0)) == pytest.approx(1.0)
    # two seconds, we idle, a neighbour at half a CPU
    assert other_cpus(since, snapshot(102.0, 51.0, 10.0)) == pytest.approx(0.5)


def test_other_cpus_is_bounded_by_the_cpus_counted():
    since = snapshot(0.0, 0.0, 0.0)
    # our children's time can be reaped after the machine counted it (negative), and a tick's skew can
    # push a full machine over its CPU count: neither is a figure about neighbours
    assert other_cpus(since, snapshot(1.0, 0.5, 0.9)) == 0.0
    assert other_cpus(since, snapshot(1.0, 2.3, 0.0)) == 2.0


def test_other_cpus_says_nothing_over_a_window_the_ticks_cannot_resolve():
    """The flaky CI case: `profile --import` timed a few milliseconds, and one 10 ms tick of a kernel
    thread read as 2 CPUs."""
    tick = 1 / os.sysconf("SC_CLK_TCK")
    since = snapshot(0.0, 0.0, 0.0)
    short = machine.min_window_s(2) * 0.99
    assert other_cpus(since, snapshot(0.005, tick, 0.0)) is None
    assert other_cpus(since, snapshot(short, tick, 0.0)) is None
    assert other_cpus(since, snapshot(machine.min_window_s(2), tick, 0.0)) <= machine.OTHER_CPUS_RESOLUTION
    # the window grows with the CPUs counted: each counter is off by up to a tick
    assert machine.min_window_s(64) > machine.min_window_s(2) >= 4 * tick / machine.OTHER_CPUS_RESOLUTION


def test_other_cpus_is_unknown_without_a_machine_clock():
    since = snapshot(0.0, None, 0.0)
    assert other_cpus(since, snapshot(10.0, None, 1.0)) is None
    assert other_cpus(snapshot(0.0, 1.0, 0.0, cpus=2), snapshot(10.0, 5.0, 0.0, cpus=4)) is None  # affinity changed


def test_the_machine_clock_counts_only_the_cpus_we_may_use(monkeypatch, tmp_path):
    """A neighbour pinned to a CPU this process may not use takes nothing from its measurements."""
    hz = os.sysconf("SC_CLK_TCK")
    stat = tmp_path / "stat"
    stat.write_text(f"cpu  {7 * hz} 0 0 900 0 0 0 0 0 0\n"
                    f"cpu0 {1 * hz} 0 {hz} 300 0 0 0 0 0 0\n"
                    f"cpu1 {2 * hz} 0 0 300 5 0 0 {hz} 0 0\n"
                    f"cpu2 {3 * hz} 0 0 300 0 0 0 0 0 0\n"
                    "intr 1 2 3\n")
    monkeypatch.setattr(machine, "PROC_STAT", stat)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    reading = cpu_snapshot()
    assert (reading.machine_busy_s, reading.cpus) == (pytest.approx(5.0), 2)  # cpu0: 1+1, cpu1: 2+1 (steal)
    stat.write_text(f"cpu  {7 * hz} 0 0 900 0 0 0 0 0 0\n")  # no per-CPU lines: the machine-wide one
    assert (cpu_snapshot().machine_busy_s, cpu_snapshot().cpus) == (pytest.approx(7.0), os.cpu_count())
    stat.write_text("cpu  a b c\n")
    assert cpu_snapshot().machine_busy_s is None


def test_other_cpus_is_unknown_without_proc_stat(monkeypatch, tmp_path):
    monkeypatch.setattr(machine, "PROC_STAT", tmp_path / "missing")
    assert other_cpus(cpu_snapshot()) is None


@pytest.mark.skipif(not machine.PROC_STAT.exists(), reason="other_cpus reads /proc/stat (Linux)")
def test_a_spinning_neighbour_is_seen_on_this_machine():
    """The live reading: a process spinning on our CPUs counts, whatever else the machine runs."""
    import subprocess
    import time

    neighbour = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)  # let it start
        started = cpu_snapshot()
        time.sleep(max(0.8, machine.min_window_s(started.cpus)))
        others = other_cpus(started)
        assert others is not None and 0.7 < others <= started.cpus == machine.usable_cpus()
        assert other_cpus(cpu_snapshot()) is None  # no window
    finally:
        neighbour.kill()
        neighbour.wait()


def test_onnxruntime_trace_keeps_only_the_runs_after_reset(tmp_path):
    events = [{"cat": "Session", "name": "model_run", "ts": 100, "dur": 50},  # warm-up: before since
              {"cat": "Node", "name": "conv_kernel_time", "ts": 110, "dur": 40,
               "args": {"op_name": "QLinearConv", "provider": "CPUExecutionProvider"}},
              {"cat": "Session", "name": "model_run", "ts": 1000, "dur": 50},
              {"cat": "Node", "name": "conv_kernel_time", "ts": 1010, "dur": 30,
               "args": {"op_name": "QLinearConv", "provider": "CPUExecutionProvider"}},
              {"cat": "Node", "name": "add_fence_before", "ts": 1040, "dur": 1, "args": {}},
              {"cat": "Session", "name": "model_run", "ts": 2000, "dur": 50},
              {"cat": "Node", "name": "conv_kernel_time", "ts": 2010, "dur": 10,
               "args": {"op_name": "QLinearConv", "provider": "CPUExecutionProvider"}}]
    trace = tmp_path / "forward.json"
    trace.write_text(json.dumps(events))
    raw = {"files": {"forward": (str(trace), 7_000_000)}, "since_ns": 7_000_000 + 500_000}  # since = 500 µs
    (record,) = onnx_records(raw, "forward")
    assert (record.name, record.type, record.where, record.calls, record.total_ms) == ("conv", "QLinearConv", "CPU", 2, 0.04)


def test_top_ops_ranks_types_and_leaves_the_delegate_call_out():
    breakdown = {"runs": 2, "records": [
        {"name": "a #1", "type": "Conv", "where": "XNNPACK delegate", "calls": 2, "total_ms": 6.0},
        {"name": "a #2", "type": "Conv", "where": "XNNPACK delegate", "calls": 2, "total_ms": 2.0},
        {"name": "b #1", "type": "Add", "where": "XNNPACK delegate", "calls": 4, "total_ms": 2.0},
        {"name": "DELEGATE_CALL", "type": "DELEGATE_CALL", "where": "delegate call", "calls": 2, "total_ms": 11.0}]}
    assert top_ops(breakdown, 5) == [
        {"type": "Conv", "where": "XNNPACK delegate", "calls_per_run": 2.0, "ms_per_run": 4.0, "share": 0.8},
        {"type": "Add", "where": "XNNPACK delegate", "calls_per_run": 2.0, "ms_per_run": 1.0, "share": 0.2}]
    assert len(top_ops(breakdown, 1)) == 1


def test_xnnpack_graph_text_with_unbounded_clamps_is_read():
    """flatc writes an unbounded clamp's limits as bare inf (edge2's .pte files): read, not a 'not decoded' note."""
    text = '{"output_min": -inf, "output_max": inf, "scale": [nan, 1e-05], "name": "inf", "type": "xnn_inf"}'
    graph = read_flatc_json(text)
    assert graph["output_min"] == -math.inf and graph["output_max"] == math.inf and math.isnan(graph["scale"][0])
    assert graph["scale"][1] == 1e-05 and graph["name"] == "inf" and graph["type"] == "xnn_inf"


def test_onnx_fp32_profile(export_once, session_checkpoint, tmp_path, capsys):
    artifact = export_once(session_checkpoint, "onnx", "fp32").artifact
    doc, text = run_profile(tmp_path, capsys, str(artifact), *CHEAP)
    assert doc["machine"] == machine_info() and doc["settings"]["runs"] == 2
    (peak,) = doc["peaks"]
    assert peak["threads"] == 1 and peak["fp32_gflops"] > 1 and peak["int8_gops"] > 1
    (profile,) = doc["profiles"]
    assert (profile["format"], profile["precision"], profile["preset"]) == ("onnx", "fp32", "tiny")
    assert (profile["tile"], profile["context_size"], profile["source"]) == (TILE, CONTEXT, "measured")
    check_latency(profile, [1])
    assert profile["latency"][0]["peak_fp32_gflops"] == peak["fp32_gflops"]
    ops = check_ops(profile)
    assert {r["where"] for r in ops["forward"]["records"]} == {"CPU"}
    assert "Conv" in {r["type"] for r in ops["forward"]["records"]}
    check_end_to_end(profile)
    assert profile["census"] is None and profile["not_measured"] == []
    assert f"| {artifact.name} | onnxruntime (fp32) | M1 | 1 | forward |" in text
    assert "## Top 5 operators by time" in text and "| Conv | CPU |" in text and "## End to end" in text
    assert "ms/MP min–max" in text and "(n=3)" in text and "- M1: " in text, "spread and the ISA's meaning shown"


def test_checkpoint_profile_through_torch_profiler(session_checkpoint, tmp_path, capsys):
    doc, text = run_profile(tmp_path, capsys, str(session_checkpoint), *CHEAP, "--tile", str(TILE),
                            "--overlap", str(OVERLAP), "--context-size", str(CONTEXT), "--modes", "tile")
    (profile,) = doc["profiles"]
    assert (profile["format"], profile["runtime"], profile["tile"]) == ("checkpoint", "pytorch (fp32)", TILE)
    check_latency(profile, [1])
    ops = check_ops(profile)
    types = {r["type"] for r in ops["forward"]["records"]}
    assert {r["where"] for r in ops["forward"]["records"]} == {"cpu"}
    assert any(t.startswith("aten::") and "conv" in t for t in types)
    check_end_to_end(profile, modes=("tile",))


@pytest.mark.skipif(sys.platform == "darwin", reason="Core ML is timed on macOS")
def test_coreml_off_macos_is_a_static_census_and_says_what_was_not_measured(export_once, session_checkpoint, tmp_path,
                                                                            capsys):
    pytest.importorskip("coremltools")
    artifact = export_once(session_checkpoint, "coreml", "fp16", *COREML_FLAGS).artifact
    doc, text = run_profile(tmp_path, capsys, str(artifact), *CHEAP)
    assert doc["peaks"] == []  # nothing here to compare with
    (profile,) = doc["profiles"]
    assert (profile["format"], profile["latency"], profile["end_to_end"], profile["ops"]) == ("coreml", [], None, [])
    graphs = profile["census"]["methods"]
    assert sorted(graphs) == sorted(GRAPHS)
    assert graphs["forward"]["inputs"] == {"image": [1, 3, TILE, TILE]}
    assert graphs["forward"]["ops"]["conv"].get("float16", 0) > 0 and graphs["forward"]["weights_bytes"] > 0
    assert any("Core ML predicts on macOS only" in line for line in profile["not_measured"])
    assert "## Not measured" in text and "Core ML predicts on macOS only" in text and "| core ml |" in text


def foreign_document() -> dict:
    """A profile as a phone would send it back (ExecuTorch's runner, converted to the schema)."""
    phone = {"cpu": "Qualcomm Kryo (Snapdragon 8 Gen 3)", "arch": "aarch64", "logical_cpus": 8, "usable_cpus": 8,
             "isa": {"asimd": True, "asimddp": True, "i8mm": True}, "os": "Android 14", "python": "",
             "runtimes": {"executorch": "1.5.1"}, "thread_env": {}}
    latency = {"graph": "forward", "threads": 4, "runs": 50, "median_ms": 41.5, "p10_ms": 40.0, "p90_ms": 44.0}
    ops = {"graph": "forward", "threads": 4, "runs": 50, "source": "ETDump", "records": [
        {"name": "Convolution (NHWC, QC8) IGEMM #1", "type": "Convolution (NHWC, QC8) IGEMM", "where": "XNNPACK delegate",
         "calls": 50, "total_ms": 900.0}]}
    profile = {"artifact": "edge-xnnpack-int8-256.pte", "format": "executorch", "runtime": "executorch runner",
               "precision": "int8", "preset": "edge", "tile": 256, "context_size": 512, "machine": phone,
               "latency": [latency], "ops": [ops], "end_to_end": None, "census": None, "not_measured": []}
    return {"schema": SCHEMA, "created": "2026-01-01T00:00:00+00:00", "machine": phone, "peaks": [],
            "settings": {}, "profiles": [profile]}


def test_an_imported_profile_lands_in_the_same_tables(tmp_path, capsys):
    phone = tmp_path / "phone.json"
    phone.write_text(json.dumps(foreign_document()))
    doc, text = run_profile(tmp_path, capsys, "--import", str(phone), "--quiet")
    (profile,) = doc["profiles"]
    assert profile["source"] == "imported from phone.json" and profile["machine"]["arch"] == "aarch64"
    assert doc["settings"]["imports"] == ["imported from phone.json"]
    assert "| M2 | Qualcomm Kryo (Snapdragon 8 Gen 3) | aarch64 | 8 (8) | asimd asimddp i8mm |" in text
    assert "| edge-xnnpack-int8-256.pte | executorch runner | M2 | 4 | forward | 41.500 | 40.000 | 44.000 |" in text
    assert "| Convolution (NHWC, QC8) IGEMM | XNNPACK delegate | 1.0 | 18.000 | 100.0% |" in text


def test_the_markdown_warns_when_other_processes_shared_the_cpus():
    from cea_edge.profile.report import markdown

    doc = foreign_document()
    for others, warned in ((None, False), (0.1, False), (machine.BUSY_NEIGHBOURS + 0.3, True)):
        doc["settings"] = {"other_cpus": others}
        assert ("timings (multi-thread ones most) are pessimistic" in markdown(doc, 5)) == warned, others


def test_a_profile_records_what_other_processes_used(tmp_path, capsys, monkeypatch):
    from cea_edge.profile import __main__ as profile_main

    phone = tmp_path / "phone.json"
    phone.write_text(json.dumps(foreign_document()))
    readings = []
    monkeypatch.setattr(profile_main, "other_cpus", lambda since: readings.append(since) or 0.75)
    doc, _ = run_profile(tmp_path, capsys, "--import", str(phone), "--quiet")
    assert len(readings) == 1 and doc["settings"]["other_cpus"] == 0.75
    # unmocked, an import takes milliseconds: too short a window for a figure
    monkeypatch.undo()
    doc, _ = run_profile(tmp_path / "unmocked", capsys, "--import", str(phone), "--quiet")
    assert doc["settings"]["other_cpus"] is None


@pytest.mark.parametrize("case", ["not_json", "schema", "no_profiles", "missing_key", "wrong_type"])
def test_a_malformed_import_is_one_clear_error(case, tmp_path, capsys):
    doc = foreign_document()
    expected = {"not_json": "is not JSON", "schema": "schema is 'cea-edge-profile/0'",
                "no_profiles": "'profiles' is not a non-empty list", "missing_key": "profiles[0].latency[0] has no 'median_ms'",
                "wrong_type": "profiles[0].tile is str, expected int"}[case]
    if case == "schema":
        doc["schema"] = "cea-edge-profile/0"
    elif case == "no_profiles":
        doc["profiles"] = []
    elif case == "missing_key":
        del doc["profiles"][0]["latency"][0]["median_ms"]
    elif case == "wrong_type":
        doc["profiles"][0]["tile"] = "256"
    source = tmp_path / "foreign.json"
    source.write_text("{ not json" if case == "not_json" else json.dumps(doc))
    out = tmp_path / "p.json"
    assert run_cli(main, ["--import", str(source), "--json", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    (line,) = error_lines(err)
    assert expected in line and "Traceback" not in err and not out.exists()


@pytest.mark.parametrize("case", ["runs", "threads", "photo_mp", "mode", "top", "unknown_flag", "nothing", "missing",
                                  "suffix", "corrupt", "out_folder_missing", "out_is_input", "out_is_folder", "same_out",
                                  "compute_units_off_mac"])
def test_user_errors_are_one_line_and_exit_2(case, session_checkpoint, tmp_path, capsys):
    model = str(session_checkpoint)
    out = tmp_path / "p.json"
    argv = {"runs": [model, "--runs", "0"], "threads": [model, "--threads", "4096"], "photo_mp": [model, "--photo-mp", "-1"],
            "mode": [model, "--modes", "sideways"], "top": [model, "--top", "0"], "unknown_flag": [model, "--bogus"],
            "nothing": [], "missing": [str(tmp_path / "gone.onnx")], "suffix": [str(tmp_path / "notes.txt")],
            "corrupt": [str(tmp_path / "bad.onnx")], "out_folder_missing": [model, "--json", str(tmp_path / "no" / "p.json")],
            "out_is_input": [model, "--json", model], "out_is_folder": [model, "--markdown", str(tmp_path)],
            "same_out": [model, "--json", str(out), "--markdown", str(out)],
            "compute_units_off_mac": [model, "--compute-units", "CPU_ONLY"]}[case]
    expected = {"runs": "--runs 0: must be at least 1", "threads": "--threads 4096", "photo_mp": "--photo-mp -1",
                "mode": "invalid choice: 'sideways'", "top": "--top 0", "unknown_flag": "unrecognized arguments: --bogus",
                "nothing": "nothing to profile", "missing": "does not exist", "suffix": "not a model cea-edge profiles",
                "corrupt": "not a loadable ONNX model", "out_folder_missing": "does not exist",
                "out_is_input": "is the input", "out_is_folder": "is a folder", "same_out": "name the same file",
                "compute_units_off_mac": "macOS only"}[case]
    if case == "compute_units_off_mac" and sys.platform == "darwin":
        pytest.skip("Core ML runs here")
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "bad.onnx").write_bytes(b"\x08\x07garbage")
    if "--json" not in argv:
        argv = [*argv, "--json", str(out)]
    before = files_in(tmp_path)
    assert run_cli(main, [*argv, "--quiet", "--photo-mp", "0", "--no-ops"] if case == "corrupt" else [*argv, "--quiet"]) == 2
    err = capsys.readouterr().err
    (line,) = error_lines(err)
    assert expected in line and "Traceback" not in err
    assert files_in(tmp_path) == before  # nothing written, nothing half-written


@pytest.mark.slow  # ExecuTorch export ~40 s
def test_executorch_fp32_profile_covers_every_method(export_once, session_checkpoint, tmp_path, capsys):
    artifact = export_once(session_checkpoint, "executorch", "fp32").artifact
    doc, text = run_profile(tmp_path, capsys, str(artifact), *CHEAP)
    (profile,) = doc["profiles"]
    check_latency(profile, [1])
    census = profile["census"]
    assert sorted(census["methods"]) == sorted(GRAPHS) and census["delegates"] == 3
    assert {"tile_size", "context_size", "precision", "preset"} <= set(census["constant_methods"])
    assert census["notes"] == []  # every XNNPACK graph decoded
    for method in census["methods"].values():
        assert method["delegates"] == ["XnnpackBackend"] and method["all_compute_delegated"]
        assert method["ops_inside"]["Conv2d"] == {"fp32": method["ops_inside"]["Conv2d"]["fp32"]}
    for breakdown in check_ops(profile).values():
        wheres = {r["where"] for r in breakdown["records"]}
        assert wheres == {"XNNPACK delegate", "delegate call"}
        assert any(r["type"].startswith("Convolution (NHWC, F32)") for r in breakdown["records"])
        assert sum(r["calls"] for r in breakdown["records"] if r["where"] == "delegate call") == 2  # one per run
    check_end_to_end(profile)
    assert "| XnnpackBackend" not in text and "1 (XnnpackBackend)" in text


@pytest.mark.slow  # the session's QAT checkpoint and its two int8 exports (shared with test_int8_export), ~4 min alone
def test_int8_profiles_name_the_integer_kernels(export_once, qat_checkpoint, tmp_path, capsys):
    onnx = export_once(qat_checkpoint, "onnx", "int8").artifact
    pte = export_once(qat_checkpoint, "executorch", "int8").artifact
    doc, text = run_profile(tmp_path, capsys, str(onnx), str(pte), str(qat_checkpoint), *CHEAP, "--tile", str(TILE),
                            "--overlap", str(OVERLAP), "--context-size", str(CONTEXT))
    by_format = {p["format"]: p for p in doc["profiles"]}
    for profile in by_format.values():
        check_latency(profile, [1])
        check_end_to_end(profile)
    onnx_types = {r["type"] for b in check_ops(by_format["onnx"]).values() for r in b["records"]}
    assert {"QLinearConv", "QuantizeLinear", "DequantizeLinear"} <= onnx_types  # fused int8 kernels ran
    for method in by_format["executorch"]["census"]["methods"].values():
        assert method["ops_inside"]["Conv2d"].get("qint8", 0) > 0 and method["all_compute_delegated"]
    for breakdown in check_ops(by_format["executorch"]).values():
        assert any("QC8" in r["type"] or "QS8" in r["type"] for r in breakdown["records"])
    checkpoint = by_format["checkpoint"]
    assert checkpoint["precision"] == "int8 (fake-quantized)"
    assert any("quantize" in r["type"].lower() for r in check_ops(checkpoint)["forward"]["records"])  # NNCF's kernels
    assert "qint8" in text  # the census column: int8 convolutions inside XNNPACK
