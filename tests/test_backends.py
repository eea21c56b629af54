"""Runtime backends: tile/overlap/precision read from each artifact, outputs match PyTorch,
and one clear error for every model file the runtime cannot use."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from cea_edge.contract import CONTEXT_GRAPH, GLOBAL_GRAPH, sibling_path
from cea_edge.errors import CeaError, run_cli
from cea_edge.model.checkpoint import load_checkpoint
from cea_edge.runtime.backends import open_backend
from tests.helpers import CONTEXT, COREML_FLAGS, OVERLAP, TILE


@pytest.fixture
def checkpoint(session_checkpoint) -> Path:
    return session_checkpoint


@pytest.mark.parametrize("target", ["onnx", "executorch"])
def test_artifact_backends_read_their_tile_and_match_pytorch(target, export_once, checkpoint):
    pytest.importorskip({"onnx": "onnxruntime", "executorch": "executorch"}[target])
    backend = open_backend(export_once(checkpoint, target, "fp32").artifact, threads=1)
    assert (backend.tile, backend.overlap, backend.precision, backend.value_range) == (TILE, OVERLAP, "fp32", (0.0, 1.0))
    tiles = np.random.default_rng(0).random((3, 3, TILE, TILE), dtype=np.float32)  # more tiles than one call takes
    with torch.no_grad():
        expected = load_checkpoint(checkpoint).model.eval().fix_input_size(TILE, TILE)(torch.from_numpy(tiles)).numpy()
    np.testing.assert_allclose(backend.run(tiles), expected, atol=1e-4)

    # global-context mode: the artifact's context graph and forward_global vs the model
    assert backend.global_mode and backend.context_size == CONTEXT
    context = np.random.default_rng(1).random((CONTEXT, CONTEXT, 3), dtype=np.float32)
    model = load_checkpoint(checkpoint).model.eval()
    with torch.no_grad():
        reference = model(torch.from_numpy(context.transpose(2, 0, 1)[None].copy()), full_output=True)
        expected_global = model(torch.from_numpy(tiles), [
            type(f)(*(t.expand(len(tiles), -1, -1) for t in f)) for f in reference.factors]).numpy()
    made = backend.context(context)
    assert len(made.factors) == 2 * len(reference.factors) and len(made.routing_maps) == len(reference.routing_maps)
    for ours, theirs in zip(made.factors, [t for f in reference.factors for t in f]):
        np.testing.assert_allclose(ours, theirs.numpy(), atol=1e-4)
    for ours, theirs in zip(made.routing_maps, reference.routing_maps):
        np.testing.assert_allclose(ours, theirs.numpy(), atol=1e-4)
    global_out = backend.run(tiles, made.factors)
    np.testing.assert_allclose(global_out, expected_global, atol=1e-4)
    assert np.abs(global_out - expected).max() > 1e-3  # the factors matter: not the tile-mode output


def test_checkpoint_backend_runs_the_model_in_batches(checkpoint):
    """The same numbers as the model, tile mode and global mode, whatever the batch split."""
    backend = open_backend(checkpoint, tile=TILE, overlap=OVERLAP, context_size=CONTEXT)
    assert backend.max_batch > 1 and backend.precision == "fp32"
    assert (backend.tile, backend.overlap, backend.global_mode, backend.context_size) == (TILE, OVERLAP, True, CONTEXT)
    tiles = np.random.default_rng(2).random((backend.max_batch + 1, 3, TILE, TILE), dtype=np.float32)
    model = load_checkpoint(checkpoint).model.eval()
    with torch.no_grad():
        expected = model(torch.from_numpy(tiles)).numpy()
    np.testing.assert_allclose(backend.run(tiles), expected, atol=1e-5)
    # per tile: batching must not mix tiles (each row is its own tile's output)
    np.testing.assert_allclose(backend.run(tiles[1:2]), expected[1:2], atol=1e-5)
    context = np.random.default_rng(3).random((CONTEXT, CONTEXT, 3), dtype=np.float32)
    factors = backend.context(context).factors
    with torch.no_grad():
        generated = model.generate_factors(torch.from_numpy(context.transpose(2, 0, 1)[None].copy()))
        expected_global = model(torch.from_numpy(tiles), [
            type(f)(*(t.expand(len(tiles), -1, -1) for t in f)) for f in generated]).numpy()
    np.testing.assert_allclose(backend.run(tiles, factors), expected_global, atol=1e-5)


@pytest.mark.parametrize("case", ["missing", "loop", "broken_link", "fifo", "folder", "suffix",
                                  "corrupt_onnx", "corrupt_pte", "foreign_onnx",
                                  pytest.param("coreml_off_mac", marks=pytest.mark.slow),
                                  "bad_tile", "wrong_shape"])
def test_unusable_models_are_one_clear_error(case, checkpoint, export_once, tmp_path):
    path = tmp_path / "model.onnx"
    expected = {"missing": "does not exist", "loop": "symbolic link loop", "broken_link": "broken link",
                "fifo": "not a regular file", "folder": "is a folder",
                "suffix": "not a model cea-edge runs", "corrupt_onnx": "not a loadable ONNX model",
                "corrupt_pte": "not a loadable ExecuTorch program", "foreign_onnx": "not one cea-edge exported",
                "coreml_off_mac": "Core ML runs on macOS only", "bad_tile": "not a multiple of",
                "wrong_shape": "takes (N, 3, 32, 32) tiles"}[case]
    kwargs = {}
    if case == "loop":
        path.symlink_to(path)
    elif case == "broken_link":
        path.symlink_to(tmp_path / "gone.onnx")
    elif case == "fifo":
        os.mkfifo(path)  # onnxruntime would wait for a writer forever
    elif case == "folder":
        path.mkdir()
    elif case == "suffix":
        path = tmp_path / "model.txt"
        path.write_text("hello")
    elif case == "corrupt_onnx":
        path.write_bytes(b"\x08\x07garbage")
    elif case == "corrupt_pte":
        path = tmp_path / "model.pte"
        path.write_bytes(b"not a program")
    elif case == "foreign_onnx":
        import onnx
        from onnx import TensorProto, helper

        graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                                  [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
        onnx.save(helper.make_model(graph), str(path))
    elif case == "coreml_off_mac":
        if sys.platform == "darwin":
            pytest.skip("Core ML runs here")
        path = tmp_path / "model.mlpackage"
        path.mkdir()  # refused for the platform before coremltools, if missing, would be asked for it
        if importlib.util.find_spec("coremltools") is not None:
            path = export_once(checkpoint, "coreml", "fp16", *COREML_FLAGS).artifact  # sound, and still refused
    elif case == "bad_tile":
        path, kwargs = checkpoint, {"tile": 20}
    elif case == "wrong_shape":
        with pytest.raises(CeaError, match=r"takes \(N, 3, 32, 32\) tiles"):
            open_backend(checkpoint, tile=TILE).run(np.zeros((1, 3, 16, 16), np.float32))
        return
    with pytest.raises(CeaError) as error:
        open_backend(path, **kwargs)
    assert expected in str(error.value) and "\n" not in str(error.value)


def test_runtime_imports_no_training_data_or_export_code():
    import subprocess

    probe = ("import sys, cea_edge.runtime.backends, cea_edge.runtime.tiling; "
             "print(sorted(m for m in sys.modules if m.startswith(('cea_edge.train', 'cea_edge.data', "
             "'cea_edge.quantize', 'cea_edge.export', 'cea_edge.evaluate'))))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_enhance_runs_exported_models_tile_by_tile(export_once, checkpoint, tmp_path, rgb_file):
    """40x56 photo, 32-pixel tiles, global context 64: the ONNX model through the tiler, and
    the checkpoint tiled the same way, give the same picture."""
    from PIL import Image

    from cea_edge import enhance

    pytest.importorskip("onnxruntime")
    artifact = export_once(checkpoint, "onnx", "fp32").artifact
    outputs = {}
    for label, extra in (("onnx", ["--model", str(artifact)]),
                         ("pt", ["--model", str(checkpoint), "--tile", str(TILE), "--context-size", str(CONTEXT)])):
        outputs[label] = tmp_path / f"{label}.png"
        assert run_cli(enhance.main, [str(rgb_file), *extra, "-o", str(outputs[label])]) == 0
    a, b = (np.asarray(Image.open(outputs[k]), dtype=np.int16) for k in ("onnx", "pt"))
    photo = np.asarray(Image.open(rgb_file), dtype=np.int16)
    assert a.shape == (40, 56, 3) and np.abs(a - b).max() <= 1
    assert np.abs(a - photo).mean() > 1  # the model did something: not a copy of the input


# --- issue 12: nothing crashes ---------------------------------------------------------


def test_bytes_that_are_no_program_never_reach_the_executorch_runtime(tmp_path):
    """Random bytes (and random bytes behind a valid identifier) as a .pte: one CeaError each, in
    a child process so that a native abort would show as a signal, not kill the test run."""
    import os
    import subprocess

    pytest.importorskip("executorch")
    (tmp_path / "random.pte").write_bytes(np.random.default_rng(0).bytes(4096))
    (tmp_path / "tiny.pte").write_bytes(b"\x10\x00\x00\x00ET12")
    (tmp_path / "header.pte").write_bytes(b"\x10\x00\x00\x00ET12" + np.random.default_rng(1).bytes(4096))
    probe = ("import sys; from cea_edge.errors import CeaError; from cea_edge.runtime.backends import open_backend\n"
             "for name in sys.argv[1:]:\n"
             "    try:\n        open_backend(name)\n    except CeaError as error:\n        print('CeaError', error)\n")
    names = [str(tmp_path / f"{n}.pte") for n in ("random", "tiny", "header")]
    done = subprocess.run([sys.executable, "-c", probe, *names], capture_output=True, text=True, timeout=300,
                          cwd=Path(__file__).parent.parent, env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)})
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [line for line in done.stdout.splitlines() if line.startswith("CeaError")]
    assert len(lines) == 3 and all("not a loadable ExecuTorch program" in line for line in lines)
    assert "no ET12 identifier" in lines[0] and "a file of 8 bytes" in lines[1]


@pytest.mark.parametrize("case", ["swapped", "other_checkpoint", "other_tile", "foreign"])
def test_a_wrong_onnx_sibling_is_one_error_at_open(case, export_once, checkpoint, tmp_path):
    import shutil

    onnx = pytest.importorskip("onnx")
    source = export_once(checkpoint, "onnx", "fp32").artifact
    for file in source.parent.iterdir():
        shutil.copy(file, tmp_path / file.name)
    main = tmp_path / source.name
    context, global_ = main.with_name(main.stem + ".context.onnx"), main.with_name(main.stem + ".global.onnx")
    if case == "swapped":
        context.write_bytes(global_.read_bytes())
        expected = "should hold the context graph .* but holds the forward_global graph"
    elif case == "foreign":
        shutil.copy(main, global_)  # the main graph where the global one belongs
        expected = "should hold the forward_global graph .* but holds the forward graph"
    else:
        model = onnx.load(str(context))
        key = {"other_checkpoint": "cea_edge.checkpoint_sha256", "other_tile": "cea_edge.tile"}[case]
        for prop in model.metadata_props:
            if prop.key == key:
                prop.value = "f" * 64 if case == "other_checkpoint" else "64"
        onnx.save(model, str(context))
        expected = "is not the context graph of .* its " + {"other_checkpoint": "checkpoint", "other_tile": "tile"}[case]
    with pytest.raises(CeaError, match=expected):
        open_backend(main)


@pytest.mark.parametrize("case", ["swapped", "foreign"])
def test_a_wrong_core_ml_sibling_is_one_error_at_open_on_every_platform(case, export_once, checkpoint, tmp_path):
    """coremltools reads the packages' metadata on Linux too: the siblings are checked before the
    platform refuses to predict."""
    import shutil

    pytest.importorskip("coremltools")
    source = export_once(checkpoint, "coreml", "fp16", *COREML_FLAGS).artifact
    for item in source.parent.iterdir():
        (shutil.copytree if item.is_dir() else shutil.copy)(item, tmp_path / item.name)
    main = tmp_path / source.name
    context, global_ = sibling_path(main, CONTEXT_GRAPH), sibling_path(main, GLOBAL_GRAPH)
    if case == "swapped":
        shutil.rmtree(context)
        shutil.copytree(global_, context)
        expected = "should hold the context graph .* but holds the forward_global graph"
    else:
        shutil.rmtree(global_)
        shutil.copytree(main, global_)
        expected = "should hold the forward_global graph .* but holds the forward graph"
    with pytest.raises(CeaError, match=expected):
        open_backend(main)


def test_memory_estimate_guards_tiles_that_cannot_fit(checkpoint, monkeypatch):
    """The guard works from the estimate: available memory is faked, nothing large is allocated."""
    from cea_edge.model import get_preset, memory

    config = get_preset("tiny")
    budget_gb = 2
    monkeypatch.setattr(memory, "available_memory", lambda: budget_gb << 30)
    budget = int((budget_gb << 30) * memory.USABLE_FRACTION)
    fits = memory.largest_tile(config, budget)
    assert fits % config.min_tile == 0 and memory.activation_bytes(config, fits) <= budget
    assert memory.activation_bytes(config, fits + config.min_tile) > budget
    with pytest.raises(CeaError, match=f"tile 8192 needs about .* GB .*the largest tile that fits is {fits}$"):
        open_backend(checkpoint, tile=8192, overlap=8, context_size=64)
    with pytest.raises(CeaError, match="context size 8192 needs"):
        open_backend(checkpoint, tile=TILE, overlap=8, context_size=8192)
    # a tile that fits once but not eight times: fewer tiles per call instead of a refusal
    single = memory.activation_bytes(config, 1024) - memory.FIXED_BYTES
    monkeypatch.setattr(memory, "available_memory", lambda: int((3 * single + memory.FIXED_BYTES) / memory.USABLE_FRACTION) + 1)
    assert open_backend(checkpoint, tile=1024, overlap=8, context_size=64).max_batch == 3
    # the estimate grows with batch, tile area and width (the calibration constants are in model/memory.py)
    edge = get_preset("edge")
    net = lambda cfg, tile, batch=1: memory.activation_bytes(cfg, tile, batch) - memory.FIXED_BYTES  # noqa: E731
    assert net(edge, 512, 2) == 2 * net(edge, 512) and net(edge, 1024) == 4 * net(edge, 512)
    assert memory.activation_bytes(edge, 256) > memory.activation_bytes(config, 256)
