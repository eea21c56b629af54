"""CLI behaviour and every user-caused error: one clear line, exit code 2, nothing written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cea_edge import enhance, evaluate
from cea_edge.errors import run_cli
from cea_edge.model import CEANet, get_preset
from cea_edge.model import __main__ as model_cli
from cea_edge.model.checkpoint import save_checkpoint
from cea_edge.photo_io import read_rgb
from cea_edge.train import __main__ as train_cli
from tests.helpers import make_active


def bad_images(folder: Path, good: Path) -> dict[str, tuple[Path, str]]:
    """name -> (file, expected message fragment)."""
    cases = {}
    empty = folder / "empty.png"
    empty.write_bytes(b"")
    cases["empty"] = (empty, "is empty")
    text = folder / "notes.png"
    text.write_text("not an image")
    cases["not_image"] = (text, "not an image")
    truncated = folder / "truncated.png"
    truncated.write_bytes(good.read_bytes()[:200])
    cases["truncated"] = (truncated, "damaged or truncated")
    cmyk = folder / "cmyk.jpg"
    Image.open(good).convert("CMYK").save(cmyk)
    cases["CMYK"] = (cmyk, "CMYK")
    return cases


def test_read_rgb_accepts_8bit_rgb(rgb_file):
    image = read_rgb(rgb_file)
    assert image.shape == (40, 56, 3) and image.dtype == np.float32
    np.testing.assert_allclose(image, np.asarray(Image.open(rgb_file), dtype=np.float32) / 255, atol=1e-7)


def test_every_bad_image_gets_one_message_and_exit_2(tmp_path, rgb_file, tiny_checkpoint, capsys):
    for name, (path, expected) in bad_images(tmp_path, rgb_file).items():
        code = run_cli(enhance.main, [str(path), "--checkpoint", str(tiny_checkpoint), "-o", str(tmp_path / f"out_{name}.png")])
        err = capsys.readouterr().err
        assert code == 2, name
        assert expected in err and "Traceback" not in err, (name, err)
        assert not (tmp_path / f"out_{name}.png").exists()


def test_batch_continues_past_bad_files_and_summarises(tmp_path, rgb_file, tiny_checkpoint, capsys):
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    out = tmp_path / "out"
    out.mkdir()
    code = run_cli(enhance.main, [str(empty), str(rgb_file), "--checkpoint", str(tiny_checkpoint), "-o", str(out)])
    captured = capsys.readouterr()
    assert code == 2 and "1 of 2 file(s) failed" in captured.err
    assert [p.name for p in out.iterdir()] == ["photo_enhanced.png"]
    assert Image.open(out / "photo_enhanced.png").size == (56, 40)


def test_enhance_refuses_to_overwrite(tmp_path, rgb_file, tiny_checkpoint, capsys):
    target = tmp_path / "result.png"
    args = [str(rgb_file), "--checkpoint", str(tiny_checkpoint), "-o", str(target)]
    assert run_cli(enhance.main, args) == 0
    before = target.read_bytes()
    assert run_cli(enhance.main, args) == 2 and "--overwrite" in capsys.readouterr().err
    assert target.read_bytes() == before
    assert run_cli(enhance.main, [*args, "--overwrite", "--compare"]) == 0
    assert Image.open(target).size == (56, 40)
    assert Image.open(tmp_path / "result_compare.png").size == (112, 40)


def checkpoint_problems(tmp_path: Path, tiny_checkpoint: Path) -> dict[str, tuple[Path, str]]:
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"\x00\x01 definitely not a checkpoint")
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(tiny_checkpoint.read_bytes()[:1000])
    mismatched = tmp_path / "mismatched.pt"
    payload = torch.load(tiny_checkpoint, weights_only=True)
    payload["config"]["width"] = 12
    torch.save(payload, mismatched)
    return {
        "missing": (tmp_path / "missing.pt", "does not exist"),
        "garbage": (garbage, "not a readable cea-edge checkpoint"),
        "truncated": (truncated, "not a readable cea-edge checkpoint"),
        "foreign": (foreign, "not a cea-edge checkpoint"),
        "mismatched": (mismatched, "weights do not match"),
    }


def test_bad_checkpoints(tmp_path, rgb_file, tiny_checkpoint, capsys):
    for name, (path, expected) in checkpoint_problems(tmp_path, tiny_checkpoint).items():
        for main, args in ((enhance.main, [str(rgb_file), "-o", str(tmp_path / "x.png")]),
                           (evaluate.main, ["--suite", "aio-synth-mini", "--no-ssim"])):
            assert run_cli(main, [*args, "--checkpoint", str(path)]) == 2, name
            err = capsys.readouterr().err
            assert expected in err and err.count("\n") == 1, (name, err)
    assert not (tmp_path / "x.png").exists()


def test_checkpoint_of_another_preset(tiny_checkpoint, capsys):
    assert run_cli(evaluate.main, ["--checkpoint", str(tiny_checkpoint), "--preset", "edge"]) == 2
    assert "holds preset 'tiny', but preset 'edge' was asked for" in capsys.readouterr().err


@pytest.mark.parametrize("main, args, expected", [
    (train_cli.main, ["--preset", "huge"], "unknown preset 'huge'"),
    (model_cli.main, ["huge"], "unknown preset 'huge'"),
    (evaluate.main, ["--suite", "nope"], "unknown evaluation suite"),
    (train_cli.main, ["--preset", "tiny", "--patch", "30"], "must be a multiple of 4"),
    (train_cli.main, ["--preset", "tiny", "--steps", "0"], "must be positive"),
])
def test_bad_flags(main, args, expected, capsys):
    assert run_cli(main, args) == 2
    assert expected in capsys.readouterr().err


def test_resume_from_weights_only_checkpoint_is_refused(tmp_path, tiny_checkpoint, capsys):
    """Refused for what it is (weights only: --init takes it), not as "not ... of this preset" (it is of this preset)."""
    args = ["--preset", "tiny", "--steps", "2", "--batch", "1", "--patch", "32", "--out", str(tmp_path / "r"),
            "--resume", str(tiny_checkpoint), "--no-progress"]
    assert run_cli(train_cli.main, args) == 2
    err = capsys.readouterr().err
    assert "holds weights only" in err and "pass --init instead" in err and "of this preset" not in err


def test_evaluate_writes_a_table_and_json(tmp_path, tiny_checkpoint, capsys):
    report = tmp_path / "report.json"
    # --no-ssim: SSIM is tests/test_metrics.py's subject, and doubles this test's time
    assert run_cli(evaluate.main, ["--checkpoint", str(tiny_checkpoint), "--suite", "aio-synth-mini", "--no-ssim",
                                   "--json", str(report)]) == 0
    out = capsys.readouterr().out
    assert "| noise50 |" in out and "**average**" in out
    data = json.loads(report.read_text())
    (name,) = data
    assert {c["case"] for c in data[name]["cases"]} >= {"noise15", "haze_region", "low+haze+rain"}
    assert set(data[name]["summary"]) == {"average", "single", "spatial", "composite"}


def test_cli_process_prints_no_traceback(tmp_path, tiny_checkpoint):
    """The real entry point, as a user runs it."""
    result = subprocess.run([sys.executable, "-m", "cea_edge.enhance", str(tmp_path / "nothing.png"),
                             "--checkpoint", str(tiny_checkpoint)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [f"error: '{tmp_path / 'nothing.png'}' does not exist",
                                                  "1 of 1 file(s) failed"]


# --- every flag value and output location is checked before the work ---------------------------


@pytest.mark.parametrize("args, expected", [
    (["--lr", "0"], "--lr 0.0: must be positive"),
    (["--batch", "0"], "--batch 0: must be positive"),
    (["--warmup", "-1"], "--warmup -1: must be >= 0"),
    (["--weight-decay", "-0.1"], "--weight-decay -0.1: must be >= 0"),
    (["--threads", "-2"], "--threads -2: must be positive"),
    (["--val-suite", "nope"], "--val-suite nope: unknown evaluation suite"),
    (["--preset", "huge"], "--preset huge: unknown preset 'huge'"),
    (["--patch", "30"], "--patch 30: must be a multiple of 4"),
])
def test_train_flag_values_name_the_flag(args, expected, tmp_path, capsys):
    assert run_cli(train_cli.main, ["--preset", "tiny", "--out", str(tmp_path / "run"), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {expected}") and err.count("\n") == 1, err
    assert not (tmp_path / "run").exists()


def blocked_run_folders(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """name -> (a --out that cannot hold a run, expected message)."""
    a_file = tmp_path / "a_file"
    a_file.write_text("keep me")
    with_folder_for_final = tmp_path / "run_with_final_dir"
    (with_folder_for_final / "final.pt").mkdir(parents=True)
    return {
        "is_a_file": (a_file, "is a file; pass --out with a folder"),
        "under_a_file": (a_file / "run", "is a file; pass --out with a folder"),
        "final_is_a_folder": (with_folder_for_final, "is a folder, where the run writes a file"),
    }


def test_train_refuses_an_unusable_run_folder_before_the_first_step(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(train_cli, "train", lambda *a, **k: pytest.fail("the work started"))
    for name, (out, expected) in blocked_run_folders(tmp_path).items():
        args = ["--preset", "tiny", "--steps", "1000000", "--out", str(out), "--no-progress"]
        assert run_cli(train_cli.main, args) == 2, name
        err = capsys.readouterr().err
        assert expected in err and err.count("\n") == 1, (name, err)
    assert (tmp_path / "a_file").read_text() == "keep me"


def test_evaluate_checks_its_report_path_and_flags_before_scoring(tmp_path, tiny_checkpoint, capsys):
    base = ["--checkpoint", str(tiny_checkpoint), "--suite", "aio-synth", "--no-ssim"]
    for extra, expected in ((["--json", str(tmp_path / "missing" / "r.json")], "folder '" + str(tmp_path / "missing")),
                            (["--json", str(tmp_path)], "--json '" + str(tmp_path) + "' is a folder"),
                            (["--threads", "0"], "--threads 0: must be positive"),
                            (["--threads", "100000"], "--threads 100000: this process may use"),
                            (["--json", str(tiny_checkpoint)], "is the input '" + str(tiny_checkpoint)),
                            (["--preset", "huge"], "--preset huge: unknown preset"),
                            (["--suite", "nope"], "--suite nope: unknown evaluation suite")):
        assert run_cli(evaluate.main, [*base, *extra]) == 2, extra
        captured = capsys.readouterr()
        assert expected in captured.err and captured.err.count("\n") == 1, captured.err
        assert "suite" not in captured.out  # nothing was scored
    assert not (tmp_path / "missing").exists()


def test_evaluate_average_factors_and_ranks(tmp_path, tiny_model, capsys):
    """--average-factors scores a second column with instance conditioning taken away; --ranks
    gives one effective rank per adapter (v1 and v2 alike), within [1, r]."""
    torch.manual_seed(4)
    v2 = make_active(CEANet(get_preset("tiny2")))
    paths = {"tiny": tmp_path / "tiny.pt", "tiny2": tmp_path / "tiny2.pt"}
    save_checkpoint(paths["tiny"], tiny_model)
    save_checkpoint(paths["tiny2"], v2)
    report = tmp_path / "report.json"
    argv = ["--checkpoint", str(paths["tiny"]), "--checkpoint", str(paths["tiny2"]), "--suite", "aio-synth-mini",
            "--no-ssim", "--average-factors", "--ranks", "--json", str(report)]
    assert run_cli(evaluate.main, argv) == 0
    out = capsys.readouterr().out
    data = json.loads(report.read_text())
    assert list(data) == ["tiny (tiny.pt)", "tiny (tiny.pt), suite-average factors", "tiny2 (tiny2.pt)",
                          "tiny2 (tiny2.pt), suite-average factors"]
    for name, preset in (("tiny (tiny.pt)", "tiny"), ("tiny2 (tiny2.pt)", "tiny2")):
        ranks = data[name]["effective_ranks"]
        assert len(ranks) == 3 and all(1.0 <= r <= get_preset(preset).adapter.rank for r in ranks)
        assert f"effective rank per adapter, {name}" in out
        # the averaged factors restore differently from each image's own
        own, average = (data[key]["summary"]["average"]["output_psnr"] for key in (name, f"{name}, suite-average factors"))
        assert own != average


@pytest.mark.parametrize("args, expected", [
    (["--preset", "edge", "--static-adapters"], "--static-adapters: needs a v2 preset"),
    (["--preset", "tiny2", "--no-adapters", "--context-loss", "0.1"], "--context-loss: trains the factors"),
    (["--preset", "tiny2", "--context-loss", "0.1", "--patch", "20"], "half of it must be a multiple of 4"),
    (["--preset", "tiny2", "--context-loss", "-1"], "--context-loss -1.0: must be >= 0"),
])
def test_train_v2_flags_are_checked_before_the_work(tmp_path, capsys, args, expected):
    assert run_cli(train_cli.main, [*args, "--out", str(tmp_path / "run"), "--no-progress"]) == 2
    assert expected in capsys.readouterr().err and not (tmp_path / "run").exists()


def test_evaluate_panel_shows_input_each_model_and_clean(tmp_path, tiny_checkpoint, tiny_model, capsys):
    """--panel: a row per chosen case (input | each checkpoint | clean) at 1:1, under the grid's title;
    the clean panel holds the suite's clean crop, the input panel its degraded one."""
    from cea_edge import panels
    from cea_edge.data.suite import build_suite
    from cea_edge.photo_io import from_float

    second = tmp_path / "second.pt"
    save_checkpoint(second, tiny_model)
    picture = tmp_path / "panel.png"
    argv = ["--checkpoint", str(tiny_checkpoint), "--checkpoint", str(second), "--suite", "aio-synth-mini",
            "--no-ssim", "--panel", str(picture), "--panel-cases", "noise25", "low+haze+rain"]
    assert run_cli(evaluate.main, argv) == 0
    assert f"wrote {picture}" in capsys.readouterr().out
    samples = build_suite("aio-synth-mini")
    photo = samples[0].photo
    chosen = [next(s for s in samples if s.photo == photo and s.case == case) for case in ("noise25", "low+haze+rain")]
    side = chosen[0].clean.shape[0]
    image = np.asarray(Image.open(picture).convert("RGB"))
    row_height = side + panels.CAPTION_HEIGHT
    assert image.shape == (panels.PANEL_TOP + side + panels.PANEL_GAP + row_height,
                           panels.PANEL_GAP + 4 * (side + panels.PANEL_GAP), 3)
    for row, sample in enumerate(chosen):
        for column, expected in ((0, sample.degraded), (3, sample.clean)):
            left, top = panels.panel_origin(column, side)
            top += row * row_height
            assert np.array_equal(image[top:top + side, left:left + side], from_float(np.clip(expected, 0, 1), 8))
    # Exclusive creation: a second run without --overwrite refuses and leaves the picture alone.
    before = picture.read_bytes()
    assert run_cli(evaluate.main, argv) == 2
    assert "--panel" in capsys.readouterr().err and picture.read_bytes() == before


@pytest.mark.parametrize("extra, expected", [
    (["--panel-cases", "noise25"], "--panel-photo / --panel-cases choose what --panel shows: add --panel OUT.png"),
    (["--panel", "{tmp}/p.jpg"], "the picture is a PNG; give a name ending in .png"),
    (["--panel", "{tmp}/p.png", "--panel-cases", "nope"], "--panel-cases: nope not a case of this suite"),
    (["--panel", "{tmp}/p.png", "--panel-photo", "nope"], "--panel-photo 'nope' is not a photo of this suite"),
    (["--panel", "{tmp}/r.png", "--json", "{tmp}/r.png"], "--json and --panel name the same file"),
])
def test_evaluate_panel_flags_are_checked(extra, expected, tmp_path, tiny_checkpoint, capsys):
    argv = ["--checkpoint", str(tiny_checkpoint), "--suite", "aio-synth-mini", "--no-ssim",
            *[a.replace("{tmp}", str(tmp_path)) for a in extra]]
    assert run_cli(evaluate.main, argv) == 2
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1, err
    assert not list(tmp_path.glob("*.png")) and not list(tmp_path.glob("*.json"))
