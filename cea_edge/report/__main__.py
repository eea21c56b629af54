"""`python -m cea_edge.report`: which target, precision, tile and thread count to ship, measured.

Builds (or reuses) the artifacts of the grid target x precision x tile, measures each with the
toolkit's stages (quality per degradation family, parity against the FP32 reference, latency
per tile and per thread count, ms/MP end to end on a photo in global-context mode, peak memory,
size), and writes report.md, report.html (self-contained), report.json and the plots to --out.
Finished cells are kept under --out/cells: an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NoReturn, Sequence

from cea_edge.atomic import InputGuard, atomic_write, atomic_write_json, prepare_output_dir
from cea_edge.errors import CeaError, check_threads, run_cli, usable_cpus
from cea_edge.export.recipes import ARTIFACTS_DIR
from cea_edge.model.checkpoint import DEFAULT_CHECKPOINT, DEFAULT_QAT_CHECKPOINT
from cea_edge.named_files import path_under
from cea_edge.report import document as doc
from cea_edge.report.grid import PRECISIONS, TARGETS, grid

OUTPUTS = ("report.md", "report.html", "report.json", "pareto.png", "drops.png", "threads.png", "crops.png",
           "difference.png", "seam.png")
FULL = {"targets": list(TARGETS), "precisions": list(PRECISIONS), "tiles": [128, 256, 512], "threads": [1, 2],
        "suite": "aio-whole", "photo_mp": 12.0, "runs": 10, "repeats": 3, "parity_set": "standard"}
QUICK = {"targets": ["onnx", "executorch"], "precisions": ["fp32", "int8"], "tiles": [256], "threads": [1, 2],
         "suite": "aio-synth-mini", "photo_mp": 2.0, "runs": 5, "repeats": 3, "parity_set": "smoke"}
FAST_DROP_DB, SMALL_DROP_DB = 0.1, 0.2  # the goals: within 0.1 dB (fastest), 0.2 dB (smallest)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise CeaError(f"{message} (see python -m cea_edge.report --help)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m cea_edge.report", description=__doc__.splitlines()[0],
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", nargs="+", choices=TARGETS, help="default: all three (--quick: onnx executorch)")
    parser.add_argument("--precisions", nargs="+", choices=PRECISIONS, help="default: fp32 fp16 int8 (--quick: fp32 int8)")
    parser.add_argument("--tiles", nargs="+", type=int, help="tile sides (default: 128 256 512; --quick: 256)")
    parser.add_argument("--threads", nargs="+", type=int, help="thread counts (default: 1 2)")
    parser.add_argument("--overlap", type=int, help="tile overlap (default: the export recipes')")
    parser.add_argument("--context-size", type=int, help="global-context side (default: the export recipes')")
    parser.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT,
                        help=f"fp32 checkpoint (default: the bundled {DEFAULT_CHECKPOINT.name})")
    parser.add_argument("--qat-checkpoint", type=Path,
                        help="its QAT int8 twin, for int8 cells (default with the bundled checkpoint: "
                             f"{DEFAULT_QAT_CHECKPOINT.name})")
    parser.add_argument("--quick", action="store_true",
                        help="a small grid, the mini suite, a 2 MP photo, fewer runs: a few minutes")
    parser.add_argument("--out", type=Path, default=Path("reports/tradeoff"), help="output folder (default reports/tradeoff)")
    parser.add_argument("--cache", type=Path, default=ARTIFACTS_DIR / "report-cache",
                        help=f"where artifacts and references are kept between runs (default {ARTIFACTS_DIR / 'report-cache'})")
    parser.add_argument("--reuse", type=Path, action="append", default=[], metavar="DIR",
                        help="folder of exports already made (python -m cea_edge.export --out DIR): a cell uses one "
                             "whose manifest names the same checkpoint hash and recipe values instead of exporting "
                             "again (repeatable)")
    parser.add_argument("--budget-ms-per-mp", type=float, help="latency budget for the best-quality recommendation")
    parser.add_argument("--add-profile", type=Path, action="append", default=[], metavar="PROFILE.json",
                        help="profiles taken elsewhere (python -m cea_edge.profile --json schema) as extra rows")
    parser.add_argument("--baseline", type=Path, metavar="OLD/report.json", help="add deltas against an earlier report")
    parser.add_argument("--suite", help="quality suite (default aio-whole: the held-out photos whole, at each cell's "
                                        "tile; --quick: aio-synth-mini)")
    parser.add_argument("--photo-mp", type=float, help="end-to-end photo size in MP (default 12; --quick: 2)")
    parser.add_argument("--runs", type=int, help="timed calls per graph and thread count (default 10; --quick: 5)")
    parser.add_argument("--repeats", type=int,
                        help="end-to-end photo runs per thread count: the median and the spread (default 3)")
    parser.add_argument("--fresh", action="store_true", help="measure every cell again (artifacts stay cached)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def settings_from(args: argparse.Namespace, argv: Sequence[str]) -> dict[str, Any]:
    """The run's settings: flags over the --quick or full defaults, each checked before any work."""
    from cea_edge.data.suite import get_suite_spec
    from cea_edge.errors import checked_flag

    base = QUICK if args.quick else FULL
    pick = lambda name: getattr(args, name) if getattr(args, name) is not None else base[name]  # noqa: E731
    settings = {name: pick(name) for name in ("targets", "precisions", "tiles", "threads", "suite", "photo_mp", "runs",
                                              "repeats")}
    settings["parity_set"] = base["parity_set"]
    for count in settings["threads"]:
        check_threads(count)
    if any(tile < 1 for tile in settings["tiles"]):
        raise CeaError(f"--tiles must be positive, got {settings['tiles']}")
    if settings["runs"] < 1:
        raise CeaError(f"--runs must be at least 1, got {settings['runs']}")
    if not 1 <= settings["repeats"] <= 100:
        raise CeaError(f"--repeats must be between 1 and 100, got {settings['repeats']}")
    if not 0 < settings["photo_mp"] <= 200:
        raise CeaError(f"--photo-mp must be in (0, 200], got {settings['photo_mp']:g}")
    if args.budget_ms_per_mp is not None and args.budget_ms_per_mp <= 0:
        raise CeaError(f"--budget-ms-per-mp must be positive, got {args.budget_ms_per_mp:g}")
    checked_flag(get_suite_spec, "--suite", settings["suite"])
    for folder in args.reuse:
        if not folder.is_dir():
            raise CeaError(f"--reuse '{folder}' is not a folder (pass where python -m cea_edge.export wrote its exports)")
    settings["command"] = "python -m cea_edge.report " + shlex.join(argv)
    settings["budget_ms_per_mp"] = args.budget_ms_per_mp
    settings["quick"] = args.quick
    return settings


