"""Tiled vs whole-image output: how close the streamed tile pipeline comes to one whole-image pass.

    python benchmarks/tiling_fidelity.py [--checkpoint PATH] [--sizes small large] [--modes tile global] [--quick] [--threads 2]
                                         [--cache DIR | --no-cache]
                                         [--json reports/tiling-fidelity.json]

PyTorch fp32 (the bundled edge.pt). Each degraded photo (scikit-image photos x degradation
cases, cropped to multiples of 64) runs once whole -- ``model(image)``, the reference -- and
then through the runtime's checkpoint backend + ``tiled_apply`` for every context mode
(tile: each tile makes its own adapter factors; global: factors from
``context_image(photo, 512)``) and tile/overlap setting. Two sizes: "<= context" (the photo
cropped to at most 512x512, so the context image is the photo or a mirror-padded copy) and
"> context" (the clean photo nearest-upsampled and cropped to 768x1024, then degraded).

Reported per size x mode x setting: mean and min PSNR of the tiled output vs the whole
output (both clamped to [0, 1], peak 1), and the boundary/interior MSE ratio: MSE over
pixels within 4 px of an internal tile edge (from ``plan_tiles``; image borders excluded),
pooled over all images, divided by the MSE over every other pixel. Also PSNR vs the clean
image at 256/32 (quality, not fidelity) for the input, whole, tile mode and global mode.

Global mode differs from the whole-image pass in two ways: the tiles (seams, padding) and the
factors (made from the 512-pixel context image instead of the full-resolution photo). The
second is the model's, not the tiler's, so global mode is also compared with a whole-image pass
that uses the context's factors ("same factors"): the tiler's own error, what its bar is on.

Each image's numbers are kept in --cache (default $TMPDIR/cea-edge-bench/tiling-fidelity,
keyed by the checkpoint's hash and the settings), so an interrupted run resumes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from cea_edge.atomic import atomic_write_json
from cea_edge.contract import CHECKPOINT_CONTEXT_SIZE
from cea_edge.data.degradations import CASES
from cea_edge.data.sources import load_photo
from cea_edge.errors import run_cli
from cea_edge.metrics import psnr
from cea_edge.model.checkpoint import DEFAULT_CHECKPOINT, load_checkpoint
from cea_edge.runtime.backends import Backend, open_backend
from cea_edge.runtime.tiling import context_image, plan_tiles, tiled_apply

PHOTOS = ("astronaut", "coffee", "chelsea")
DEGRADATIONS = ("noise25", "rain", "haze", "lowlight", "low+haze+rain")
SETTINGS = ((256, 0), (256, 16), (256, 32), (256, 64), (128, 32))  # (tile, overlap)
QUALITY_SETTING = (256, 32)
CONTEXT = CHECKPOINT_CONTEXT_SIZE  # what enhance uses for a checkpoint
LARGE = (768, 1024)  # (H, W) of the "> context" images
EDGE_BAND = 4  # pixels either side of an internal tile edge
SIZE_FLAGS = {"small": "<= context", "large": "> context"}
SIZES = tuple(SIZE_FLAGS.values())
SIZE_NAMES = {size: name for name, size in SIZE_FLAGS.items()}
MODES = ("tile", "global")


def crop64(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Centre crop to at most height x width, each side rounded down to a multiple of 64."""
    h, w = min(image.shape[0], height) // 64 * 64, min(image.shape[1], width) // 64 * 64
    top, left = (image.shape[0] - h) // 2, (image.shape[1] - w) // 2
    return np.ascontiguousarray(image[top:top + h, left:left + w])


def clean_images(photo: str) -> dict[str, np.ndarray]:
    """The clean photo at both sizes: '<= context' and '> context' (nearest-upsampled)."""
    image = load_photo(photo)
    factor = max(math.ceil(LARGE[0] / image.shape[0]), math.ceil(LARGE[1] / image.shape[1]))
    upsampled = image.repeat(factor, axis=0).repeat(factor, axis=1)
    return {"<= context": crop64(image, CONTEXT, CONTEXT), "> context": crop64(upsampled, *LARGE)}


def edge_mask(height: int, width: int, tile: int, overlap: int) -> np.ndarray:
    """(H, W) bool: pixels within EDGE_BAND px of an internal tile edge (tile starts and ends, not the border)."""
    plan = plan_tiles(height, width, tile, overlap)

    def axis(size: int, starts: tuple[int, ...]) -> np.ndarray:
        near = np.zeros(size, dtype=bool)
        for edge in {s for s in starts} | {s + tile for s in starts}:
            if 0 < edge < size:
                near[max(edge - EDGE_BAND, 0):edge + EDGE_BAND] = True
        return near

    return axis(height, plan.ys)[:, None] | axis(width, plan.xs)[None, :]


