"""Files are data (issue 31): a model file names no code to run, a record names no file outside its
folder, and a run never trains into (or saves) non-finite weights."""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from cea_edge import enhance, evaluate
from cea_edge.errors import CeaError, run_cli
from cea_edge.model import CEANet, get_preset
from cea_edge.model.checkpoint import load_checkpoint, save_checkpoint
from cea_edge.photo_io import write_photo
from cea_edge.train import __main__ as train_cli
from tests.helpers import error_lines

# ---- 1. no code runs from a model file ------------------------------------------------------------

RESTORES = "not an NNCF type this version restores"
UNRESTORABLE = "which this version does not restore"


def _file_maker(target: Path) -> dict:
    """An "enum" that today's loader calls: NNCF's set_log_file creates the file it is given."""
    return {"__nncf_enum__": "nncf.common.logging.logger:set_log_file", "value": str(target)}


def _command(**changes) -> dict:
    """One quantizer of the kind `python -m cea_edge.quantize` saves, with ``changes``."""
    mode = {"__nncf_enum__": "nncf.common.quantization.structs:QuantizationScheme", "value": "symmetric"}
    config = {"num_bits": 8, "mode": mode, "signedness_to_force": True, "narrow_range": True, "half_range": False,
              "scale_shape": (1,), "logarithm_scale": False, "is_quantized_on_export": False}
    command = {"hook_names_in_model": ["pre_hooks.intro/conv2d/0__1.0"], "module_path": "nncf.torch.quantization.layers",
               "module_cls_name": "SymmetricQuantizer", "module_config": config}
    for key, value in changes.items():
        if key in config:
            config[key] = value
        else:
            command[key] = value
    return command


def crafted_configs(target: Path) -> dict[str, tuple[object, str]]:
    """name -> (nncf_config, message fragment); none of them may run anything or create ``target``."""
    maker = _file_maker(target)
    return {
        "nncf function at the top": ({"compression_state": [], "x": maker}, "nncf.common.logging.logger:set_log_file"),
        "nncf function in a quantizer": ({"compression_state": [_command(mode=maker)]}, RESTORES),
        "hidden in nested lists": ({"compression_state": [_command(extra={"a": [[{"b": [maker]}]]})]}, RESTORES),
        "hidden in a tuple": ({"compression_state": [_command(scale_shape=(1, maker))]}, RESTORES),
        "os:system": ({"compression_state": [_command(mode={"__nncf_enum__": "os:system", "value": f"touch {target}"})]},
                      "os:system"),
        "nncf.common.utils.os": ({"compression_state": [_command(
            mode={"__nncf_enum__": "nncf.common.utils.os:fail_if_symlink", "value": str(target)})]}, RESTORES),
        "builtins:eval": ({"compression_state": [_command(
            mode={"__nncf_enum__": "builtins:eval", "value": f"open({str(target)!r}, 'w')"})]}, "builtins:eval"),
        "outside nncf": ({"compression_state": [_command(
            mode={"__nncf_enum__": "numpy:save", "value": str(target)})]}, "numpy:save"),
        "non-member value": ({"compression_state": [_command(mode={
            "__nncf_enum__": "nncf.common.quantization.structs:QuantizationScheme", "value": "symmetric_lora"})]},
            "symmetric_lora"),
        "tagged with more keys": ({"compression_state": [_command(mode={
            "__nncf_enum__": "nncf.common.quantization.structs:QuantizationScheme", "value": "symmetric",
            "extra": 1})]}, "__nncf_enum__"),
        "a tensor": ({"compression_state": [_command(scale_shape=torch.zeros(1))]}, "Tensor"),
        "module of another NNCF class": ({"compression_state": [_command(
            module_path="nncf.torch.function_hook.pruning.magnitude.modules",
            module_cls_name="UnstructuredPruningMask")]}, UNRESTORABLE),
        "module outside nncf": ({"compression_state": [_command(module_path="os", module_cls_name="system")]},
                                UNRESTORABLE),
        "hook slot of another kind": ({"compression_state": [_command(hook_names_in_model=["_modules.x__0.0"])]},
                                      "_modules.x__0.0"),
        "unknown quantizer setting": ({"compression_state": [_command(callback="os:system")]}, "callback"),
        "huge scale": ({"compression_state": [_command(scale_shape=(10 ** 9, 1, 1, 1))]}, "scale_shape"),
        "bool as bits": ({"compression_state": [_command(num_bits=True)]}, "num_bits"),
    }


