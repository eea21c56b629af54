"""Every size a user or a file sets is bounded before allocation, the largest that fits named.

Anything that could allocate runs in a subprocess under an address-space cap (prlimit --as, 4 GB):
on code without the bound it fails there (MemoryError or a kill), never on the shared machine.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from cea_edge.contract import METADATA_PREFIX, ArtifactInfo
from cea_edge.errors import CeaError
from cea_edge.model import memory

CAP = 4_000_000_000
needs_prlimit = pytest.mark.skipif(shutil.which("prlimit") is None, reason="needs util-linux prlimit")


def capped(*argv: str, timeout: int = 240) -> subprocess.CompletedProcess:
    return subprocess.run(["prlimit", f"--as={CAP}", sys.executable, *argv], capture_output=True, text=True,
                          timeout=timeout)


def assert_one_error(done: subprocess.CompletedProcess, *must_say: str) -> None:
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert errors and "Traceback" not in done.stderr, done.stderr[-2000:]
    for text in must_say:
        assert text in errors[0], errors[0]


def tiny_onnx(path, tile: str, context: str = "0", side: int = 32) -> None:
    """An identity graph image -> restored with cea-edge metadata saying ``tile`` and ``context``."""
    import onnx
    from onnx import TensorProto, helper

    shape = [1, 3, side, side]
    graph = helper.make_graph([helper.make_node("Identity", ["image"], ["restored"])], "g",
                              [helper.make_tensor_value_info("image", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("restored", TensorProto.FLOAT, shape)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    for key, value in {"tile": tile, "overlap": "8", "context": context, "preset": "edge2", "precision": "fp32",
                       "checkpoint_sha256": "0" * 64}.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = METADATA_PREFIX + key, value
    onnx.save(model, str(path))


# ---------------------------------------------------------------- tile / context from a file's metadata


@pytest.mark.parametrize("tile, context, says", [
    ("1000000000", "0", "the largest tile that fits is"),
    ("32", "1000000000", "the largest context size that fits is"),
    ("-5", "0", "metadata tile -5 is not valid"),
    ("32", "-1", "metadata context -1 is not valid"),
])
def test_onnx_metadata_sizes_are_bounded(tmp_path, tile, context, says):
    from cea_edge.runtime.backends import open_backend

    path = tmp_path / "m.onnx"
    tiny_onnx(path, tile, context)
    with pytest.raises(CeaError, match=says):
        open_backend(path)


def test_onnx_metadata_tile_must_match_its_graph(tmp_path):
    from cea_edge.runtime.backends import open_backend

    path = tmp_path / "m.onnx"
    tiny_onnx(path, "64", side=32)
    with pytest.raises(CeaError, match="its metadata says tile 64 but its graph takes"):
        open_backend(path)


@pytest.mark.parametrize("store", ["constant methods (.pte)", "strings (.mlpackage, .onnx)"])
@pytest.mark.parametrize("field, value", [("tile", 10**9), ("context_size", 10**9), ("tile", 0), ("overlap", 64)])
def test_every_metadata_store_is_bounded(store, field, value):
    sizes = {"tile": 64, "overlap": 8, "context_size": 128} | {field: value}
    if store.startswith("constant"):
        returned = {"tile_size": [sizes["tile"]], "tile_overlap": [sizes["overlap"]],
                    "context_size": [sizes["context_size"]], "preset": ["edge2"]}
        make = lambda: ArtifactInfo.from_constant_methods(returned, "m.pte")  # noqa: E731
    else:
        strings = {METADATA_PREFIX + key: str(value) for key, value in
                   {"tile": sizes["tile"], "overlap": sizes["overlap"], "context": sizes["context_size"],
                    "preset": "edge2"}.items()}
        make = lambda: ArtifactInfo.from_strings(strings, "m.mlpackage")  # noqa: E731
    with pytest.raises(CeaError, match="fits is|not valid|not below"):
        make()


def test_sane_metadata_is_accepted():
    info = ArtifactInfo.from_constant_methods({"tile_size": [256], "tile_overlap": [32], "context_size": [512],
                                               "preset": ["edge2"]}, "m.pte")
    assert (info.tile, info.overlap, info.context_size) == (256, 32, 512)


@needs_prlimit
def test_enhance_with_a_huge_metadata_tile_under_a_memory_cap(tmp_path):
    model = tmp_path / "m.onnx"
    tiny_onnx(model, "1000000000")
    photo = tmp_path / "p.png"
    Image.fromarray(np.zeros((40, 56, 3), np.uint8)).save(photo)
    done = capped("-m", "cea_edge.enhance", str(photo), "--model", str(model), "-o", str(tmp_path / "out.png"))
    assert_one_error(done, "the largest tile that fits is")
    assert not (tmp_path / "out.png").exists()


# ---------------------------------------------------------------- quantize --calibration-size


@needs_prlimit
def test_quantize_calibration_size_is_bounded_under_a_memory_cap(tmp_path):
    done = capped("-m", "cea_edge.quantize", "--ptq", "--calibration-size", "100000000", "--no-eval", "--no-progress",
                  "--device", "cpu", "--out", str(tmp_path / "qat"))
    assert_one_error(done, "--calibration-size 100000000", "the largest calibration size that fits is")
    assert not (tmp_path / "qat").exists()


def test_calibration_bound_names_the_largest_that_fits(monkeypatch):
    from cea_edge.model.config import get_preset
    from cea_edge.quantize.nncf_graph import CALIBRATION_COPIES, check_calibration_fits
    from cea_edge.quantize.recipe import load_quant_recipe

    recipe = load_quant_recipe(None).with_overrides(calibration_size=1000)
    config = get_preset("edge2")
    per_patch = CALIBRATION_COPIES * 3 * recipe.calibration_patch ** 2 * 4
    room = memory.activation_bytes(config, recipe.calibration_patch) + 100 * per_patch
    monkeypatch.setattr(memory, "available_memory", lambda: int(room / memory.USABLE_FRACTION) + 1)
    monkeypatch.setattr("cea_edge.quantize.nncf_graph.available_memory", memory.available_memory)
    with pytest.raises(CeaError, match="the largest calibration size that fits is 100$"):
        check_calibration_fits(recipe, config)
    check_calibration_fits(recipe.with_overrides(calibration_size=100), config)


# ---------------------------------------------------------------- photo pixels


def test_photo_pixels_are_bounded_by_memory(tmp_path, monkeypatch):
    from cea_edge.photo_io import PHOTO_BYTES_PER_PIXEL, peek_photo, read_photo

    path = tmp_path / "p.png"
    Image.fromarray(np.zeros((100, 100, 3), np.uint8)).save(path)
    fits = 5000  # pixels
    monkeypatch.setattr(memory, "available_memory", lambda: int(fits * PHOTO_BYTES_PER_PIXEL / memory.USABLE_FRACTION) + 1)
    for read in (peek_photo, read_photo):
        with pytest.raises(CeaError, match="the largest photo that fits is 5000 pixels"):
            read(path)


# ---------------------------------------------------------------- what "available" means


@needs_prlimit
def test_available_memory_honours_an_address_space_limit():
    done = capped("-c", "from cea_edge.model.memory import available_memory; print(available_memory())")
    assert done.returncode == 0, done.stderr
    assert 0 < int(done.stdout) < CAP