def whole_output(model: torch.nn.Module, image: np.ndarray, factors: Sequence[np.ndarray] | None = None) -> np.ndarray:
    """One pass over the whole image; factors: a GlobalContext's (global mode), else the image's own."""
    pairs = None if factors is None else model.pair_factors([torch.from_numpy(f) for f in factors])
    with torch.no_grad():
        return model(torch.from_numpy(image.transpose(2, 0, 1)[None].copy()), pairs)[0].numpy().transpose(1, 2, 0)


def tiled_output(backend: Backend, image: np.ndarray, overlap: int, factors: Sequence[np.ndarray] | None) -> np.ndarray:
    """The tiled pass; factors: the photo's context factors (global mode), None: each tile its own (tile mode)."""
    return tiled_apply(image, lambda tiles: backend.run(tiles, factors), backend.tile, overlap, batch=backend.max_batch)


def cache_key(checkpoint: Path, modes: Sequence[str]) -> str:
    """What an image's numbers depend on besides its photo, case and size."""
    # Both modes (the default) keep the key images were cached under before --modes existed.
    settings = json.dumps([SETTINGS, CONTEXT, LARGE, EDGE_BAND, QUALITY_SETTING, *([] if tuple(modes) == MODES else modes),
                           "same factors"])
    return hashlib.sha256(checkpoint.read_bytes() + settings.encode()).hexdigest()[:16]


def measure(checkpoint: Path, photos: Sequence[str], cases: Sequence[str], threads: int,
            cache: Path | None, sizes: Sequence[str] = SIZES, modes: Sequence[str] = MODES) -> dict[str, Any]:
    torch.set_num_threads(threads)
    model = load_checkpoint(checkpoint).model.eval()
    backends = {tile: open_backend(checkpoint, threads=threads, tile=tile, overlap=0, context_size=CONTEXT)
                for tile in sorted({t for t, _ in SETTINGS})}
    images: list[dict[str, Any]] = []
    key = cache_key(checkpoint, modes)
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
    for photo in photos:
        for size, clean in clean_images(photo).items():
            if size not in sizes:
                continue
            for number, case in enumerate(cases):
                kept = None if cache is None else cache / f"{photo}-{case}-{SIZE_NAMES[size]}-{key}.json"
                if kept is not None and kept.is_file():
                    images.append(json.loads(kept.read_text()))
                    continue
                rng = np.random.default_rng(1000 * PHOTOS.index(photo) + DEGRADATIONS.index(case)
                                            if case in DEGRADATIONS else number)
                degraded = CASES[case](clean, rng)
                whole = whole_output(model, degraded)
                record: dict[str, Any] = {"photo": photo, "case": case, "size": size, "shape": list(degraded.shape[:2]),
                                          "quality_db": {"input": psnr(clean, degraded), "whole": psnr(clean, whole)},
                                          "runs": []}
                for mode in modes:
                    # global mode: the context's factors, made once (every tile size runs the same model);
                    # the whole image with them is what the global tiles should match
                    factors = (backends[QUALITY_SETTING[0]].context(context_image(degraded, CONTEXT)).factors
                               if mode == "global" else None)
                    same = None if factors is None else whole_output(model, degraded, factors)
                    for tile, overlap in SETTINGS:
                        tiled = tiled_output(backends[tile], degraded, overlap, factors)
                        error = (np.clip(tiled, 0, 1, dtype=np.float64) - np.clip(whole, 0, 1, dtype=np.float64)) ** 2
                        near = edge_mask(*degraded.shape[:2], tile, overlap)
                        record["runs"].append({
                            "mode": mode, "tile": tile, "overlap": overlap, "psnr_db": psnr(whole, tiled),
                            "boundary_se": float(error[near].sum()), "boundary_px": int(near.sum() * 3),
                            "interior_se": float(error[~near].sum()), "interior_px": int((~near).sum() * 3),
                            "tiles": plan_tiles(*degraded.shape[:2], tile, overlap).count,
                            "same_factors_psnr_db": None if same is None else psnr(same, tiled)})
                        if (tile, overlap) == QUALITY_SETTING:
                            record["quality_db"][mode] = psnr(clean, tiled)
                images.append(record)
                if kept is not None:
                    atomic_write_json(kept, record)  # json keeps inf as Infinity
                print(f"{photo} {case} {size} {degraded.shape[1]}x{degraded.shape[0]}: done", file=sys.stderr)
    return {"images": images, "settings": summarise(images)}