def checkpoints(args: argparse.Namespace, settings: dict[str, Any]) -> tuple[Path, Path | None, str]:
    """The fp32 checkpoint, its QAT twin (checked to descend from it) and the fp32 sha256."""
    from cea_edge.model.checkpoint import file_sha256, load_checkpoint, source_sha256

    fp32 = load_checkpoint(args.checkpoint)
    if fp32.quantization:
        raise CeaError(f"--checkpoint '{args.checkpoint}' is a QAT checkpoint; pass the fp32 one, and the QAT twin "
                       "with --qat-checkpoint")
    sha = file_sha256(args.checkpoint)
    qat_path = args.qat_checkpoint
    if qat_path is None and args.checkpoint.resolve() == DEFAULT_CHECKPOINT.resolve():
        qat_path = DEFAULT_QAT_CHECKPOINT
    if "int8" in settings["precisions"]:
        if qat_path is None:
            raise CeaError("int8 cells need the checkpoint's QAT twin: pass --qat-checkpoint (python -m "
                           "cea_edge.quantize makes one) or leave int8 out of --precisions")
        qat = load_checkpoint(qat_path)
        if not qat.quantization:
            raise CeaError(f"--qat-checkpoint '{qat_path}' is not a QAT checkpoint")
        if source_sha256(qat) != sha:
            raise CeaError(f"--qat-checkpoint '{qat_path}' was not trained from --checkpoint '{args.checkpoint}'")
    return args.checkpoint, qat_path, sha


