"""The checkpoints that ship with the package, and the README's main job."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from cea_edge.data.suite import build_suite
from cea_edge.evaluate import evaluate_model
from cea_edge.model.checkpoint import (
    BUNDLED_DIR,
    DEFAULT_CHECKPOINT,
    DEFAULT_QAT_CHECKPOINT,
    EDGE2_CHECKPOINT,
    EDGE2_QAT_CHECKPOINT,
    EDGE_V1_CHECKPOINT,
    EDGE_V1_QAT_CHECKPOINT,
    file_sha256,
    load_checkpoint,
)
from cea_edge.model.config import BUNDLED_PRESET
from cea_edge.photo_io import read_rgb
from cea_edge.quantize.recipe import recipe_from_record

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "coffee_low+haze+rain.png"
EDGE2_MEASURED_GAIN_DB = 5.88  # average PSNR gain of edge2.pt on aio-synth (docs/results.md)
TARGET_GAIN_DB = 5.0  # the foundation issue's bar
MAX_INT8_DROP_DB = 0.10  # the quantization issue's bar: QAT int8 vs fp32, average PSNR on aio-synth
MAX_FAMILY_LOSS_DB = 0.2  # issue 16: no family (single, spatial, composite) worse than v1's by more


@pytest.fixture(scope="module")
def bundled():
    return load_checkpoint(DEFAULT_CHECKPOINT, expected_preset=BUNDLED_PRESET)


@pytest.fixture(scope="module")
def edge2():
    return load_checkpoint(EDGE2_CHECKPOINT, expected_preset="edge2")


@pytest.fixture(scope="module")
def v1():
    return load_checkpoint(EDGE_V1_CHECKPOINT, expected_preset="edge")


@pytest.fixture(scope="module")
def aio_synth():
    return build_suite("aio-synth")


@pytest.fixture(scope="module")
def bundled_on_aio_synth(bundled, aio_synth):
    """The bundled model over aio-synth (PSNR only), scored once for every test that compares with it."""
    return evaluate_model(bundled.model, aio_synth, "aio-synth", compute_ssim=False)


@pytest.fixture(scope="module")
def edge2_on_aio_synth(edge2, aio_synth):
    """edge2 over aio-synth (PSNR only), scored once for every test that compares with it."""
    return evaluate_model(edge2.model, aio_synth, "aio-synth", compute_ssim=False)


def test_the_bundled_default_is_edge3_trained_on_real_photos(bundled):
    """Issue 27: the default is the real-photo model; export, enhance, parity and report follow it."""
    assert BUNDLED_PRESET == "edge3" and DEFAULT_CHECKPOINT == BUNDLED_DIR / "edge3.pt"
    assert DEFAULT_QAT_CHECKPOINT == BUNDLED_DIR / "edge3-qat-int8.pt"
    assert bundled.config.design == "v2" and len(bundled.model.adapters) == 6 and "photos" in bundled.metadata


def test_edge2_checkpoint_is_the_trained_edge2_model(edge2):
    assert edge2.config.design == "v2" and edge2.config.adapter.rank == 8 and len(edge2.model.adapters) == 4
    # Trained from scratch in one schedule (resumed across sessions): the metadata is its whole lineage.
    recipe = edge2.metadata["train_config"]
    assert edge2.metadata["step"] == recipe["steps"] == 8000 and "init" not in edge2.metadata
    assert recipe["context_loss"] > 0 and edge2.training_state is None
    assert EDGE2_CHECKPOINT.stat().st_size < 4_000_000


@pytest.mark.slow  # ~20 s: edge2 and v1 over aio-synth
@pytest.mark.shipped
def test_edge2_quality_on_the_evaluation_suite(edge2_on_aio_synth, v1, aio_synth):
    # Full aio-synth evaluations (PSNR only: seconds each) guard edge2, still shipped, in every run:
    # the +5 dB bar, a regression guard just under the measured gain (docs/results.md), and
    # issue 16's bars against v1 -- a higher average, and no family worse by more than 0.2 dB.
    report = edge2_on_aio_synth
    before = evaluate_model(v1.model, aio_synth, "aio-synth", compute_ssim=False)
    assert report.summary["average"].gain >= max(TARGET_GAIN_DB, EDGE2_MEASURED_GAIN_DB - 0.1)
    assert min(case.gain for case in report.cases) > -0.5  # no case made clearly worse
    assert report.summary["average"].output_psnr > before.summary["average"].output_psnr
    for family in ("single", "spatial", "composite"):
        assert report.summary[family].output_psnr >= before.summary[family].output_psnr - MAX_FAMILY_LOSS_DB, family


def test_edge_v1_stays_loadable_with_its_int8_twin(v1):
    assert v1.config.design == "v1" and v1.config.adapter.rank == 4 and len(v1.model.adapters) == 5
    qat = load_checkpoint(EDGE_V1_QAT_CHECKPOINT, expected_preset="edge")
    assert qat.quantization["source_checkpoint"]["sha256"] == file_sha256(EDGE_V1_CHECKPOINT)


MIN_COMPOSITE_DB = 19.0  # issue 27: aio-synth composites


def lineage(checkpoint) -> list[dict]:
    """The runs a checkpoint was fine-tuned from, newest first (metadata "init", nested)."""
    chain, origin = [], checkpoint.metadata.get("init")
    while origin is not None:
        chain.append(origin)
        origin = origin.get("init")
    return chain


def test_edge3_is_edge2_grown_and_trained_on_real_photos(bundled, edge2):
    """Its metadata holds the whole lineage back to edge2.pt, and a budget >= 5x edge2's (issue 27)."""
    assert bundled.config.middle_blocks == 4 and sum(p.numel() for p in bundled.model.parameters()) <= 2_000_000
    chain = lineage(bundled)
    assert chain[-1]["sha256"] == file_sha256(EDGE2_CHECKPOINT) and chain[-1]["step"] == edge2.metadata["step"]
    runs = [bundled.metadata["train_config"]] + [origin["train_config"] for origin in chain[:-1]]
    pixels = sum(run["steps"] * run["batch"] * run["patch"] ** 2 for run in runs)
    edge2_run = edge2.metadata["train_config"]
    assert pixels >= 5 * edge2_run["steps"] * edge2_run["batch"] * edge2_run["patch"] ** 2
    assert all(run["context_loss"] > 0 for run in runs) and "photos" in bundled.metadata
    assert bundled.training_state is None and DEFAULT_CHECKPOINT.stat().st_size < 4_000_000


