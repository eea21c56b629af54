"""`python -m cea_edge.testsets`: the field's standard colour-denoising benchmarks, evaluation only.

CBSD68, Kodak24 and McMaster at Gaussian sigma 15 / 25 / 50, the way papers report them: noise
added to the 8-bit clean image, the noisy input rounded and clipped to 8 bits, PSNR on RGB
against the clean image, no border crop; one fixed noise draw per (sigma, image). Any model
cea-edge runs (an exported artifact, the default int8 export above all, or a checkpoint) goes
through the runtime users run (tiles, global context). ``--panel`` writes a before/after panel
of a set without ground truth (RNI15: real noisy photos). σ 0 feeds the clean image itself: what a
clean photo comes back as (its input PSNR is infinite, recorded as null).

The sets are research images with unclear licences: they are not in the repository and never
trained on. Their folder is the user's (``testsets/`` of the cszn/FFDNet repository holds all
four as plain files); nothing here or in the test suite needs them.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from cea_edge.data.photos import read_photo  # uint8 RGB, upright: the benchmarks are 8-bit
from cea_edge.errors import CeaError, check_threads, run_cli
from cea_edge.metrics import psnr
from cea_edge.targets import ARTIFACT_SUFFIXES, CHECKPOINT_SUFFIX

SETS = ("CBSD68", "Kodak24", "McMaster")
SIGMAS = (15, 25, 50)
IMAGE_SUFFIXES = (".png", ".tif", ".tiff", ".bmp", ".jpg", ".jpeg")
# Published CBSD68 PSNR (dB) at sigma 15 / 25 / 50, for the table beside ours.
PUBLISHED = {"CBM3D": (33.52, 30.71, 27.38), "DnCNN": (33.90, 31.24, 27.95), "FFDNet": (33.87, 31.21, 27.96),
             "PromptIR": (33.98, 31.31, 28.06), "Restormer": (34.39, 31.78, 28.59)}


@dataclass(frozen=True)
class SetScore:
    model: str
    set: str
    sigma: int
    images: int
    input_psnr: float | None  # None at sigma 0: the input is the clean image
    output_psnr: float


def set_images(folder: Path, name: str) -> list[Path]:
    if not folder.is_dir():
        raise CeaError(f"--dir '{folder}' {'is not a folder' if folder.exists() else 'does not exist'}; pass the folder "
                       f"holding {', '.join(SETS)}, RNI15 (cszn/FFDNet's testsets/)")
    path = folder / name
    images = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES) if path.is_dir() else []
    if not images:
        raise CeaError(f"--dir '{folder}': no images in '{path}' (expected the layout of cszn/FFDNet's testsets/: "
                       f"{', '.join(SETS)}, RNI15 as folders of images)")
    return images


def noisy_input(clean: np.ndarray, sigma: float, seed: tuple[int, ...]) -> np.ndarray:
    """The benchmark's input: clean + N(0, sigma) on the 0-255 scale, rounded and clipped to uint8."""
    noise = np.random.default_rng(seed).standard_normal(clean.shape) * sigma
    return np.clip(np.round(clean.astype(np.float64) + noise), 0, 255).astype(np.uint8)


def _name_seed(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "little")


def score_set(backend, model: str, images: list[Path], name: str, sigma: int, mode: str) -> SetScore:
    from cea_edge.runtime.restore import restore_photo

    inputs, outputs = [], []
    for path in images:
        clean = read_photo(path)
        noisy = noisy_input(clean, sigma, (sigma, _name_seed(path.name)))
        restored = restore_photo(noisy, backend, mode=mode).pixels
        inputs.append(psnr(clean, noisy, 255.0))
        outputs.append(psnr(clean, restored, 255.0))
    return SetScore(model, name, sigma, len(images), float(np.mean(inputs)) if sigma else None, float(np.mean(outputs)))


def panel(backend, images: list[Path], out: Path, mode: str, replace: bool, width: int = 360) -> None:
    """Before | after for every image of a set, each pair scaled to ``width`` px, stacked."""
    from PIL import Image

    from cea_edge.atomic import atomic_write
    from cea_edge.runtime.restore import restore_photo

    rows = []
    for path in images:
        noisy = read_photo(path)
        restored = restore_photo(noisy, backend, mode=mode).pixels
        pair = Image.fromarray(np.concatenate([noisy, np.full((noisy.shape[0], 8, 3), 255, np.uint8), restored], 1))
        rows.append(pair.resize((2 * width + 8, round(pair.height * (2 * width + 8) / pair.width)), Image.LANCZOS))
    sheet = Image.new("RGB", (2 * width + 8, sum(r.height + 8 for r in rows)), "white")
    top = 0
    for row in rows:
        sheet.paste(row, (0, top))
        top += row.height + 8
    atomic_write(out, lambda stream: sheet.save(stream, format="PNG"), replace=replace)


def model_facts(path: Path, backend) -> dict:
    """Preset, parameters and GFLOPs per megapixel of the model behind an artifact or checkpoint."""
    from cea_edge.model.__main__ import flops_per_megapixel
    from cea_edge.model.config import get_preset
    from cea_edge.model.network import CEANet, count_parameters

    if backend.info is not None:
        preset = backend.info.preset
    else:
        from cea_edge.model.checkpoint import load_checkpoint

        preset = load_checkpoint(path).config.name
    try:
        config = get_preset(preset)
    except CeaError:
        return {"preset": preset}
    return {"preset": preset, "parameters": count_parameters(CEANet(config)),
            "gflops_per_mp": round(flops_per_megapixel(config), 2)}


