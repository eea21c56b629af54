"""Shared fixtures: tiny models, small image files, and the exported artifacts (each built
once per session: an export is the slowest thing the suite does)."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch
from PIL import Image

from cea_edge.model import CEANet, get_preset
from cea_edge.model.checkpoint import save_checkpoint
from cea_edge.train import TrainConfig, train
from tests.helpers import CONTEXT, Exported, export_argv, load_manifest, make_active, run_qat


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


@pytest.fixture(scope="session")
def session_checkpoint(tmp_path_factory) -> Path:
    """The `tiny_model` weights as a file the session's exports share (never written to)."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("checkpoint") / "tiny.pt"
    save_checkpoint(path, make_active(CEANet(get_preset("tiny"))), {"note": "session fixture"})
    return path


ExportOnce = Callable[..., Exported]


@pytest.fixture(scope="session")
def export_once(tmp_path_factory) -> ExportOnce:
    """``export_once(checkpoint, target, precision, *flags, context=CONTEXT)`` -> Exported.

    Builds through the CLI (tile 32, overlap 8), each distinct request once per session;
    callers only read what comes back. A failed build is not cached: every test asking for
    it fails with the CLI's error.
    """
    from cea_edge.errors import run_cli
    from cea_edge.export.__main__ import main

    built: dict[tuple, Exported] = {}

    def export(checkpoint: Path, target: str, precision: str, *flags: str, context: int = CONTEXT) -> Exported:
        key = (str(checkpoint), target, precision, flags, context)
        if key not in built:
            out = tmp_path_factory.mktemp(f"{target}-{precision}-ctx{context}")
            argv = export_argv(target, checkpoint, out, "--precision", precision, *flags, context=context)
            stdout, stderr = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
                code = run_cli(main, argv)
            assert code == 0, f"export {argv} failed: {stderr.getvalue()}"
            (manifest_file,) = out.glob("*.json")
            artifact = manifest_file.with_suffix("")
            built[key] = Exported(artifact, load_manifest(artifact), stdout.getvalue(), checkpoint)
        return built[key]

    return export


# --- a trained tiny model and its QAT twin (int8 exports and parity) ---------------------------

@pytest.fixture(scope="session")
def fp32_checkpoint(tmp_path_factory) -> Path:
    """A briefly trained `tiny` (~20 s; the int8 exports and the int8 parity start from it): a random
    one amplifies every rounding difference chaotically, which says nothing about a quantized graph
    of a trained model."""
    torch.manual_seed(0)
    config = TrainConfig.build(preset="tiny", steps=80, batch=4, patch=32, lr=2e-3, warmup=5, val_every=80, save_every=80)
    return train(config, tmp_path_factory.mktemp("fp32"), progress=False)


@pytest.fixture(scope="session")
def qat_checkpoint(fp32_checkpoint, tmp_path_factory) -> Path:
    pytest.importorskip("nncf")
    return run_qat(fp32_checkpoint, tmp_path_factory.mktemp("qat"))


# --- the same for the v2 design (tiny2): trained briefly in global-context mode, and QAT ---------

@pytest.fixture(scope="session")
def fp32_checkpoint_v2(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    config = TrainConfig.build(preset="tiny2", steps=80, batch=4, patch=32, lr=2e-3, warmup=5, val_every=80,
                               save_every=80, context_loss=0.1)
    return train(config, tmp_path_factory.mktemp("fp32-v2"), progress=False)


@pytest.fixture(scope="session")
def qat_checkpoint_v2(fp32_checkpoint_v2, tmp_path_factory) -> Path:
    pytest.importorskip("nncf")
    return run_qat(fp32_checkpoint_v2, tmp_path_factory.mktemp("qat-v2"))