def reference_for(checkpoint: Path, sha: str, tile: int, overlap: int, context: int, parity_set: str,
                  cache: Path) -> Any:
    """The FP32 reference set at this tile: the committed one when it fits, else made (CPU) and cached."""
    from cea_edge.parity.__main__ import default_reference
    from cea_edge.parity.reference import load_reference, make_reference

    committed = default_reference()
    if committed.is_dir():
        reference = load_reference(committed)
        if (reference.checkpoint_sha256, reference.tile, reference.context_size) == (sha, tile, context) \
                and parity_set == "standard":
            return reference
    folder = cache / f"reference-{sha[:12]}-{parity_set}-t{tile}-c{context}"
    if (folder / "record.json").is_file():
        return load_reference(folder)
    return make_reference(checkpoint, parity_set, "cpu", tile, overlap, context, folder, overwrite=True,
                          command="python -m cea_edge.report")


def _shown(path: Path) -> str:
    """A path as the report prints it: relative to the working folder when inside it (no home folders in reports)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _load_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # a damaged cell is measured again


@dataclass
class Measured:
    """What the measuring half of a run found: the fp32 model's quality per tile, each cell's result."""

    fp32_quality: dict[int, Any]
    results: list[dict[str, Any]]
    failures: list[str]
    resumed: int
    samples: list[Any]


def measure_grid(args: argparse.Namespace, settings: dict[str, Any], cells: list[Any], recipes: dict[Any, Any],
                 fp32_path: Path, qat_path: Path | None, sha: str, out: Path, machine: dict[str, Any]) -> Measured:
    """The fp32 model's quality at every tile, then every cell built and measured (or resumed from
    --out/cells when its signature matches)."""
    from tqdm import tqdm

    from cea_edge.data.suite import build_suite
    from cea_edge.model.checkpoint import file_sha256
    from cea_edge.parity.check import load_bars
    from cea_edge.profile.run import Settings
    from cea_edge.profile.timing import matmul_peak
    from cea_edge.report.grid import build_cell, cache_key, checkpoint_for
    from cea_edge.report.measure import measure_cell, suite_quality
    from cea_edge.runtime.backends import open_backend
    from cea_edge.toolchain import quiet_toolchains

    cache = args.cache
    cache.mkdir(parents=True, exist_ok=True)
    (out / "cells").mkdir(exist_ok=True)
    samples = build_suite(settings["suite"])
    bars = load_bars()
    threads = settings["threads"]
    first = recipes[cells[0]]
    overlap, context = first.overlap, first.context_size
    found = Measured({}, [], [], 0, samples)
    steps_per_cell = 3 + len(threads) + 1
    with quiet_toolchains(), tqdm(total=len(cells) * steps_per_cell + len(settings["tiles"]), disable=args.quiet,
                                  file=sys.stderr, unit="step") as bar:
        def step(label: str) -> None:
            bar.set_postfix_str(label, refresh=False)
            bar.update(1)

        # Needed only when a cell is measured: a fully resumed run skips the peak timing and references.
        peaks: dict[int, Any] = {}
        references: dict[int, Any] = {}
        # Two checkpoints serve every cell: hash each once.
        hashes = {fp32_path: sha, **({qat_path: file_sha256(qat_path)} if qat_path else {})}
        for tile in settings["tiles"]:
            bar.set_description(f"fp32 t{tile}")
            record = out / "cells" / f"fp32-t{tile}.json"
            signature = {"checkpoint": sha, "suite": settings["suite"], "tile": tile, "overlap": overlap,
                         "context": context}
            cached = None if args.fresh else _load_json(record)
            if cached and cached.get("signature") == signature:
                found.fp32_quality[tile] = cached["quality"]
            else:
                backend = open_backend(fp32_path, threads=max(threads), tile=tile, overlap=overlap,
                                       context_size=context)
                found.fp32_quality[tile] = suite_quality(backend, samples, settings["suite"])
                atomic_write_json(record, {"signature": signature, "quality": found.fp32_quality[tile]})
            step("fp32 model")
        for cell in cells:
            bar.set_description(cell.name)
            recipe = recipes[cell]
            source = checkpoint_for(cell, fp32_path, qat_path)
            key = cache_key(recipe, hashes[source])
            signature = {"artifact": key, "suite": settings["suite"], "photo_mp": settings["photo_mp"],
                         "runs": settings["runs"], "repeats": settings["repeats"], "threads": threads,
                         "parity": settings["parity_set"], "machine": doc.machine_key(machine)}
            record = out / "cells" / f"{cell.name}.json"
            cached = None if args.fresh else _load_json(record)
            if cached and cached.get("signature") == signature:
                found.results.append(cached["result"])
                found.resumed += 1
                bar.update(steps_per_cell)
                continue
            if not peaks:
                peaks.update((count, matmul_peak(count)) for count in threads)
            if cell.tile not in references:
                references[cell.tile] = reference_for(fp32_path, sha, cell.tile, overlap, context,
                                                      settings["parity_set"], cache)
            try:
                built = build_cell(cell, recipe, source, hashes[source], cache, args.reuse)
                for manifest in built.other_exporter:
                    bar.write(f"note: {cell.name}: exported anew, not reused from {manifest}: made by another "
                              "exporter (code or toolchain versions differ; see its exporter_sha256)")
                step(built.origin.split()[0])
                profile_settings = Settings(runs=settings["runs"], warmup=2, threads=tuple(threads),
                                            photo_mp=settings["photo_mp"], modes=("global",), ops=False,
                                            tile=cell.tile, overlap=overlap, context_size=context,
                                            repeats=settings["repeats"])
                result = measure_cell(built, samples, settings["suite"], references[cell.tile], bars,
                                      profile_settings, machine, peaks, step).to_dict()
            except CeaError as error:
                found.failures.append(f"{cell.name}: {error}")
                result = {"cell": cell.name, "target": cell.target, "precision": cell.precision, "tile": cell.tile,
                          "artifact_mb": None, "notes": [f"failed: {error}"]}
            else:
                atomic_write_json(record, {"signature": signature, "result": result})
            found.results.append(result)
    return found


@dataclass
class Section:
    """One machine's rows, ranked among themselves only."""

    machine: str  # label
    description: dict[str, Any]  # machine_info() of that machine
    rows: list[Any]
    front: list[Any]
    recommendations: list[Any]


