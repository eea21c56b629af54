"""`python -m cea_edge.evaluate`: PSNR/SSIM per degradation case on a named suite.

PSNR and SSIM follow the conventions of `cea_edge.metrics` (RGB, [0, 1], SSIM with the
Gaussian sigma = 1.5 window of Wang et al. 2004).

Scores the degraded input and the restored output against the clean image, per case,
per family (single / spatial / composite) and on average; prints a table, writes JSON.
With several checkpoints the table puts them side by side (e.g. the adapter ablation).

Two analyses of the adapters, by flag: ``--average-factors`` also scores each model with
every image's factors replaced by their suite average (what instance conditioning is
worth), ``--ranks`` reports each adapter's effective rank: of each image's assembled
per-pixel operator (v1: D^T U, v2: diag(b) D diag(a) U), averaged over the suite.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from cea_edge.atomic import InputGuard, atomic_write_json, check_output_file
from cea_edge.data.suite import SUITES, SuiteSample, build_suite, get_suite_spec
from cea_edge.errors import CeaError, check_threads, checked_flag, run_cli
from cea_edge.metrics import effective_rank, psnr, ssim
from cea_edge.model.checkpoint import DEFAULT_CHECKPOINT, check_checkpoint_file, load_checkpoint
from cea_edge.model.config import get_preset
from cea_edge.model.inference import image_batch, pad_to_multiple, restore_array
from cea_edge.model.network import CEANet

IDENTITY_FAMILY = "clean"  # aio-photo's clean inputs: what comes out must be the photo that went in


@dataclass(frozen=True)
class CaseScore:
    case: str
    family: str
    samples: int
    input_psnr: float
    output_psnr: float
    input_ssim: float
    output_ssim: float

    @property
    def gain(self) -> float:
        return self.output_psnr - self.input_psnr


@dataclass
class EvaluationReport:
    suite: str
    cases: list[CaseScore]
    summary: dict[str, CaseScore]  # "average" and one entry per family

    def to_dict(self) -> dict:
        return {
            "suite": self.suite,
            "cases": [asdict(c) | {"gain": c.gain} for c in self.cases],
            "summary": {k: asdict(c) | {"gain": c.gain} for k, c in self.summary.items()},
        }


def _mean_score(name: str, family: str, rows: list[CaseScore]) -> CaseScore:
    weights = np.array([row.samples for row in rows], dtype=np.float64)
    field = lambda attr: float(np.average([getattr(r, attr) for r in rows], weights=weights))  # noqa: E731
    return CaseScore(name, family, int(weights.sum()), field("input_psnr"), field("output_psnr"),
                     field("input_ssim"), field("output_ssim"))


def evaluate_restorer(restore: Callable[[np.ndarray], np.ndarray], samples: Sequence[SuiteSample],
                      suite: str = "custom", compute_ssim: bool = True) -> EvaluationReport:
    """Score ``restore`` ((H, W, 3) float degraded -> restored) on ``samples``: a model, or any
    artifact through the runtime (the trade-off report passes restore_photo on a backend)."""
    per_case: dict[str, list[tuple[float, float, float, float]]] = defaultdict(list)
    families: dict[str, str] = {}
    for sample in samples:
        restored = restore(sample.degraded)
        per_case[sample.case].append((
            psnr(sample.clean, sample.degraded),
            psnr(sample.clean, restored),
            ssim(sample.clean, sample.degraded) if compute_ssim else float("nan"),
            ssim(sample.clean, restored) if compute_ssim else float("nan"),
        ))
        families[sample.case] = sample.family
    cases = [
        CaseScore(case, families[case], len(values), *map(float, np.mean(np.array(values), axis=0)))
        for case, values in per_case.items()
    ]
    # The identity family (a clean input: PSNR infinite) is its own check, not part of the average.
    degraded = [c for c in cases if c.family != IDENTITY_FAMILY] or cases
    summary = {"average": _mean_score("average", "all", degraded)}
    for family in dict.fromkeys(families.values()):
        summary[family] = _mean_score(family, family, [c for c in cases if c.family == family])
    return EvaluationReport(suite, cases, summary)


def evaluate_model(model: CEANet, samples: Sequence[SuiteSample], suite: str = "custom",
                   device: str = "cpu", compute_ssim: bool = True) -> EvaluationReport:
    return evaluate_restorer(lambda degraded: restore_array(model, degraded, device), samples, suite, compute_ssim)


def sample_factors(model: CEANet, sample: SuiteSample) -> list:
    """The factors every adapter of ``model`` generates for one suite image."""
    return model.generate_factors(pad_to_multiple(image_batch(sample.degraded), model.config.downsample_factor))


def suite_average_factors(model: CEANet, samples: Sequence[SuiteSample]) -> list:
    """Each adapter's factors averaged over the suite: instance conditioning taken away."""
    per_sample = [sample_factors(model, sample) for sample in samples]
    return [type(first)(*(torch.stack([f[adapter][k] for f in per_sample]).mean(dim=0) for k in range(2)))
            for adapter, first in enumerate(per_sample[0])]


