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
from tests.fixtures import make_fixtures as fixtures
from tests.helpers import CONTEXT, Exported, export_argv, load_manifest, make_active, make_smoke_reference, run_qat

# Tiers, as timm's tests/test_models.py keeps them: "unit" (no exported artifact: seconds), "export"
# (builds or reads the session's artifacts of the tiny presets), "slow" (bundled models, v1's chains,
# end-to-end reports, isolated fuzz cases: on demand, `-m slow`; CI adds the `shipped` ones). A test's
# tier follows its marks and the fixtures it uses; each tier has a timeout (pytest-timeout), long
# enough for the first test of a kind, which pays for the session artifact it shares.
TIER_TIMEOUT_S = {"unit": 180, "export": 900, "slow": 3600}
EXPORT_FIXTURES = frozenset({"export_once", "fp32_checkpoint", "qat_checkpoint", "fp32_checkpoint_v2", "qat_checkpoint_v2",
                             "edge_checkpoint", "tiny_report"})


def tier_of(item: pytest.Item) -> str:
    if item.get_closest_marker("slow"):
        return "slow"
    if item.get_closest_marker("export") or EXPORT_FIXTURES.intersection(getattr(item, "fixturenames", ())):
        return "export"
    return "unit"


@pytest.hookimpl(tryfirst=True)  # before -m selects on the marks added here
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        tier = tier_of(item)
        item.add_marker(tier)
        if item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(TIER_TIMEOUT_S[tier]))


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


# --- trained tiny models and their QAT twins (int8 exports and parity) ------------------------
# The fp32 ones are committed under tests/fixtures/ (python -m tests.fixtures.make_fixtures;
# test_fixtures_are_fresh in the slow tier checks them against their recipe): a random model amplifies
# every rounding difference chaotically, which says nothing about a quantized graph of a trained one.
# `tiny2` was trained in global-context mode, as edge v2 is. Read-only: tests never write to them.

@pytest.fixture(scope="session")
def fp32_checkpoint() -> Path:
    return fixtures.fp32_path("tiny")


@pytest.fixture(scope="session")
def qat_checkpoint(fp32_checkpoint, tmp_path_factory) -> Path:
    pytest.importorskip("nncf")
    return run_qat(fp32_checkpoint, tmp_path_factory.mktemp("qat"))


@pytest.fixture(scope="session")
def trained_reference(fp32_checkpoint, tmp_path_factory):
    """The fp32 parity reference of the trained tiny checkpoint the QAT checkpoint (and the int8 exports) came from."""
    return make_smoke_reference(fp32_checkpoint, tmp_path_factory.mktemp("parity-trained") / "reference")


@pytest.fixture(scope="session")
def fp32_checkpoint_v2() -> Path:
    return fixtures.fp32_path("tiny2")


@pytest.fixture(scope="session")
def qat_checkpoint_v2(fp32_checkpoint_v2, tmp_path_factory) -> Path:
    pytest.importorskip("nncf")
    return run_qat(fp32_checkpoint_v2, tmp_path_factory.mktemp("qat-v2"))


@pytest.fixture(scope="session")
def qat_checkpoint_v2_convolutions(fp32_checkpoint_v2, tmp_path_factory) -> Path:
    """tiny2 quantized as the bundled recipe places activations: convolutions in and out only."""
    pytest.importorskip("nncf")
    return run_qat(fp32_checkpoint_v2, tmp_path_factory.mktemp("qat-v2-convolutions"), activations="convolutions")
