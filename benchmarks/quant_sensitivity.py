"""Where a quantized checkpoint loses quality: switch groups of NNCF quantizers off and re-measure.

    python benchmarks/quant_sensitivity.py runs/ptq/final.pt [--fp32 cea_edge/checkpoints/edge.pt]
        [--photos astronaut coffee] [--each add] [--by-resolution] [--group LABEL=REGEX ...]
        [--parity DIR [--threads N]] [--json sensitivity.json]

Each row disables one group (all weights, all activations, the activation quantizers
of one op type; with --by-resolution, the activation quantizers of the tensors at each
resolution, full to 1/8, and the adapters' pooled tensors; with --group, the quantizers whose hook
name matches a regex, e.g. 'stream=^post_hooks\\./add/|^post_hooks\\.(mixer/3|ffn/2)/conv2d/'; with --each OP, also each single
activation quantizer of that op type, to find the few worth keeping in float) and reports the
PSNR drop versus the fp32 checkpoint on the chosen photos of aio-synth (all 17 cases),
fake-quantized in PyTorch.

--parity DIR scores each row on a parity reference set instead (`python -m cea_edge.parity
reference --checkpoint FP32.pt --out DIR`), as `parity check` judges an int8 artifact: the worst
case's PSNR against the FP32 reference and the mean quality drop, through the runtime's tiling
and global-context modes. With a QAT checkpoint a row says how far keeping a group in float would
move the parity bars -- a lower bound: the weights were fine-tuned with every quantizer on.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Callable, Sequence

import torch

from cea_edge.atomic import atomic_write_json
from cea_edge.data.suite import build_suite
from cea_edge.errors import CeaError, run_cli
from cea_edge.evaluate import evaluate_model
from cea_edge.model.checkpoint import DEFAULT_CHECKPOINT, LoadedCheckpoint, load_checkpoint, source_sha256
from cea_edge.model.quantized import quantizer_inputs

WEIGHT_PORT = "__1.0"  # NNCF names a weight quantizer as a pre-hook on input port 1 of its op
PROBE = 128  # side of the image the resolution groups are read from
POOLED = "pooled"  # tensors smaller than 1/8 of the image: the adapters' tokens and gains


def op_type(hook_name: str) -> str:
    """'pre_hooks.mixer/1/conv2d/3__0.0' -> 'conv2d'."""
    return re.sub(r"/\d+__.*", "", hook_name.split(".", 1)[1]).split("/")[-1]


def is_weight(name: str) -> bool:
    return name.startswith("pre_hooks") and name.endswith(WEIGHT_PORT)


def groups(names: list[str], each: str | None = None, resolution: dict[str, str] | None = None,
           patterns: Sequence[tuple[str, str]] = ()) -> dict[str, Callable[[str], bool]]:
    table: dict[str, Callable[[str], bool]] = {"(none)": lambda n: False, "weights": is_weight,
                                               "activations": lambda n: not is_weight(n)}
    for op in sorted({op_type(n) for n in names}):
        table[f"activations: {op}"] = (lambda op: lambda n: not is_weight(n) and op_type(n) == op)(op)
    for level in dict.fromkeys((resolution or {}).values()):
        table[f"activations at {level}"] = (lambda level: lambda n: resolution.get(n) == level)(level)
    for label, pattern in patterns:
        table[label] = (lambda regex: lambda n: regex.search(n) is not None)(re.compile(pattern))
    for name in names:
        if each is not None and not is_weight(name) and op_type(name) == each:
            table[f"one: {name}"] = (lambda name: lambda n: n == name)(name)
    return table


def parse_group(text: str) -> tuple[str, str]:
    """'LABEL=REGEX' -> (label, regex), the regex checked."""
    label, _, pattern = text.partition("=")
    if not label or not pattern:
        raise CeaError(f"--group {text}: give LABEL=REGEX")
    try:
        re.compile(pattern)
    except re.error as error:
        raise CeaError(f"--group {text}: not a regular expression ({error})") from None
    return label, pattern


def resolutions(loaded: LoadedCheckpoint) -> dict[str, str]:
    """Each activation quantizer's tensor resolution ('1/2': half the image's side), read on a probe."""
    seen = quantizer_inputs(loaded.model, torch.zeros(1, 3, PROBE, PROBE))
    levels = {}
    for name, hook in seen.items():
        tensor = hook.tensor
        if hook.weight_of is not None or tensor.dim() != 4:
            continue
        factor = PROBE // tensor.shape[-1]
        levels[name] = "full" if factor == 1 else (f"1/{factor}" if factor <= 8 else POOLED)
    return dict(sorted(levels.items(), key=lambda item: (item[1] == POOLED, len(item[1]), item[1])))


def aio_synth_scorer(fp32: Path, photos: Sequence[str], model: torch.nn.Module
                     ) -> tuple[str, Callable[[], dict], dict]:
    samples = [s for s in build_suite("aio-synth") if s.photo in photos]
    if not samples:
        raise CeaError(f"no aio-synth photo among {photos}")
    base = evaluate_model(load_checkpoint(fp32).model, samples, "aio-synth", compute_ssim=False).summary["average"].output_psnr

    def score() -> dict:
        with torch.no_grad():
            psnr = evaluate_model(model, samples, "aio-synth", compute_ssim=False).summary["average"].output_psnr
        return {"drop_db": base - psnr}

    return f"fp32 {base:.2f} dB on {len(samples)} aio-synth pairs", score, {"fp32_psnr": base}


def parity_scorer(folder: Path, quantized: LoadedCheckpoint, path: Path, threads: int | None
                  ) -> tuple[str, Callable[[], dict], dict]:
    from cea_edge.parity.check import check_lineage, judge, load_bars
    from cea_edge.parity.reference import load_reference
    from cea_edge.runtime.backends import checkpoint_backend

    reference = load_reference(folder)
    check_lineage(path, source_sha256(quantized), reference)
    backend = checkpoint_backend(quantized, threads, reference.tile, reference.overlap, reference.context_size)
    bars = load_bars()

    def score() -> dict:
        result = judge(str(path), backend, reference, bars)
        return {"worst_psnr_db": result.worst.psnr_db, "worst_case": result.worst.case,
                "drop_db": result.quality_drop_db, "passed": result.passed}

    return f"parity set {folder} ({len(reference.cases)} cases)", score, {"parity": str(folder)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/quant_sensitivity.py", description=__doc__.splitlines()[0])
    parser.add_argument("quantized", type=Path, help="a QAT or PTQ checkpoint from python -m cea_edge.quantize")
    parser.add_argument("--fp32", type=Path, default=DEFAULT_CHECKPOINT, help="the fp32 reference checkpoint")
    parser.add_argument("--photos", nargs="+", default=["astronaut", "coffee"], help="aio-synth photos to use")
    parser.add_argument("--each", metavar="OP", help="also one row per activation quantizer of this op type (e.g. add)")
    parser.add_argument("--by-resolution", action="store_true", help="also one row per resolution of the quantized tensors")
    parser.add_argument("--group", action="append", default=[], metavar="LABEL=REGEX",
                        help="also a row for the quantizers whose hook name matches REGEX (repeatable)")
    parser.add_argument("--parity", type=Path, metavar="DIR", help="score on this parity reference set instead of aio-synth")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args(argv)

    patterns = [parse_group(text) for text in args.group]
    quantized = load_checkpoint(args.quantized)
    if quantized.quantization is None:
        raise CeaError(f"'{args.quantized}' is not quantized; make one with python -m cea_edge.quantize")
    if args.threads:
        torch.set_num_threads(args.threads)
    from nncf.torch.function_hook.wrapper import get_hook_storage

    model = quantized.model.eval()
    title, score, meta = (parity_scorer(args.parity, quantized, args.quantized, args.threads) if args.parity
                    else aio_synth_scorer(args.fp32, args.photos, model))
    hooks = list(get_hook_storage(model).named_hooks(remove_duplicate=False))
    table = groups([name for name, _ in hooks], args.each, resolutions(quantized) if args.by_resolution else None, patterns)
    print(f"{title}; {len(hooks)} quantizers\n")
    if args.parity:
        print("| quantizers switched off | count | worst case vs FP32 (dB) | case | quality drop (dB) |\n|---|---|---|---|---|")
    else:
        print("| quantizers switched off | count | drop vs fp32 (dB) |\n|---|---|---|")
    rows = []
    for label, pick in table.items():
        chosen = [module for name, module in hooks if pick(name)]
        for module in chosen:
            module.disable_quantization()
        try:
            row = {"group": label, "count": len(chosen), **score()}
        finally:
            for module in chosen:
                module.enable_quantization()
        rows.append(row)
        if args.parity:
            print(f"| {label} | {len(chosen)} | {row['worst_psnr_db']:.2f} | {row['worst_case']} | {row['drop_db']:+.3f} |",
                  flush=True)
        else:
            print(f"| {label} | {len(chosen)} | {row['drop_db']:+.3f} |", flush=True)
    if args.json:
        atomic_write_json(args.json, {"quantized": str(args.quantized), "fp32": str(args.fp32), **meta, "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
