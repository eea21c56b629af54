"""The target registry (cea_edge/targets.py): every target answers the whole interface, a file
picks its target by suffix only, and the stages read their lists from it."""

from __future__ import annotations

import dataclasses
import inspect
import sys
from pathlib import Path

import pytest

from cea_edge.errors import CeaError
from cea_edge.export.common import BuiltArtifact
from cea_edge.export.recipes import recipe_for
from cea_edge.model.config import BUNDLED_PRESET
from cea_edge.targets import (
    ARTIFACT_SUFFIXES,
    CHECKPOINT_SUFFIX,
    PRECISIONS,
    QUANTIZED_PRECISIONS,
    TARGETS,
    Target,
    target_for_path,
)

# The interface, member by member; a member added to Target fails
# test_the_interface_is_what_this_file_checks until it is checked here too.
FIELDS = ("name", "suffix", "title", "kind", "precisions", "folder", "platform", "op_profiler")
METHODS = ("unavailable", "exporter", "export", "default_artifact", "verify", "open", "census", "time_census")


def test_the_interface_is_what_this_file_checks():
    methods = {name for name, member in inspect.getmembers(Target, inspect.isfunction) if not name.startswith("_")}
    assert tuple(f.name for f in dataclasses.fields(Target)) == FIELDS and methods == set(METHODS)


def test_the_registry_is_fixed_and_names_its_entries():
    assert tuple(TARGETS) == ("onnx", "executorch", "coreml")
    assert ARTIFACT_SUFFIXES == (".onnx", ".pte", ".mlpackage")
    with pytest.raises(TypeError):
        TARGETS["mine"] = TARGETS["onnx"]  # read-only: nothing adds a target at run time
    with pytest.raises(dataclasses.FrozenInstanceError):
        TARGETS["onnx"].suffix = ".txt"


@pytest.mark.parametrize("name", list(TARGETS))
def test_every_target_answers_every_member(name, tmp_path):
    target = TARGETS[name]
    # what it is
    assert target.name == name and target.suffix.startswith(".") and target.suffix == target.suffix.lower()
    assert target.title and target.kind and isinstance(target.folder, bool) and isinstance(target.op_profiler, bool)
    assert target.precisions and set(target.precisions) <= set(PRECISIONS) and "fp32" in target.precisions
    assert target.platform in (None, "darwin")
    reason = target.unavailable()
    assert reason == ("" if target.platform in (None, sys.platform) else
                      f"{target.title} prediction runs on macOS only, not on {sys.platform}")
    # export: its exporter module, the pipeline behind export(), the bundled recipe's default output
    exporter = target.exporter()
    assert all(callable(getattr(exporter, member)) for member in ("check_toolchain", "prediction_unavailable", "build"))
    recipe = recipe_for(name)
    assert exporter.prediction_unavailable(recipe) == ("" if name != "coreml" else reason)
    other = recipe_for(next(n for n in TARGETS if n != name))
    with pytest.raises(CeaError, match=f"is for target '{other.target}', not '{name}'"):
        target.export(other, None, tmp_path / "out")
    with pytest.raises(CeaError, match="missing.pt"):  # the pipeline's own checks, before anything is written
        target.export(recipe, tmp_path / "missing.pt", tmp_path / "out")
    assert not (tmp_path / "out").exists()
    default = target.default_artifact(BUNDLED_PRESET)
    assert default.parent == Path("artifacts") / name and default.suffix == target.suffix
    assert default.name.startswith(f"{BUNDLED_PRESET}-") and f"-{recipe.precision}-{recipe.tile}" in default.name
    # verify: the shared step; where nothing can run (said by ``unavailable``) the structural checks stand in
    built = BuiltArtifact(runtime="none here", unavailable="no runtime in this test", checks=["structure ok"])
    verification = target.verify(tmp_path / f"x{target.suffix}", built, None, None, recipe, "PyTorch fp32")
    assert not verification.ran and verification.checks == ["structure ok"] and verification.passed is None
    # runtime, census, time census: a damaged file is one clear error, never a crash
    damaged = tmp_path / f"damaged{target.suffix}"
    if target.folder:
        damaged.mkdir()
    else:
        damaged.write_bytes(b"\0" * 128)
    for member in (target.open, target.time_census):
        with pytest.raises(CeaError) as error:
            member(damaged)
        assert "\n" not in str(error.value)
    if name == "onnx":
        assert target.census(damaged) is None  # an ONNX graph has no static census: its profiler stands in
    else:
        with pytest.raises(CeaError, match=damaged.name):  # one error that names the file
            target.census(damaged)


def test_core_ml_has_no_time_census():
    with pytest.raises(CeaError, match="Core ML has no per-operator profiler"):
        TARGETS["coreml"].time_census(Path("m.mlpackage"))


@pytest.mark.parametrize("name", ["m.onnx", "dir/m.PTE", "m.context.onnx", "m.MLPackage"])
def test_a_file_picks_its_target_by_suffix(name):
    target = target_for_path(name)
    assert target is not None and target.suffix == Path(name).suffix.lower()


def test_a_checkpoint_is_no_target():
    assert target_for_path(f"runs/final{CHECKPOINT_SUFFIX}") is None


@pytest.mark.parametrize("name", ["m.txt", "m", "m.onnx.bak", "m.ptl", ".pte", "m.tflite"])
def test_unknown_suffixes_are_refused_with_one_message(name):
    with pytest.raises(CeaError) as error:
        target_for_path(name)
    assert str(error.value) == (f"'{name}': not a model cea-edge runs "
                                "(expected .onnx, .pte, .mlpackage or a .pt checkpoint)")
    with pytest.raises(CeaError, match="not a model cea-edge profiles"):
        target_for_path(name, "profiles")


def test_precisions_and_the_lists_built_from_them():
    from cea_edge.export.__main__ import build_parser
    from cea_edge.report import grid

    assert set(QUANTIZED_PRECISIONS) <= set(PRECISIONS)
    assert set(PRECISIONS) == {p for target in TARGETS.values() for p in target.precisions}
    # the report's grid is a full cross product: the precisions every target exports
    assert grid.TARGETS == tuple(TARGETS) and grid.PRECISIONS == ("fp32", "fp16", "int8")
    choices = {action.dest: action.choices for action in build_parser()._actions}
    assert tuple(choices["target"]) == tuple(TARGETS) and tuple(choices["precision"]) == PRECISIONS


def test_a_precision_the_target_does_not_export_names_who_does():
    with pytest.raises(CeaError, match=r"precision int8w \(int8 weights, float activations\) is a Core ML format; "
                                       "for executorch use int8, fp16 or fp32"):
        recipe_for("executorch").with_overrides(precision="int8w")
