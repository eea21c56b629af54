"""Parity: the FP32 reference set (made, recorded, loaded without torch, reproduced by the CPU
model) and every target x precision that runs here checked against it through the runtime's
backends, with the bars from parity/bars.toml, exit codes 0 / 1 / 2."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from cea_edge.errors import CeaError, run_cli
from cea_edge.model.checkpoint import DEFAULT_CHECKPOINT, file_sha256
from cea_edge.parity.__main__ import default_reference, main
from cea_edge.parity.cases import PARITY_SETS, build_cases
from cea_edge.parity.check import check_artifact, load_bars
from cea_edge.parity.reference import OUTPUT_QUANTIZATION, load_reference, make_reference
from tests.helpers import CONTEXT, COREML_FLAGS, OVERLAP, TILE, error_lines, make_smoke_reference

REPOSITORY = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def smoke_reference(session_checkpoint, tmp_path_factory):
    """The fp32 reference of the session's random tiny checkpoint (fp32 and fp16 exports)."""
    return make_smoke_reference(session_checkpoint, tmp_path_factory.mktemp("parity") / "reference")


# --- the reference set -------------------------------------------------------------------------

def test_parity_sets_cover_tiles_and_a_photo_larger_than_the_context():
    spec = PARITY_SETS["smoke"]
    cases = build_cases(spec)
    assert [c.kind for c in cases] == ["tile"] * len(spec.tile_cases) + ["photo"] * len(spec.photos)
    assert all(c.degraded.shape == (TILE, TILE, 3) for c in cases if c.kind == "tile")
    assert any(max(c.degraded.shape[:2]) > CONTEXT for c in cases if c.kind == "photo")
    # the same inputs on every call (seeded)
    again = build_cases(spec)
    assert all((a.degraded == b.degraded).all() and (a.clean == b.clean).all() for a, b in zip(cases, again))
    standard = PARITY_SETS["standard"]
    assert standard.tile_crop == 256 and any(max(p.crop) > 512 for p in standard.photos)


def test_reference_records_how_it_was_made(smoke_reference, session_checkpoint):
    record = smoke_reference.record
    assert record["schema"] == "cea-edge/parity-reference" and record["version"] == 1
    assert record["device"]["type"] == "cpu" and record["device"]["name"] and record["device"]["cuda"] is None
    assert record["checkpoint"]["sha256"] == file_sha256(session_checkpoint)
    assert record["tiling"] == {"tile": TILE, "overlap": OVERLAP, "context_size": CONTEXT, "photo_mode": "global"}
    assert record["parity_set"]["seed"] == PARITY_SETS["smoke"].seed and record["machine"]["cpu"]
    assert [c.mode for c in smoke_reference.cases] == ["tile"] * 3 + ["global"] * 2
    degraded, clean, output = smoke_reference.images(smoke_reference.cases[-1])
    assert degraded.shape == clean.shape == output.shape and output.dtype.name == "float32"
    assert 0.0 <= output.min() and output.max() <= 1.0


def test_reference_loads_without_torch(smoke_reference):
    probe = ("import sys; from cea_edge.parity.reference import load_reference; r = load_reference(sys.argv[1]); "
             "r.images(r.cases[0]); print(len(r.cases), 'torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", probe, str(smoke_reference.folder)], capture_output=True, text=True,
                          timeout=120, cwd=REPOSITORY)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == [str(len(smoke_reference.cases)), "False"]


def test_cpu_model_reproduces_the_committed_reference():
    """The bundled checkpoint on this CPU against the committed reference of it, within the fp32 bar
    (the across-devices one when the reference was made on a GPU: the bar file states both)."""
    reference = load_reference(default_reference())
    assert reference.checkpoint_sha256 == file_sha256(DEFAULT_CHECKPOINT)
    assert reference.record["parity_set"]["name"] == "standard"
    result = check_artifact(DEFAULT_CHECKPOINT, reference, load_bars(), threads=2)
    bar = load_bars()["fp32"]
    limit = bar.max_abs if reference.device == "cpu" else bar.max_abs_across_devices
    assert result.passed and result.max_abs <= limit, (result.failures, result.max_abs)
    assert result.max_abs >= 0 and all(c.psnr_db > 80 for c in result.cases)


# --- artifacts against it ----------------------------------------------------------------------

