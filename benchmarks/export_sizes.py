"""Export every target x precision of one checkpoint and tabulate size, time and fidelity.

    python benchmarks/export_sizes.py [--checkpoint PATH] [--qat-checkpoint PATH] [--tile N] [--json sizes.json]

Artifacts go to a temporary folder (deleted afterwards unless --keep DIR); the table is
markdown: artifact size, export time, verification max-abs / PSNR vs the PyTorch model
(fp32; for int8 the QAT model, with the fp32 figure beside it), and ExecuTorch
delegation (ops inside XNNPACK / outside). int8 rows come from the QAT checkpoint.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any, Sequence

from cea_edge.atomic import atomic_write_json
from cea_edge.errors import CeaError, run_cli
from cea_edge.export.pipeline import export
from cea_edge.export.recipes import PRECISIONS, TARGETS, recipe_for
from cea_edge.model.checkpoint import DEFAULT_CHECKPOINT, DEFAULT_QAT_CHECKPOINT
from cea_edge.toolchain import quiet_toolchains


def _delegation(details: dict[str, Any]) -> str:
    delegation = details.get("delegation")
    if not delegation:
        return "-"
    outside = ", ".join(f"{op} x{n}" for op, n in delegation["outside_ops"].items()) or "none"
    return f"{delegation['delegated_total']} in, outside: {outside}"


def _figure(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def benchmark(checkpoint: Path, qat_checkpoint: Path, tile: int | None, overlap: int | None,
              folder: Path) -> list[dict[str, Any]]:
    rows = []
    # ExecuTorch twice: XNNPACK (runs here) and the Core ML delegate (lowers here, runs on Apple).
    variants = [(target, None) for target in TARGETS] + [("executorch", "coreml")]
    for target, delegate in variants:
        for precision in PRECISIONS:
            try:
                recipe = recipe_for(target).with_overrides(precision=precision, tile=tile, overlap=overlap, delegate=delegate)
            except CeaError:
                continue  # a combination the exporter refuses (int8w outside Core ML, int8 on the Core ML delegate)
            with quiet_toolchains():
                result = export(recipe, qat_checkpoint if recipe.quantized else checkpoint, folder / target)
            manifest = json.loads(result.manifest.read_text())
            verification = result.verification
            rows.append({
                "target": target, "delegate": recipe.delegate, "precision": precision, "tile": recipe.tile,
                "file": result.artifact.name,
                "bytes": result.digest.bytes, "export_seconds": round(result.export_seconds, 2),
                "max_abs_error": verification.max_abs_error, "psnr_db": verification.psnr_db,
                "reference": verification.reference, "fp32_psnr_db": verification.fp32_psnr_db,
                "verified_by": verification.runtime if verification.ran else verification.note,
                "passed": verification.passed, "delegation": _delegation(manifest["target_details"]),
            })
            print(f"{result.artifact.name}: done", file=sys.stderr)
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = ["| target | precision | tile | size (MB) | export (s) | max-abs | PSNR (dB) | vs fp32 (dB) | verified by "
             "| delegation |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        target = f"{row['target']} ({row['delegate']})" if row["delegate"] else row["target"]
        lines.append(f"| {target} | {row['precision']} | {row['tile']} | {row['bytes'] / 1e6:.3f} | "
                     f"{row['export_seconds']:.1f} | {_figure(row['max_abs_error'], '.2e')} | "
                     f"{_figure(row['psnr_db'], '.1f')} | {_figure(row['fp32_psnr_db'], '.1f')} | "
                     f"{row['verified_by']} | {row['delegation']} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/export_sizes.py", description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT, help="fp32 checkpoint (fp32, fp16 rows)")
    parser.add_argument("--qat-checkpoint", type=Path, default=DEFAULT_QAT_CHECKPOINT, help="QAT checkpoint (int8 rows)")
    parser.add_argument("--tile", type=int, help="default: each recipe's tile")
    parser.add_argument("--overlap", type=int, help="default: each recipe's overlap (must stay below the tile)")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    parser.add_argument("--keep", type=Path, help="keep the artifacts in this folder")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="cea-export-sizes-") as scratch:
        rows = benchmark(args.checkpoint, args.qat_checkpoint, args.tile, args.overlap, args.keep or Path(scratch))
    print(markdown(rows))
    if args.json:
        atomic_write_json(args.json, {"checkpoint": str(args.checkpoint), "qat_checkpoint": str(args.qat_checkpoint),
                                      "rows": rows})
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
