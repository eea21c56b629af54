"""Helpers shared by tests."""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import torch

from cea_edge.model import CEANet
from cea_edge.quantize import load_quant_recipe, quantize

# The export settings the tests share: a 32-pixel tile (tiny's smallest multiple of 16 that
# leaves an interior), overlap 8, and a 64-pixel global context (0: no global-context graphs).
TILE, OVERLAP, CONTEXT = 32, 8, 64
COREML_FLAGS = ("--deployment-target", "iOS17")  # every Core ML export of the suite: built once, shared


# v2 parameters that start at zero (PlainBlock's last convolutions, the experts' directions);
# in v1 these names hold no parameters (mixer.3 and ffn.2 are gates there).
V2_ZERO_INITIALISED = ("experts_out.", "mixer.3.", "ffn.2.")


def make_active(model: CEANet, seed: int = 0) -> CEANet:
    """Give every zero-initialised scale a random value, so adapters and blocks act."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith(("gamma", "mixer_scale", "ffn_scale")) or name.startswith("ending"):
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.5)
            elif any(part in name for part in V2_ZERO_INITIALISED):  # v2's branches end in zeroed convolutions
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.1)
    return model.eval()


def export_argv(target: str, checkpoint: Path, out: Path, *extra: str, context: int = CONTEXT) -> list[str]:
    """The export CLI's arguments for a test build (flags in ``extra`` come last and win)."""
    return ["--target", target, "--checkpoint", str(checkpoint), "--tile", str(TILE), "--overlap", str(OVERLAP),
            "--context-size", str(context), "--out", str(out), *extra]


def load_manifest(artifact: Path) -> dict:
    return json.loads(artifact.with_name(artifact.name + ".json").read_text())


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def error_lines(stderr: str) -> list[str]:
    """The CLI's error lines (toolchain imports may add their own warnings to stderr)."""
    return [line for line in stderr.splitlines() if line.startswith("error:")]


@dataclass(frozen=True)
class Exported:
    """One artifact built through the export CLI, shared read-only by the tests of a session."""

    artifact: Path  # the main file (or .mlpackage folder); its folder holds only what the export wrote
    manifest: dict
    printed: str  # the CLI's summary on stdout
    checkpoint: Path

    @property
    def folder(self) -> Path:
        return self.artifact.parent


_BUNDLED_QAT = load_quant_recipe()
QUICK_LR = 1e-4
# Two steps at 2x the bundled lr; the activation ranges keep the bundled recipe's absolute rate. NNCF's
# placement (activations "all", edge2's twin): the shared fixtures test its integer multiplies and factor
# quantizers; the bundled "convolutions" placement has its own (qat_checkpoint_v2_convolutions).
QUICK_QAT = _BUNDLED_QAT.with_overrides(
    calibration_size=16, calibration_patch=32, steps=2, batch=2, patch=32, lr=QUICK_LR, warmup=1, val_every=2,
    save_every=2, source="test", range_lr_factor=_BUNDLED_QAT.range_lr_factor * _BUNDLED_QAT.train.lr / QUICK_LR,
    activations="all")


def run_qat(fp32: Path, out: Path, **overrides) -> Path:
    return quantize(fp32, QUICK_QAT.with_overrides(**overrides), out, progress=False, val_suite="aio-synth-mini")


def make_smoke_reference(checkpoint: Path, out: Path):
    """A parity reference of ``checkpoint`` on the small "smoke" set, at the tests' tiling."""
    from cea_edge.parity.reference import make_reference

    return make_reference(checkpoint, "smoke", "cpu", TILE, OVERLAP, CONTEXT, out, False, "test")


def load_script(path: Path) -> ModuleType:
    """A script outside the package (benchmarks/, android_demo/tools/) imported as a module, by path."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