@pytest.mark.parametrize("target, precision", [("onnx", "fp32"), pytest.param("onnx", "fp16", marks=pytest.mark.slow),
                                               ("executorch", "fp32"),
                                               pytest.param("executorch", "fp16", marks=pytest.mark.slow)])
def test_float_exports_meet_their_bars(target, precision, export_once, session_checkpoint, smoke_reference):
    pytest.importorskip({"onnx": "onnxruntime", "executorch": "executorch"}[target])
    artifact = export_once(session_checkpoint, target, precision).artifact
    result = check_artifact(artifact, smoke_reference, load_bars())
    assert result.passed, result.failures
    assert result.precision == precision and len(result.cases) == len(smoke_reference.cases)
    if precision == "fp32":
        assert result.max_abs <= 1e-4 and all(c.psnr_db > 70 for c in result.cases)
    else:
        assert 45.0 <= result.worst.psnr_db < 90 and result.max_abs > OUTPUT_QUANTIZATION
    assert all(abs(c.quality_drop_db) < 0.05 for c in result.cases)


# The tiny QAT model's ExecuTorch int8 export is the slowest build of the suite (~4 min): slow,
# like test_int8_export's end-to-end check of it (the default suite lowers tiny2's int8 for ExecuTorch).
@pytest.mark.parametrize("target", [pytest.param("onnx", marks=pytest.mark.slow),  # v1's int8 chain: the default
                                    pytest.param("executorch", marks=pytest.mark.slow),  # tier keeps tiny2's
                                    "qat-checkpoint"])
def test_int8_meets_the_int8_bars_against_the_fp32_reference(target, export_once, qat_checkpoint, trained_reference):
    artifact = qat_checkpoint if target == "qat-checkpoint" else export_once(qat_checkpoint, target, "int8").artifact
    result = check_artifact(artifact, trained_reference, load_bars())
    assert result.precision == "int8"
    assert result.passed, result.failures
    # int8 differs from fp32 measurably, and the bars allow it: >= 35 dB, a drop of <= 0.10 dB
    assert 35.0 <= result.worst.psnr_db < 70 and result.max_abs > 1e-3
    assert result.quality_drop_db <= 0.10


@pytest.mark.skipif(sys.platform != "darwin", reason="Core ML prediction needs macOS (coremltools cannot predict on Linux)")
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_core_ml_parity_on_macos(precision, export_once, session_checkpoint, smoke_reference):
    artifact = export_once(session_checkpoint, "coreml", precision, *COREML_FLAGS).artifact
    result = check_artifact(artifact, smoke_reference, load_bars())
    assert result.passed, result.failures


def test_core_ml_off_macos_is_one_clear_error(export_once, session_checkpoint, smoke_reference, capsys):
    if sys.platform == "darwin":
        pytest.skip("Core ML predicts here: test_core_ml_parity_on_macos")
    pytest.importorskip("coremltools")
    artifact = export_once(session_checkpoint, "coreml", "fp32", *COREML_FLAGS).artifact
    assert run_cli(main, ["check", str(artifact), "--reference", str(smoke_reference.folder), "--quiet"]) == 2
    assert "Core ML runs on macOS only" in error_lines(capsys.readouterr().err)[0]


# --- the CLI -----------------------------------------------------------------------------------

def test_check_writes_json_and_markdown_and_exits_1_on_a_failed_bar(export_once, session_checkpoint, smoke_reference,
                                                                    tmp_path, capsys):
    artifact = export_once(session_checkpoint, "onnx", "fp32").artifact
    argv = ["check", str(artifact), "--reference", str(smoke_reference.folder), "--quiet",
            "--json", str(tmp_path / "p.json"), "--markdown", str(tmp_path / "p.md")]
    assert run_cli(main, argv) == 0
    report = json.loads((tmp_path / "p.json").read_text())
    (entry,) = report["artifacts"]
    assert entry["summary"]["passed"] and entry["summary"]["max_abs"] <= 1e-4 and len(entry["cases"]) == 5
    assert report["reference"]["device"]["type"] == "cpu"
    assert "| " + artifact.name + " |" in (tmp_path / "p.md").read_text()
    strict = tmp_path / "strict.toml"
    strict.write_text("[fp32]\nmax_abs = 1e-12\n")  # ONNX and PyTorch round differently: fails
    assert run_cli(main, [*argv[:-4], "--bars", str(strict), "--json", str(tmp_path / "f.json")]) == 1
    failed = json.loads((tmp_path / "f.json").read_text())["artifacts"][0]["summary"]
    assert not failed["passed"] and "max-abs" in failed["failures"][0] and math.isfinite(failed["max_abs"])
    assert "parity failed: " + artifact.name in capsys.readouterr().err


