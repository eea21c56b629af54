"""`python -m cea_edge.testsets`: the standard-benchmark protocol on a made-up set folder (the real sets are
never needed by the tests)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from cea_edge.errors import run_cli
from cea_edge.metrics import psnr
from cea_edge.testsets import main, noisy_input
from tests.helpers import error_lines


@pytest.fixture
def set_folder(tmp_path):
    rng = np.random.default_rng(0)
    for name, count in (("CBSD68", 2), ("RNI15", 1)):
        (tmp_path / "sets" / name).mkdir(parents=True)
        for index in range(count):
            smooth = np.kron(rng.integers(30, 220, (6, 8, 3)), np.ones((8, 8, 1))).astype(np.uint8)
            Image.fromarray(smooth).save(tmp_path / "sets" / name / f"{index}.png")
    return tmp_path / "sets"


def test_the_noisy_input_is_8_bit_seeded_and_has_the_asked_sigma():
    clean = np.full((200, 200, 3), 128, np.uint8)
    noisy = noisy_input(clean, 25, (25, 1))
    assert noisy.dtype == np.uint8 and np.array_equal(noisy, noisy_input(clean, 25, (25, 1)))
    assert not np.array_equal(noisy, noisy_input(clean, 25, (25, 2)))
    assert np.std(noisy.astype(float) - clean) == pytest.approx(25, rel=0.03)
    assert psnr(clean, noisy, 255.0) == pytest.approx(20.17, abs=0.1)  # the benchmark's input PSNR at sigma 25


def test_a_model_is_scored_per_set_and_sigma_and_a_panel_is_written(set_folder, tiny_checkpoint, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    code = run_cli(main, ["--dir", str(set_folder), "--model", str(tiny_checkpoint), "--sets", "CBSD68", "--sigmas", "0",
                          "15", "50", "--json", str(out / "t.json"), "--markdown", str(out / "t.md"), "--panel", "RNI15",
                          "--panel-out", str(out / "rni.png"), "--threads", "1"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    report = json.loads((out / "t.json").read_text())
    scores = {(s["set"], s["sigma"]): s for s in report["scores"]}
    assert set(scores) == {("CBSD68", 0), ("CBSD68", 15), ("CBSD68", 50)} and all(s["images"] == 2 for s in scores.values())
    assert scores[("CBSD68", 15)]["input_psnr"] > scores[("CBSD68", 50)]["input_psnr"] + 8
    # sigma 0: the clean image in, its (infinite) input PSNR recorded as null, the output scored
    assert scores[("CBSD68", 0)]["input_psnr"] is None and 0 < scores[("CBSD68", 0)]["output_psnr"] < 200
    assert report["models"]["tiny.pt"]["preset"] == "tiny" and report["models"]["tiny.pt"]["parameters"] > 0
    assert "| tiny.pt |" in (out / "t.md").read_text() and "Published CBSD68" in captured.out
    with Image.open(out / "rni.png") as sheet:
        assert sheet.width == 2 * 360 + 8 and sheet.height > 100


@pytest.mark.parametrize("argv, message", [
    (["--sets", "CBSD68"], "nowhere' does not exist"),  # issue 31: once "no images in 'nowhere/CBSD68'"
    (["--dir", "{tmp}", "--sets", "CBSD68"], "no images in"),
    (["--sigmas", "-1"], "--sigmas -1"),
    (["--sigmas", "256"], "--sigmas 256"),
    (["--panel", "RNI15"], "--panel and --panel-out go together"),
])
def test_user_errors_are_one_line(tmp_path, tiny_checkpoint, capsys, argv, message):
    argv = [str(tmp_path) if arg == "{tmp}" else arg for arg in argv]
    code = run_cli(main, ["--dir", str(tmp_path / "nowhere"), "--model", str(tiny_checkpoint), *argv])
    assert code == 2
    (line,) = error_lines(capsys.readouterr().err)
    assert message in line
