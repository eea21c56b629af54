"""benchmarks/int8_schemes.py: int8 schemes simulated on an fp32 checkpoint and judged on its parity
reference as `parity check` judges an int8 artifact; their XNNPACK graphs lowered and timed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from cea_edge.errors import run_cli
from cea_edge.model.checkpoint import load_checkpoint
from tests.helpers import load_script, make_smoke_reference

ROOT = Path(__file__).resolve().parent.parent


def schemes():
    return load_script(ROOT / "benchmarks" / "int8_schemes.py")


def test_fake_quantization_is_an_8_bit_grid_holding_zero():
    bench = schemes()
    x = torch.randn(4, 8, 16, 16) * 3 + 1
    low, high = x.min(), x.max()
    y = bench.fake_quant_tensor(x, low, high)
    step = (high - low.clamp(max=0)) / 255
    assert y.unique().numel() <= 256 and (y - x).abs().max() <= step / 2 + 1e-6
    assert bench.fake_quant_tensor(torch.zeros(3), low, high).eq(0).all()  # zero is on the grid
    w = torch.randn(16, 8, 3, 3)
    q = bench.fake_quant_weight(w, transposed=False)
    assert all(q[c].unique().numel() <= 255 for c in range(16))  # per output channel, symmetric
    assert torch.allclose(q.abs().amax(dim=(1, 2, 3)), w.abs().amax(dim=(1, 2, 3)))


@pytest.mark.parametrize("scheme", ["dynamic", "static-conv-in", "static-conv-io"])
def test_a_scheme_acts_inside_its_block_and_leaves_the_model_as_it_was(scheme, fp32_checkpoint):
    bench = schemes()
    model = load_checkpoint(fp32_checkpoint).model.eval()
    image = torch.rand(1, 3, 64, 64)
    calibration = [torch.rand(1, 3, 32, 32) for _ in range(4)]
    with torch.no_grad():
        before = model(image)
        with bench.simulated(model, scheme, calibration) as used:
            inside = model(image)
        after = model(image)
    assert used["quantized"] and not torch.equal(before, inside)
    assert bool(used["ranges"]) is (scheme != "dynamic")
    assert torch.equal(before, after)  # weights back, hooks gone


def test_rows_are_judged_on_the_parity_set(fp32_checkpoint, trained_reference, tmp_path):
    out = tmp_path / "rows.json"
    argv = ["--checkpoint", str(fp32_checkpoint), "--reference", str(trained_reference.folder), "--no-latency",
            "--threads", "1", "--json", str(out), "--markdown", str(tmp_path / "rows.md")]
    assert schemes().main(argv) == 0
    rows = {row["scheme"]: row for row in json.loads(out.read_text())["quality"]}
    assert set(rows) == {"dynamic", "static-conv-in", "static-conv-io"}
    for row in rows.values():
        assert row["quantized_convolutions"] > 0 and 20 < row["worst_psnr_db"] < 100
        assert len(row["cases"]) == len(trained_reference.cases) and row["passed"] == (not row["failures"])
    assert "| dynamic |" in (tmp_path / "rows.md").read_text()


def test_a_reference_of_another_checkpoint_or_a_quantized_one_is_refused(fp32_checkpoint, session_checkpoint,
                                                                         qat_checkpoint, tmp_path, capsys):
    other = make_smoke_reference(session_checkpoint, tmp_path / "other")
    assert run_cli(schemes().main, ["--checkpoint", str(fp32_checkpoint), "--reference", str(other.folder),
                                    "--no-latency"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "descends from checkpoint" in line
    assert run_cli(schemes().main, ["--checkpoint", str(qat_checkpoint), "--reference", str(other.folder),
                                    "--no-latency"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "is quantized; give the fp32 checkpoint" in line


@pytest.mark.slow  # four XNNPACK lowerings of the tiny model, ~1 min
def test_each_graph_lowers_runs_and_is_timed(fp32_checkpoint, tmp_path):
    out = tmp_path / "latency.json"
    argv = ["--checkpoint", str(fp32_checkpoint), "--tile", "64", "--rounds", "2", "--latency-threads", "1",
            "--json", str(out)]
    assert schemes().main(argv) == 0
    doc = json.loads(out.read_text())
    lowering = {row["graph"]: row for row in doc["lowering"]}
    assert lowering["fp32"]["delegated_quantize_ops"] == 0
    assert all(lowering[graph]["delegated_quantize_ops"] > 0 for graph in ("static", "static-conv-io", "dynamic"))
    rows = doc["latency"]["1"]
    assert set(rows) == {"pt2e: fp32", "pt2e: static", "pt2e: static-conv-io", "pt2e: dynamic"}
    assert all(0 < row["p10_ms"] <= row["median_ms"] <= row["p90_ms"] and row["calls"] == 10 for row in rows.values())
