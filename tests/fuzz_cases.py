"""The CLI fuzz pass of issue 12: one seeded generator of bad files, flags and paths for every CLI,
the runner and the checks. `tests/test_cli_fuzz.py` runs the catalogue (and a few seeded random
cases) in the default suite; `benchmarks/fuzz_cli.py --cases N` runs the same generator longer.

Every case builds its files in a folder of its own and runs one CLI there, then asserts what
issue 12 asks: exit code 0 or 2 (argparse's usage errors are 2 too), no traceback, at most the
expected `error:` lines, no signal, every input byte-identical afterwards, and every new file
complete (no hidden `.*.tmp*` left behind; images decode fully; JSON parses; checkpoints load).

Cases that might abort natively (any .pte input), block (FIFOs) or allocate without bound (huge
numbers, huge --threads) run in a subprocess with a timeout and an address-space limit; the rest
run in-process through `run_cli(main, argv)`, which is ~100 times cheaper.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import random
import struct
import subprocess
import sys
import time
import traceback
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

CLIS = ("enhance", "export", "evaluate", "train", "quantize")
# CLIs with cases of their own messages only (issue 31's misleading messages); the random draws keep to CLIS.
MESSAGE_CLIS = ("parity", "testsets")
SUBPROCESS_TIMEOUT_S = 60
SUBPROCESS_MEMORY_BYTES = 6 << 30  # RLIMIT_AS: a runaway allocation fails instead of starving the machine
HUGE = str(1 << 30)  # a multiple of every preset's smallest tile, so it passes the divisibility checks
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp", ".gif")
# Small everything: a tiny checkpoint at tile 32 / context 64 restores a 24 x 20 photo in ~0.1 s.
SMALL_MODEL = ("--tile", "32", "--context-size", "64", "--quiet")
ONE_STEP = ("--preset", "tiny", "--steps", "1", "--batch", "1", "--patch", "16", "--val-every", "1", "--save-every", "1",
            "--no-progress", "--val-suite", "aio-synth-mini")


@dataclass(frozen=True)
class Resources:
    """Read-only files the cases share (each case hashes the ones it names before and after)."""

    checkpoint: Path  # a tiny fp32 checkpoint
    onnx: Path  # a real exported .onnx (its .context/.global siblings beside it)
    pte: Path  # a real .pte program


@dataclass
class Prepared:
    """A built case: the argv to run (in the case's folder) and how many `error:` lines it may print."""

    argv: list[str]
    max_errors: int = 1
    # What the outcome must be beyond surviving (issue 31): (outcome, case folder) -> problems.
    expect: Callable[["Outcome", Path], list[str]] | None = None


Builder = Callable[[Path, Resources, random.Random], Prepared]


@dataclass(frozen=True)
class Case:
    name: str  # "<cli>-<what>", unique
    cli: str
    build: Builder
    isolate: bool = False  # run in a subprocess (native aborts, FIFOs, unbounded allocations)
    slow: bool = False  # left out of the default test tier (the benchmark runs it)

    def __post_init__(self) -> None:
        assert self.cli in CLIS + MESSAGE_CLIS and self.name.startswith(self.cli + "-"), self.name


@dataclass
class Outcome:
    case: str
    cli: str
    isolated: bool
    code: int | None  # None: killed (signal) or timed out
    signal: int | None
    seconds: float
    stderr: str
    problems: list[str] = field(default_factory=list)

    @property
    def first_error(self) -> str:
        lines = [line for line in self.stderr.splitlines() if line.strip()]
        if "Traceback" in self.stderr:  # the exception's own line, after the frames
            return next((line for line in reversed(lines) if not line.startswith(" ")), "")[:200]
        return next((line for line in lines if "error" in line.lower()), "")[:200]


# ---------------------------------------------------------------- files


def photo_pixels(rng: random.Random, height: int = 20, width: int = 24, channels: int = 3) -> np.ndarray:
    generator = np.random.default_rng(rng.randrange(1 << 32))
    shape = (height, width, channels) if channels > 1 else (height, width)
    return generator.integers(0, 256, shape, dtype=np.uint8)


def save_image(path: Path, rng: random.Random, fmt: str | None = None, **options) -> Path:
    Image.fromarray(photo_pixels(rng)).save(path, format=fmt, **options)
    return path


def encoded(rng: random.Random, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(photo_pixels(rng)).save(buffer, format=fmt, **options)
    return buffer.getvalue()


def png16(rng: random.Random) -> bytes:
    import imagecodecs

    generator = np.random.default_rng(rng.randrange(1 << 32))
    return bytes(imagecodecs.png_encode(generator.integers(0, 65536, (20, 24, 3), dtype=np.uint16)))


def tiff16(rng: random.Random) -> bytes:
    import tifffile

    generator = np.random.default_rng(rng.randrange(1 << 32))
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, generator.integers(0, 65536, (20, 24, 3), dtype=np.uint16), photometric="rgb")
    return buffer.getvalue()


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def huge_header_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """A valid PNG signature and IHDR claiming width x height RGB, one tiny IDAT, IEND (a bomb's header)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
            + png_chunk(b"IEND", b""))


def animated_gif(rng: random.Random) -> bytes:
    frames = [Image.fromarray(photo_pixels(rng)).convert("P") for _ in range(3)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
    return buffer.getvalue()


def random_bytes(rng: random.Random, low: int = 1, high: int = 4096) -> bytes:
    return rng.randbytes(rng.randint(low, high))


def cut(data: bytes, where: str) -> bytes:
    """data truncated at a named point: header bytes only, half, all but the last bytes."""
    points = {"8": 8, "40": 40, "half": len(data) // 2, "-12": len(data) - 12, "-1": len(data) - 1}
    return data[:points[where]]


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data)
    else:
        path.write_bytes(data)
    return path


def wrong_kind_checkpoint(path: Path) -> Path:
    import torch

    torch.save({"weights": torch.zeros(3), "note": "a torch file, not a cea-edge checkpoint"}, path)
    return path


def blocked_folder(folder: Path) -> Path:
    """A folder path no one can create, not even root: it lies under a regular file."""
    return write(folder / "plain-file", "a file, so nothing can be created under it") / "sub" / "out"


# ---------------------------------------------------------------- bad inputs (name -> file maker)

ImageMaker = Callable[[Path, random.Random], Path]


def _bad_images() -> dict[str, ImageMaker]:
    makers: dict[str, ImageMaker] = {}
    for suffix in (".png", ".jpg", ".tif", ".webp", ".bmp"):
        makers[f"random{suffix}"] = lambda f, r, s=suffix: write(f / f"random{s}", random_bytes(r))
    for fmt, suffix in (("PNG", ".png"), ("JPEG", ".jpg"), ("TIFF", ".tif")):
        for where in ("8", "40", "half", "-12", "-1"):
            makers[f"cut{where}{suffix}"] = lambda f, r, fm=fmt, s=suffix, w=where: write(
                f / f"cut{s}", cut(encoded(r, fm), w))
    makers["cut-half-16bit.png"] = lambda f, r: write(f / "deep.png", cut(png16(r), "half"))
    makers["cut-half-16bit.tif"] = lambda f, r: write(f / "deep.tif", cut(tiff16(r), "half"))
    makers["empty.png"] = lambda f, r: write(f / "empty.png", b"")
    makers["folder.png"] = lambda f, r: _mkdir(f / "folder.png")
    makers["text.png"] = lambda f, r: write(f / "notes.png", "just some text, not an image\n")
    makers["text.jpg"] = lambda f, r: write(f / "notes.jpg", "ÿØÿ but text\n")
    makers["huge-header.png"] = lambda f, r: write(f / "bomb.png", huge_header_png())
    makers["zero-width.png"] = lambda f, r: write(f / "flat.png", huge_header_png(0, 10))
    makers["cmyk.jpg"] = lambda f, r: _save(f / "cmyk.jpg", Image.fromarray(photo_pixels(r, channels=4), "CMYK"))
    makers["float.tif"] = lambda f, r: _save(f / "float.tif", Image.fromarray(
        np.random.default_rng(r.randrange(99)).random((20, 24), dtype=np.float32), "F"))
    makers["missing.png"] = lambda f, r: f / "not-there.png"
    makers["symlink-loop.png"] = _symlink_loop
    makers["dangling-symlink.png"] = lambda f, r: _symlink(f / "dangling.png", f / "gone.png")
    return makers


def _good_images() -> dict[str, ImageMaker]:
    """Unusual but valid photos: the CLI must succeed or refuse cleanly, and what it writes must be complete."""
    return {
        "16bit.png": lambda f, r: write(f / "deep16.png", png16(r)),
        "16bit.tif": lambda f, r: write(f / "deep16.tif", tiff16(r)),
        "animated.gif": lambda f, r: write(f / "anim.gif", animated_gif(r)),
        "rgba.webp": lambda f, r: _save(f / "alpha.webp", Image.fromarray(photo_pixels(r, channels=4), "RGBA")),
        "gray.jpg": lambda f, r: _save(f / "gray.jpg", Image.fromarray(photo_pixels(r, channels=1), "L")),
        "one-pixel.png": lambda f, r: _save(f / "dot.png", Image.new("RGB", (1, 1), (9, 99, 199))),
        "space name.png": lambda f, r: save_image(f / "my photo 1.png", r),
        "unicode.png": lambda f, r: save_image(f / "ünïcødé 写真 ☃.png", r),
        "png-named.jpg": lambda f, r: write(f / "really-a-png.jpg", encoded(r, "PNG")),
    }


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _save(path: Path, image: Image.Image) -> Path:
    image.save(path)
    return path


def _symlink(link: Path, target: Path) -> Path:
    link.symlink_to(target)
    return link


def _symlink_loop(folder: Path, rng: random.Random) -> Path:
    _symlink(folder / "loop-b.png", folder / "loop-a.png")
    return _symlink(folder / "loop-a.png", folder / "loop-b.png")


def _bad_models() -> dict[str, Callable[[Path, Resources, random.Random], Path]]:
    """Files passed where a model or checkpoint goes (name -> maker)."""
    return {
        "random.pt": lambda f, res, r: write(f / "random.pt", random_bytes(r)),
        "text.pt": lambda f, res, r: write(f / "notes.pt", "not a checkpoint\n"),
        "empty.pt": lambda f, res, r: write(f / "empty.pt", b""),
        "cut-half.pt": lambda f, res, r: write(f / "cut.pt", cut(res.checkpoint.read_bytes(), "half")),
        "cut-1.pt": lambda f, res, r: write(f / "cut1.pt", cut(res.checkpoint.read_bytes(), "-1")),
        "wrong-kind.pt": lambda f, res, r: wrong_kind_checkpoint(f / "foreign.pt"),
        "folder.pt": lambda f, res, r: _mkdir(f / "ckpt.pt"),
        "missing.pt": lambda f, res, r: f / "absent.pt",
        "onnx-as.pt": lambda f, res, r: write(f / "model.pt", res.onnx.read_bytes()),
        "photo-as.pt": lambda f, res, r: write(f / "photo.pt", encoded(r, "PNG")),
        "symlink-loop.pt": lambda f, res, r: (_symlink(f / "b.pt", f / "a.pt"), _symlink(f / "a.pt", f / "b.pt"))[1],
    }


def _bad_artifacts() -> dict[str, Callable[[Path, Resources, random.Random], Path]]:
    """Exported-model look-alikes for enhance --model (.pte ones must run isolated)."""
    return {
        "text.onnx": lambda f, res, r: write(f / "notes.onnx", "not a model\n"),
        "random.onnx": lambda f, res, r: write(f / "random.onnx", random_bytes(r)),
        "empty.onnx": lambda f, res, r: write(f / "empty.onnx", b""),
        "cut-half.onnx": lambda f, res, r: write(f / "cut.onnx", cut(res.onnx.read_bytes(), "half")),
        "cut-1.onnx": lambda f, res, r: write(f / "cut1.onnx", cut(res.onnx.read_bytes(), "-1")),
        "sibling-graph.onnx": lambda f, res, r: res.onnx.with_name(res.onnx.stem + ".context.onnx"),
        "folder.onnx": lambda f, res, r: _mkdir(f / "model.onnx"),
        "empty.mlpackage": lambda f, res, r: _mkdir(f / "empty.mlpackage"),
        "file.mlpackage": lambda f, res, r: write(f / "file.mlpackage", random_bytes(r)),
        "checkpoint-as.onnx": lambda f, res, r: write(f / "ckpt.onnx", res.checkpoint.read_bytes()),
        "unknown-suffix.bin": lambda f, res, r: write(f / "model.bin", random_bytes(r)),
    }


PTE_MAKERS: dict[str, Callable[[Path, Resources, random.Random], Path]] = {
    "random.pte": lambda f, res, r: write(f / "random.pte", random_bytes(r)),
    "random-magic.pte": lambda f, res, r: write(f / "magic.pte", b"\x00\x00\x00\x00ET12" + random_bytes(r)),
    "empty.pte": lambda f, res, r: write(f / "empty.pte", b""),
    "text.pte": lambda f, res, r: write(f / "notes.pte", "not a program\n"),
    "cut-8.pte": lambda f, res, r: write(f / "cut8.pte", cut(res.pte.read_bytes(), "8")),
    "cut-40.pte": lambda f, res, r: write(f / "cut40.pte", cut(res.pte.read_bytes(), "40")),
    "cut-half.pte": lambda f, res, r: write(f / "cut.pte", cut(res.pte.read_bytes(), "half")),
    "cut-1.pte": lambda f, res, r: write(f / "cut1.pte", cut(res.pte.read_bytes(), "-1")),
    "flipped.pte": lambda f, res, r: write(f / "flipped.pte", _flip_bytes(res.pte.read_bytes(), r)),
}


def _flip_bytes(data: bytes, rng: random.Random, count: int = 16) -> bytes:
    mutable = bytearray(data)
    for _ in range(count):
        mutable[rng.randrange(len(mutable))] = rng.randrange(256)
    return bytes(mutable)


def good_photo(folder: Path, rng: random.Random, name: str = "photo.png") -> Path:
    return save_image(folder / name, rng)


def fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


# ---------------------------------------------------------------- the catalogue


def _enhance(argv_of: Callable[[Path, Resources, random.Random], list[str]], max_errors: int = 1) -> Builder:
    return lambda f, res, r: Prepared(argv_of(f, res, r), max_errors)


def _model(res: Resources) -> list[str]:
    return ["--model", str(res.checkpoint), *SMALL_MODEL]


def enhance_cases() -> list[Case]:
    cases: list[Case] = []
    for name, make in {**_bad_images(), **_good_images()}.items():
        cases.append(Case(f"enhance-image-{name}", "enhance", _enhance(
            lambda f, res, r, m=make: [str(m(f, r)), *_model(res), "-o", str(f / "x.png")])))
    cases.append(Case("enhance-image-default-out", "enhance", _enhance(
        lambda f, res, r: [str(good_photo(f, r)), *_model(res)])))
    cases.append(Case("enhance-image-leading-dash", "enhance", _enhance(
        lambda f, res, r: [*_model(res), "--", good_photo(f, r, "-x.png").name])))
    cases.append(Case("enhance-image-fifo.png", "enhance", _enhance(
        lambda f, res, r: [str(fifo(f / "pipe.png")), *_model(res), "-o", str(f / "out.png")]), isolate=True))
    cases.append(Case("enhance-folder-of-bad-files", "enhance", _enhance(
        lambda f, res, r: [str(_bad_folder(f / "photos", r)), *_model(res), "-o", str(f / "out")], max_errors=5)))
    cases.append(Case("enhance-many-mixed", "enhance", _enhance(
        lambda f, res, r: [str(good_photo(f, r)), str(write(f / "e.png", b"")), str(write(f / "t.png", "text")),
                           str(f / "gone.png"), *_model(res), "-o", str(f / "results")], max_errors=3)))
    cases.append(Case("enhance-empty-folder", "enhance", _enhance(
        lambda f, res, r: [str(_mkdir(f / "nothing")), *_model(res)])))

    # models
    for name, make_model in _bad_models().items():
        cases.append(Case(f"enhance-model-{name}", "enhance", _enhance(
            lambda f, res, r, m=make_model: [str(good_photo(f, r)), "--model", str(m(f, res, r)), "--quiet",
                                             "-o", str(f / "x.png")])))
    for name, make_model in _bad_artifacts().items():
        cases.append(Case(f"enhance-model-{name}", "enhance", _enhance(
            lambda f, res, r, m=make_model: [str(good_photo(f, r)), "--model", str(m(f, res, r)), "--quiet",
                                             "-o", str(f / "x.png")])))
    for name, make_model in PTE_MAKERS.items():
        cases.append(Case(f"enhance-model-{name}", "enhance", _enhance(
            lambda f, res, r, m=make_model: [str(good_photo(f, r)), "--model", str(m(f, res, r)), "--quiet",
                                             "--context", "tile", "-o", str(f / "x.png")]), isolate=True))
    cases.append(Case("enhance-model-fifo.onnx", "enhance", _enhance(
        lambda f, res, r: [str(good_photo(f, r)), "--model", str(fifo(f / "pipe.onnx")), "-o", str(f / "x.png")]),
        isolate=True))
    cases.append(Case("enhance-model-fifo.pt", "enhance", _enhance(
        lambda f, res, r: [str(good_photo(f, r)), "--model", str(fifo(f / "pipe.pt")), "-o", str(f / "x.png")]),
        isolate=True))
    cases.append(Case("enhance-model-real.onnx-tile-flag", "enhance", _enhance(
        lambda f, res, r: [str(good_photo(f, r)), "--model", str(res.onnx), "--tile", "64", "-o", str(f / "x.png")])))
    cases.append(Case("enhance-model-real.onnx-overlap-too-big", "enhance", _enhance(
        lambda f, res, r: [str(good_photo(f, r)), "--model", str(res.onnx), "--overlap", "32", "-o", str(f / "x.png")])))

    # flags (a good photo, the tiny checkpoint)
    flag_values = [("--tile", ("0", "-32", "7", "30", "abc", "1e3", "3.5")), ("--overlap", ("-1", "16", "32", "999")),
                   ("--threads", ("0", "-4")), ("--context-size", ("0", "-64", "7", "30")),
                   ("--max-pixels", ("0", "-1", "100")), ("--context", ("bogus", ""))]
    for flag, values in flag_values:
        for value in values:
            cases.append(Case(f"enhance-flag{flag}={value or 'empty'}", "enhance", _enhance(
                lambda f, res, r, fl=flag, v=value: [str(good_photo(f, r)), *_model(res), fl, v, "-o", str(f / "x.png")])))
    for flag, value in (("--tile", HUGE), ("--context-size", HUGE), ("--threads", "100000")):
        cases.append(Case(f"enhance-flag{flag}=huge", "enhance", _enhance(
            lambda f, res, r, fl=flag, v=value: [str(good_photo(f, r)), "--model", str(res.checkpoint), "--quiet",
                                                 fl, v, "-o", str(f / "x.png")]), isolate=True))
    cases.append(Case("enhance-flag-huge-max-pixels-bomb", "enhance", _enhance(
        lambda f, res, r: [str(write(f / "bomb.png", huge_header_png())), *_model(res), "--max-pixels", "10000000000000",
                           "-o", str(f / "x.png")]), isolate=True))
    cases.append(Case("enhance-flag-unknown", "enhance", _enhance(
        lambda f, res, r: [str(good_photo(f, r)), *_model(res), "--frobnicate"])))
    cases.append(Case("enhance-flag-no-inputs", "enhance", _enhance(lambda f, res, r: _model(res))))
    cases.append(Case("enhance-flag-routing-in-tile-mode", "enhance", _enhance(
        lambda f, res, r: [str(good_photo(f, r)), "--model", str(res.onnx), "--context", "tile", "--routing-maps",
                           "-o", str(f / "x.png")])))

    # output paths
    outs: dict[str, Callable[[Path, Path], list[str]]] = {
        "is-a-folder": lambda f, p: ["-o", str(_mkdir(f / "outdir"))],
        "missing-parent": lambda f, p: ["-o", str(f / "no" / "such" / "x.png")],
        "under-a-file": lambda f, p: ["-o", str(blocked_folder(f) / "x.png")],
        "bad-suffix": lambda f, p: ["-o", str(f / "x.xyz")],
        "no-suffix": lambda f, p: ["-o", str(f / "result")],
        "jpg-for-alpha": lambda f, p: ["-o", str(f / "x.jpg")],
        "equals-input": lambda f, p: ["-o", str(p)],
        "exists": lambda f, p: ["-o", str(save_image(f / "taken.png", random.Random(1)))],
        "many-into-a-file": lambda f, p: [str(save_image(f / "second.png", random.Random(2))), "-o",
                                          str(write(f / "taken.png", "x"))],
        "many-under-a-file": lambda f, p: [str(save_image(f / "second.png", random.Random(2))), "-o",
                                           str(blocked_folder(f))],
        "compare-exists": lambda f, p: ["-o", str(f / "x.png"), "--compare", "--routing-maps",
                                        "--quiet" if save_image(f / "x_compare.png", random.Random(3)) else ""],
    }
    for name, out in outs.items():
        cases.append(Case(f"enhance-out-{name}", "enhance", _enhance(
            lambda f, res, r, o=out, n=name: _photo_with_alpha_if(n, f, r, o, res),
            max_errors=2 if name.startswith("many") else 1)))
    return cases


def _photo_with_alpha_if(name: str, folder: Path, rng: random.Random, out: Callable[[Path, Path], list[str]],
                         res: Resources) -> list[str]:
    photo = folder / "photo.png"
    pixels = photo_pixels(rng, channels=4 if name == "jpg-for-alpha" else 3)
    Image.fromarray(pixels).save(photo)
    return [str(photo), *_model(res), *out(folder, photo)]


def _bad_folder(folder: Path, rng: random.Random) -> Path:
    folder.mkdir()
    makers = _bad_images()
    for index, name in enumerate(("random.png", "cut-1.png", "empty.png", "text.png", "cmyk.jpg")):
        sub = _mkdir(folder / f"tmp{index}")
        made = makers[name](sub, rng)
        made.rename(folder / f"{index}-{made.name}")
        sub.rmdir()
    return folder


def _export(target: str, *extra: str, checkpoint: Callable[[Path, Resources, random.Random], Path] | None = None
            ) -> Builder:
    def build(folder: Path, res: Resources, rng: random.Random) -> Prepared:
        source = checkpoint(folder, res, rng) if checkpoint else res.checkpoint
        argv = ["--target", target, "--checkpoint", str(source), "--precision", "fp32", "--tile", "32", "--overlap", "8",
                "--context-size", "0", "--no-verify", "--out", str(folder / "out")]
        return Prepared(argv + [_resolve(a, folder) for a in extra])

    return build


def _resolve(arg: str, folder: Path) -> str:
    """Placeholders in flag values: {blocked} -> a folder under a regular file, {file} -> a regular file."""
    if arg == "{blocked}":
        return str(blocked_folder(folder))
    if arg == "{file}":
        return str(write(folder / "a-file", "x"))
    return arg


def _recipe(text: str) -> Callable[[Path, Resources, random.Random], Path]:
    return lambda f, res, r: write(f / "recipe.toml", text)


RECIPES = {
    "random": None,  # random bytes
    "not-toml": "tile = = 32\n[[[\n",
    "empty": "",
    "wrong-target": 'target = "coreml"\n',
    "unknown-key": 'target = "onnx"\ntile = 32\noverlap = 8\ncontext_size = 0\nprecision = "fp32"\nopset = 18\nbogus = 1\n'
                   "[verify]\nfp32_max_abs_error = 1e-4\nfp16_min_psnr_db = 45.0\nint8_min_psnr_db = 35.0\n",
    "bad-types": 'target = "onnx"\ntile = "big"\noverlap = 8\ncontext_size = 0\nprecision = "fp32"\nopset = 18\n'
                 "[verify]\nfp32_max_abs_error = 1e-4\nfp16_min_psnr_db = 45.0\nint8_min_psnr_db = 35.0\n",
    "negative": 'target = "onnx"\ntile = -32\noverlap = 8\ncontext_size = 0\nprecision = "fp32"\nopset = 18\n'
                "[verify]\nfp32_max_abs_error = 1e-4\nfp16_min_psnr_db = 45.0\nint8_min_psnr_db = 35.0\n",
    "verify-not-table": 'target = "onnx"\ntile = 32\noverlap = 8\ncontext_size = 0\nprecision = "fp32"\nopset = 18\n'
                        "verify = 3\n",
    "old-opset": 'target = "onnx"\ntile = 32\noverlap = 8\ncontext_size = 0\nprecision = "fp32"\nopset = 9\n'
                 "[verify]\nfp32_max_abs_error = 1e-4\nfp16_min_psnr_db = 45.0\nint8_min_psnr_db = 35.0\n",
    "binary-utf16": "\ufefftarget = 'onnx'\n",
}


def export_cases() -> list[Case]:
    cases: list[Case] = []
    for name, make in _bad_models().items():
        cases.append(Case(f"export-checkpoint-{name}", "export", _export("onnx", checkpoint=make)))
    cases.append(Case("export-checkpoint-real.onnx", "export", _export("onnx", checkpoint=lambda f, res, r: res.onnx)))
    cases.append(Case("export-checkpoint-fifo.pt", "export",
                      _export("onnx", checkpoint=lambda f, res, r: fifo(f / "pipe.pt")), isolate=True))
    cases.append(Case("export-checkpoint-float-for-int8", "export", _export("onnx", "--precision", "int8")))
    for name, text in RECIPES.items():
        maker = (lambda f, res, r: write(f / "recipe.toml", random_bytes(r))) if text is None else _recipe(text)
        cases.append(Case(f"export-recipe-{name}", "export", _recipe_export(maker)))
    cases.append(Case("export-recipe-missing", "export", _export("onnx", "--recipe", "nope.toml")))
    cases.append(Case("export-recipe-folder", "export", _export("onnx", "--recipe", ".")))
    cases.append(Case("export-recipe-fifo", "export", _recipe_export(lambda f, res, r: fifo(f / "recipe.toml")),
                      isolate=True))
    flags = {
        "tile=0": ("--tile", "0"), "tile=-32": ("--tile", "-32"), "tile=7": ("--tile", "7"), "tile=abc": ("--tile", "abc"),
        "overlap=-1": ("--overlap", "-1"), "overlap=32": ("--overlap", "32"), "overlap=99": ("--overlap", "99"),
        "context-size=-1": ("--context-size", "-1"), "context-size=7": ("--context-size", "7"),
        "precision=int4": ("--precision", "int4"), "delegate-for-onnx": ("--delegate", "xnnpack"),
        "delegate=bogus": ("--delegate", "bogus"), "compute-units=bogus": ("--compute-units", "bogus"),
        "int8w-for-onnx": ("--precision", "int8w"), "require-prediction-no-verify": ("--require-prediction",),
        "unknown": ("--frobnicate",),
    }
    for name, extra in flags.items():
        cases.append(Case(f"export-flag-{name}", "export", _export("onnx", *extra)))
    cases.append(Case("export-flag-target=bogus", "export", lambda f, res, r: Prepared(
        ["--target", "tflite", "--checkpoint", str(res.checkpoint), "--out", str(f / "out")])))
    cases.append(Case("export-flag-no-target", "export", lambda f, res, r: Prepared(["--checkpoint", str(res.checkpoint)])))
    cases.append(Case("export-flag-executorch-int8-coreml", "export",
                      _export("executorch", "--precision", "int8", "--delegate", "coreml")))
    for flag in ("--tile", "--context-size"):
        cases.append(Case(f"export-flag{flag}=huge", "export", _export("onnx", flag, HUGE), isolate=True))
    cases.append(Case("export-out-is-a-file", "export", _export("onnx", "--out", "{file}")))
    cases.append(Case("export-out-under-a-file", "export", _export("onnx", "--out", "{blocked}")))
    cases.append(Case("export-out-is-checkpoint", "export", lambda f, res, r: Prepared(
        ["--target", "onnx", "--checkpoint", str(write(f / "c.pt", res.checkpoint.read_bytes())), "--precision", "fp32",
         "--tile", "32", "--overlap", "8", "--context-size", "0", "--no-verify", "--out", str(f / "c.pt")])))
    return cases


def _recipe_export(make: Callable[[Path, Resources, random.Random], Path]) -> Builder:
    def build(folder: Path, res: Resources, rng: random.Random) -> Prepared:
        recipe = make(folder, res, rng)
        return Prepared(["--target", "onnx", "--recipe", str(recipe), "--checkpoint", str(res.checkpoint),
                         "--no-verify", "--out", str(folder / "out")])

    return build


def _evaluate(*extra: str, checkpoint: Callable[[Path, Resources, random.Random], Path] | None = None) -> Builder:
    def build(folder: Path, res: Resources, rng: random.Random) -> Prepared:
        source = checkpoint(folder, res, rng) if checkpoint else res.checkpoint
        return Prepared(["--checkpoint", str(source), "--suite", "aio-synth-mini", "--no-ssim",
                         *[_resolve(a, folder) for a in extra]])

    return build


def evaluate_cases() -> list[Case]:
    cases = [Case(f"evaluate-checkpoint-{name}", "evaluate", _evaluate(checkpoint=make))
             for name, make in _bad_models().items()]
    cases.append(Case("evaluate-checkpoint-fifo.pt", "evaluate",
                      _evaluate(checkpoint=lambda f, res, r: fifo(f / "pipe.pt")), isolate=True))
    cases += [
        Case("evaluate-flag-suite=bogus", "evaluate", _evaluate("--suite", "bogus")),
        Case("evaluate-flag-preset=bogus", "evaluate", _evaluate("--preset", "bogus")),
        Case("evaluate-flag-preset=edge", "evaluate", _evaluate("--preset", "edge")),
        Case("evaluate-flag-threads=0", "evaluate", _evaluate("--threads", "0", "--suite", "bogus")),
        Case("evaluate-flag-threads=abc", "evaluate", _evaluate("--threads", "abc")),
        Case("evaluate-flag-unknown", "evaluate", _evaluate("--frobnicate")),
        Case("evaluate-flag-threads=-1", "evaluate", _evaluate("--threads", "-1"), isolate=True),
        Case("evaluate-json-under-a-file", "evaluate", _evaluate("--json", "{blocked}")),
        Case("evaluate-json-is-a-folder", "evaluate", _evaluate("--json", ".")),
        Case("evaluate-json-is-the-checkpoint", "evaluate", lambda f, res, r: Prepared(
            ["--checkpoint", str(p := write(f / "c.pt", res.checkpoint.read_bytes())), "--suite", "aio-synth-mini",
             "--no-ssim", "--json", str(p)])),
    ]
    return cases


def _train(*extra: str) -> Builder:
    return lambda f, res, r: Prepared([*ONE_STEP, "--out", str(f / "run"), *[_resolve(a, f) for a in extra]])


def train_cases() -> list[Case]:
    cases = [
        Case("train-flag-preset=bogus", "train", _train("--preset", "bogus")),
        Case("train-flag-steps=0", "train", _train("--steps", "0")),
        Case("train-flag-steps=-1", "train", _train("--steps", "-1")),
        Case("train-flag-batch=0", "train", _train("--batch", "0")),
        Case("train-flag-patch=30", "train", _train("--patch", "30")),
        Case("train-flag-patch=-16", "train", _train("--patch", "-16")),
        Case("train-flag-patch=0", "train", _train("--patch", "0")),
        Case("train-flag-val-every=0", "train", _train("--val-every", "0")),
        Case("train-flag-lr=abc", "train", _train("--lr", "abc")),
        Case("train-flag-lr=-1", "train", _train("--lr", "-1")),
        Case("train-flag-warmup=-5", "train", _train("--warmup", "-5")),
        Case("train-flag-device=tpu", "train", _train("--device", "tpu")),
        Case("train-flag-device=cuda", "train", _train("--device", "cuda")),
        Case("train-flag-val-suite=bogus", "train", _train("--val-suite", "bogus")),
        Case("train-flag-threads=0", "train", _train("--threads", "0", "--steps", "0")),
        Case("train-flag-unknown", "train", _train("--frobnicate")),
        Case("train-flag-init-and-resume", "train", lambda f, res, r: Prepared(
            [*ONE_STEP, "--out", str(f / "run"), "--init", str(res.checkpoint), "--resume", str(res.checkpoint)])),
        Case("train-out-is-a-file", "train", _train("--out", "{file}")),
        Case("train-out-under-a-file", "train", _train("--out", "{blocked}")),
        Case("train-resume-weights-only", "train", lambda f, res, r: Prepared(
            [*ONE_STEP, "--out", str(f / "run"), "--resume", str(res.checkpoint)])),
        Case("train-init-other-preset", "train", lambda f, res, r: Prepared(
            [*ONE_STEP, "--preset", "edge", "--out", str(f / "run"), "--init", str(res.checkpoint)])),
    ]
    for name, make in _bad_models().items():
        for flag in ("--init", "--resume"):
            cases.append(Case(f"train-{flag[2:]}-{name}", "train", lambda f, res, r, m=make, fl=flag: Prepared(
                [*ONE_STEP, "--out", str(f / "run"), fl, str(m(f, res, r))])))
    return cases


def _quantize(*extra: str, checkpoint: Callable[[Path, Resources, random.Random], Path] | None = None) -> Builder:
    def build(folder: Path, res: Resources, rng: random.Random) -> Prepared:
        source = checkpoint(folder, res, rng) if checkpoint else res.checkpoint
        return Prepared(["--checkpoint", str(source), "--steps", "1", "--batch", "1", "--patch", "16", "--no-eval",
                         "--no-progress", "--out", str(folder / "qat"), *[_resolve(a, folder) for a in extra]])

    return build


def quantize_cases() -> list[Case]:
    cases = [Case(f"quantize-checkpoint-{name}", "quantize", _quantize("--calibration-size", "0", checkpoint=make))
             for name, make in _bad_models().items()]
    bundled = Path(__file__).resolve().parents[1] / "quantization" / "int8.toml"
    recipes: dict[str, Callable[[Path, Resources, random.Random], Path]] = {
        "random": lambda f, res, r: write(f / "q.toml", random_bytes(r)),
        "not-toml": _recipe("scheme = [\n"),
        "empty": _recipe(""),
        "no-train-table": _recipe('scheme = "int8"\n'),
        "wrong-scheme": lambda f, res, r: write(f / "q.toml", bundled.read_text().replace('"int8"', '"int4"', 1)),
        "calibration-tiny": lambda f, res, r: write(f / "q.toml", bundled.read_text().replace(
            "calibration_size = 64", "calibration_size = 2")),
        "missing": lambda f, res, r: f / "nope.toml",
        "folder": lambda f, res, r: _mkdir(f / "recipes.toml"),
    }
    for name, make in recipes.items():
        cases.append(Case(f"quantize-recipe-{name}", "quantize", lambda f, res, r, m=make: Prepared(
            _quantize()(f, res, r).argv + ["--recipe", str(m(f, res, r))])))
    flags = {
        "calibration-size=0": ("--calibration-size", "0"), "calibration-size=-1": ("--calibration-size", "-1"),
        "steps=-1": ("--steps", "-1"), "batch=0": ("--batch", "0"), "patch=30": ("--patch", "30"),
        "target=bogus": ("--target", "bogus"), "eval-suite=bogus": ("--eval-suite", "bogus"),
        "device=cuda": ("--device", "cuda"), "lr=abc": ("--lr", "abc"), "unknown": ("--frobnicate",),
        "resume-with-ptq": ("--resume", "x.pt", "--ptq"),
    }
    for name, extra in flags.items():
        cases.append(Case(f"quantize-flag-{name}", "quantize", _quantize(*extra)))
    cases.append(Case("quantize-resume-weights-only", "quantize", lambda f, res, r: Prepared(
        _quantize()(f, res, r).argv + ["--resume", str(res.checkpoint)])))
    return cases


def catalogue() -> list[Case]:
    """Every hand-written case, in a fixed order."""
    cases = (enhance_cases() + export_cases() + evaluate_cases() + train_cases() + quantize_cases() + issue31_cases()
             + message_cases())
    names = [case.name for case in cases]
    assert len(names) == len(set(names)), sorted({n for n in names if names.count(n) > 1})
    return cases


# ---------------------------------------------------------------- seeded random cases


def random_cases(count: int, seed: int = 0) -> list[Case]:
    """`count` random enhance cases: a random mix of bad and good files, mutated flags and an output.

    Each case draws its choices from Random(f"{seed}:{index}"), so case k is the same for every count.
    In-process only (no .pte, no FIFOs, no huge numbers).
    """
    images = {**_bad_images(), **_good_images()}
    names = sorted(images)
    flag_pool = [("--tile", ["16", "32", "48", "0", "-1", "7"]), ("--overlap", ["0", "4", "8", "31", "-3"]),
                 ("--context", ["global", "tile", "bogus"]), ("--context-size", ["32", "64", "0", "9"]),
                 ("--max-pixels", ["1", "400", "100000000", "0"]), ("--threads", ["1", "2", "0"]),
                 ("--compare", None), ("--routing-maps", None), ("--overwrite", None)]
    cases = []
    for index in range(count):
        rng = random.Random(f"{seed}:{index}")
        chosen = rng.sample(names, rng.randint(1, 3))
        flags: list[str] = []
        for flag, values in rng.sample(flag_pool, rng.randint(0, 3)):
            flags += [flag] if values is None else [flag, rng.choice(values)]
        out_kind = rng.choice(["none", "file", "folder", "blocked", "bad-suffix"])

        def build(folder: Path, res: Resources, r: random.Random, chosen=chosen, flags=flags, out_kind=out_kind
                  ) -> Prepared:
            inputs = []
            for position, name in enumerate(chosen):
                made = images[name](_mkdir(folder / f"in{position}"), r)
                inputs.append(str(made))
            out = {"none": [], "file": ["-o", str(folder / "out.png")], "folder": ["-o", str(folder / "outs")],
                   "blocked": ["-o", str(blocked_folder(folder) / "x.png")], "bad-suffix": ["-o", str(folder / "o.gif")]}
            argv = [*inputs, "--model", str(res.checkpoint), "--quiet", *out[out_kind], *flags]
            if "--tile" not in flags:
                argv += ["--tile", "32"]
            if "--context-size" not in flags:
                argv += ["--context-size", "64"]
            return Prepared(argv, max_errors=len(inputs))

        cases.append(Case(f"enhance-random-{seed}-{index}", "enhance", build))
    return cases


# ---------------------------------------------------------------- issue 31: crafted QAT configs, special outputs,
# non-finite flags, orientation. Each case also asserts its outcome (Prepared.expect), not only survival.

# "module:name" pairs a crafted QAT config names as `__nncf_enum__`: revived by name, each would run code or
# create a file; the loader must refuse every one before importing anything.
CRAFTED_CALLABLES = ("os:system", "builtins:eval", "builtins:exec", "subprocess:call", "numpy:save", "shutil:rmtree",
                     "importlib:import_module", "pathlib:Path", "nncf.common.logging.logger:set_log_file",
                     "nncf.common.utils.os:fail_if_symlink", "nncf:__import__", "torch:save")


def _crafted_enum(name: str, target: Path) -> dict:
    value = {"os:system": f"touch {target}", "builtins:eval": f"open({str(target)!r}, 'w')",
             "builtins:exec": f"open({str(target)!r}, 'w')"}.get(name, str(target))
    return {"__nncf_enum__": name, "value": value}


def _quantizer_command(mode: object) -> dict:
    """One quantizer as `python -m cea_edge.quantize` saves it (its mode replaced)."""
    config = {"num_bits": 8, "mode": mode, "signedness_to_force": True, "narrow_range": True, "half_range": False,
              "scale_shape": (1,), "logarithm_scale": False, "is_quantized_on_export": False}
    return {"hook_names_in_model": ["pre_hooks.intro/conv2d/0__1.0"], "module_path": "nncf.torch.quantization.layers",
            "module_cls_name": "SymmetricQuantizer", "module_config": config}


def crafted_nncf_config(rng: random.Random, target: Path) -> object:
    """A QAT config with an `__nncf_enum__` naming a module/function, buried 0-4 containers deep at a random spot."""
    evil: object = _crafted_enum(rng.choice(CRAFTED_CALLABLES), target)
    for _ in range(rng.randint(0, 4)):
        evil = rng.choice([lambda x: [x], lambda x: (1, x), lambda x: {"k": x}, lambda x: [{"a": [x]}]])(evil)
    good_mode = {"__nncf_enum__": "nncf.common.quantization.structs:QuantizationScheme", "value": "symmetric"}
    where = rng.choice(["top", "mode", "extra", "scale_shape", "second-command"])
    commands = [_quantizer_command(good_mode)]
    if where == "mode":
        commands[0]["module_config"]["mode"] = evil
    elif where == "extra":
        commands[0]["extra"] = evil
    elif where == "scale_shape":
        commands[0]["module_config"]["scale_shape"] = (1, evil)
    elif where == "second-command":
        commands.append(_quantizer_command(evil))
    config: dict = {"compression_state": commands}
    if where == "top":
        config["x"] = evil
    return config


def crafted_qat_checkpoint(path: Path, rng: random.Random, target: Path) -> Path:
    from cea_edge.model import CEANet, get_preset
    from cea_edge.model.checkpoint import save_checkpoint

    save_checkpoint(path, CEANet(get_preset("tiny")), {}, quantization={
        "scheme": "int8", "method": "qat", "nncf_config": crafted_nncf_config(rng, target)})
    return path


def _errors(outcome: Outcome) -> list[str]:
    return [line for line in outcome.stderr.splitlines() if line.startswith("error:") or ": error:" in line]


def refused(*checks: Callable[[Path], str | None]) -> Callable[[Outcome, Path], list[str]]:
    """Expect exit 2 with exactly one error line, and every check (folder -> problem or None) passing."""
    def expect(outcome: Outcome, folder: Path) -> list[str]:
        problems = [] if outcome.code == 2 and len(_errors(outcome)) == 1 else [
            f"expected a refusal (exit 2, one error line), got exit {outcome.code} with {len(_errors(outcome))} error lines"]
        return problems + [why for check_ in checks if (why := check_(folder))]

    return expect


def kept(*checks: Callable[[Path], str | None]) -> Callable[[Outcome, Path], list[str]]:
    """Either outcome is fine (a link to a folder may be written into, as a user's `runs -> /mnt/big` is),
    but every check must pass: the link is still a link, nothing that was there changed or went."""
    return lambda outcome, folder: [why for check_ in checks if (why := check_(folder))]


def _entries_kept(where: Path) -> Callable[[Path], str | None]:
    listing = set(os.listdir(where))
    return lambda folder: None if listing <= set(os.listdir(where)) else f"'{where.name}' lost entries"


def _absent(path: Path) -> Callable[[Path], str | None]:
    return lambda folder: f"'{path.name}' was created (the crafted config ran)" if os.path.lexists(path) else None


def _still_link(link: Path) -> Callable[[Path], str | None]:
    target = os.readlink(link)
    return lambda folder: None if link.is_symlink() and os.readlink(link) == target else f"link '{link.name}' was replaced"


def _kind_kept(path: Path) -> Callable[[Path], str | None]:
    import stat as stat_

    kind = stat_.S_IFMT(os.lstat(path).st_mode)
    rdev = os.lstat(path).st_rdev
    return lambda folder: None if (stat_.S_IFMT(os.lstat(path).st_mode), os.lstat(path).st_rdev) == (kind, rdev) \
        else f"'{path}' is no longer the same kind of file"


def _no_checkpoint(where: str) -> Callable[[Path], str | None]:
    return lambda folder: (f"a checkpoint was saved under '{where}'" if list((folder / where).rglob("*.pt"))
                           else None) if (folder / where).exists() else None


def _crafted_argv(cli: str, folder: Path, res: Resources, checkpoint: Path, rng: random.Random) -> list[str]:
    if cli == "enhance":
        return [str(good_photo(folder, rng)), "--model", str(checkpoint), *SMALL_MODEL, "-o", str(folder / "out.png")]
    if cli == "evaluate":
        return ["--checkpoint", str(checkpoint), "--suite", "aio-synth-mini", "--no-ssim"]
    if cli == "export":
        return _export("onnx", checkpoint=lambda f, r_, g: checkpoint)(folder, res, rng).argv
    if cli == "quantize":
        return _quantize(checkpoint=lambda f, r_, g: checkpoint)(folder, res, rng).argv
    return [*ONE_STEP, "--out", str(folder / "run"), "--init", str(checkpoint)]


def _crafted_case(name: str, cli: str, slow: bool = False) -> Case:
    def build(folder: Path, res: Resources, rng: random.Random) -> Prepared:
        target = folder / "created-by-the-config"
        checkpoint = crafted_qat_checkpoint(folder / "crafted.pt", rng, target)
        return Prepared(_crafted_argv(cli, folder, res, checkpoint, rng), expect=refused(_absent(target)))

    return Case(name, cli, build, slow=slow)


def _victim_folder(folder: Path, rng: random.Random) -> Path:
    victim = _mkdir(folder / "victim")
    save_image(victim / "keep.png", rng)
    write(victim / "notes.txt", "not the command's to touch\n")
    return victim


def _special_output(cli: str, kind: str) -> Builder:
    """An output path (file or folder, as the CLI takes) that is a link, a FIFO or a device node."""
    def build(folder: Path, res: Resources, rng: random.Random) -> Prepared:
        suffix = ".png" if cli == "enhance" else ".json"
        if kind == "device":
            out = Path(os.devnull)
        elif kind == "fifo":
            out = fifo(folder / f"out{suffix}")
        elif kind == "link-to-file":
            victim = save_image(folder / "victim.png", rng) if cli == "enhance" else write(folder / "victim.json", "{}")
            out = _symlink(folder / f"out{suffix}", victim)
        else:  # a link to a folder the user keeps things in
            out = _symlink(folder / "out", _victim_folder(folder, rng))
        checks = [_still_link(out)] if kind.startswith("link") else [_kind_kept(out)]
        if kind == "link-to-folder":  # the files already there are hashed as inputs of the case
            checks.append(_entries_kept(folder / "victim"))
        if cli == "enhance":
            argv = [str(good_photo(folder, rng)), *_model(res), "-o", str(out)]
        elif cli == "evaluate":
            argv = ["--checkpoint", str(res.checkpoint), "--suite", "aio-synth-mini", "--no-ssim", "--json", str(out)]
        elif cli == "export":
            argv = _export("onnx", "--out", str(out))(folder, res, rng).argv
        elif cli == "train":
            argv = _train("--out", str(out))(folder, res, rng).argv
        else:
            argv = _quantize("--out", str(out))(folder, res, rng).argv
        return Prepared(argv, expect=kept(*checks) if kind == "link-to-folder" else refused(*checks))

    return build


NON_FINITE = {"train": [("--lr", v) for v in ("nan", "inf", "-inf", "1e30")] + [("--context-loss", v) for v in ("nan", "inf")],
              "quantize": [("--lr", v) for v in ("nan", "inf", "1e30")]}
ORIENTATION_FORMATS = ("tiff8", "jpeg", "png8", "webp-lossless")
# The orientation cases in the default tier (the rest of the matrix is slow): one per format, both tag types.
ORIENTATION_DEFAULT = {("jpeg", 6, "LONG"), ("tiff8", 8, "SHORT"), ("png8", 5, "LONG"), ("webp-lossless", 3, "SHORT")}


def _non_finite(cli: str, flag: str, value: str) -> Builder:
    base = _train if cli == "train" else _quantize
    where = "run" if cli == "train" else "qat"
    return lambda f, res, r: Prepared(base(flag, value)(f, res, r).argv, expect=refused(_no_checkpoint(where)))


def _flag_named(flag: str) -> Callable[[Outcome, Path], list[str]]:
    def expect(outcome: Outcome, folder: Path) -> list[str]:
        errors = _errors(outcome)
        return [] if errors and flag.lstrip("-").replace("-", "_") in errors[0].replace("-", "_") else [
            f"the error does not name {flag}: {errors[:1]}"]

    return expect


def _both(*expects: Callable[[Outcome, Path], list[str]]) -> Callable[[Outcome, Path], list[str]]:
    return lambda outcome, folder: [problem for expect in expects for problem in expect(outcome, folder)]


def _orientation(fmt: str, orientation: int, tag_type: str) -> Builder:
    """enhance of a photo stored turned (tag `orientation` of `tag_type`) and of the same photo stored upright:
    both outputs upright (no Orientation other than 1 left in them) and alike."""
    def build(folder: Path, res: Resources, rng: random.Random) -> Prepared:
        from tests.test_photo_orientation import build as build_photo

        turned, upright = build_photo(_mkdir(folder / "turned"), fmt, orientation, tag_type)
        reference, _ = build_photo(_mkdir(folder / "upright"), fmt, 1, tag_type)
        turned = turned.rename(folder / f"turned{turned.suffix}")
        reference = reference.rename(folder / f"upright{reference.suffix}")
        return Prepared([str(reference), str(turned), *_model(res), "-o", str(folder / "outs")],
                        expect=_upright_outputs(fmt))

    return build


def _upright_outputs(fmt: str) -> Callable[[Outcome, Path], list[str]]:
    def expect(outcome: Outcome, folder: Path) -> list[str]:
        from cea_edge.photo_io import read_photo
        from tests.test_photo_orientation import written_orientation

        if outcome.code != 0:
            return [f"expected success, got exit {outcome.code}"]
        made = sorted((folder / "outs").iterdir()) if (folder / "outs").is_dir() else []
        outs = {path.stem.removesuffix("_enhanced"): path for path in made}
        if set(outs) != {"upright", "turned"}:
            return [f"outputs {sorted(outs)}, expected upright and turned"]
        problems = [f"'{p.name}' keeps Orientation {o}" for p in outs.values()
                    if (o := written_orientation(p)) not in (None, 1)]
        a, b = read_photo(outs["upright"]).pixels, read_photo(outs["turned"]).pixels
        if a.shape != b.shape:
            return problems + [f"turned output is {b.shape[:2]}, the upright one {a.shape[:2]}"]
        error = np.abs(a.astype(np.float64) - b.astype(np.float64)).mean() / (257 if a.dtype == np.uint16 else 1)
        limit = 25 if fmt in ("jpeg", "webp-lossless", "webp-lossy") or outs["turned"].suffix == ".webp" else 2
        if error > limit:
            problems.append(f"turned output differs from the upright one by {error:.1f} per sample (at most {limit})")
        return problems

    return expect


def issue31_cases() -> list[Case]:
    cases = [_crafted_case(f"{cli}-crafted-qat-{k}", cli, slow=k > 0) for cli in CLIS for k in range(3)]
    specials = {"enhance": ("device", "fifo", "link-to-file", "link-to-folder"), "evaluate": ("device", "fifo", "link-to-file"),
                "export": ("link-to-folder",), "train": ("link-to-folder", "device"), "quantize": ("link-to-folder",)}
    for cli, kinds in specials.items():
        for kind in kinds:
            cases.append(Case(f"{cli}-special-out-{kind}", cli, _special_output(cli, kind), isolate=kind == "fifo",
                              slow=cli in ("train", "quantize") and kind == "link-to-folder"))  # a whole run: 6 s, 3 min
    for cli, flags in NON_FINITE.items():
        for flag, value in flags:
            build = _non_finite(cli, flag, value)
            cases.append(Case(f"{cli}-non-finite{flag}={value}", cli, lambda f, res, r, b=build, fl=flag: _with_expect(
                b(f, res, r), _flag_named(fl))))
    for fmt in ORIENTATION_FORMATS:
        for orientation in range(1, 9):
            for tag_type in ("SHORT", "LONG"):
                cases.append(Case(f"enhance-orientation-{fmt}-{orientation}-{tag_type}", "enhance",
                                  _orientation(fmt, orientation, tag_type),
                                  slow=(fmt, orientation, tag_type) not in ORIENTATION_DEFAULT))
    return cases


def _with_expect(prepared: Prepared, extra: Callable[[Outcome, Path], list[str]]) -> Prepared:
    prepared.expect = extra if prepared.expect is None else _both(prepared.expect, extra)
    return prepared


def random_issue31_cases(count: int, seed: int = 0) -> list[Case]:
    """`count` random cases of issue 31's classes (crafted configs through any CLI, non-finite flags,
    orientations), drawn like random_cases: case k is the same for every count. In-process only."""
    cases = []
    for index in range(count):
        rng = random.Random(f"31:{seed}:{index}")
        kind = rng.choice(["crafted", "crafted", "non-finite", "orientation"])
        name = f"random31-{seed}-{index}"
        if kind == "crafted":
            cli = rng.choice(CLIS)
            cases.append(_crafted_case(f"{cli}-{name}-crafted", cli))
        elif kind == "non-finite":
            cli = rng.choice(sorted(NON_FINITE))
            flag, value = rng.choice(NON_FINITE[cli] + [(flag, v) for flag, _ in NON_FINITE[cli] for v in ("1e300", "-nan")])
            build = _non_finite(cli, flag, value)
            cases.append(Case(f"{cli}-{name}-non-finite{flag}={value}", cli, lambda f, res, r, b=build, fl=flag: _with_expect(
                b(f, res, r), _flag_named(fl))))
        else:
            fmt, orientation, tag = rng.choice(ORIENTATION_FORMATS), rng.randint(1, 8), rng.choice(["SHORT", "LONG"])
            cases.append(Case(f"enhance-{name}-orientation-{fmt}-{orientation}-{tag}", "enhance",
                              _orientation(fmt, orientation, tag)))
    return cases


# ---------------------------------------------------------------- issue 31: misleading messages. Each case is a wrong
# input that once drew a message naming the wrong cause, fix, flag or file; it asserts the one error line says the
# right ones (``says``) and no longer says the wrong ones (``not_says``).


def _says(fragments: tuple[str, ...], not_says: tuple[str, ...]) -> Callable[["Outcome", Path], list[str]]:
    def expect(outcome: Outcome, folder: Path) -> list[str]:
        line = next(iter(_errors(outcome)), "")
        return ([f"the error does not say {f!r}: {line[:300]!r}" for f in fragments if f not in line]
                + [f"the error still says {f!r}: {line[:300]!r}" for f in not_says if f in line])

    return expect


def _message(name: str, argv_of: Callable[[Path, Resources, random.Random], list[str]], *says: str,
             not_says: tuple[str, ...] = ()) -> Case:
    cli = name.split("-", 1)[0]
    return Case(name, cli, lambda f, res, r: Prepared(argv_of(f, res, r), expect=_both(refused(), _says(says, not_says))))


def _written(name: str) -> Callable[["Outcome", Path], list[str]]:
    """Expect success and ``name`` (relative to the case folder) written."""
    return lambda outcome, folder: ([] if outcome.code == 0 and (folder / name).is_file() else
                                    [f"expected '{name}' written, got exit {outcome.code}: {outcome.first_error}"])


def _copy(source: Path, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(source.read_bytes())
    return target


def _testsets_dir(folder: Path, rng: random.Random) -> Path:
    save_image(_mkdir(folder / "sets" / "CBSD68") / "a.png", rng)
    return folder / "sets"


PARITY_SMALL = ("--device", "cpu", "--set", "smoke", "--context-size", "64", "--quiet")


def message_cases() -> list[Case]:
    onnx_flags = ("--precision", "fp32", "--tile", "32", "--overlap", "8", "--context-size", "0", "--no-verify")
    bundled = Path(__file__).resolve().parents[1]
    return [
        _message("enhance-message-same-photo-twice", lambda f, res, r: [
            str(good_photo(f, r)), "./photo.png", *_model(res)], "'photo.png' is given twice", "give each photo once",
            not_says=("rename one",)),
        _message("enhance-message-folder-and-its-photo", lambda f, res, r: [
            str(good_photo(_mkdir(f / "album"), r).parent), str(f / "album" / "photo.png"), *_model(res), "-o",
            str(f / "out")], "is given twice", "a folder given takes all its photos", not_says=("rename one",)),
        _message("enhance-message-model-as-photo", lambda f, res, r: [
            str(_copy(res.checkpoint, f / "weights.pt")), *_model(res)], "weights.pt' is a model (.pt), not a photo",
            "pass it with --model", not_says=("Pillow",)),
        Case("enhance-message-out-written-as-a-folder", "enhance", lambda f, res, r: Prepared(
            [str(good_photo(f, r)), *_model(res), "-o", str(f / "results") + "/"],
            expect=_written("results/photo_enhanced.png"))),
        _message("enhance-message-out-written-as-a-folder-is-a-file", lambda f, res, r: [
            str(good_photo(f, r)), *_model(res), "-o", str(write(f / "results", "a file")) + "/"],
            "results' must be a folder (it ends with '/'), but it is a file", not_says=("image suffix", "several inputs")),
        _message("enhance-message-overlap-above-exported-tile", lambda f, res, r: [
            str(good_photo(f, r)), "--model", str(res.onnx), "--overlap", "40", "--quiet"],
            "--overlap 40: must be below the tile side, 32, the tile", "was exported with", not_says=("need tile >= 1",)),
        _message("enhance-message-overlap-above-tile-flag", lambda f, res, r: [
            str(good_photo(f, r)), "--model", str(res.checkpoint), "--tile", "32", "--overlap", "32", "--quiet"],
            "--overlap 32: must be below the tile side, --tile 32"),
        _message("enhance-message-pte-named-onnx", lambda f, res, r: [
            str(good_photo(f, r)), "--model", str(_copy(res.pte, f / "model.onnx")), "--quiet"],
            "is an ExecuTorch program (.pte), not an ONNX model; name it .pte", not_says=("Protobuf",)),
        _message("enhance-message-checkpoint-named-onnx", lambda f, res, r: [
            str(good_photo(f, r)), "--model", str(_copy(res.checkpoint, f / "model.onnx")), "--quiet"],
            "is a PyTorch file (.pt), not an ONNX model; name it .pt", not_says=("Protobuf",)),
        _message("enhance-message-onnx-named-pte", lambda f, res, r: [
            str(good_photo(f, r)), "--model", str(_copy(res.onnx, f / "model.pte")), "--quiet"],
            "is an ONNX model (.onnx), not an ExecuTorch program; name it .onnx", not_says=("identifier",)),
        _message("export-message-precision-from-the-recipe", lambda f, res, r: [
            "--target", "onnx", "--checkpoint", str(res.checkpoint), "--tile", "32", "--overlap", "8", "--context-size",
            "0", "--no-verify", "--out", str(f / "out")], "onnx.toml: precision int8 exports a quantization-aware one",
            not_says=("--precision int8",)),
        _message("export-message-checkpoint-is-a-folder", lambda f, res, r: [
            "--target", "onnx", "--checkpoint", str(_mkdir(f / "run")), *onnx_flags, "--out", str(f / "out")],
            "checkpoint '", "run' is a folder", not_says=("does not exist",)),
        _message("export-message-checkpoint-is-an-onnx-model", lambda f, res, r: [
            "--target", "onnx", "--checkpoint", str(res.onnx), *onnx_flags, "--out", str(f / "out")],
            "is an ONNX model (.onnx), not a cea-edge checkpoint", not_says=("UnpicklingError",)),
        _message("export-message-compute-units-for-onnx", lambda f, res, r: [
            "--target", "onnx", "--checkpoint", str(res.checkpoint), *onnx_flags, "--compute-units", "ALL", "--out",
            str(f / "out")], "--compute-units ALL: applies to Core ML", "not to onnx"),
        _message("export-message-quantization-recipe", lambda f, res, r: [
            "--target", "onnx", "--recipe", str(bundled / "quantization" / "int8.toml"), "--checkpoint",
            str(res.checkpoint), "--no-verify", "--out", str(f / "out")], "is a quantization recipe",
            "not an export recipe", not_says=("unknown key",)),
        _message("export-message-recipe-is-a-folder", lambda f, res, r: [
            "--target", "onnx", "--recipe", str(_mkdir(f / "recipes")), "--checkpoint", str(res.checkpoint),
            "--no-verify", "--out", str(f / "out")], "recipes' is a folder; give a TOML file", not_says=("does not exist",)),
        _message("quantize-message-export-recipe", lambda f, res, r: _quantize(
            "--recipe", str(bundled / "export" / "onnx.toml"))(f, res, r).argv, "is an export recipe",
            "not a quantization recipe", not_says=("[train] table",)),
        _message("quantize-message-eval-suite-of-corpus-photos", lambda f, res, r: [
            a for a in _quantize("--eval-suite", "aio-photo")(f, res, r).argv if a != "--no-eval"],
            "--eval-suite aio-photo", "pass --photos DIR", not_says=("quantize does not take",)),
        _message("quantize-message-checkpoint-is-a-folder", lambda f, res, r: _quantize(
            checkpoint=lambda f_, res_, r_: _mkdir(f_ / "run"))(f, res, r).argv, "--checkpoint '", "run' is a folder",
            not_says=("no such checkpoint file",)),
        _message("train-message-init-is-a-folder", lambda f, res, r: [
            *ONE_STEP, "--out", str(f / "run"), "--init", str(_mkdir(f / "old"))], "--init '", "old' is a folder",
            not_says=("no such checkpoint file",)),
        _message("train-message-resume-weights-only", lambda f, res, r: [
            *ONE_STEP, "--out", str(f / "run"), "--resume", str(res.checkpoint)], "holds weights only",
            "pass --init instead", not_says=("of this preset",)),
        _message("train-message-resume-other-preset", lambda f, res, r: [
            *ONE_STEP, "--preset", "tiny2", "--out", str(f / "run"), "--resume", str(res.checkpoint)],
            "it holds 'tiny', this run trains 'tiny2'; pass --preset tiny"),
        _message("train-message-init-other-preset", lambda f, res, r: [
            *ONE_STEP, "--preset", "tiny2", "--out", str(f / "run"), "--init", str(res.checkpoint)],
            "to fine-tune it, pass --preset tiny"),
        _message("train-message-val-suite-of-corpus-photos", lambda f, res, r: [
            *ONE_STEP, "--val-suite", "aio-photo", "--photos", str(_mkdir(f / "photos")), "--out", str(f / "run")],
            "--val-suite aio-photo", "--photos is training data only", not_says=("pass --photos DIR",)),
        _message("train-message-mix-without-photos", lambda f, res, r: [
            *ONE_STEP, "--out", str(f / "run"), "--mix", "composite=0.2"], "--mix: re-weights", "pass --photos DIR"),
        _message("train-message-mix-unknown-kind", lambda f, res, r: [
            *ONE_STEP, "--out", str(f / "run"), "--photos", str(_mkdir(f / "photos")), "--mix", "snow=0.2"],
            "--mix snow: unknown kind", "composite", not_says=("no photos",)),
        _message("train-message-mix-not-a-pair", lambda f, res, r: [
            *ONE_STEP, "--out", str(f / "run"), "--photos", str(_mkdir(f / "photos")), "--mix", "composite"],
            "--mix composite: expected KIND=WEIGHT"),
        _message("train-message-mix-negative", lambda f, res, r: [
            *ONE_STEP, "--out", str(f / "run"), "--photos", str(_mkdir(f / "photos")), "--mix", "clean=-1"],
            "--mix clean=-1: a weight must be finite and >= 0"),
        _message("evaluate-message-same-checkpoint-twice", lambda f, res, r: _evaluate(
            "--checkpoint", str(res.checkpoint))(f, res, r).argv, "is given twice", "give each checkpoint once"),
        _message("evaluate-message-photos-with-a-bundled-suite", lambda f, res, r: _evaluate(
            "--photos", str(_mkdir(f / "photos")))(f, res, r).argv, "--photos applies to a suite of corpus photos"),
        _message("evaluate-message-checkpoint-is-a-folder", lambda f, res, r: _evaluate(
            checkpoint=lambda f_, res_, r_: _mkdir(f_ / "run"))(f, res, r).argv, "run' is a folder",
            not_says=("does not exist",)),
        _message("parity-message-reference-is-a-file", lambda f, res, r: [
            "check", str(res.onnx), "--reference", str(write(f / "record.json", "{}")), "--quiet"],
            "record.json' is a file; a reference set is the folder", not_says=("does not exist",)),
        _message("parity-message-bars-is-a-folder", lambda f, res, r: [
            "check", str(res.onnx), "--bars", str(_mkdir(f / "bars")), "--quiet"], "bars file '",
            "bars' is a folder", not_says=("recipe", "does not exist")),
        _message("parity-message-overlap-above-tile", lambda f, res, r: [
            "reference", "--checkpoint", str(res.checkpoint), "--tile", "32", "--overlap", "32", *PARITY_SMALL, "--out",
            str(f / "ref")], "--overlap 32: must be below the tile side, --tile 32", not_says=("need tile >= 1",)),
        _message("testsets-message-json-and-markdown-one-file", lambda f, res, r: [
            "--dir", str(_testsets_dir(f, r)), "--model", str(res.checkpoint), "--sets", "CBSD68", "--sigmas", "25",
            "--json", str(f / "t.json"), "--markdown", str(f / "t.json")], "--json and --markdown name the same file",
            not_says=("--overwrite",)),
        _message("testsets-message-dir-missing", lambda f, res, r: [
            "--dir", str(f / "testsets"), "--model", str(res.checkpoint)], "--dir '", "testsets' does not exist",
            not_says=("no images",)),
        _message("testsets-message-panel-not-png", lambda f, res, r: [
            "--dir", str(_testsets_dir(f, r)), "--model", str(res.checkpoint), "--sets", "CBSD68", "--panel", "CBSD68",
            "--panel-out", str(f / "panel.jpg")], "--panel-out '", "the panel is a PNG"),
    ]


# ---------------------------------------------------------------- running and checking


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def regular_files(folder: Path) -> dict[Path, str]:
    """Every regular file under folder (symlinks, FIFOs and other special files not followed nor opened)."""
    found = {}
    for root, dirs, files in os.walk(folder):
        for name in files + dirs:
            path = Path(root) / name
            if not path.is_symlink() and path.is_file():
                found[path] = sha256(path)
    return found


def guarded_files(argv: list[str], folder: Path) -> dict[Path, str]:
    """Files the argv names outside the case folder (shared resources; with an .onnx, its siblings too)."""
    guarded = {}
    for arg in argv:
        path = Path(arg) if Path(arg).is_absolute() else folder / arg
        try:
            if path.is_symlink() or not path.is_file() or folder in path.parents:
                continue
        except OSError:
            continue
        for candidate in [path, *path.parent.glob(path.stem + ".*")]:
            if candidate.is_file():
                guarded[candidate] = sha256(candidate)
    return guarded


def incomplete(path: Path) -> str | None:
    """Why a new output file is not complete, or None."""
    name = path.name
    if name.startswith(".") and ".tmp" in name:
        return "temporary left behind"
    if ".write-check." in name:
        return "write probe left behind"
    suffix = path.suffix.lower()
    try:
        if suffix in (".tif", ".tiff"):
            import tifffile

            tifffile.imread(path)
        elif suffix in IMAGE_SUFFIXES:
            with Image.open(path) as image:
                image.load()
        elif suffix == ".json":
            json.loads(path.read_text())
        elif suffix == ".pt":
            import torch

            torch.load(path, weights_only=True, map_location="cpu")
        elif suffix == ".onnx":
            import onnx

            onnx.load(str(path), load_external_data=False)
    except Exception as error:  # noqa: BLE001 -- any failure to read back means the file is not complete
        return f"does not read back ({type(error).__name__}: {str(error)[:120]})"
    return None


def check(case: Case, prepared: Prepared, outcome: Outcome, before: dict[Path, str], folder: Path) -> list[str]:
    problems = []
    if outcome.signal is not None:
        problems.append(f"killed by signal {outcome.signal}")
    elif outcome.code not in (0, 2):
        problems.append(f"exit code {outcome.code}")
    if "Traceback" in outcome.stderr:
        problems.append("traceback on stderr")
    errors = [line for line in outcome.stderr.splitlines() if line.startswith("error:")]
    if len(errors) > prepared.max_errors:
        problems.append(f"{len(errors)} error lines (at most {prepared.max_errors} expected)")
    if outcome.code == 2 and not any("error" in line for line in outcome.stderr.splitlines()):
        problems.append("exit code 2 without an error line")
    for path, digest in before.items():
        if not path.is_file():
            problems.append(f"input '{path.name}' is gone")
        elif sha256(path) != digest:
            problems.append(f"input '{path.name}' changed")
    for path in sorted(regular_files(folder)):
        if path not in before and (why := incomplete(path)):
            problems.append(f"'{path.relative_to(folder)}': {why}")
    if prepared.expect is not None:
        problems += prepared.expect(outcome, folder)
    return problems


def outcome_class(outcome: Outcome) -> str:
    """How a case ended, for the totals: refused with one error line, succeeded, or something else."""
    errors = _errors(outcome)
    if outcome.problems:
        return "failed a check"
    if outcome.code == 2 and len(errors) == 1:
        return "refused-with-one-line"
    if outcome.code == 0:
        return "succeeded-as-expected"
    return "other"


@contextlib.contextmanager
def _torch_threads_kept():
    """The CLIs set torch's global thread count; put it back for the next case."""
    import torch

    threads = torch.get_num_threads()
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def run_inprocess(cli: str, argv: list[str], folder: Path) -> tuple[int | None, str, str]:
    import importlib

    from cea_edge.errors import run_cli

    module = importlib.import_module(f"cea_edge.{cli}" if cli in ("enhance", "evaluate", "testsets")
                                     else f"cea_edge.{cli}.__main__")
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.chdir(folder), _torch_threads_kept(), contextlib.redirect_stdout(stdout), \
            contextlib.redirect_stderr(stderr):
        try:
            code: int | None = run_cli(module.main, argv)
        except SystemExit as exit_:  # argparse
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        except BaseException:  # noqa: BLE001 -- anything else escaping run_cli is what the fuzz pass looks for
            print(traceback.format_exc(), file=stderr)
            code = 1
    return code, stdout.getvalue(), stderr.getvalue()


def _limit_memory() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (SUBPROCESS_MEMORY_BYTES, SUBPROCESS_MEMORY_BYTES))


