"""Runtime overhead and peak memory of the streamed tile pipeline that `python -m cea_edge.enhance` runs.

    python benchmarks/runtime_throughput.py [--backends onnx-fp32 onnx-int8 executorch-fp32 executorch-int8 checkpoint]
        [--model KEY=PATH ...] [--memory-backends onnx-int8 executorch-int8] [--sizes 12 48] [--repeats 3]
        [--skip-overhead] [--skip-memory] [--cache DIR] [--json reports/runtime-throughput.json]

(a) Overhead: per backend, a synthetic 1920x1080 8-bit photo (a degraded photo, mirror-tiled)
goes through ``cea_edge.runtime.restore.restore_photo`` -- the CLI's pipeline -- in both context
modes with 2 threads, after one warm-up. Reported: wall seconds, ``backend.model_seconds``
(time inside the runtime's calls), wall/model (goal <= 1.10) and MP/s; median of --repeats.
(b) Memory: ``python -m cea_edge.enhance --context global --quiet --model M`` as a
subprocess under /usr/bin/time -v on synthetic 12 MP (4000x3000) and 48 MP (8000x6000)
8-bit PNGs; peak RSS (goals: <= 1 GB at 12 MP, <= 1.5 GB at 48 MP), wall time and the
CLI's own restore time / MP/s.

Artifacts not given with --model are exported once into --cache (default
$TMPDIR/cea-edge-bench), as are the synthetic photos.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from PIL import Image

from cea_edge.atomic import atomic_write_json
from cea_edge.data.degradations import CASES
from cea_edge.data.sources import load_photo
from cea_edge.errors import run_cli
from cea_edge.model.checkpoint import DEFAULT_CHECKPOINT
from cea_edge.runtime.backends import open_backend
from cea_edge.runtime.restore import restore_photo

# key -> (export target, precision); "checkpoint" is the bundled fp32 checkpoint, run in PyTorch
BACKENDS = {"onnx-fp32": ("onnx", "fp32"), "onnx-int8": ("onnx", "int8"),
            "executorch-fp32": ("executorch", "fp32"), "executorch-int8": ("executorch", "int8"), "checkpoint": None}
SIZES = {12: (3000, 4000), 48: (6000, 8000)}  # MP -> (H, W)
RSS_GOAL_MB = {12: 1000, 48: 1500}
OVERHEAD_SHAPE = (1080, 1920)
THREADS = 2


def artifact(key: str, models: dict[str, Path], cache: Path) -> Path:
    """The artifact for ``key``: as given, else exported into the cache (once)."""
    if key in models:
        return models[key]
    if BACKENDS[key] is None:
        return DEFAULT_CHECKPOINT
    target, precision = BACKENDS[key]
    folder = cache / f"{target}-{precision}"
    found = sorted(folder.glob("*.onnx" if target == "onnx" else "*.pte"))
    found = [p for p in found if ".context." not in p.name and ".global." not in p.name]
    if found:
        return found[0]
    from cea_edge.export.pipeline import export
    from cea_edge.export.recipes import recipe_for
    from cea_edge.toolchain import quiet_toolchains

    print(f"exporting {key} into {folder} ...", file=sys.stderr)
    with quiet_toolchains():
        return export(recipe_for(target).with_overrides(precision=precision), None, folder).artifact


def synthetic(height: int, width: int) -> np.ndarray:
    """(H, W, 3) uint8: a degraded 512x512 photo, mirror-tiled; no float copy of the full size."""
    base = CASES["noise25"](load_photo("astronaut"), np.random.default_rng(0))
    base = (base * 255 + 0.5).astype(np.uint8)
    return np.pad(base, ((0, max(height - 512, 0)), (0, max(width - 512, 0)), (0, 0)), mode="symmetric")[:height, :width]


def overhead(key: str, path: Path, repeats: int) -> list[dict[str, Any]]:
    backend = open_backend(path, threads=THREADS)
    pixels = synthetic(*OVERHEAD_SHAPE)
    height, width = pixels.shape[:2]
    megapixels = width * height / 1e6
    rows = []
    for mode in ("tile", "global"):
        restore_photo(np.ascontiguousarray(pixels[:512, :768]), backend, mode)  # warm-up
        runs = []
        for _ in range(repeats):
            backend.model_seconds = 0.0
            started = time.perf_counter()
            restore_photo(pixels, backend, mode)
            wall = time.perf_counter() - started
            runs.append({"wall_s": wall, "model_s": backend.model_seconds, "ratio": wall / backend.model_seconds})
        median = sorted(runs, key=lambda r: r["wall_s"])[len(runs) // 2]
        rows.append({"backend": key, "name": backend.name, "path": str(path), "mode": mode,
                     "size": f"{width}x{height}", "tile": backend.tile, "overlap": backend.overlap,
                     **median, "min_ratio": min(r["ratio"] for r in runs), "mp_per_s": megapixels / median["wall_s"],
                     "runs": runs})
        print(f"overhead {key} {mode}: {median['wall_s']:.2f} s wall, {median['ratio']:.3f}x", file=sys.stderr)
    return rows


def test_image(megapixels: int, cache: Path) -> Path:
    path = cache / f"synthetic-{megapixels}mp.png"
    if not path.exists():
        pixels = synthetic(*SIZES[megapixels])
        staged = path.with_suffix(".tmp.png")
        Image.fromarray(pixels).save(staged, compress_level=1)
        staged.replace(path)
    return path


def time_v(command: list[str]) -> tuple[dict[str, str], str]:
    """Run under /usr/bin/time -v; its report (key -> value) and the command's stdout."""
    if not Path("/usr/bin/time").exists():
        raise SystemExit("/usr/bin/time is needed for the memory measurement (apt-get install time)")
    done = subprocess.run(["/usr/bin/time", "-v", *command], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr[-3000:]}")
    report = dict(line.strip().rsplit(": ", 1) for line in done.stderr.splitlines() if ": " in line and line.startswith("\t"))
    return report, done.stdout


