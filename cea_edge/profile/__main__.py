"""`python -m cea_edge.profile ARTIFACT...`: per-target latency profiles of artifacts and checkpoints.

Latency per tile, GFLOP/s against this machine's measured peak, per-op breakdown, census,
end-to-end seconds and peak RSS.

    python -m cea_edge.profile artifacts/onnx/edge-int8-256.onnx artifacts/executorch/edge-xnnpack-int8-256.pte \\
        cea_edge/checkpoints/edge-qat-int8.pt --threads 1 2 --runs 20 --json reports/profile.json --markdown reports/profile.md
    python -m cea_edge.profile --import phone.json --import mac.json --markdown reports/devices.md

The JSON schema is documented in cea_edge/profile/__init__.py.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NoReturn, Sequence

from cea_edge.atomic import atomic_write, atomic_write_json, check_output_file
from cea_edge.contract import CHECKPOINT_CONTEXT_SIZE, CHECKPOINT_OVERLAP, CHECKPOINT_TILE
from cea_edge.errors import CeaError, check_threads, run_cli, usable_cpus
from cea_edge.machine import cpu_snapshot, machine_info, other_cpus
from cea_edge.profile import coreml
from cea_edge.profile.report import markdown
from cea_edge.profile.run import Settings, model_format, preflight, profile_artifact, steps
from cea_edge.profile.schema import document, load_import
from cea_edge.profile.timing import matmul_peak
from cea_edge.runtime.backends import check_model_path
from cea_edge.runtime.restore import CONTEXT_MODES
from cea_edge.targets import ARTIFACT_SUFFIXES, CHECKPOINT_SUFFIX
from cea_edge.toolchain import quiet_toolchains

MAX_PHOTO_MP = 200.0  # beyond any phone camera; a typo (1200) would otherwise allocate gigabytes


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one "error:" line and exit 2, like every other user error
        raise CeaError(f"{message} (see python -m cea_edge.profile --help)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m cea_edge.profile", description=__doc__.splitlines()[0],
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("artifacts", nargs="*", type=Path,
                        help=f"{', '.join(ARTIFACT_SUFFIXES)} or {CHECKPOINT_SUFFIX} checkpoint (QAT too)")
    parser.add_argument("--runs", type=int, default=20, help="timed calls per graph and thread count (default 20)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed calls before them (default 3)")
    parser.add_argument("--threads", type=int, nargs="+",
                        help="thread counts (default: 1 and 2, at most the CPUs this process may use)")
    parser.add_argument("--photo-mp", type=float, default=12.0,
                        help="megapixels of the end-to-end photo (default 12; 0: skip end to end and peak RSS)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="end-to-end runs per mode and thread count, for the median and spread (default 3)")
    parser.add_argument("--modes", nargs="+", choices=CONTEXT_MODES, default=list(CONTEXT_MODES),
                        help="context modes of the end-to-end run (default: global tile)")
    parser.add_argument("--ops", action=argparse.BooleanOptionalAction, default=True,
                        help="per-operator breakdown from the runtime's profiler (default on)")
    parser.add_argument("--top", type=int, default=5, help="operators per graph in the Markdown table (default 5)")
    parser.add_argument("--tile", type=int, default=CHECKPOINT_TILE, help=f"checkpoints: tile side (default {CHECKPOINT_TILE})")
    parser.add_argument("--overlap", type=int, default=CHECKPOINT_OVERLAP,
                        help=f"checkpoints: tile overlap (default {CHECKPOINT_OVERLAP})")
    parser.add_argument("--context-size", type=int, default=CHECKPOINT_CONTEXT_SIZE,
                        help=f"checkpoints: context side (default {CHECKPOINT_CONTEXT_SIZE})")
    parser.add_argument("--compute-units", nargs="+", choices=coreml.COMPUTE_UNITS,
                        help="Core ML settings to time, macOS only (default: all four)")
    parser.add_argument("--import", dest="imports", type=Path, action="append", default=[], metavar="FILE.json",
                        help="add the profiles of a JSON file of this schema taken elsewhere (repeatable)")
    parser.add_argument("--json", type=Path, help="write the profile document here (atomically)")
    parser.add_argument("--markdown", type=Path, help="write the Markdown tables here (atomically)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing --json/--markdown files (never an input)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def check_args(args: argparse.Namespace) -> Settings:
    """Every flag and path a user can get wrong, before any work."""
    for flag, value, low in (("--runs", args.runs, 1), ("--repeats", args.repeats, 1), ("--warmup", args.warmup, 0),
                             ("--top", args.top, 1), ("--tile", args.tile, 1), ("--overlap", args.overlap, 0),
                             ("--context-size", args.context_size, 0)):
        if value < low:
            raise CeaError(f"{flag} {value}: must be at least {low}")
    if not 0 <= args.photo_mp <= MAX_PHOTO_MP:
        raise CeaError(f"--photo-mp {args.photo_mp:g}: must be between 0 (skip) and {MAX_PHOTO_MP:g}")
    if args.threads:
        threads = tuple(sorted({check_threads(t) for t in args.threads}))
    else:
        threads = tuple(t for t in (1, 2) if t <= usable_cpus())
    if args.compute_units and sys.platform != "darwin":
        raise CeaError(f"--compute-units: Core ML timing runs on macOS only, not on {sys.platform}; drop the flag "
                       "to get the static census of a .mlpackage here")
    if not args.artifacts and not args.imports:
        raise CeaError("nothing to profile: give artifacts, or --import profile files")
    for path in args.artifacts:
        model_format(path)  # CeaError for a file of no target
        check_model_path(path)
    inputs = [*args.artifacts, *args.imports]
    outputs = [(flag, path) for flag, path in (("--json", args.json), ("--markdown", args.markdown)) if path]
    for flag, path in outputs:
        check_output_file(path, flag, inputs=inputs, overwrite=args.overwrite)
    if len(outputs) == 2 and Path(args.json).resolve() == Path(args.markdown).resolve():
        raise CeaError(f"--json and --markdown name the same file '{args.json}'; give two names")
    return Settings(args.runs, args.warmup, threads, args.photo_mp, tuple(dict.fromkeys(args.modes)), args.ops, args.top,
                    args.tile, args.overlap, args.context_size, tuple(args.compute_units or coreml.COMPUTE_UNITS),
                    args.repeats)


def profile(artifacts: list[Path], settings: Settings, imported: list[dict[str, Any]], quiet: bool = True
            ) -> dict[str, Any]:
    """The profile document of ``artifacts`` on this machine, with ``imported`` profiles appended."""
    from tqdm import tqdm

    machine = machine_info()
    started = cpu_snapshot()  # busy neighbours skew timings, multi-thread ones most
    timed = [p for p in artifacts if model_format(p) != "coreml"]
    total = (len(settings.threads) if timed else 0) + sum(steps(p, settings) for p in artifacts)
    with tqdm(total=total, disable=quiet, file=sys.stderr, unit="step", leave=False) as bar:
        def step(label: str) -> None:
            bar.set_postfix_str(label, refresh=False)
            bar.update(1)

        with quiet_toolchains():
            for path in artifacts:
                preflight(path, settings)
            peaks = {}
            for threads in settings.threads if timed else ():
                peaks[threads] = matmul_peak(threads)
                step(f"peak {threads} thread(s)")
            profiles = []
            for path in artifacts:
                bar.set_description(path.name)
                profiles.append(profile_artifact(path, settings, machine, peaks, step))
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    settings_json = asdict(settings) | {"imports": sorted({p["source"] for p in imported}),
                                        "other_cpus": other_cpus(started)}
    return document(machine, list(peaks.values()), settings_json, [*profiles, *imported], created)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = check_args(args)
    imported = [profile for path in args.imports for profile in load_import(path)]
    doc = profile(args.artifacts, settings, imported, quiet=args.quiet)
    try:
        text = markdown(doc, settings.top)
    except (KeyError, TypeError, ValueError, AttributeError) as error:  # an imported file the schema check let through
        if not imported:
            raise
        raise CeaError(f"--import: a profile in {', '.join(map(str, args.imports))} does not fit the tables "
                       f"({type(error).__name__}: {str(error)[:120]}); import a JSON file written by "
                       "python -m cea_edge.profile --json") from None
    if args.json:
        atomic_write_json(args.json, doc, replace=args.overwrite)
    if args.markdown:
        atomic_write(args.markdown, lambda stream: stream.write(text.encode("utf-8")), replace=args.overwrite)
    print(text, end="")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