def assemble(found: Measured, settings: dict[str, Any], machine: dict[str, Any], imported: list[dict[str, Any]],
             preset: str, sha: str) -> tuple[list[Any], list[Section], dict[str, dict[str, Any]]]:
    """Rows of every cell and import, one section per machine (each with its own front and
    recommendations), and the machines by label (this machine first, "M1")."""
    from cea_edge.machine import fp16_native
    from cea_edge.report import pareto

    labels = {doc.machine_key(machine): "M1"}
    machines = {"M1": machine}
    reference_quality = doc.best_quality(found.fp32_quality)
    rows = [row for result in found.results
            for row in doc.rows_for_cell(result, reference_quality, settings["threads"], "M1", fp16_native(machine))]
    foreign = doc.rows_from_profiles(imported, rows, labels, preset, sha)
    for profile in imported:
        machines.setdefault(labels[doc.machine_key(profile.get("machine", {}))], profile.get("machine", {}))
    rows += foreign
    sections = []
    for label, description in machines.items():
        mine = [row for row in rows if row.machine == label]
        recommendations = [replace(item, machine=label) for item in
                           pareto.recommend(mine, settings["budget_ms_per_mp"], FAST_DROP_DB, SMALL_DROP_DB)]
        sections.append(Section(label, description, mine, pareto.pareto_front(mine), recommendations))
    return rows, sections, machines