def crafted_checkpoint(path: Path, nncf_config: object) -> Path:
    save_checkpoint(path, CEANet(get_preset("tiny")), {}, quantization={"scheme": "int8", "method": "qat",
                                                                        "nncf_config": nncf_config})
    return path


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "in.png"
    write_photo(path, np.zeros((40, 56, 3), np.uint8))
    return path


def test_crafted_quantization_configs_run_nothing(tmp_path, photo, capsys):
    pytest.importorskip("nncf")
    for name, (config, expected) in crafted_configs(tmp_path / "created.txt").items():
        checkpoint = crafted_checkpoint(tmp_path / "crafted.pt", config)
        with pytest.raises(CeaError, match="quantization config") as raised:
            load_checkpoint(checkpoint)
        assert expected in str(raised.value) and str(checkpoint) in str(raised.value), (name, raised.value)
        for main, args in ((enhance.main, [str(photo), "-o", str(tmp_path / "out.png")]),
                           (evaluate.main, ["--suite", "aio-synth-mini", "--no-ssim"])):
            assert run_cli(main, [*args, "--checkpoint", str(checkpoint)]) == 2, name
            err = capsys.readouterr().err
            assert len(error_lines(err)) == 1 and expected in err and "Traceback" not in err, (name, err)
        assert not (tmp_path / "created.txt").exists(), name
        assert not (tmp_path / "out.png").exists(), name


