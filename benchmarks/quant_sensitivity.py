"""Where a quantized checkpoint loses quality: switch groups of NNCF quantizers off and re-measure.

    python benchmarks/quant_sensitivity.py runs/ptq/final.pt [--fp32 cea_edge/checkpoints/edge.pt]
        [--photos astronaut coffee] [--each add] [--json sensitivity.json]

Each row disables one group (all weights, all activations, the activation quantizers
of one op type; with --each OP, also each single activation quantizer of that op type,
to find the few worth keeping in float) and reports the PSNR drop versus the fp32 checkpoint on the chosen
photos of aio-synth (all 17 cases), fake-quantized in PyTorch.
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
from cea_edge.model.checkpoint import DEFAULT_CHECKPOINT, load_checkpoint

WEIGHT_PORT = "__1.0"  # NNCF names a weight quantizer as a pre-hook on input port 1 of its op


def op_type(hook_name: str) -> str:
    """'pre_hooks.mixer/1/conv2d/3__0.0' -> 'conv2d'."""
    return re.sub(r"/\d+__.*", "", hook_name.split(".", 1)[1]).split("/")[-1]


def groups(names: list[str], each: str | None = None) -> dict[str, Callable[[str], bool]]:
    is_weight = lambda n: n.startswith("pre_hooks") and n.endswith(WEIGHT_PORT)  # noqa: E731
    table: dict[str, Callable[[str], bool]] = {"(none)": lambda n: False, "weights": is_weight,
                                               "activations": lambda n: not is_weight(n)}
    for op in sorted({op_type(n) for n in names}):
        table[f"activations: {op}"] = (lambda op: lambda n: not is_weight(n) and op_type(n) == op)(op)
    for name in names:
        if each is not None and not is_weight(name) and op_type(name) == each:
            table[f"one: {name}"] = (lambda name: lambda n: n == name)(name)
    return table


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/quant_sensitivity.py", description=__doc__.splitlines()[0])
    parser.add_argument("quantized", type=Path, help="a QAT or PTQ checkpoint from python -m cea_edge.quantize")
    parser.add_argument("--fp32", type=Path, default=DEFAULT_CHECKPOINT, help="the fp32 reference checkpoint")
    parser.add_argument("--photos", nargs="+", default=["astronaut", "coffee"], help="aio-synth photos to use")
    parser.add_argument("--each", metavar="OP", help="also one row per activation quantizer of this op type (e.g. add)")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args(argv)

    quantized = load_checkpoint(args.quantized)
    if quantized.quantization is None:
        raise CeaError(f"'{args.quantized}' is not quantized; make one with python -m cea_edge.quantize")
    from nncf.torch.function_hook.wrapper import get_hook_storage

    samples = [s for s in build_suite("aio-synth") if s.photo in args.photos]
    if not samples:
        raise CeaError(f"no aio-synth photo among {args.photos}")
    reference = evaluate_model(load_checkpoint(args.fp32).model, samples, "aio-synth", compute_ssim=False)
    base = reference.summary["average"].output_psnr
    hooks = list(get_hook_storage(quantized.model).named_hooks(remove_duplicate=False))
    rows = []
    print(f"fp32 {base:.2f} dB on {len(samples)} pairs; {len(hooks)} quantizers\n")
    print("| quantizers switched off | count | drop vs fp32 (dB) |\n|---|---|---|")
    for label, pick in groups([name for name, _ in hooks], args.each).items():
        chosen = [module for name, module in hooks if pick(name)]
        for module in chosen:
            module.disable_quantization()
        with torch.no_grad():
            psnr = evaluate_model(quantized.model, samples, "aio-synth", compute_ssim=False).summary["average"].output_psnr
        for module in chosen:
            module.enable_quantization()
        rows.append({"group": label, "count": len(chosen), "drop_db": base - psnr})
        print(f"| {label} | {len(chosen)} | {base - psnr:+.3f} |", flush=True)
    if args.json:
        atomic_write_json(args.json, {"quantized": str(args.quantized), "fp32": str(args.fp32), "fp32_psnr": base, "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