def test_user_errors_are_one_line_and_exit_2(export_once, session_checkpoint, fp32_checkpoint, smoke_reference, tmp_path,
                                             capsys):
    artifact = str(export_once(session_checkpoint, "onnx", "fp32").artifact)
    ref = ["--reference", str(smoke_reference.folder), "--quiet"]
    bad_bars = tmp_path / "bad.toml"
    bad_bars.write_text("[fp32]\nmax_ab = 1e-4\n")
    cases = {
        "another checkpoint": (["check", str(fp32_checkpoint), *ref], "make a reference of its checkpoint"),
        "no reference": (["check", artifact, "--reference", str(tmp_path / "none")], "does not exist"),
        "not a reference": (["check", artifact, "--reference", str(tmp_path)], "has no record.json"),
        "bad bars": (["check", artifact, *ref, "--bars", str(bad_bars)], "unknown key(s) ['max_ab']"),
        "json is the artifact": (["check", artifact, *ref, "--json", artifact], "is the input"),
        "threads": (["check", artifact, *ref, "--threads", "0"], "--threads 0: must be positive"),
        "reference exists": (["reference", "--device", "cpu", "--out", str(smoke_reference.folder)], "--overwrite"),
        "unknown set": (["reference", "--device", "cpu", "--set", "huge", "--out", str(tmp_path / "r")], "--set huge"),
        "bad device": (["reference", "--device", "tpu", "--set", "smoke", "--tile", "32", "--overlap", "8",
                        "--context-size", "64", "--checkpoint", str(session_checkpoint), "--out", str(tmp_path / "r")],
                       "--device tpu: choose cpu or cuda"),
    }
    for name, (argv, expected) in cases.items():
        assert run_cli(main, argv) == 2, name
        err = capsys.readouterr().err
        assert len(error_lines(err)) == 1 and expected in err, (name, err)
    assert not (tmp_path / "r").exists()


def test_a_reference_at_another_tile_is_refused(export_once, session_checkpoint, tmp_path):
    other = make_reference(session_checkpoint, "smoke", "cpu", 64, OVERLAP, CONTEXT, tmp_path / "ref64", False, "test")
    artifact = export_once(session_checkpoint, "onnx", "fp32").artifact
    with pytest.raises(CeaError, match="made at tile 64; make a reference with --tile 32"):
        check_artifact(artifact, other, load_bars())


def test_cuda_reference_without_a_gpu_says_so(session_checkpoint, tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: the reference is made there (parity reference --device cuda)")
    argv = ["reference", "--checkpoint", str(session_checkpoint), "--set", "smoke", "--tile", "32", "--overlap", "8",
            "--context-size", "64", "--out", str(tmp_path / "r"), "--quiet"]
    assert run_cli(main, argv) == 2
    assert "sees no CUDA GPU" in capsys.readouterr().err and not (tmp_path / "r").exists()


@pytest.mark.slow  # ~10 min in all: exports the bundled checkpoints at the shipped recipes, then checks them
@pytest.mark.parametrize("target, precision", [("onnx", "fp32"), ("onnx", "fp16"), ("executorch", "fp32"),
                                               ("executorch", "fp16"),
                                               ("onnx", "int8"), ("executorch", "int8"), ("checkpoint", "int8")])
def test_shipped_models_meet_the_bars_against_the_committed_reference(target, precision, tmp_path):
    from cea_edge.export.__main__ import main as export_main
    from cea_edge.model.checkpoint import DEFAULT_QAT_CHECKPOINT

    if target == "checkpoint":
        artifact = DEFAULT_QAT_CHECKPOINT
    else:
        argv = ["--target", target, "--precision", precision, "--out", str(tmp_path), "--no-verify"]
        assert run_cli(export_main, argv) == 0
        (artifact,) = [p for p in tmp_path.iterdir() if p.suffix in (".onnx", ".pte") and p.stem.count(".") == 0]
    result = check_artifact(artifact, load_reference(default_reference()), load_bars(), threads=2)
    assert result.precision == precision
    assert result.passed, result.failures