def run_subprocess(cli: str, argv: list[str], folder: Path) -> tuple[int | None, int | None, str]:
    """(exit code, signal, stderr); a timeout counts as signal SIGKILL after the kill."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    try:
        result = subprocess.run([sys.executable, "-m", f"cea_edge.{cli}", *argv], cwd=folder, env=env, capture_output=True,
                                text=True, errors="replace", timeout=SUBPROCESS_TIMEOUT_S, preexec_fn=_limit_memory,
                                stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as expired:
        stderr = expired.stderr.decode(errors="replace") if isinstance(expired.stderr, bytes) else (expired.stderr or "")
        return None, 9, stderr + f"\n[fuzz] timed out after {SUBPROCESS_TIMEOUT_S} s"
    if result.returncode < 0:
        return None, -result.returncode, result.stderr
    return result.returncode, None, result.stderr


def run_case(case: Case, folder: Path, resources: Resources, seed: int = 0, isolate: bool | None = None) -> Outcome:
    """Build the case in `folder` (created), run it, check it."""
    folder.mkdir(parents=True, exist_ok=True)
    prepared = case.build(folder, resources, random.Random(f"{seed}:{case.name}"))
    before = regular_files(folder) | guarded_files(prepared.argv, folder)
    isolated = case.isolate if isolate is None else isolate
    started = time.perf_counter()
    if isolated:
        code, signal, stderr = run_subprocess(case.cli, prepared.argv, folder)
    else:
        (code, _, stderr), signal = run_inprocess(case.cli, prepared.argv, folder), None
    outcome = Outcome(case.name, case.cli, isolated, code, signal, time.perf_counter() - started, stderr)
    outcome.problems = check(case, prepared, outcome, before, folder)
    return outcome


def build_trivial_pte(path: Path) -> Path:
    """A real (if trivial) ExecuTorch program, ~4 s to build: the stand-in when no exported .pte is at hand."""
    import torch
    from executorch.exir import to_edge

    class Affine(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x * 2 + 1

    program = to_edge(torch.export.export(Affine(), (torch.ones(1, 3, 32, 32),))).to_executorch()
    path.write_bytes(program.buffer)
    return path
