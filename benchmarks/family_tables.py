"""Markdown tables (per family, then per case) from the JSON `python -m cea_edge.evaluate --json` writes.

    python benchmarks/family_tables.py reports/edge3/aio-synth.json > tables.md

One evaluate report holds one suite scored for one or more checkpoints; each becomes a column.
reports/edge3/quality.md is its output under a hand-written introduction.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

FAMILY_ORDER = ("clean", "mild", "single", "spatial", "composite", "average")


def psnr(value: float) -> str:
    return "∞" if math.isinf(value) else f"{value:.2f}"


def tables(report: dict[str, dict]) -> str:
    labels = list(report)
    first = report[labels[0]]
    for label in labels[1:]:
        if [case["case"] for case in report[label]["cases"]] != [case["case"] for case in first["cases"]]:
            raise SystemExit(f"error: '{label}' was scored on other cases than '{labels[0]}'")
    header = " | ".join(labels)
    lines = ["Per family (PSNR dB, input → output; samples in brackets):", "",
             f"| family | input | {header} |", "|---|---|" + "---|" * len(labels)]
    for family in (name for name in FAMILY_ORDER if name in first["summary"]):
        row = first["summary"][family]
        outputs = " | ".join(psnr(report[label]["summary"][family]["output_psnr"]) for label in labels)
        lines.append(f"| {family} ({row['samples']}) | {psnr(row['input_psnr'])} | {outputs} |")
    lines += ["", "Per case:", "", f"| case | family | input | {header} |", "|---|---|---|" + "---|" * len(labels)]
    for index, case in enumerate(first["cases"]):
        outputs = " | ".join(psnr(report[label]["cases"][index]["output_psnr"]) for label in labels)
        lines.append(f"| {case['case']} | {case['family']} | {psnr(case['input_psnr'])} | {outputs} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path, help="an evaluate --json file")
    args = parser.parse_args()
    try:
        report = json.loads(args.report.read_text())
    except (OSError, ValueError) as error:
        print(f"error: cannot read '{args.report}': {error}", file=sys.stderr)
        return 2
    sys.stdout.write(tables(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
