"""Shared fixtures: tiny models and small image files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cea_edge.model import CEANet, get_preset
from cea_edge.model.checkpoint import save_checkpoint
from tests.helpers import make_active


@pytest.fixture
def tiny_model() -> CEANet:
    torch.manual_seed(0)
    return make_active(CEANet(get_preset("tiny")))


@pytest.fixture
def tiny_checkpoint(tmp_path: Path, tiny_model: CEANet) -> Path:
    path = tmp_path / "tiny.pt"
    save_checkpoint(path, tiny_model, {"note": "test fixture"})
    return path


@pytest.fixture
def rgb_file(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    path = tmp_path / "photo.png"
    Image.fromarray(rng.integers(0, 256, (40, 56, 3), dtype=np.uint8)).save(path)
    return path
