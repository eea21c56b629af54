"""The tiled runtime end to end: fidelity to whole-image inference in both context modes,
seams, thread safety, photo I/O through `enhance`, and its error paths."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageCms

from cea_edge import enhance
from cea_edge.contract import CHECKPOINT_TILE
from cea_edge.errors import run_cli
from cea_edge.metrics import psnr
from cea_edge.model.checkpoint import DEFAULT_CHECKPOINT, load_checkpoint
from cea_edge.model.config import BUNDLED_PRESET
from cea_edge.photo_io import Photo, read_photo, write_photo
from cea_edge.runtime.backends import open_backend
from cea_edge.runtime.restore import restore_photo
from cea_edge.runtime.tiling import context_image, plan_tiles, tiled_apply


def boundary_mask(height: int, width: int, tile: int, overlap: int, band: int = 4) -> np.ndarray:
    """Pixels within ``band`` of an edge of a tile inside the image (not the image border)."""
    plan = plan_tiles(height, width, tile, overlap)
    mask = np.zeros((height, width), bool)
    for starts, size, axis in ((plan.ys, height, 0), (plan.xs, width, 1)):
        for start in starts:
            for edge in (start, start + tile):
                if 0 < edge < size:
                    index = [slice(None), slice(None)]
                    index[axis] = slice(max(0, edge - band), min(size, edge + band))
                    mask[tuple(index)] = True
    return mask


@pytest.fixture(scope="module")
def edge_photo() -> tuple[np.ndarray, np.ndarray]:
    """A 512 x 512 degraded crop (the bundled edge model's context side) and its whole-image restoration."""
    from cea_edge.data.degradations import CASES
    from cea_edge.data.sources import load_photo

    image = CASES["rain"](load_photo("astronaut"), np.random.default_rng(0))
    model = load_checkpoint(DEFAULT_CHECKPOINT).model.eval()
    with torch.no_grad():
        whole = model(torch.from_numpy(image.transpose(2, 0, 1)[None].copy()))[0].numpy().transpose(1, 2, 0)
    return image, whole


def test_global_context_tiles_reproduce_the_whole_image_without_seams(edge_photo):
    """Defaults (tile 256, overlap 32, context 512) on a photo of the context's size: the
    context graph sees exactly the whole photo, so only the tiles' borders can differ --
    and the feathering keeps the error along tile edges below the error elsewhere.
    Measured: 75 dB, boundary/interior 0.6-0.9 (overlap 16: 2.5-4.6, hence 32)."""
    image, whole = edge_photo
    backend = open_backend(DEFAULT_CHECKPOINT, threads=2, tile=256, overlap=32, context_size=512)
    assert np.array_equal(context_image(image, 512), image)
    factors = backend.context(context_image(image, 512)).factors
    tiled = tiled_apply(image, lambda tiles: backend.run(tiles, factors), 256, 32)
    assert psnr(tiled, whole) >= 40.0
    error = ((tiled - whole) ** 2).mean(axis=-1)
    mask = boundary_mask(512, 512, 256, 32)
    assert error[mask].mean() <= error[~mask].mean()

    # tile mode: every tile generates its own factors -- further from the whole image (measured 40 dB)
    per_tile = tiled_apply(image, backend.run, 256, 32)
    assert 30.0 <= psnr(per_tile, whole) < psnr(tiled, whole)


def test_context_image_shrinks_by_area_and_pads_by_mirroring():
    rng = np.random.default_rng(0)
    large = rng.integers(0, 256, (100, 60, 3), dtype=np.uint8)
    shrunk = context_image(large, 20)  # 5 x 3 boxes
    np.testing.assert_allclose(shrunk, large.reshape(20, 5, 20, 3, 3).mean(axis=(1, 3)) / 255, atol=1e-6)
    small = rng.random((5, 3, 3), dtype=np.float32)
    padded = context_image(small, 8)
    np.testing.assert_array_equal(padded, np.pad(small, ((0, 3), (0, 5), (0, 0)), mode="symmetric"))
    deep = np.full((3, 3, 3), 65535, np.uint16)
    assert context_image(deep, 3).min() == 1.0


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_streamed_integer_output_is_the_rounded_float_output(dtype):
    rng = np.random.default_rng(1)
    top = np.iinfo(dtype).max
    pixels = rng.integers(0, top + 1, (37, 45, 3)).astype(dtype)

    def model(tiles):
        return np.tanh(tiles * 1.7 - 0.3)  # leaves [0, 1]: clipping is part of the contract

    as_float = tiled_apply(pixels.astype(np.float32) / top, model, 16, 5)
    as_int = tiled_apply(pixels, model, 16, 5, out=np.empty_like(pixels))
    assert as_int.dtype == dtype
    expected = (np.clip(as_float, 0, 1) * top + 0.5).astype(np.int64)
    assert np.abs(as_int.astype(np.int64) - expected).max() <= 1


# --- exported models ---------------------------------------------------------------


@pytest.fixture
def onnx_model(export_once, session_checkpoint) -> Path:
    """tiny, fp32, tile 32, overlap 8, global context 64 (the session's shared build)."""
    pytest.importorskip("onnxruntime")
    return export_once(session_checkpoint, "onnx", "fp32").artifact


def test_backends_are_safe_to_share_between_threads(onnx_model):
    """Four threads restore four photos with one backend at once: each gets what it gets alone."""
    backend = open_backend(onnx_model, threads=1)
    rng = np.random.default_rng(2)
    photos = [Photo(rng.integers(0, 256, (50 + 7 * i, 70 - 5 * i, 3), dtype=np.uint8), None, 8, None, None, ())
              for i in range(4)]
    alone = [restore_photo(photo.pixels, backend, "global", 8).pixels for photo in photos]
    together: list[np.ndarray | None] = [None] * 4

    def work(index: int) -> None:
        for _ in range(3):
            together[index] = restore_photo(photos[index].pixels, backend, "global", 8).pixels

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for ours, reference in zip(together, alone):
        np.testing.assert_array_equal(ours, reference)


def test_enhance_with_an_exported_model_in_both_modes(onnx_model, tmp_path, rgb_file):
    outputs = {}
    for mode in ("global", "tile"):
        outputs[mode] = tmp_path / f"{mode}.png"
        assert run_cli(enhance.main, [str(rgb_file), "--model", str(onnx_model), "--context", mode,
                                      "-o", str(outputs[mode]), "--routing-maps"]) == 0
    a, b = (read_photo(outputs[m]).pixels for m in ("global", "tile"))
    assert a.shape == b.shape == (40, 56, 3) and not np.array_equal(a, b)
    grid = read_photo(tmp_path / "global_routing.png").pixels
    cell_h, cell_w = round(40 * 128 / 56), 128  # the photo's aspect, long side 128
    assert grid.shape == (3 * (cell_h + 4) - 4, 2 * (cell_w + 4) - 4, 3)  # tiny: 3 adapters (rows) of rank 2 (maps)


def test_models_without_global_graphs_need_tile_mode(export_once, session_checkpoint, tmp_path, rgb_file, capsys):
    pytest.importorskip("onnxruntime")
    model = export_once(session_checkpoint, "onnx", "fp32", context=0).artifact
    assert sorted(p.name for p in model.parent.iterdir()) == [model.name, model.name + ".json"]
    assert run_cli(enhance.main, [str(rgb_file), "--model", str(model), "-o", str(tmp_path / "a.png")]) == 2
    assert "--context tile" in capsys.readouterr().err and not (tmp_path / "a.png").exists()
    assert run_cli(enhance.main, [str(rgb_file), "--model", str(model), "--context", "tile",
                                  "-o", str(tmp_path / "a.png")]) == 0
    assert read_photo(tmp_path / "a.png").pixels.shape == (40, 56, 3)


# --- photo I/O through enhance ---------------------------------------------------------


def run_enhance(source: Path, checkpoint: Path, out: Path, *extra: str) -> Photo:
    assert run_cli(enhance.main, [str(source), "--checkpoint", str(checkpoint), "--tile", "32", "--context-size", "64",
                                  "-o", str(out), "--quiet", *extra]) == 0
    return read_photo(out)


def test_sixteen_bit_photos_stay_sixteen_bit(tmp_path, tiny_checkpoint):
    pixels = np.random.default_rng(3).integers(0, 65536, (30, 41, 3)).astype(np.uint16)
    write_photo(tmp_path / "deep.png", pixels)
    result = run_enhance(tmp_path / "deep.png", tiny_checkpoint, tmp_path / "out.png")
    backend = open_backend(tiny_checkpoint, tile=32, overlap=8, context_size=64)
    expected = restore_photo(read_photo(tmp_path / "deep.png").pixels, backend, "global", 8).pixels
    assert result.bit_depth == 16 and result.pixels.dtype == np.uint16
    assert np.abs(result.pixels.astype(np.int64) - expected).max() <= 1
    assert len(np.unique(result.pixels % 256)) > 200  # the low byte carries information


def test_alpha_icc_and_exif_survive_and_orientation_is_applied(tmp_path, tiny_checkpoint):
    rng = np.random.default_rng(4)
    image = Image.fromarray(rng.integers(0, 256, (20, 36, 4), dtype=np.uint8), "RGBA")
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to view
    exif[0x010F] = "cea-edge test camera"
    image.save(tmp_path / "in.png", icc_profile=icc, exif=exif.tobytes())
    result = run_enhance(tmp_path / "in.png", tiny_checkpoint, tmp_path / "out.png")
    assert result.pixels.shape == (36, 20, 3)  # upright
    np.testing.assert_array_equal(result.alpha, np.rot90(np.asarray(image)[..., 3], k=-1))
    assert result.icc_profile == icc
    written = Image.Exif()
    written.load(result.exif)
    assert written[0x0112] == 1 and written[0x010F] == "cea-edge test camera"


@pytest.mark.parametrize("mode", ["L", "P", "1"])
def test_gray_and_palette_photos_come_out_rgb(mode, tmp_path, tiny_checkpoint, rgb_file):
    Image.open(rgb_file).convert(mode).save(tmp_path / "in.png")
    result = run_enhance(tmp_path / "in.png", tiny_checkpoint, tmp_path / "out.png")
    assert result.pixels.shape == (40, 56, 3) and result.alpha is None


def test_a_one_pixel_photo(tmp_path, tiny_checkpoint):
    Image.fromarray(np.full((1, 1, 3), 77, np.uint8)).save(tmp_path / "dot.png")
    result = run_enhance(tmp_path / "dot.png", tiny_checkpoint, tmp_path / "out.png", "--compare")
    assert result.pixels.shape == (1, 1, 3)
    assert read_photo(tmp_path / "out_compare.png").pixels.shape == (1, 2, 3)


def test_batch_reports_every_failure_and_still_processes_the_rest(tmp_path, tiny_checkpoint, rgb_file, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a_empty.png").write_bytes(b"")
    (folder / "b_text.jpg").write_text("no")
    (folder / "c_truncated.png").write_bytes(rgb_file.read_bytes()[:100])
    Image.open(rgb_file).convert("CMYK").save(folder / "d_cmyk.jpg")
    Image.open(rgb_file).save(folder / "e_good.png")
    Image.fromarray(np.zeros((200, 200, 3), np.uint8)).save(folder / "f_big.png")
    out = tmp_path / "out"  # created for a batch
    code = run_cli(enhance.main, [str(folder), "--checkpoint", str(tiny_checkpoint), "--tile", "32",
                                  "--context-size", "64", "--max-pixels", "10000", "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "5 of 6 file(s) failed" in err and "Traceback" not in err
    for fragment in ("is empty", "not an image", "damaged or truncated", "CMYK", "limit"):
        assert fragment in err
    assert sorted(p.name for p in out.iterdir()) == ["e_good_enhanced.png"]


@pytest.mark.parametrize("case", ["corrupt", "wrong_kind", "coreml", "overlap", "tile_for_artifact"])
def test_model_problems_are_one_line(case, tmp_path, rgb_file, onnx_model, capsys):
    args = [str(rgb_file), "-o", str(tmp_path / "x.png")]
    expected = {"corrupt": "not a loadable ONNX model", "wrong_kind": "not a model cea-edge runs",
                "coreml": "macOS only", "overlap": "overlap", "tile_for_artifact": "apply to checkpoints"}[case]
    if case == "corrupt":
        (tmp_path / "m.onnx").write_bytes(b"\x08\x01junk")
        args += ["--model", str(tmp_path / "m.onnx")]
    elif case == "wrong_kind":
        args += ["--model", str(rgb_file)]
    elif case == "coreml":  # an empty package: coremltools, where installed, says so on every platform
        if sys.platform == "darwin" or importlib.util.find_spec("coremltools") is not None:
            expected = "not a loadable Core ML package"
        (tmp_path / "m.mlpackage").mkdir()
        args += ["--model", str(tmp_path / "m.mlpackage")]
    elif case == "overlap":
        args += ["--model", str(onnx_model), "--overlap", "32"]
    else:
        args += ["--model", str(onnx_model), "--tile", "64"]
    assert run_cli(enhance.main, args) == 2
    err = capsys.readouterr().err
    assert expected in err and len(err.strip().splitlines()) == 1 and not (tmp_path / "x.png").exists()


BLUE, WHITE, RED = (26, 64, 191), (255, 255, 255), (204, 31, 26)  # -1, 0, +1 on the diverging scale


def test_routing_grid_is_signed_and_one_row_per_adapter():
    from cea_edge.runtime.routing import CELL, GAP, routing_grid

    ramp = np.linspace(-2, 2, 16).reshape(4, 4)  # -2 at the top left, +2 at the bottom right
    maps = [np.stack([ramp, np.zeros((4, 4))])[None], np.ones((1, 2, 8, 8))]
    grid = routing_grid(maps)
    assert grid.shape == (2 * CELL + GAP, 2 * CELL + GAP, 3) and grid.dtype == np.uint8
    # each map scaled by its own peak: the ramp's ends are full blue and full red
    assert tuple(grid[0, 0]) == BLUE and tuple(grid[CELL - 1, CELL - 1]) == RED
    first = grid[:CELL, :CELL].astype(int)
    assert np.array_equal(first[:, :, 2] > first[:, :, 0], np.kron(ramp < 0, np.ones((CELL // 4, CELL // 4))))
    assert (grid[:CELL, CELL + GAP:] == WHITE).all()  # an all-zero map is white, not a division by zero
    assert (grid[CELL + GAP:, :CELL] == RED).all() and (grid[CELL + GAP:, CELL + GAP:] == RED).all()  # constant maps
    assert (grid[CELL:CELL + GAP] == 255).all() and (grid[:, CELL:CELL + GAP] == 255).all()  # white gaps
    # a 20 x 40 photo in a 64-pixel context: its maps are cropped to the photo (the mirror
    # padding dropped: here the first row, first two columns) and shown 64 x 128
    cropped = routing_grid([np.arange(16.0).reshape(1, 1, 4, 4) - 2], photo_size=(20, 40), context_size=64)
    assert cropped.shape == (64, 128, 3)
    assert (cropped[:, :64] == BLUE).all()  # -2, the peak
    half = cropped[:, 64:].reshape(-1, 3)  # -1: half way from white to blue
    assert (half == half[0]).all() and all(b < h < w for b, h, w in zip(BLUE, half[0], WHITE))


# --- issue 12: nothing lost, nothing crashes -------------------------------------------


def enhance_args(checkpoint: Path, *extra: str) -> list[str]:
    return ["--checkpoint", str(checkpoint), "--tile", "32", "--context-size", "64", "--quiet", *extra]


@pytest.mark.parametrize("spelling", ["same", "dotted", "symlink", "hardlink"])
def test_an_input_is_never_the_output_even_with_overwrite(spelling, tmp_path, rgb_file, tiny_checkpoint, capsys):
    original = rgb_file.read_bytes()
    out = {"same": rgb_file, "dotted": tmp_path / "sub" / ".." / rgb_file.name}.get(spelling, tmp_path / "link.png")
    (tmp_path / "sub").mkdir()
    if spelling == "symlink":
        out.symlink_to(rgb_file)
    elif spelling == "hardlink":
        os.link(rgb_file, out)
    assert run_cli(enhance.main, [str(rgb_file), "-o", str(out), "--overwrite", *enhance_args(tiny_checkpoint)]) == 2
    assert "is the input" in capsys.readouterr().err and rgb_file.read_bytes() == original


@pytest.mark.parametrize("layout", ["suffixes", "folders"])
def test_inputs_that_would_share_an_output_are_refused_before_any_work(layout, tmp_path, rgb_file, tiny_checkpoint,
                                                                       capsys):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = tmp_path / "a" / "x.png"
    second = tmp_path / "a" / "x.jpg" if layout == "suffixes" else tmp_path / "b" / "x.png"
    Image.open(rgb_file).save(first)
    Image.open(rgb_file).save(second)
    out = tmp_path / "out"
    assert run_cli(enhance.main, [str(first), str(second), "-o", str(out), *enhance_args(tiny_checkpoint)]) == 2
    err = capsys.readouterr().err
    assert f"'{first}'" in err and f"'{second}'" in err and "would all be written" in err
    assert not out.exists()


def test_folder_runs_say_what_they_skip_and_never_take_their_own_outputs(tmp_path, rgb_file, tiny_checkpoint, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    Image.open(rgb_file).save(folder / "a.png")
    (folder / "notes.txt").write_text("hi")
    for _ in range(2):  # the second run finds a_enhanced.png beside a.png and leaves it alone
        assert run_cli(enhance.main, [str(folder), "--overwrite", *enhance_args(tiny_checkpoint)]) == 0
    out = capsys.readouterr().out
    assert "1 not an image suffix (notes.txt)" in out and "an output of enhance" in out and "a_enhanced.png" in out
    assert sorted(p.name for p in folder.iterdir()) == ["a.png", "a_enhanced.png", "notes.txt"]
    # asked to take them: a.png's output would replace the input a_enhanced.png -- refused; elsewhere fine
    assert run_cli(enhance.main, [str(folder), "--include-outputs", "--overwrite", *enhance_args(tiny_checkpoint)]) == 2
    assert "is the input" in capsys.readouterr().err
    assert run_cli(enhance.main, [str(folder), "--include-outputs", "-o", str(tmp_path / "out"),
                                  *enhance_args(tiny_checkpoint)]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a_enhanced.png", "a_enhanced_enhanced.png"]


@pytest.mark.parametrize("case", ["image_name", "file_in_the_way", "through_a_file"])
def test_out_for_several_inputs_must_be_a_folder(case, tmp_path, rgb_file, tiny_checkpoint, capsys):
    second = tmp_path / "second.png"
    Image.open(rgb_file).save(second)
    (tmp_path / "file").write_bytes(b"x")
    out = {"image_name": tmp_path / "result.png", "file_in_the_way": tmp_path / "file",
           "through_a_file": tmp_path / "file" / "sub"}[case]
    expected = {"image_name": "names an image file", "file_in_the_way": "is a file",
                "through_a_file": "cannot create output folder"}[case]
    code = run_cli(enhance.main, [str(rgb_file), str(second), "-o", str(out), *enhance_args(tiny_checkpoint)])
    err = capsys.readouterr().err
    assert code == 2 and expected in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "result.png").exists()


@pytest.mark.parametrize("case", ["missing_folder", "suffix", "alpha_in_jpeg", "fifo", "folder_as_file"])
def test_everything_checkable_is_checked_before_the_model_opens(case, tmp_path, rgb_file, capsys):
    """The model given does not exist: each problem must be found before it is opened."""
    source, out = rgb_file, tmp_path / "out.png"
    if case == "missing_folder":
        out = tmp_path / "missing" / "out.png"
    elif case == "suffix":
        out = tmp_path / "out.gif"
    elif case == "alpha_in_jpeg":
        source, out = tmp_path / "rgba.png", tmp_path / "out.jpg"
        Image.fromarray(np.zeros((8, 8, 4), np.uint8), "RGBA").save(source)
    elif case == "fifo":
        source = tmp_path / "pipe.png"
        os.mkfifo(source)
    else:
        source = tmp_path / "dir.png"
        source.mkdir()
        (source / "x.txt").write_text("not an image")
    expected = {"missing_folder": "does not exist", "suffix": "use one of", "alpha_in_jpeg": "no alpha channel",
                "fifo": "is a FIFO", "folder_as_file": "holds no image files"}[case]
    assert run_cli(enhance.main, [str(source), "-o", str(out), "--model", str(tmp_path / "none.onnx")]) == 2
    err = capsys.readouterr().err
    assert expected in err and "none.onnx" not in err and "Traceback" not in err


def test_routing_maps_need_adapters(tmp_path, rgb_file, capsys):
    from cea_edge.model import CEANet, get_preset
    from cea_edge.model.checkpoint import save_checkpoint

    save_checkpoint(tmp_path / "plain.pt", CEANet(get_preset("tiny").without_adapters()), {})
    out = tmp_path / "out.png"
    assert run_cli(enhance.main, [str(rgb_file), "-o", str(out), "--routing-maps", "--context", "tile",
                                  *enhance_args(tmp_path / "plain.pt")]) == 2
    assert "has no adapters" in capsys.readouterr().err and not out.exists()


def test_a_tile_that_cannot_fit_is_refused_with_the_largest_that_does(tmp_path, rgb_file, tiny_checkpoint, monkeypatch,
                                                                      capsys):
    from cea_edge.model import memory

    monkeypatch.setattr(memory, "available_memory", lambda: 4 << 30)
    assert run_cli(enhance.main, [str(rgb_file), "-o", str(tmp_path / "out.png"), "--checkpoint", str(tiny_checkpoint),
                                  "--tile", "8192"]) == 2
    err = capsys.readouterr().err
    assert "tile 8192 needs about" in err and "the largest tile that fits is" in err and not (tmp_path / "out.png").exists()


def test_animated_input_says_only_the_first_frame_was_restored(tmp_path, rgb_file, tiny_checkpoint, capsys):
    frames = [Image.open(rgb_file), Image.open(rgb_file).rotate(180)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    assert run_cli(enhance.main, [str(tmp_path / "anim.gif"), "-o", str(tmp_path / "out.png"),
                                  *enhance_args(tiny_checkpoint)]) == 0
    assert "2 frames in the file: only the first restored" in capsys.readouterr().out


def test_default_artifacts_are_what_export_writes_by_default_named_without_torch():
    """enhance looks for `python -m cea_edge.export --target T`'s own output (the bundled int8 recipes,
    artifacts/<target>/), and finds its names without importing torch."""
    code = ("import sys, cea_edge.enhance as e; "
            "print(*e.EXPORT_DEFAULTS.values(), 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    stem = f"{BUNDLED_PRESET}-int8-{CHECKPOINT_TILE}"
    assert out == [f"artifacts/onnx/{stem}.onnx", f"artifacts/executorch/{BUNDLED_PRESET}-xnnpack-int8-"
                   f"{CHECKPOINT_TILE}.pte", f"artifacts/coreml/{stem}.mlpackage", "False"]


def test_enhance_with_a_program_prints_only_our_lines(export_once, session_checkpoint, rgb_file, tmp_path):
    """torch's and torchao's import notices and the ExecuTorch runtime's C++ start-up lines
    ("[cpuinfo_utils.cpp:71] Reading file ...") stay out of the user's terminal; errors do not."""
    pte = export_once(session_checkpoint, "executorch", "fp32").artifact
    done = subprocess.run([sys.executable, "-m", "cea_edge.enhance", str(rgb_file), "-o", str(tmp_path / "out.png"),
                           "--model", str(pte), "--context", "tile"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", done.stderr
    model_line, photo_line = done.stdout.splitlines()
    assert model_line.startswith("model: executorch (fp32)") and photo_line.startswith(f"{rgb_file} -> {tmp_path / 'out.png'}")
    broken = tmp_path / "broken.pte"
    broken.write_bytes(pte.read_bytes()[:4096])
    failed = subprocess.run([sys.executable, "-m", "cea_edge.enhance", str(rgb_file), "-o", str(tmp_path / "b.png"),
                             "--model", str(broken)], capture_output=True, text=True, timeout=300)
    assert failed.returncode == 2 and failed.stderr.startswith("error: ") and len(failed.stderr.splitlines()) == 1
