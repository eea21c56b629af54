"""The Android demo stays tied to the toolkit: the runtime it links is the one the exporter
pins, the model in its assets is a current export of the bundled QAT checkpoint with the
recipe's settings, and the Java core's fixtures are what the Python runtime computes today.
(The Java tests themselves run from .ci/run: android_demo/tools/test_*.sh.)"""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from pathlib import Path

import pytest

from cea_edge.model.checkpoint import DEFAULT_CHECKPOINT, DEFAULT_QAT_CHECKPOINT, file_sha256, load_checkpoint
from cea_edge.model.config import BUNDLED_PRESET
from cea_edge.profile.census import executorch_census
from cea_edge.quantize.recipe import recipe_from_record
from cea_edge.runtime.backends import open_backend
from tests.helpers import load_script

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "android_demo"
ASSET = DEMO / "app" / "src" / "main" / "assets" / "cea-edge.pte"
FP32_ASSET = DEMO / "app" / "src" / "main" / "assets" / "cea-edge-fp32.pte"
FIXTURES = DEMO / "core" / "src" / "test" / "resources" / "fixtures"


def gradle_property(name: str) -> str:
    match = re.search(rf"^{name}=(\S+)$", (DEMO / "gradle.properties").read_text(), re.MULTILINE)
    assert match, f"{name} missing from android_demo/gradle.properties"
    return match.group(1)


def test_the_app_links_the_executorch_release_the_exporter_pins():
    pins = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["deploy"]
    pinned = next(pin.split("==")[1] for pin in pins if pin.startswith("executorch=="))
    assert gradle_property("executorchVersion") == pinned == importlib.metadata.version("executorch")
    build = (DEMO / "app" / "build.gradle.kts").read_text()
    assert 'implementation("org.pytorch:executorch-android:$executorchVersion")' in build
    assert re.search(r'abiFilters \+= listOf\("arm64-v8a", "x86_64"\)', build)


def test_the_bundled_asset_is_a_current_int8_export_with_the_recipe_settings():
    recipe = tomllib.loads((ROOT / "export" / "executorch.toml").read_text())
    backend = open_backend(ASSET)
    info = backend.info
    assert (info.preset, info.precision) == (BUNDLED_PRESET, "int8")
    assert info.checkpoint_sha256 == file_sha256(DEFAULT_QAT_CHECKPOINT), (
        "app/src/main/assets/cea-edge.pte was exported from another checkpoint: "
        "run android_demo/tools/bundle_model.sh")
    assert (backend.tile, backend.overlap, backend.context_size) == (
        recipe["tile"], recipe["overlap"], recipe["context_size"])
    assert backend.global_mode, "the app runs global-context mode: the asset needs the context graphs"
    # forward_global, the app's per-tile graph, runs every convolution on integers; with a twin of
    # NNCF's placement (activations "all") its gain multiplies too -- an exporter before 128ba07 left them
    # float -- while "convolutions" keeps them float by design (docs/quantization.md)
    ops = executorch_census(ASSET)["methods"]["forward_global"]["ops_inside"]
    convolutions = {name: dtypes for name, dtypes in ops.items() if name.endswith(("Conv2d", "ConvTranspose2d"))}
    assert convolutions and all(set(dtypes) == {"qint8"} for dtypes in convolutions.values()), (
        f"{convolutions}: a float convolution; run android_demo/tools/bundle_model.sh")
    placement = recipe_from_record(load_checkpoint(DEFAULT_QAT_CHECKPOINT).quantization["recipe"]).activations
    if placement == "all":
        assert "fp32" not in ops["Multiply"], f"{ops['Multiply']}: an older export; run android_demo/tools/bundle_model.sh"


def test_the_bundled_fp32_twin_is_a_current_export_with_the_same_settings():
    """The benchmark compares int8 against fp32 on the phone: same preset, tile, overlap, context."""
    int8, fp32 = open_backend(ASSET), open_backend(FP32_ASSET)
    assert (fp32.info.preset, fp32.info.precision) == (BUNDLED_PRESET, "fp32")
    assert fp32.info.checkpoint_sha256 == file_sha256(DEFAULT_CHECKPOINT), (
        "app/src/main/assets/cea-edge-fp32.pte was exported from another checkpoint: "
        "run android_demo/tools/bundle_model.sh")
    assert (fp32.tile, fp32.overlap, fp32.context_size) == (int8.tile, int8.overlap, int8.context_size)
    assert fp32.global_mode


def _build_checks():
    return load_script(DEMO / "tools" / "check_build.py").CHECKS


@pytest.mark.parametrize("name, check", _build_checks(), ids=lambda value: value if isinstance(value, str) else "")
def test_the_build_configuration_is_consistent(name, check):
    """android_demo/tools/check_build.py (also run by test_all.sh): AndroidX flag, versions, keep rules, assets."""
    check()


def test_core_fixtures_are_what_the_python_runtime_computes_now(tmp_path):
    load_script(DEMO / "tools" / "make_core_fixtures.py").main(tmp_path)
    # Photo files are encoder output (bytes vary with libjpeg/libwebp versions); their verdicts,
    # in photos.txt, are what the Java tests compare against, so those are checked instead.
    fresh = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file() and p.parent.name != "photos")
    committed = sorted(p.relative_to(FIXTURES) for p in FIXTURES.rglob("*")
                       if p.is_file() and p.parent.name != "photos")
    assert fresh == committed
    stale = [str(name) for name in fresh if (tmp_path / name).read_bytes() != (FIXTURES / name).read_bytes()]
    assert not stale, f"rerun android_demo/tools/make_core_fixtures.py: {stale}"
    assert sorted(p.name for p in (tmp_path / "photos").iterdir()) == sorted(p.name for p in (FIXTURES / "photos").iterdir())
