"""Issue 12's CLI fuzz pass, long form: the catalogue of tests/fuzz_cases.py plus N seeded random cases.

    python benchmarks/fuzz_cli.py [--cases N] [--seed S] [--skip-isolated] [--json reports/fuzz-cli.json]

Builds its own tiny checkpoint, ONNX export (no verification) and trivial .pte in a temporary
folder, runs every case (subprocess ones too: .pte inputs, FIFOs, huge numbers), prints a table
per CLI and every failing case with its first error line, and writes the outcomes as JSON.
Exit code 1 when any case fails.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Sequence

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the shared generator lives in tests/

from cea_edge.atomic import atomic_write_json
from cea_edge.errors import run_cli
from tests.fuzz_cases import (
    CLIS,
    MESSAGE_CLIS,
    Resources,
    build_trivial_pte,
    catalogue,
    outcome_class,
    random_cases,
    random_issue31_cases,
    run_case,
)


def build_resources(folder: Path) -> Resources:
    import torch

    from cea_edge.export.__main__ import main as export_main
    from cea_edge.model import CEANet, get_preset
    from cea_edge.model.checkpoint import save_checkpoint
    from tests.helpers import export_argv, make_active

    torch.manual_seed(0)
    checkpoint = folder / "tiny.pt"
    save_checkpoint(checkpoint, make_active(CEANet(get_preset("tiny"))), {"note": "fuzz benchmark"})
    out = folder / "onnx"
    with contextlib.redirect_stdout(io.StringIO()):
        code = run_cli(export_main, export_argv("onnx", checkpoint, out, "--precision", "fp32", "--no-verify"))
    if code:
        raise SystemExit("the ONNX export the fuzz cases cut up failed")
    (onnx,) = [p for p in out.glob("*.onnx") if p.name.count(".") == 1]
    return Resources(checkpoint, onnx, build_trivial_pte(folder / "affine.pte"))


def case_class(name: str) -> str:
    """The class of a case, from its name: "<cli>-<class>-..." (random ones by what they draw)."""
    for marker in ("message", "crafted", "special-out", "non-finite", "orientation", "random", "checkpoint", "model",
                   "image", "recipe", "flag", "out", "json", "init", "resume", "folder"):
        if f"-{marker}" in name:
            return marker
    return "other"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/fuzz_cli.py", description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=200, help="seeded random enhance cases on top of the catalogue")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-isolated", action="store_true", help="leave out the subprocess cases (~3-10 s each)")
    parser.add_argument("--json", type=Path, help="write every outcome here")
    args = parser.parse_args(argv)
    drawn = random_cases(args.cases, args.seed) + random_issue31_cases(args.cases // 2, args.seed)
    cases = [c for c in catalogue() + drawn if not (args.skip_isolated and c.isolate)]
    started = time.perf_counter()
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="cea-fuzz-") as temporary:
        root = Path(temporary)
        resources = build_resources(root / "resources")
        for index, case in enumerate(cases):
            outcome = run_case(case, root / f"case-{index}", resources, seed=args.seed)
            outcomes.append(outcome)
            if outcome.problems:
                print(f"FAIL {case.name}: {'; '.join(outcome.problems)} -- {outcome.first_error}", flush=True)
    seconds = time.perf_counter() - started
    print(f"\n## CLI fuzz pass: {len(outcomes)} cases (seed {args.seed}, {args.cases} random), {seconds:.0f} s\n")
    print("| CLI | cases | in subprocess | exit 0 | exit 2 | failed | seconds |")
    print("|---|---|---|---|---|---|---|")
    for cli in CLIS + MESSAGE_CLIS:
        rows = [o for o in outcomes if o.cli == cli]
        codes = Counter(o.code for o in rows)
        print(f"| {cli} | {len(rows)} | {sum(o.isolated for o in rows)} | {codes[0]} | {codes[2]} | "
              f"{sum(bool(o.problems) for o in rows)} | {sum(o.seconds for o in rows):.1f} |")
    print("\n## Outcomes by class\n")
    kinds = ("refused-with-one-line", "succeeded-as-expected", "other", "failed a check")
    print("| class | cases | " + " | ".join(kinds) + " |")
    print("|---|---|" + "---|" * len(kinds))
    by_class: dict[str, Counter] = {}
    for outcome in outcomes:
        by_class.setdefault(case_class(outcome.case), Counter())[outcome_class(outcome)] += 1
    for name, counts in [*sorted(by_class.items()), ("all", sum(by_class.values(), Counter()))]:
        print(f"| {name} | {sum(counts.values())} | " + " | ".join(str(counts[k]) for k in kinds) + " |")
    failed = [o for o in outcomes if o.problems]
    if failed:
        print("\n## Failures\n")
        for outcome in failed:
            print(f"- `{outcome.case}`: {'; '.join(outcome.problems)} -- `{outcome.first_error}`")
    if args.json:
        atomic_write_json(args.json, {
            "seed": args.seed, "random_cases": args.cases, "seconds": round(seconds, 1), "cases": len(outcomes),
            "failed": len(failed), "by_outcome": dict(Counter(outcome_class(o) for o in outcomes)),
            "outcomes": [{"case": o.case, "cli": o.cli, "isolated": o.isolated, "code": o.code, "signal": o.signal,
                          "seconds": round(o.seconds, 3), "problems": o.problems, "first_error": o.first_error,
                          "outcome": outcome_class(o)}
                         for o in outcomes]})
        print(f"wrote {args.json}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
