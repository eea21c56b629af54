"""int8 vs fp32 per runtime: quality on the evaluation suite and latency at the default tile.

    python benchmarks/int8_tradeoff.py [--qat PATH] [--ptq PATH] [--runs 20] [--threads 1 2]
                                       [--json reports/int8-tradeoff.json] [--keep DIR]

Exports fp32 (bundled checkpoint) and int8 (bundled QAT checkpoint, and a PTQ checkpoint
when --ptq is given) for every runtime this machine has (onnxruntime, the ExecuTorch
runtime with XNNPACK), then:

- quality: every image of the suite (aio-synth: 256x256, one default tile each) through
  each artifact; mean PSNR against the clean images, and the drop against PyTorch fp32.
  PyTorch rows (fp32, NNCF fake quantization) are measured beside them.
- latency: one tile, median of --runs timed calls after --warmup calls, per thread count.

Prints markdown tables and writes JSON. Core ML runs only on macOS: its rows are absent here.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from cea_edge.atomic import atomic_write_json
from cea_edge.data.suite import build_suite
from cea_edge.errors import run_cli
from cea_edge.export.pipeline import export
from cea_edge.export.recipes import recipe_for
from cea_edge.metrics import psnr
from cea_edge.model.checkpoint import DEFAULT_CHECKPOINT, DEFAULT_QAT_CHECKPOINT
from cea_edge.runtime.backends import open_backend
from cea_edge.toolchain import quiet_toolchains

Runner = Callable[[np.ndarray], np.ndarray]  # (1, 3, T, T) float32 -> same

RUNTIMES = {"onnx": "onnxruntime", "executorch": "executorch (xnnpack)"}


def runner(path: Path, threads: int) -> Runner:
    """The runtime's backend for an artifact or a checkpoint (cea_edge/runtime/backends.py)."""
    return open_backend(path, threads=threads).run


def suite_quality(run: Runner, samples: list) -> float:
    scores = []
    for sample in samples:
        tile = np.ascontiguousarray(sample.degraded.transpose(2, 0, 1)[None], dtype=np.float32)
        scores.append(psnr(sample.clean, run(tile)[0].transpose(1, 2, 0)))  # psnr clamps to [0, 1]
    return float(np.mean(scores))


def latency_ms(run: Runner, tile: int, warmup: int, runs: int) -> dict[str, float]:
    x = np.random.default_rng(0).random((1, 3, tile, tile), dtype=np.float32)
    for _ in range(warmup):
        run(x)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        run(x)
        times.append((time.perf_counter() - started) * 1e3)
    quartiles = statistics.quantiles(times, n=4)
    return {"median": statistics.median(times), "p25": quartiles[0], "p75": quartiles[2], "runs": runs}


def build_artifacts(checkpoints: dict[str, Path], tile: int | None, folder: Path) -> list[dict[str, Any]]:
    artifacts = []
    for target in RUNTIMES:
        for label, checkpoint in checkpoints.items():
            precision = "fp32" if label == "fp32" else "int8"
            recipe = recipe_for(target).with_overrides(precision=precision, tile=tile)
            with quiet_toolchains():
                result = export(recipe, checkpoint, folder / target / label)
            artifacts.append({"target": target, "model": label, "path": result.artifact, "tile": recipe.tile,
                              "bytes": result.digest.bytes})
            print(f"exported {result.artifact.name} ({label})", file=sys.stderr)
    return artifacts


def markdown_quality(rows: list[dict[str, Any]]) -> str:
    lines = ["| runtime | model | suite PSNR (dB) | drop vs PyTorch fp32 (dB) |", "|---|---|---|---|"]
    lines += [f"| {r['runtime']} | {r['model']} | {r['psnr_db']:.3f} | {r['drop_db']:+.3f} |" for r in rows]
    return "\n".join(lines)


def markdown_latency(rows: list[dict[str, Any]]) -> str:
    lines = ["| runtime | model | threads | median (ms) | p25-p75 (ms) | size (MB) | vs fp32 |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['runtime']} | {r['model']} | {r['threads']} | {r['median']:.1f} | {r['p25']:.1f}-{r['p75']:.1f} | "
              f"{r['bytes'] / 1e6:.2f} | {r['ratio']:.2f}x |" for r in rows]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/int8_tradeoff.py", description=__doc__.splitlines()[0])
    parser.add_argument("--fp32", type=Path, default=DEFAULT_CHECKPOINT)
    parser.add_argument("--qat", type=Path, default=DEFAULT_QAT_CHECKPOINT)
    parser.add_argument("--ptq", type=Path, help="a PTQ checkpoint (python -m cea_edge.quantize --ptq) for the baseline rows")
    parser.add_argument("--suite", default="aio-synth")
    parser.add_argument("--tile", type=int, help="default: the recipes' tile (256)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--quality-threads", type=int, default=2, help="threads while running the suite")
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--keep", type=Path, help="keep the artifacts in this folder")
    args = parser.parse_args(argv)
    if args.runs < 20:
        parser.error("--runs must be at least 20 (medians of fewer runs swing with the machine)")

    checkpoints = {"fp32": args.fp32, "int8 QAT": args.qat} | ({"int8 PTQ": args.ptq} if args.ptq else {})
    quality, latency = [], []
    with tempfile.TemporaryDirectory(prefix="cea-int8-") as scratch:
        artifacts = build_artifacts(checkpoints, args.tile, args.keep or Path(scratch))
        if not args.skip_quality:
            samples = build_suite(args.suite)
            reference = suite_quality(runner(args.fp32, args.quality_threads), samples)
            quality.append({"runtime": "pytorch", "model": "fp32", "psnr_db": reference, "drop_db": 0.0})
            for label in checkpoints:
                if label != "fp32":
                    value = suite_quality(runner(checkpoints[label], args.quality_threads), samples)
                    quality.append({"runtime": "pytorch (NNCF fake quantization)", "model": label, "psnr_db": value,
                                    "drop_db": reference - value})
            for artifact in artifacts:
                name = RUNTIMES[artifact["target"]]
                value = suite_quality(runner(artifact["path"], args.quality_threads), samples)
                quality.append({"runtime": name, "model": artifact["model"], "psnr_db": value, "drop_db": reference - value})
                print(f"quality {name} {artifact['model']}: {value:.3f} dB", file=sys.stderr)
        for artifact in artifacts:
            name = RUNTIMES[artifact["target"]]
            for threads in args.threads:
                figures = latency_ms(runner(artifact["path"], threads), artifact["tile"], args.warmup, args.runs)
                latency.append({"runtime": name, "model": artifact["model"], "threads": threads, "tile": artifact["tile"],
                                "bytes": artifact["bytes"], **figures})
    for row in latency:
        base = next(r for r in latency
                    if r["runtime"] == row["runtime"] and r["threads"] == row["threads"] and r["model"] == "fp32")
        row["ratio"] = row["median"] / base["median"]

    if quality:
        print(f"## Quality ({args.suite}, {len(build_suite(args.suite))} images, mean PSNR vs clean)\n")
        print(markdown_quality(quality) + "\n")
    tile = latency[0]["tile"]
    print(f"## Latency (one {tile}x{tile} tile, median of {args.runs} runs after {args.warmup} warm-up)\n")
    print(markdown_latency(latency))
    if args.json:
        atomic_write_json(args.json, {"suite": args.suite, "machine": platform.processor() or platform.machine(),
                                      "checkpoints": {k: str(v) for k, v in checkpoints.items()},
                                      "quality": quality, "latency": latency})
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