def draw(out: Path, sections: list[Section], found: Measured, settings: dict[str, Any], fp32_path: Path,
         baseline_rows: list[Any], cache: Path, results: list[dict[str, Any]]) -> dict[str, Path]:
    """The pictures: a Pareto chart per machine, the drop heatmap, threads, the crops of the
    recommended artifact, its fp32-vs-int8 difference and a tile seam of a 12 MP photo."""
    from cea_edge.report import pictures as pixels
    from cea_edge.report import plots
    from cea_edge.report.measure import photo_crops, precision_pair, seam_crop
    from cea_edge.toolchain import quiet_toolchains

    local = sections[0]
    where = _machine_line(local.description)
    pictures: dict[str, Path] = {}
    for section in sections:
        if not any(row.ms_per_mp is not None and row.psnr_drop_db is not None for row in section.rows):
            continue
        name = "pareto" if section is local else f"pareto-{section.machine}"
        recommended: dict[str, str] = {}
        for item in section.recommendations:  # one row may answer several goals: it names them all
            if item.key:
                recommended[item.key] = ", ".join(filter(None, [recommended.get(item.key), _short_goal(item.goal)]))
        pictures[name] = plots.pareto_chart(
            section.rows, section.front, out / f"{name}.png",
            f"{fp32_path.name}, {section.machine}: {_machine_line(section.description)}", recommended=recommended,
            drop_bar_db=FAST_DROP_DB, budget_ms_per_mp=settings["budget_ms_per_mp"],
            baseline=baseline_rows if section is local else ())
    reference = doc.best_quality(found.fp32_quality)
    if reference and any(row.psnr_db is not None for row in local.rows):
        families = {name: score["psnr_db"] for name, score in reference.items()}
        pictures["drops"] = plots.drop_heatmap(local.rows, families, out / "drops.png",
                                               f"PSNR drop from fp32 per family on {settings['suite']} ({where})")
    main_tile = 256 if 256 in settings["tiles"] else settings["tiles"][0]
    pictures["threads"] = plots.threads_chart(local.rows, main_tile, out / "threads.png",
                                              f"latency against threads, tile {main_tile} ({where})")
    # The crops need artifacts on this machine: the first recommendation measured here.
    here = {row.key: row for row in local.rows if row.source == "measured" and row.psnr_db is not None}
    chosen = next((here[item.key] for item in local.recommendations if item.key in here), None) \
        or next((row for row in local.front if row.key in here), None) or next(iter(here.values()), None)
    if chosen is None:
        return pictures
    artifacts = {result["cell"]: path_under(cache, result["artifact"], f"the record of cell {result['cell']}")
                 for result in results if result.get("artifact")}
    with quiet_toolchains():
        crops = photo_crops(artifacts[chosen.cell], found.samples)
        pictures["crops"] = pixels.crops_picture(crops, out / "crops.png",
                                                f"{chosen.cell} (recommended): input, restored, clean, routing maps")
        twin = _precision_twin(chosen, artifacts)
        if twin is not None:
            pair = precision_pair(artifacts[twin[0]], artifacts[twin[1]], found.samples)
            pictures["difference"] = pixels.difference_picture(
                pair["reference"], pair["other"], (twin[0], twin[1]), out / "difference.png",
                f"{twin[0]} vs {twin[1]} on {pair['photo']} / {pair['case']} (1:1 where they differ most)")
        seam = seam_crop(artifacts[chosen.cell], settings["photo_mp"])
        pictures["seam"] = pixels.seam_picture(seam["crop"], seam["seams_x"], seam["seams_y"], out / "seam.png",
                                              f"{chosen.cell}: a 1:1 crop across tile seams of the "
                                              f"{seam['megapixels']:.3g} MP timing photo ({seam['where']})")
    return pictures


def _precision_twin(chosen: Any, artifacts: dict[str, Path]) -> tuple[str, str] | None:
    """(fp32 cell, int8 cell) of the chosen row's target and tile, when both were measured."""
    fp32, int8 = f"{chosen.target}-fp32-t{chosen.tile}", f"{chosen.target}-int8-t{chosen.tile}"
    return (fp32, int8) if fp32 in artifacts and int8 in artifacts else None


def _short_goal(goal: str) -> str:
    return goal.replace("fastest within ", "fastest ≤").replace(" of fp32", "").replace("best quality under ", "best ≤") \
        .replace("smallest artifact within ", "smallest ≤")


def _machine_line(machine: dict[str, Any]) -> str:
    from cea_edge.report.render import machine_summary

    return machine_summary(machine)