def evaluate_with_factors(model: CEANet, samples: Sequence[SuiteSample], factors: list, suite: str = "custom",
                          compute_ssim: bool = True) -> EvaluationReport:
    """Score ``model`` with the same ``factors`` (batch 1) for every image."""
    return evaluate_restorer(lambda degraded: restore_array(model, degraded, factors=factors), samples, suite,
                             compute_ssim)


def adapter_ranks(model: CEANet, samples: Sequence[SuiteSample]) -> list[float]:
    """Each adapter's effective rank (cea_edge.metrics), averaged over the suite's images."""
    ranks = np.zeros(len(model.adapters))
    for sample in samples:
        for index, (adapter, factors) in enumerate(zip(model.adapters, sample_factors(model, sample))):
            with torch.no_grad():
                ranks[index] += effective_rank(adapter.operators(factors)[0].numpy())
    return [float(r) for r in ranks / max(len(samples), 1)]


def panel_samples(samples: Sequence[SuiteSample], photo: str | None, cases: Sequence[str] | None) -> list[SuiteSample]:
    """The samples a before/after panel shows: of ``photo`` (default: the suite's first), one row per
    case of ``cases`` (default: the first case of each family), in the order given."""
    photos = list(dict.fromkeys(sample.photo for sample in samples))
    photo = photos[0] if photo is None else photo
    if photo not in photos:
        raise CeaError(f"--panel-photo '{photo}' is not a photo of this suite; its photos: {', '.join(photos)}")
    of_photo = {sample.case: sample for sample in samples if sample.photo == photo}
    if cases is None:
        firsts = {}
        for sample in of_photo.values():
            firsts.setdefault(sample.family, sample.case)
        cases = list(firsts.values())
    unknown = [case for case in cases if case not in of_photo]
    if unknown:
        raise CeaError(f"--panel-cases: {', '.join(unknown)} not a case of this suite; its cases: {', '.join(of_photo)}")
    return [of_photo[case] for case in cases]


def panel_rows(models: dict[str, CEANet], samples: Sequence[SuiteSample]) -> list[list[tuple[str, np.ndarray]]]:
    """One row per sample: the degraded input, each model's restoration, the clean image (uint8,
    captions with PSNR against the clean image)."""
    from cea_edge.photo_io import from_float

    rows = []
    for sample in samples:
        row = [(f"{sample.case} (input): {psnr(sample.clean, sample.degraded):.2f} dB",
                from_float(np.clip(sample.degraded, 0, 1), 8))]
        for label, model in models.items():
            restored = restore_array(model, sample.degraded)
            row.append((f"{label}: {psnr(sample.clean, restored):.2f} dB", from_float(np.clip(restored, 0, 1), 8)))
        row.append(("clean", from_float(np.clip(sample.clean, 0, 1), 8)))
        rows.append(row)
    return rows


def _cell(psnr_db: float, ssim_value: float) -> str:
    return f"{psnr_db:.2f}" if np.isnan(ssim_value) else f"{psnr_db:.2f} / {ssim_value:.3f}"