def _db(value: float | None) -> str:
    return "∞ (clean)" if value is None else f"{value:.2f}"


def markdown(scores: list[SetScore], facts: dict[str, dict], sigmas: Sequence[int]) -> str:
    lines = ["| model | params | GFLOPs/MP | set | " + " | ".join(f"σ {s}: input → output" for s in sigmas) + " |",
             "|---|---|---|---|" + "---|" * len(sigmas)]
    for model in dict.fromkeys(s.model for s in scores):
        fact = facts[model]
        params = f"{fact['parameters'] / 1e6:.2f} M" if "parameters" in fact else "?"
        for name in dict.fromkeys(s.set for s in scores if s.model == model):
            cells = {s.sigma: s for s in scores if s.model == model and s.set == name}
            lines.append(f"| {model} | {params} | {fact.get('gflops_per_mp', '?')} | {name} | "
                         + " | ".join(f"{_db(cells[s].input_psnr)} → **{cells[s].output_psnr:.2f}**" for s in sigmas) + " |")
    lines += ["", "Published CBSD68 (σ " + " / ".join(map(str, SIGMAS)) + "): "
              + "; ".join(f"{name} {' / '.join(f'{v:.2f}' for v in values)}" for name, values in PUBLISHED.items())]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cea_edge.testsets", description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, required=True, help="folder holding CBSD68/, Kodak24/, McMaster/, RNI15/")
    parser.add_argument("--model", type=Path, action="append", required=True,
                        help=f"an artifact ({', '.join(ARTIFACT_SUFFIXES)}) or checkpoint ({CHECKPOINT_SUFFIX}); "
                             "repeat to compare")
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=SETS)
    parser.add_argument("--sigmas", nargs="+", type=int, default=list(SIGMAS))
    parser.add_argument("--limit", type=int, help="only the first N images of each set (a quick look)")
    parser.add_argument("--context", choices=("global", "tile"), default="global")
    parser.add_argument("--threads", type=int)
    parser.add_argument("--panel", help="also write a before/after panel of this set (no ground truth): e.g. RNI15")
    parser.add_argument("--panel-out", type=Path, help="where the panel goes (PNG; with --panel)")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--markdown", type=Path)
    parser.add_argument("--overwrite", action="store_true", help="replace existing --json / --markdown / --panel-out")
    args = parser.parse_args(argv)

    from cea_edge.atomic import atomic_write, atomic_write_json, check_output_file, file_identity
    from cea_edge.runtime.backends import open_backend

    check_threads(args.threads)
    if any(s < 0 or s > 255 for s in args.sigmas):
        raise CeaError(f"--sigmas {' '.join(map(str, args.sigmas))}: each must be in 0..255 (the 0-255 scale; "
                       "0: the clean image in)")
    if args.limit is not None and args.limit <= 0:
        raise CeaError(f"--limit {args.limit}: must be positive")
    if bool(args.panel) != bool(args.panel_out):
        raise CeaError("--panel and --panel-out go together: the set to show and the PNG to write")
    if args.panel_out is not None and args.panel_out.suffix.lower() != ".png":
        raise CeaError(f"--panel-out '{args.panel_out}': the panel is a PNG; give a name ending in .png")
    sets = {name: set_images(args.dir, name)[: args.limit] for name in args.sets}
    panel_images = set_images(args.dir, args.panel)[: args.limit] if args.panel else []
    outputs: dict[object, str] = {}
    for flag, path in (("--json", args.json), ("--markdown", args.markdown), ("--panel-out", args.panel_out)):
        if path is not None:
            check_output_file(path, flag, inputs=args.model, overwrite=args.overwrite)
            if file_identity(path)[0] in outputs:  # else the second write fails after the scoring ("exists")
                raise CeaError(f"{outputs[file_identity(path)[0]]} and {flag} name the same file '{path}'; give two names")
            outputs[file_identity(path)[0]] = flag

    scores, facts = [], {}
    for path in args.model:
        backend = open_backend(path, threads=args.threads)
        mode = args.context if backend.global_mode else "tile"
        facts[path.name] = model_facts(path, backend) | {"path": str(path), "context": mode}
        for name, images in sets.items():
            for sigma in args.sigmas:
                score = score_set(backend, path.name, images, name, sigma, mode)
                scores.append(score)
                print(f"{path.name} {name} σ {sigma}: {_db(score.input_psnr)} -> {score.output_psnr:.2f} dB", flush=True)
        if args.panel and path == args.model[0]:
            panel(backend, panel_images, args.panel_out, mode, args.overwrite)
    text = markdown(scores, facts, args.sigmas)
    print(text)
    if args.json:
        from cea_edge.machine import machine_info

        atomic_write_json(args.json, {"scores": [asdict(s) for s in scores], "models": facts, "sigmas": args.sigmas,
                                      "protocol": "8-bit noisy inputs, RGB PSNR, no border crop",
                                      "machine": machine_info(), "published_cbsd68": PUBLISHED}, replace=args.overwrite)
    if args.markdown:
        atomic_write(args.markdown, lambda stream: stream.write((text + "\n").encode()), replace=args.overwrite)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