def run(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from cea_edge.machine import machine_info
    from cea_edge.model.checkpoint import file_sha256, load_checkpoint
    from cea_edge.profile.schema import load_import
    from cea_edge.report import render
    from cea_edge.report.grid import cell_recipe

    started = time.perf_counter()
    settings = settings_from(args, argv)
    cells = grid(settings["targets"], settings["precisions"], settings["tiles"])
    recipes = {cell: cell_recipe(cell, args.overlap, args.context_size) for cell in cells}  # validates each cell
    fp32_path, qat_path, sha = checkpoints(args, settings)
    out = prepare_output_dir(args.out)
    guard = InputGuard([fp32_path, *([qat_path] if qat_path else []), *args.add_profile,
                        *([args.baseline] if args.baseline else [])])
    for name in OUTPUTS:
        kept = guard.input_at(out / name)
        if kept is not None:
            raise CeaError(f"--out '{out}' would replace the input '{kept}' ({name}); an output never replaces an "
                           "input: copy it elsewhere or pass another --out")
    preset = load_checkpoint(fp32_path).config.name
    imported = [profile for path in args.add_profile for profile in load_import(path)]
    for profile in imported:  # before an hour of measuring: a profile of another model is refused now
        doc.check_imported(profile, preset, sha)
    baseline = doc.load_report(args.baseline) if args.baseline else None
    machine = machine_info()

    found = measure_grid(args, settings, cells, recipes, fp32_path, qat_path, sha, out, machine)
    rows, sections, machines = assemble(found, settings, machine, imported, preset, sha)
    comparison = doc.add_deltas(rows, baseline, _shown(args.baseline), machine, settings["suite"]) if baseline else None
    baseline_rows = [doc.row_from_dict(row) for row in baseline["rows"]] if baseline else []
    if comparison and comparison.quality_note:  # quality of another suite: overlay the speeds only
        drops = {row.key: row.psnr_drop_db for row in rows}
        baseline_rows = [replace(row, psnr_drop_db=drops.get(row.key)) for row in baseline_rows]
    pictures = draw(out, sections, found, settings, fp32_path, baseline_rows, args.cache, found.results)

    local = sections[0]
    document = {
        "schema": doc.SCHEMA, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "wall_seconds": time.perf_counter() - started, "cells": len(cells), "resumed_cells": found.resumed,
        "machine": machine, "machines": machines,
        "settings": settings | {"checkpoint": _shown(fp32_path), "checkpoint_sha256": sha, "preset": preset,
                                "qat_checkpoint": _shown(qat_path) if qat_path else None,
                                "qat_checkpoint_sha256": file_sha256(qat_path) if qat_path else None,
                                "overlap": recipes[cells[0]].overlap, "context_size": recipes[cells[0]].context_size,
                                "imports": [str(p) for p in args.add_profile], "usable_cpus": usable_cpus()},
        "fp32_quality": {str(tile): quality for tile, quality in found.fp32_quality.items()},
        "rows": [asdict(row) for row in rows],
        "pareto": [row.key for row in local.front],
        "recommendations": [asdict(item) for item in local.recommendations],
        "sections": [{"machine": section.machine, "pareto": [row.key for row in section.front],
                      "recommendations": [asdict(item) for item in section.recommendations]} for section in sections],
        "baseline": asdict(comparison) if comparison else None,
        "pictures": {name: path.name for name, path in pictures.items()},
        "failures": found.failures,
    }
    text = render.markdown(document, sections, {name: path.name for name, path in pictures.items()})
    atomic_write(out / "report.md", lambda stream: stream.write(text.encode("utf-8")))
    page = render.page(document, sections, pictures)
    atomic_write(out / "report.html", lambda stream: stream.write(page.encode("utf-8")))
    atomic_write(out / "report.json", lambda stream: stream.write(doc.to_json(document).encode("utf-8")))

    for section in sections:
        print(f"{section.machine} ({_machine_line(section.description)}):")
        for item in section.recommendations:
            print(f"  {item.goal}: {item.key or 'none'} ({item.why})")
        print("  Pareto set: " + (", ".join(row.key for row in section.front) or "none"))
    print(f"wrote {out}/report.md, report.html, report.json and {len(pictures)} plots in "
          f"{document['wall_seconds']:.0f} s")
    for failure in found.failures:
        print(f"error: {failure}", file=sys.stderr)
    return 1 if found.failures else 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    return run(build_parser().parse_args(argv), argv)


if __name__ == "__main__":
    sys.exit(run_cli(main))