@pytest.mark.parametrize("module", ["cea_edge.enhance", "cea_edge.evaluate"])
def test_crafted_checkpoint_creates_no_file_through_the_cli(tmp_path, photo, module):
    pytest.importorskip("nncf")
    target = tmp_path / "created.txt"
    checkpoint = crafted_checkpoint(tmp_path / "crafted.pt", {"compression_state": [], "x": _file_maker(target)})
    args = [str(photo), "-o", str(tmp_path / "out.png")] if module.endswith("enhance") else ["--suite", "aio-synth-mini"]
    result = subprocess.run([sys.executable, "-m", module, *args, "--checkpoint", str(checkpoint)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert len(error_lines(result.stderr)) == 1 and "set_log_file" in result.stderr
    assert not target.exists() and not (tmp_path / "out.png").exists()


@pytest.mark.parametrize("stage", ["export", "quantize", "parity", "profile"])
def test_every_stage_that_loads_a_checkpoint_refuses_a_crafted_one(tmp_path, capsys, stage):
    pytest.importorskip("nncf")
    import importlib

    target = tmp_path / "created.txt"
    checkpoint = str(crafted_checkpoint(tmp_path / "crafted.pt", {"compression_state": [], "x": _file_maker(target)}))
    out = tmp_path / "out"
    args = {"export": ["--target", "onnx", "--checkpoint", checkpoint, "--out", str(out)],
            "quantize": ["--checkpoint", checkpoint, "--out", str(out), "--no-progress", "--no-eval"],
            "parity": ["check", checkpoint],
            "profile": [checkpoint, "--runs", "1", "--warmup", "0", "--no-ops", "--quiet"]}[stage]
    main = importlib.import_module(f"cea_edge.{stage}.__main__").main
    assert run_cli(main, args) == 2
    err = capsys.readouterr().err
    assert len(error_lines(err)) == 1 and "set_log_file" in err and "Traceback" not in err, err
    assert not target.exists() and not out.exists()


def test_bundled_quantization_configs_pass_the_allow_list():
    pytest.importorskip("nncf")
    from cea_edge.model.checkpoint import DEFAULT_QAT_CHECKPOINT, EDGE_V1_QAT_CHECKPOINT
    from cea_edge.model.quantized import checked_nncf_config

    for path in (DEFAULT_QAT_CHECKPOINT, EDGE_V1_QAT_CHECKPOINT):
        portable = torch.load(path, map_location="cpu", weights_only=True)["quantization"]["nncf_config"]
        config = checked_nncf_config(portable, path)
        modes = {command["module_config"]["mode"].value for command in config["compression_state"]}
        assert modes == {"symmetric", "asymmetric"}
        assert all(isinstance(c["module_config"]["scale_shape"], tuple) for c in config["compression_state"])


def test_core_ml_names_from_recipes_and_flags_are_enum_members_only(tmp_path):
    pytest.importorskip("coremltools")
    from cea_edge.export.coreml_target import coreml_options
    from cea_edge.export.recipes import recipe_for
    from cea_edge.runtime.backends import open_coreml

    for name in ("__class__", "__init__", "iOS17.__class__"):
        with pytest.raises(CeaError, match="unknown Core ML deployment target"):
            coreml_options(recipe_for("coreml").with_overrides(deployment_target=name))
    with pytest.raises(CeaError, match="unknown Core ML compute units"):
        open_coreml(tmp_path / "model.mlpackage", None, "__class__")


# ---- 2. paths read from data files stay inside their folder --------------------------------------


def _reference_folder(folder: Path, names: dict[str, str]) -> Path:
    """A reference set whose one case names the files ``names`` (input / clean / output)."""
    folder.mkdir()
    write_photo(folder / "in.png", np.zeros((8, 8, 3), np.uint8))
    write_photo(folder / "clean.png", np.zeros((8, 8, 3), np.uint8))
    write_photo(folder / "out.png", np.zeros((8, 8, 3), np.uint16))
    case = {"name": "c", "kind": "tile", "mode": "tile", "photo": "p", "degradation": "d", "height": 8, "width": 8,
            "input": "in.png", "clean": "clean.png", "output": "out.png", "input_psnr": 1.0, "output_psnr": 2.0} | names
    record = {"schema": "cea-edge/parity-reference", "version": 1, "cases": [case],
              "tiling": {"tile": 32, "overlap": 8, "context_size": 64}, "checkpoint": {"sha256": "0" * 64, "file": "x"},
              "device": {"type": "cpu", "name": "cpu"}}
    (folder / "record.json").write_text(json.dumps(record))
    return folder


def _escapes(tmp_path: Path) -> dict[str, str]:
    outside = tmp_path / "secret.png"
    write_photo(outside, np.zeros((8, 8, 3), np.uint8))
    return {"parent": "../secret.png", "absolute": str(outside), "deeper parent": "sub/../../secret.png"}


def test_reference_record_names_no_file_outside_its_folder(tmp_path, capsys):
    from cea_edge.parity.__main__ import main as parity_main
    from cea_edge.parity.reference import load_reference

    assert load_reference(_reference_folder(tmp_path / "good", {})).cases[0].input == "in.png"
    escapes = _escapes(tmp_path)
    escapes["link"] = "linked.png"
    for number, (name, named) in enumerate(escapes.items()):
        folder = _reference_folder(tmp_path / f"ref{number}", {"input": named})
        if name == "link":
            os.symlink(tmp_path / "secret.png", folder / "linked.png")
        with pytest.raises(CeaError, match="outside"):
            load_reference(folder)
        assert run_cli(parity_main, ["check", str(tmp_path / "missing.pt"), "--reference", str(folder)]) == 2
        err = capsys.readouterr().err
        assert len(error_lines(err)) == 1 and "outside" in err and named in err, (name, err)
    folder = _reference_folder(tmp_path / "not-a-string", {"clean": 5})
    with pytest.raises(CeaError, match="record.json"):
        load_reference(folder)


def _reuse_folder(folder: Path, recipe, sha: str, artifact_bytes: bytes, siblings: dict | None = None) -> Path:
    from cea_edge.export.manifest import MANIFEST_FORMAT, exporter_fingerprint

    folder.mkdir()
    digest = hashlib.sha256(artifact_bytes).hexdigest()
    manifest = {"format": MANIFEST_FORMAT, "recipe": recipe.to_dict(), "checkpoint": {"sha256": sha},
                "exporter_sha256": exporter_fingerprint(), "artifact": {"sha256": digest}}
    if siblings is not None:
        manifest["siblings"] = siblings
    (folder / "model.onnx.json").write_text(json.dumps(manifest))
    return folder


def test_reuse_manifests_and_cell_records_name_no_file_outside(tmp_path):
    from cea_edge.report.grid import Cell, build_cell, cache_key, cell_recipe, search_exports

    cell = Cell("onnx", "fp32", 32)
    recipe = cell_recipe(cell, 8, 64)
    sha, content = "ab" * 32, b"not really onnx"
    outside = tmp_path / "outside.onnx"
    outside.write_bytes(content)
    # The artifact beside the manifest is a link to a file elsewhere: never copied into the report.
    linked = _reuse_folder(tmp_path / "linked", recipe, sha, content)
    os.symlink(outside, linked / "model.onnx")
    with pytest.raises(CeaError, match="outside"):
        search_exports([linked], recipe, sha)
    # A sibling the manifest names that is no graph of the contract: a clear error, not a KeyError.
    odd = _reuse_folder(tmp_path / "odd", recipe, sha, content, siblings={"../../outside": {"sha256": "0"}})
    (odd / "model.onnx").write_bytes(content)
    with pytest.raises(CeaError, match="outside"):
        search_exports([odd], recipe, sha)
    # The cache's own cell record says where the artifact is: inside the cell's folder only.
    cache = tmp_path / "cache"
    folder = cache / f"{cell.name}-{cache_key(recipe, sha)}"
    folder.mkdir(parents=True)
    for named in ("../../outside.onnx", str(outside)):
        (folder / "cell.json").write_text(json.dumps({"artifact": named}))
        with pytest.raises(CeaError, match="outside"):
            build_cell(cell, recipe, tmp_path / "unused.pt", sha, cache)


def test_inside_resolves_links_and_refuses_escapes(tmp_path):
    from cea_edge.named_files import named_file as inside

    (tmp_path / "set").mkdir()
    (tmp_path / "set" / "a.png").write_bytes(b"x")
    assert inside(tmp_path / "set", "a.png", "record") == (tmp_path / "set" / "a.png").resolve()
    os.symlink(tmp_path, tmp_path / "set" / "up")
    for named in ("../a.png", "/etc/passwd", "up/set/../x", "", ".", "a.png\0"):
        with pytest.raises(CeaError):
            inside(tmp_path / "set", named, "record")
    with pytest.raises(CeaError, match="record"):
        inside(tmp_path / "set", 5, "record")


# ---- 3. non-finite or absurd hyper-parameters, and a loss that goes non-finite -------------------

TINY_RUN = ["--preset", "tiny", "--steps", "4", "--batch", "1", "--patch", "32", "--warmup", "0", "--no-progress"]


@pytest.mark.parametrize("flag, value, expected", [
    ("--lr", "inf", "--lr inf: must be finite"),
    ("--lr", "nan", "--lr nan: must be finite"),
    ("--lr", "1e30", "--lr 1e+30: must be at most 1"),
    ("--min-lr", "nan", "--min-lr nan: must be finite"),
    ("--weight-decay", "inf", "--weight-decay inf: must be finite"),
    ("--context-loss", "nan", "--context-loss nan: must be finite"),
    ("--frequency-loss", "inf", "--frequency-loss inf: must be finite"),
    ("--frequency-loss", "1e9", "--frequency-loss 1000000000.0: must be at most"),
    ("--grad-clip", "nan", "--grad-clip nan: must be finite"),
])
def test_train_refuses_non_finite_and_absurd_values_before_any_step(tmp_path, capsys, flag, value, expected):
    out = tmp_path / "run"
    assert run_cli(train_cli.main, [*TINY_RUN, flag, value, "--out", str(out)]) == 2
    lines = error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and lines[0].startswith(f"error: {expected}"), lines
    assert not out.exists()


@pytest.mark.parametrize("args, expected", [
    (["--lr", "nan"], "--lr nan: must be finite"),
    (["--lr", "inf"], "--lr inf: must be finite"),
    (["--range-lr-factor", "inf"], "--range-lr-factor inf: must be finite"),
    (["--range-lr-factor", "nan"], "--range-lr-factor nan: must be finite"),
])
def test_quantize_refuses_non_finite_values(tmp_path, capsys, args, expected):
    from cea_edge.quantize.__main__ import main as quantize_main

    out = tmp_path / "qat"
    assert run_cli(quantize_main, [*args, "--out", str(out), "--no-progress"]) == 2
    assert expected in capsys.readouterr().err and not out.exists()


def test_quantize_recipe_values_are_checked_for_finiteness(tmp_path):
    from cea_edge.quantize import load_quant_recipe
    from cea_edge.recipe_io import bundled_recipe

    text = bundled_recipe("quantization", "int8").read_text()
    for line, expected in (("context_loss = 0.0", "context_loss = nan"), ("weight_decay = 1e-4", "weight_decay = inf")):
        recipe = tmp_path / "recipe.toml"
        recipe.write_text(text.replace(line, expected, 1))
        with pytest.raises(CeaError, match=re.escape(f"recipe {recipe}: {expected.replace(' = ', ' ')}: must be finite")):
            load_quant_recipe(recipe)


def _weights_finite(path: Path) -> bool:
    return all(torch.isfinite(t).all() for t in load_checkpoint(path).model.state_dict().values())


def test_training_stops_on_a_non_finite_loss_and_keeps_the_good_checkpoint(tmp_path, capsys, monkeypatch):
    from cea_edge.train import loop

    calls = {"n": 0}
    original = loop.frequency_l1

    def diverging(output, target):
        calls["n"] += 1
        return original(output, target) * (float("nan") if calls["n"] == 3 else 1.0)

    monkeypatch.setattr(loop, "frequency_l1", diverging)
    out = tmp_path / "run"
    assert run_cli(train_cli.main, [*TINY_RUN, "--save-every", "2", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    (line,) = error_lines(err)
    assert "step 3" in line and "not finite" in line and "--lr" in line and "Traceback" not in err, err
    assert sorted(p.name for p in out.iterdir()) == ["last.pt"]
    assert load_checkpoint(out / "last.pt").training_state["step"] == 2 and _weights_finite(out / "last.pt")


def test_training_never_saves_non_finite_weights(tmp_path, capsys, monkeypatch):
    from cea_edge.train import loop

    calls = {"n": 0}
    original = torch.nn.utils.clip_grad_norm_

    def poisoning(parameters, max_norm):
        parameters = list(parameters)
        calls["n"] += 1
        if calls["n"] == 4:  # the loss of step 4 is finite, the weights it leaves are not
            with torch.no_grad():
                parameters[0].fill_(math.inf)
        return original(parameters, max_norm)

    monkeypatch.setattr(loop.torch.nn.utils, "clip_grad_norm_", poisoning)
    out = tmp_path / "run"
    assert run_cli(train_cli.main, [*TINY_RUN, "--save-every", "2", "--out", str(out)]) == 2
    (line,) = error_lines(capsys.readouterr().err)
    assert "step 4" in line and "not finite" in line, line
    assert sorted(p.name for p in out.iterdir()) == ["last.pt"]
    assert load_checkpoint(out / "last.pt").training_state["step"] == 2 and _weights_finite(out / "last.pt")