def format_table(reports: dict[str, EvaluationReport]) -> str:
    """A markdown table: input PSNR/SSIM once, then output PSNR/SSIM and gain per model."""
    names = list(reports)
    first = reports[names[0]]
    header = "| case | input PSNR / SSIM | " + " | ".join(f"{n} PSNR / SSIM (gain)" for n in names) + " |"
    lines = [header, "|" + "---|" * (2 + len(names))]
    rows = [(c.case, c) for c in first.cases] + [(f"**{k}**", v) for k, v in first.summary.items()]
    for label, base in rows:
        cells = []
        for report in reports.values():
            score = next((c for c in report.cases if c.case == base.case), None) or report.summary[base.case]
            # the identity case (a clean input, infinite PSNR) has no gain: its output PSNR is the score
            gain = "" if np.isinf(score.input_psnr) else f" ({score.gain:+.2f})"
            cells.append(f"{_cell(score.output_psnr, score.output_ssim)}{gain}")
        lines.append(f"| {label} | {_cell(base.input_psnr, base.input_ssim)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cea_edge.evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", action="append", type=Path,
                        help=f"checkpoint(s) to score; repeat to compare (default: {DEFAULT_CHECKPOINT.name})")
    parser.add_argument("--preset", help="fail unless every checkpoint holds this preset")
    parser.add_argument("--suite", default="aio-synth", help="named suite: aio-synth (default), aio-synth-mini, aio-photo")
    parser.add_argument("--photos", type=Path, help="aio-photo: the photo corpus folder (python -m cea_edge.data photos)")
    parser.add_argument("--json", type=Path, help="write the report(s) here")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing --json / --panel file (never an input)")
    parser.add_argument("--no-ssim", action="store_true", help="PSNR only (faster)")
    parser.add_argument("--average-factors", action="store_true",
                        help="also score each model with its factors averaged over the suite (instance conditioning off)")
    parser.add_argument("--ranks", action="store_true", help="report each adapter's effective rank")
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's choice)")
    parser.add_argument("--panel", type=Path, help="also write a before/after picture (PNG): input, each checkpoint's "
                                                  "restoration and the clean image, a row per case, with PSNR")
    parser.add_argument("--panel-photo", help="the suite photo the panel shows (default: the first)")
    parser.add_argument("--panel-cases", nargs="+", help="the cases it shows (default: the first of each family)")
    args = parser.parse_args(argv)
    # Flags and the report's location first: scoring a suite takes minutes.
    check_threads(args.threads)
    spec = checked_flag(get_suite_spec, "--suite", args.suite)
    if args.photos is not None and not spec.corpus:  # else ignored: the scores would not be of those photos
        corpus = ", ".join(name for name, suite in SUITES.items() if suite.corpus)
        raise CeaError(f"--photos applies to a suite of corpus photos ({corpus}); suite '{spec.name}' is made of "
                       f"bundled photos: drop --photos, or pass --suite {corpus.split(', ')[0]}")
    if args.preset is not None:
        checked_flag(get_preset, "--preset", args.preset)
    if (args.panel_photo or args.panel_cases) and args.panel is None:
        raise CeaError("--panel-photo / --panel-cases choose what --panel shows: add --panel OUT.png")
    if args.panel is not None and args.panel.suffix.lower() != ".png":
        raise CeaError(f"--panel '{args.panel}': the picture is a PNG; give a name ending in .png")
    for flag, path in (("--json", args.json), ("--panel", args.panel)):
        if path is not None:
            check_output_file(path, flag, inputs=args.checkpoint or [DEFAULT_CHECKPOINT], overwrite=args.overwrite)
    if args.json is not None and args.panel is not None and InputGuard([args.json]).input_at(args.panel) is not None:
        raise CeaError(f"--json and --panel name the same file '{args.panel}'; give each its own")
    checkpoints = args.checkpoint or [DEFAULT_CHECKPOINT]
    for index, path in enumerate(checkpoints):
        check_checkpoint_file(path, "--checkpoint")  # before the suite is built (minutes)
        repeated = InputGuard(checkpoints[:index]).input_at(path)
        if repeated is not None:  # its column would silently replace the first one's
            also = "" if str(repeated) == str(path) else f" (also as '{repeated}')"
            raise CeaError(f"--checkpoint '{path}' is given twice{also}; give each checkpoint once")
    if args.threads:
        torch.set_num_threads(args.threads)

    samples = build_suite(spec, args.photos)
    shown = panel_samples(samples, args.panel_photo, args.panel_cases) if args.panel is not None else []
    models = {}
    for path in checkpoints:
        loaded = load_checkpoint(path, expected_preset=args.preset)
        label = f"{loaded.config.name} ({path.name})"
        models[label if label not in models else f"{loaded.config.name} ({path})"] = loaded.model  # a/final.pt, b/final.pt
    reports = {}
    ranks: dict[str, list[float]] = {}
    for name, model in models.items():
        reports[name] = evaluate_model(model, samples, spec.name, compute_ssim=not args.no_ssim)
        if args.average_factors and model.adapters:
            average = suite_average_factors(model, samples)
            reports[f"{name}, suite-average factors"] = evaluate_with_factors(model, samples, average, spec.name,
                                                                               not args.no_ssim)
        if args.ranks and model.adapters:
            ranks[name] = adapter_ranks(model, samples)
    photos = len(dict.fromkeys(sample.photo for sample in samples))
    print(f"suite {spec.name}: {photos} photos x {len(spec.cases)} cases, {spec.crop}x{spec.crop} crops")
    print(format_table(reports))
    for name, values in ranks.items():
        rank = models[name].config.adapter.rank
        print(f"effective rank per adapter, {name} (r = {rank}): " + ", ".join(f"{v:.2f}" for v in values)
              + f"; mean {np.mean(values):.2f}")
    if args.panel is not None:
        from cea_edge.panels import grid_canvas, save_png

        title = (f"{spec.name}: photo {shown[0].photo}, {len(shown)} cases; PSNR against the clean image "
                 f"({', '.join(models)})")
        save_png(grid_canvas(panel_rows(models, shown), title), args.panel, replace=args.overwrite)
        print(f"wrote {args.panel}")
    if args.json:
        payload = {name: report.to_dict() | ({"effective_ranks": ranks[name]} if name in ranks else {})
                   for name, report in reports.items()}
        atomic_write_json(args.json, payload, replace=args.overwrite)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