def summarise(images: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for size in dict.fromkeys(r["size"] for r in images):
        group = [r for r in images if r["size"] == size]
        for mode in dict.fromkeys(run["mode"] for r in group for run in r["runs"]):
            for tile, overlap in SETTINGS:
                runs = [run for r in group for run in r["runs"]
                        if (run["mode"], run["tile"], run["overlap"]) == (mode, tile, overlap)]
                values = [run["psnr_db"] for run in runs]
                same = [run["same_factors_psnr_db"] for run in runs if run.get("same_factors_psnr_db") is not None]
                boundary = sum(r["boundary_se"] for r in runs) / max(sum(r["boundary_px"] for r in runs), 1)
                interior = sum(r["interior_se"] for r in runs) / max(sum(r["interior_px"] for r in runs), 1)
                rows.append({"size": size, "mode": mode, "tile": tile, "overlap": overlap, "images": len(runs),
                             "mean_psnr_db": float(np.mean(values)), "min_psnr_db": float(np.min(values)),
                             "same_factors_mean_psnr_db": float(np.mean(same)) if same else None,
                             "same_factors_min_psnr_db": float(np.min(same)) if same else None,
                             "boundary_mse": boundary, "interior_mse": interior,
                             "boundary_interior_ratio": boundary / interior if interior > 0 else None,
                             "mean_tiles": float(np.mean([run["tiles"] for run in runs]))})
    return rows


def quality_rows(images: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for size in dict.fromkeys(r["size"] for r in images):
        group = [r["quality_db"] for r in images if r["size"] == size]
        rows.append({"size": size, "images": len(group),
                     **{key: float(np.mean([q[key] for q in group])) if all(key in q for q in group) else None
                        for key in ("input", "whole", "tile", "global")}})
    return rows


def _db(value: float) -> str:
    return "inf" if math.isinf(value) else f"{value:.2f}"


def markdown_fidelity(rows: list[dict[str, Any]]) -> str:
    lines = ["| size | context mode | tile/overlap | tiles/image | mean PSNR vs whole (dB) | min PSNR vs whole (dB) | "
             "mean / min vs whole, same factors (dB) | boundary/interior MSE |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ratio = "n/a" if r["boundary_interior_ratio"] is None else f"{r['boundary_interior_ratio']:.2f}"
        same = ("–" if r.get("same_factors_mean_psnr_db") is None
                else f"{_db(r['same_factors_mean_psnr_db'])} / {_db(r['same_factors_min_psnr_db'])}")
        lines.append(f"| {r['size']} | {r['mode']} | {r['tile']}/{r['overlap']} | {r['mean_tiles']:.1f} | "
                     f"{_db(r['mean_psnr_db'])} | {_db(r['min_psnr_db'])} | {same} | {ratio} |")
    return "\n".join(lines)


def markdown_quality(rows: list[dict[str, Any]]) -> str:
    tile, overlap = QUALITY_SETTING
    lines = [f"| size | images | input | whole image | tile mode {tile}/{overlap} | global mode {tile}/{overlap} |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {r['size']} | {r['images']} | {r['input']:.2f} | {r['whole']:.2f} | " +
              " | ".join("–" if r[mode] is None else f"{r[mode]:.2f}" for mode in MODES) + " |" for r in rows]
    return "\n".join(lines)


def finite(value: Any) -> Any:
    """JSON has no infinity: inf -> None (identical outputs), recursively."""
    if isinstance(value, float) and math.isinf(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite(v) for v in value]
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/tiling_fidelity.py", description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT, help="fp32 checkpoint (default: edge.pt)")
    parser.add_argument("--photos", nargs="+", choices=PHOTOS, default=list(PHOTOS))
    parser.add_argument("--cases", nargs="+", choices=sorted(CASES), default=list(DEGRADATIONS))
    parser.add_argument("--sizes", nargs="+", choices=sorted(SIZE_FLAGS), default=list(SIZE_FLAGS),
                        help="small: <= context, large: > context (default: both)")
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES), help="context modes (default: both)")
    parser.add_argument("--quick", action="store_true", help="one photo, two cases")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "cea-edge-bench" / "tiling-fidelity")
    parser.add_argument("--no-cache", action="store_true", help="measure every image again")
    parser.add_argument("--json", type=Path, help="write every number here")
    args = parser.parse_args(argv)
    photos, cases = (args.photos[:1], args.cases[:2]) if args.quick else (args.photos, args.cases)
    started = time.perf_counter()
    result = measure(args.checkpoint, photos, cases, args.threads, None if args.no_cache else args.cache,
                     [SIZE_FLAGS[name] for name in args.sizes], args.modes)
    quality = quality_rows(result["images"])
    seconds = time.perf_counter() - started
    print(f"## Tiled vs whole-image output (PyTorch fp32, {len(photos)} photos x {len(cases)} cases per size; "
          f"context {CONTEXT}; boundary = within {EDGE_BAND} px of an internal tile edge)\n")
    print(markdown_fidelity(result["settings"]) + "\n")
    print(f"## Quality: mean PSNR vs clean (dB), tiled at {QUALITY_SETTING[0]}/{QUALITY_SETTING[1]}\n")
    print(markdown_quality(quality))
    print(f"\n{seconds:.0f} s")
    if args.json:
        atomic_write_json(args.json, finite({
            "checkpoint": str(args.checkpoint), "photos": photos, "cases": cases, "context": CONTEXT,
            "large_size": list(LARGE), "edge_band_px": EDGE_BAND, "threads": args.threads, "seconds": round(seconds, 1),
            "settings": result["settings"], "quality": quality, "images": result["images"]}))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