@pytest.mark.slow  # ~40 s: both models over aio-synth
@pytest.mark.shipped
def test_bundled_edge3_beats_edge2_in_every_family_with_composites_over_19_db(bundled_on_aio_synth, edge2_on_aio_synth):
    """Issue 27's aio-synth bars, and the foundation's +5 dB average gain."""
    report = bundled_on_aio_synth
    new, old = report.summary, edge2_on_aio_synth.summary
    for family in ("single", "spatial", "composite", "average"):
        assert new[family].output_psnr >= old[family].output_psnr, family
    assert new["composite"].output_psnr >= MIN_COMPOSITE_DB
    assert new["average"].gain >= TARGET_GAIN_DB
    assert min(case.gain for case in report.cases) > -0.5  # no case made clearly worse


def training_budget(checkpoint, *differs: str) -> dict:
    """The run's train_config without the keys that name what an ablation pair differs in."""
    return {key: value for key, value in checkpoint.metadata["train_config"].items() if key not in differs}


def test_ablation_checkpoints_differ_only_in_adapters():
    """The v1 ablation pair: the same backbone with and without adapters, trained with the same budget."""
    with_adapters = load_checkpoint(ROOT / "checkpoints" / "edge-5000.pt", expected_preset="edge")
    without = load_checkpoint(ROOT / "checkpoints" / "edge-noadapter.pt", expected_preset="edge-noadapter")
    assert without.config == with_adapters.config.without_adapters() and without.model.adapters == []
    assert training_budget(with_adapters, "adapters") == training_budget(without, "adapters")
    assert with_adapters.metadata["step"] == without.metadata["step"]


EDGE2_STATIC = ROOT / "checkpoints" / "edge2-static.pt"
EDGE2_NOADAPTER = ROOT / "checkpoints" / "edge2-noadapter.pt"


def names_edge2_as_its_origin(ablation) -> bool:
    return ablation.metadata["ablation_of"] == {"checkpoint": EDGE2_CHECKPOINT.name,
                                                "sha256": file_sha256(EDGE2_CHECKPOINT)}


def test_edge2_static_ablation_is_edge2_with_image_independent_factors(edge2):
    """Issue 16's static low-rank adapter: edge2's backbone, rank and schedule, factors that are learned
    parameters; trained for the same steps as edge2 (without the context loss, which it cannot use)."""
    static = load_checkpoint(EDGE2_STATIC, expected_preset="edge2-static")
    assert static.config == edge2.config.with_static_adapters() and static.training_state is None
    differs = ("static_adapters", "context_loss")
    assert training_budget(static, *differs) == training_budget(edge2, *differs)
    assert static.metadata["step"] == edge2.metadata["step"]
    assert static.metadata["train_config"]["static_adapters"] is True
    assert names_edge2_as_its_origin(static)
    images = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        for routing, direction in static.model.generate_factors(images):
            assert routing.shape[0] == direction.shape[0] == 1  # one set of factors for every image