def wall_seconds(text: str) -> float:
    seconds = 0.0
    for part in text.split(":"):
        seconds = seconds * 60 + float(part)
    return seconds


def memory(key: str, path: Path, megapixels: int, cache: Path) -> dict[str, Any]:
    image = test_image(megapixels, cache)
    with tempfile.TemporaryDirectory(prefix="cea-rss-") as scratch:
        out = Path(scratch) / "out.png"
        command = [sys.executable, "-m", "cea_edge.enhance", str(image), "-o", str(out), "--model", str(path),
                   "--context", "global", "--threads", str(THREADS), "--quiet"]
        report, stdout = time_v(command)
    rss_mb = int(report["Maximum resident set size (kbytes)"]) / 1024
    restore = re.search(r", ([\d.]+) s, ([\d.]+) MP/s", stdout)
    row = {"backend": key, "path": str(path), "megapixels": megapixels, "size": image.name,
           "peak_rss_mb": rss_mb, "goal_mb": RSS_GOAL_MB[megapixels], "within_goal": rss_mb <= RSS_GOAL_MB[megapixels],
           "wall_s": wall_seconds(report["Elapsed (wall clock) time (h:mm:ss or m:ss)"]),
           "restore_s": float(restore.group(1)) if restore else None, "mp_per_s": float(restore.group(2)) if restore else None,
           "cli": stdout.strip()}
    print(f"memory {key} {megapixels} MP: {rss_mb:.0f} MB, {row['wall_s']:.1f} s", file=sys.stderr)
    return row


def markdown_overhead(rows: list[dict[str, Any]]) -> str:
    lines = ["| backend | mode | wall (s) | model (s) | wall/model | min wall/model | MP/s |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['name']} | {r['mode']} | {r['wall_s']:.2f} | {r['model_s']:.2f} | {r['ratio']:.3f} "
              f"{'' if r['ratio'] <= 1.10 else '(over 1.10)'}| {r['min_ratio']:.3f} | {r['mp_per_s']:.2f} |" for r in rows]
    return "\n".join(lines)


def markdown_memory(rows: list[dict[str, Any]]) -> str:
    lines = ["| backend | photo | peak RSS (MB) | goal (MB) | wall (s) | restore (s) | restore MP/s |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['backend']} | {r['megapixels']} MP | {r['peak_rss_mb']:.0f} "
                     f"{'' if r['within_goal'] else '(over)'}| {r['goal_mb']} | {r['wall_s']:.1f} | "
                     f"{r['restore_s'] or float('nan'):.1f} | {r['mp_per_s'] or float('nan'):.2f} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/runtime_throughput.py", description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", choices=list(BACKENDS), default=list(BACKENDS), help="overhead rows")
    parser.add_argument("--memory-backends", nargs="+", choices=list(BACKENDS), default=["onnx-int8", "executorch-int8"])
    parser.add_argument("--model", action="append", default=[], metavar="KEY=PATH", help="use this artifact for KEY")
    parser.add_argument("--sizes", nargs="+", type=int, choices=sorted(SIZES), default=sorted(SIZES), help="MP")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-overhead", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "cea-edge-bench")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    models = {}
    for item in args.model:
        key, _, value = item.partition("=")
        if key not in BACKENDS or not value:
            parser.error(f"--model {item}: expected KEY=PATH with KEY one of {', '.join(BACKENDS)}")
        models[key] = Path(value)
    args.cache.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    over = [] if args.skip_overhead else [row for key in args.backends
                                          for row in overhead(key, artifact(key, models, args.cache), args.repeats)]
    mem = [] if args.skip_memory else [memory(key, artifact(key, models, args.cache), size, args.cache)
                                       for key in args.memory_backends for size in args.sizes]
    if over:
        h, w = OVERHEAD_SHAPE
        print(f"## Overhead ({w}x{h} 8-bit, restore_photo, {THREADS} threads, median of {args.repeats}; "
              "goal wall/model <= 1.10)\n")
        print(markdown_overhead(over) + "\n")
    if mem:
        print(f"## Peak memory (python -m cea_edge.enhance --context global, {THREADS} threads, /usr/bin/time -v)\n")
        print(markdown_memory(mem) + "\n")
    seconds = time.perf_counter() - started
    print(f"{seconds:.0f} s")
    if args.json:
        atomic_write_json(args.json, {"threads": THREADS, "cpus": os.cpu_count(), "seconds": round(seconds, 1),
                                      "overhead": over, "memory": mem,
                                      "summary": {"overhead_ratio_median": statistics.median([r["ratio"] for r in over])
                                                  if over else None}})
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
