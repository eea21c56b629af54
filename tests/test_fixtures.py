"""The committed trained fixtures (tests/fixtures/) are what their recipe makes today."""

from __future__ import annotations

import pytest
import torch

from cea_edge.data.suite import build_suite
from cea_edge.evaluate import evaluate_model
from cea_edge.model.checkpoint import load_checkpoint
from tests.fixtures import make_fixtures as fixtures


@pytest.mark.parametrize("name", sorted(fixtures.RECIPES))
def test_committed_fixtures_load_and_record_their_recipe(name):
    fp32 = load_checkpoint(fixtures.fp32_path(name))
    assert fp32.config.name == name and fp32.quantization is None
    assert fp32.metadata["train_config"] == fixtures.fp32_recipe(name).record() and fp32.metadata["step"] == 80
    assert fixtures.fp32_path(name).stat().st_size < 250_000


@pytest.mark.slow  # trains both recipes again, ~1 min
@pytest.mark.parametrize("name", sorted(fixtures.RECIPES))
def test_fixtures_are_fresh(name, tmp_path):
    """Retrained today, the recipe gives a model of the same shape and quality (not bit-identical:
    thread counts and kernels differ between machines); regenerate with python -m tests.fixtures.make_fixtures."""
    fresh = load_checkpoint(fixtures.make_fp32(name, tmp_path)).model.eval()
    committed = load_checkpoint(fixtures.fp32_path(name)).model.eval()
    assert {k: v.shape for k, v in fresh.state_dict().items()} == {k: v.shape for k, v in committed.state_dict().items()}
    samples = build_suite("aio-synth-mini")
    with torch.no_grad():
        scores = [evaluate_model(m, samples, compute_ssim=False).summary["average"].output_psnr for m in (fresh, committed)]
    assert abs(scores[0] - scores[1]) < 0.5, scores