def test_edge2_noadapter_ablation_is_edge2s_backbone_alone(edge2):
    """Issue 16's no-adapter ablation: edge2's backbone without adapters, the same schedule and steps."""
    plain = load_checkpoint(EDGE2_NOADAPTER, expected_preset="edge2-noadapter")
    assert plain.config == edge2.config.without_adapters() and plain.training_state is None
    assert plain.model.adapters == [] and not list(plain.model.generate_factors(torch.rand(1, 3, 64, 64)))
    differs = ("adapters", "context_loss")
    assert training_budget(plain, *differs) == training_budget(edge2, *differs)
    assert plain.metadata["step"] == edge2.metadata["step"]
    assert plain.metadata["train_config"]["adapters"] is False
    assert names_edge2_as_its_origin(plain)


def test_edge_v1_checkpoint_records_its_lineage(v1):
    """v1 is the ablation's 5000-step model fine-tuned further; its metadata says so."""
    origin = v1.metadata["init"]
    assert origin["sha256"] == file_sha256(ROOT / "checkpoints" / "edge-5000.pt")
    assert v1.metadata["total_steps"] == origin["step"] + v1.metadata["step"]


def test_bundled_qat_checkpoint_is_int8_of_the_convolutions_of_the_bundled_model():
    """The twin that meets the parity bars in PyTorch, onnxruntime and ExecuTorch
    (reports/edge3/qat-convolutions-parity.md)."""
    qat = load_checkpoint(DEFAULT_QAT_CHECKPOINT, expected_preset=BUNDLED_PRESET)
    record = qat.quantization
    assert record["method"] == "qat" and record["recipe"]["overflow_fix"] == "enable"
    assert record["recipe"]["activations"] == "convolutions"
    assert record["source_checkpoint"]["sha256"] == file_sha256(DEFAULT_CHECKPOINT)
    assert qat.metadata["quality"]["suite"] == "aio-synth" and qat.metadata["quality"]["drop_db"] <= MAX_INT8_DROP_DB
    # edge3's 0.91 M fp32 weights (3.6 MB) and the quantizers' ranges
    assert DEFAULT_QAT_CHECKPOINT.stat().st_size < 4_100_000


def test_edge2_stays_loadable_with_its_int8_twin(edge2):
    qat = load_checkpoint(EDGE2_QAT_CHECKPOINT, expected_preset="edge2")
    assert qat.quantization["source_checkpoint"]["sha256"] == file_sha256(EDGE2_CHECKPOINT)
    # NNCF's placement: edge2 met the bars with it (a record from before the key reads as "all")
    assert recipe_from_record(qat.quantization["recipe"]).activations == "all"
    assert len(qat.model.adapters) == len(edge2.model.adapters)


@pytest.mark.slow
@pytest.mark.shipped
def test_bundled_qat_checkpoint_meets_the_int8_bar(bundled_on_aio_synth, aio_synth):
    """Fake-quantized in PyTorch; the runtimes' figures come from python -m cea_edge.report."""
    fp32 = bundled_on_aio_synth.summary["average"].output_psnr
    qat = load_checkpoint(DEFAULT_QAT_CHECKPOINT).model.eval()
    int8 = evaluate_model(qat, aio_synth, "aio-synth", compute_ssim=False).summary["average"].output_psnr
    assert fp32 - int8 <= MAX_INT8_DROP_DB


@pytest.mark.slow  # ~80 s and 2.5 GB in a subprocess; run when checkpoints/, export/ or the Core ML target changes
@pytest.mark.shipped
def test_main_job_exports_the_bundled_checkpoint_to_core_ml(tmp_path):
    """The README's first command: `python -m cea_edge.export --target coreml` (here into tmp_path)."""
    pytest.importorskip("coremltools")
    out = tmp_path / "artifacts"
    result = subprocess.run([sys.executable, "-m", "cea_edge.export", "--target", "coreml", "--out", str(out)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    package = out / f"{BUNDLED_PRESET}-int8-256.mlpackage"  # int8 from the bundled QAT checkpoint: what ships
    assert package.is_dir() and package.with_name(package.name + ".json").is_file()
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"exported {package} (") and "int8, tile 256" in lines[0]
    assert lines[1].startswith("verification: ") and "FAIL" not in lines[1]
    assert any(line.startswith("qat int8 vs fp32 on aio-synth") for line in lines), lines


def test_enhance_restores_the_bundled_example(tmp_path):
    out = tmp_path / "enhanced.png"
    result = subprocess.run([sys.executable, "-m", "cea_edge.enhance", str(EXAMPLE), "-o", str(out), "--compare"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    pair = read_rgb(tmp_path / "enhanced_compare.png")
    assert np.array_equal(read_rgb(out), pair[:, pair.shape[1] // 2:])
    degraded = read_rgb(EXAMPLE)
    width = degraded.shape[1]
    assert pair.shape == (degraded.shape[0], 2 * width, 3)
    assert np.abs(pair[:, :width] - degraded).max() <= 1 / 255
    assert np.abs(pair[:, width:] - degraded).mean() > 0.05  # the restoration changed the photo
