"""Int8 schemes beyond the static QAT twin: their parity with the FP32 reference and their ExecuTorch latency.

    python benchmarks/int8_schemes.py --checkpoint cea_edge/checkpoints/edge3.pt --reference DIR
        [--baseline edge2-xnnpack-int8-256.pte] [--artifact edge3-xnnpack-int8-256.pte ...]
        [--schemes dynamic static-conv-in static-conv-io] [--threads 2] [--latency-threads 1 2] [--rounds 10] [--no-latency]
        [--json OUT] [--markdown OUT]

Quality: each scheme is simulated in PyTorch on the fp32 checkpoint -- no fine-tuning, weights
per-output-channel symmetric int8 -- and judged on the parity reference set (`python -m
cea_edge.parity reference --checkpoint FP32.pt --out DIR`) exactly as `parity check` judges an
int8 artifact (worst case vs the reference, mean quality drop, by the [int8] bars). Only the
per-pixel convolutions (nn.Conv2d / nn.ConvTranspose2d on maps of more than one pixel; the
adapters' gain convolutions take a 1 x 1 summary) are quantized; every other op (adds, gates,
norms, the adapters' hyper-networks) stays float:

- dynamic: their inputs quantized per call, per tensor, asymmetric, range = the tensor's own
  extremes (what XNNPACK's qd8 kernels and onnxruntime's ConvInteger run);
- static-conv-in: their inputs quantized with fixed ranges, the extremes over the quantization
  recipe's calibration stream; outputs float (onnxruntime's ConvInteger form; XNNPACK's static
  kernels write a quantized output);
- static-conv-io: also their outputs, with fixed ranges (XNNPACK's static qs8 convolution
  between float elementwise ops).

Latency: the tile graph of each scheme lowered to ExecuTorch XNNPACK through PyTorch's pt2e
flow (XNNPACKQuantizer), plus the fp32 graph, a static int8 graph of every op, and any given
.pte (their `forward`), timed in interleaved rounds at each --latency-threads (median and p10-p90 of every
call after a warm-up), each as a ratio to --baseline. pt2e's graphs are the runtime's, not the
project's exporter's: compare the pt2e rows with one another, and the given artifacts with
one another.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterator, Sequence

import torch
from torch import nn

from cea_edge.atomic import atomic_write, atomic_write_json
from cea_edge.errors import CeaError, check_threads, run_cli
from cea_edge.machine import machine_info
from cea_edge.model.checkpoint import check_checkpoint_file, load_checkpoint
from cea_edge.model.network import CEANet
from cea_edge.profile.timing import latency_row, time_calls
from cea_edge.toolchain import quiet_native

SCHEMES = ("dynamic", "static-conv-in", "static-conv-io")
MIN_PIXELS = 2  # a 1 x 1 input is an adapter's pooled summary (its hyper-network stays float)
LEVELS = 255  # 8-bit activations
WEIGHT_MAX = 127  # symmetric 8-bit weights


def fake_quant_tensor(x: torch.Tensor, low: float | torch.Tensor, high: float | torch.Tensor) -> torch.Tensor:
    """Asymmetric 8-bit fake quantization on [low, high] widened to hold 0 (zero stays exact)."""
    low = torch.as_tensor(low).clamp(max=0.0)
    high = torch.as_tensor(high).clamp(min=0.0)
    scale = ((high - low) / LEVELS).clamp(min=1e-12)
    zero = torch.round(-low / scale)
    return (torch.clamp(torch.round(x / scale) + zero, 0, LEVELS) - zero) * scale


def fake_quant_weight(weight: torch.Tensor, transposed: bool) -> torch.Tensor:
    """Per-output-channel symmetric 8-bit (a transposed convolution's outputs are its dim 1)."""
    axis = 1 if transposed else 0
    dims = tuple(d for d in range(weight.dim()) if d != axis)
    scale = (weight.abs().amax(dim=dims, keepdim=True) / WEIGHT_MAX).clamp(min=1e-12)
    return torch.clamp(torch.round(weight / scale), -WEIGHT_MAX, WEIGHT_MAX) * scale


def convolutions(model: nn.Module) -> dict[str, nn.Module]:
    return {name: module for name, module in model.named_modules() if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d))}


def _per_pixel(x: torch.Tensor) -> bool:
    return x.dim() == 4 and x.shape[-1] * x.shape[-2] >= MIN_PIXELS


@contextlib.contextmanager
def simulated(model: CEANet, scheme: str, calibration: Sequence[torch.Tensor] = ()) -> Iterator[dict[str, Any]]:
    """``model`` runs ``scheme`` inside the block; its weights and hooks are restored after.

    Yields what the scheme used: the number of quantized convolutions and, for static schemes,
    the calibrated range of each quantized tensor."""
    if scheme not in SCHEMES:
        raise CeaError(f"unknown scheme '{scheme}'; choose from {', '.join(SCHEMES)}")
    layers = convolutions(model)
    ranges: dict[str, tuple[float, float]] = {}
    collecting = [scheme != "dynamic"]
    seen: set[str] = set()

    def quantize(key: str, x: torch.Tensor) -> torch.Tensor:
        if not _per_pixel(x):
            return x
        seen.add(key.rsplit(":", 1)[0])
        if scheme == "dynamic":
            return fake_quant_tensor(x, x.min(), x.max())
        if collecting[0]:
            low, high = ranges.get(key, (0.0, 0.0))
            ranges[key] = (min(low, x.min().item()), max(high, x.max().item()))
            return x
        if key not in ranges:
            raise CeaError(f"{key}: no calibrated range (the calibration patches never reached it)")
        return fake_quant_tensor(x, *ranges[key])

    handles = []
    for name, module in layers.items():
        handles.append(module.register_forward_pre_hook(
            lambda m, args, name=name: (quantize(f"{name}:in", args[0]), *args[1:])))
        if scheme == "static-conv-io":
            handles.append(module.register_forward_hook(
                lambda m, args, out, name=name: quantize(f"{name}:out", out) if _per_pixel(args[0]) else out))
    saved = {name: module.weight.detach().clone() for name, module in layers.items()}
    try:
        with torch.no_grad():
            for patch in calibration if collecting[0] else ():
                model(patch)
            collecting[0] = False
            for module in layers.values():
                module.weight.copy_(fake_quant_weight(module.weight, isinstance(module, nn.ConvTranspose2d)))
        yield {"ranges": ranges, "quantized": seen}
    finally:
        for handle in handles:
            handle.remove()
        with torch.no_grad():
            for name, module in layers.items():
                module.weight.copy_(saved[name])


def quality_rows(checkpoint: Path, reference_dir: Path, schemes: Sequence[str], threads: int | None,
                 calibration: Sequence[torch.Tensor]) -> list[dict[str, Any]]:
    from cea_edge.model.checkpoint import source_sha256
    from cea_edge.parity.check import check_lineage, judge, load_bars
    from cea_edge.parity.reference import load_reference
    from cea_edge.runtime.backends import checkpoint_backend

    reference = load_reference(reference_dir)
    loaded = load_checkpoint(checkpoint)
    if loaded.quantization is not None:
        raise CeaError(f"'{checkpoint}' is quantized; give the fp32 checkpoint (the schemes quantize it themselves)")
    check_lineage(checkpoint, source_sha256(loaded), reference)
    backend = checkpoint_backend(loaded, threads, reference.tile, reference.overlap, reference.context_size)
    bars = load_bars()
    rows = []
    for scheme in schemes:
        with simulated(loaded.model, scheme, calibration) as used:
            # "int8 (...)": judged by the [int8] bars, as parity check judges a QAT checkpoint
            result = judge(f"{checkpoint.name} [{scheme}]",
                           dataclasses.replace(backend, precision=f"int8 (simulated {scheme})"), reference, bars)
        rows.append({"scheme": scheme, "quantized_convolutions": len(used["quantized"]),
                     "worst_psnr_db": result.worst.psnr_db, "worst_case": result.worst.case,
                     "drop_db": result.quality_drop_db, "passed": result.passed, "failures": result.failures,
                     "cases": {case.case: {"psnr_db": case.psnr_db, "drop_db": case.quality_drop_db}
                               for case in result.cases}})
    return rows


# --- latency: pt2e graphs lowered to XNNPACK, timed beside the given .pte files ---
def _module_type(node: Any) -> str:
    stack = node.meta.get("nn_module_stack") or {}
    return str(list(stack.values())[-1][1]) if stack else ""


def _is_per_pixel_convolution(node: Any) -> bool:
    return (node.op == "call_function" and "conv" in str(node.target)
            and _module_type(node).endswith(("Conv2d", "ConvTranspose2d"))
            and node.args[0].meta["val"].shape[-1] * node.args[0].meta["val"].shape[-2] >= MIN_PIXELS)


def lower_scheme(model: CEANet, graph: str, tile: int, path: Path) -> dict[str, Any]:
    """Write the tile graph of ``graph`` (fp32, static, static-conv-io, dynamic) as a .pte."""
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
        XNNPACKQuantizer,
        get_symmetric_quantization_config,
    )
    from executorch.exir import to_edge_transform_and_lower
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    example = torch.rand(1, 3, tile, tile)
    program = torch.export.export(model.eval(), (example,))
    if graph != "fp32":
        config = get_symmetric_quantization_config(is_per_channel=True, is_dynamic=graph == "dynamic")
        quantizer = XNNPACKQuantizer()
        if graph == "static":
            quantizer.set_global(config)
        else:
            # XNNPACK (executorch 1.5.1) fails to propagate shapes through a dynamically quantized
            # convolution on a 1 x 1 input, the adapters' gains: the per-pixel ones only, as simulated
            quantizer.set_filter_function(lambda node: "conv" not in str(node.target) or _is_per_pixel_convolution(node))
            for op in (torch.ops.aten.conv2d.default, torch.ops.aten.conv_transpose2d.input):
                quantizer.set_operator_type(op, config)
        prepared = prepare_pt2e(program.module(), quantizer)
        with torch.no_grad():
            for _ in range(4):  # ranges only matter for quality, which the simulation measures
                prepared(torch.rand_like(example))
        program = torch.export.export(convert_pt2e(prepared), (example,))
    lowered = to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()])
    from executorch.devtools.backend_debug import get_delegation_info

    info = get_delegation_info(lowered.exported_program().graph_module)
    table = info.get_operator_delegation_dataframe()
    quantize_ops = int(sum(row.occurrences_in_delegated_graphs for row in table.itertuples()
                           if "choose_qparams" in row.op_type or "quantize_per_tensor" in row.op_type))
    atomic_write(path, lambda stream: stream.write(lowered.to_executorch().buffer))
    return {"graph": graph, "delegated_quantize_ops": quantize_ops,
            "non_delegated": int(table[table.op_type == "Total"].occurrences_in_non_delegated_graphs.iloc[0])}


def time_forward(paths: dict[str, Path], tile: int, threads: int, rounds: int, calls: int = 5
                 ) -> dict[str, dict[str, Any]]:
    """Median and p10-p90 ms of `forward` per .pte at ``threads``, in interleaved rounds (drift hits all alike)."""
    with quiet_native():
        from executorch.extension.pybindings.portable_lib import _unsafe_reset_threadpool
        from executorch.runtime import Runtime

        _unsafe_reset_threadpool(threads)  # XNNPACK's pool is process-wide, as the runtime sets it
        runtime = Runtime.get()
    methods = {}
    for label, path in paths.items():
        with quiet_native():
            method = runtime.load_program(str(path)).load_method("forward")
        shape = tuple(method.metadata.input_tensor_meta(0).sizes())
        if shape != (1, 3, tile, tile):
            raise CeaError(f"'{path}' takes {shape}, not (1, 3, {tile}, {tile}); give artifacts of tile {tile}")
        methods[label] = method
    example = torch.rand(1, 3, tile, tile)
    samples: dict[str, list[float]] = {label: [] for label in methods}
    for method in methods.values():
        time_calls(lambda: method.execute([example]), 0, calls)  # warm-up
    for _ in range(rounds):
        for label, method in methods.items():
            samples[label] += time_calls(lambda: method.execute([example]), calls, 0)
    rows = {label: latency_row("forward", threads, values) for label, values in samples.items()}
    return {label: {"median_ms": row.median_ms, "p10_ms": row.p10_ms, "p90_ms": row.p90_ms, "calls": row.runs}
            for label, row in rows.items()}


def markdown(doc: dict[str, Any]) -> str:
    machine = doc["machine"]
    lines = [f"Checkpoint `{doc['checkpoint']}`, reference `{doc['reference']}`; {machine['cpu']} "
             f"({machine['usable_cpus']} CPUs; {' '.join(flag for flag, on in machine['isa'].items() if on)}), "
             f"torch threads {doc['threads'] or 'default'} (quality), tile {doc['tile']}.", ""]
    if doc["quality"]:
        lines += ["| scheme | quantized convolutions | worst case vs FP32 (dB) | case | quality drop (dB) | [int8] bars |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {row['scheme']} | {row['quantized_convolutions']} | {row['worst_psnr_db']:.2f} | {row['worst_case']} | "
                  f"{row['drop_db']:+.3f} | {'pass' if row['passed'] else 'FAIL: ' + '; '.join(row['failures'])} |"
                  for row in doc["quality"]]
        lines.append("")
    if doc["latency"]:
        lines += ["| graph | threads | median ms | p10–p90 ms | calls | vs baseline |", "|---|---|---|---|---|---|"]
        for threads, rows in doc["latency"].items():
            base = rows.get("baseline", {}).get("median_ms")
            for label, row in rows.items():
                ratio = f"{row['median_ms'] / base:.2f}×" if base else "–"
                lines.append(f"| {label} | {threads} | {row['median_ms']:.2f} | {row['p10_ms']:.2f}–{row['p90_ms']:.2f} | "
                             f"{row['calls']} | {ratio} |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/int8_schemes.py", description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, required=True, help="the fp32 checkpoint")
    parser.add_argument("--reference", type=Path, help="its parity reference set (quality rows)")
    parser.add_argument("--schemes", nargs="+", default=list(SCHEMES), choices=SCHEMES)
    parser.add_argument("--baseline", type=Path, help="a .pte the latency rows are a ratio to (e.g. edge2's int8)")
    parser.add_argument("--artifact", type=Path, action="append", default=[], help="more .pte files to time (repeatable)")
    parser.add_argument("--tile", type=int, default=256, help="tile side of the timed graphs (default 256)")
    parser.add_argument("--threads", type=int, help="torch threads of the quality rows (default: torch's choice)")
    parser.add_argument("--latency-threads", type=int, nargs="+", default=[1, 2], help="XNNPACK threads, rows each (default 1 2)")
    parser.add_argument("--rounds", type=int, default=10, help="interleaved timing rounds of 5 calls each (default 10)")
    parser.add_argument("--no-latency", action="store_true", help="quality rows only")
    parser.add_argument("--json", type=Path, help="write the rows here")
    parser.add_argument("--markdown", type=Path, help="write the tables here")
    args = parser.parse_args(argv)
    check_checkpoint_file(args.checkpoint, "--checkpoint")
    if args.threads is not None:
        check_threads(args.threads)
        torch.set_num_threads(args.threads)
    for path in [args.baseline, *args.artifact]:
        if path is not None and not path.is_file():
            raise CeaError(f"'{path}' is not a file; give an ExecuTorch .pte")
    for threads in args.latency_threads:
        check_threads(threads, "--latency-threads")
    if args.rounds < 2:
        raise CeaError(f"--rounds {args.rounds}: give at least 2 (the spread needs repeats)")

    quality: list[dict[str, Any]] = []
    if args.reference is not None:
        from cea_edge.quantize.nncf_graph import calibration_set
        from cea_edge.quantize.recipe import load_quant_recipe

        statics = [scheme for scheme in args.schemes if scheme != "dynamic"]
        calibration = calibration_set(load_quant_recipe()) if statics else []
        quality = quality_rows(args.checkpoint, args.reference, args.schemes, args.threads, calibration)
    latency: dict[str, Any] = {}
    lowering: list[dict[str, Any]] = []
    if not args.no_latency:
        model = load_checkpoint(args.checkpoint).model
        with tempfile.TemporaryDirectory(prefix="int8-schemes-") as folder:
            paths = {"baseline": args.baseline} if args.baseline else {}
            paths |= {f"given: {path}": path for path in args.artifact}  # the path: two exports share a name
            for graph in ("fp32", "static", "static-conv-io", "dynamic"):
                path = Path(folder) / f"{graph}.pte"
                lowering.append(lower_scheme(model, graph, args.tile, path))
                paths[f"pt2e: {graph}"] = path
            latency = {str(threads): time_forward(paths, args.tile, threads, args.rounds) for threads in args.latency_threads}
    doc = {"checkpoint": str(args.checkpoint), "reference": str(args.reference) if args.reference else None,
           "threads": args.threads, "tile": args.tile, "machine": machine_info(), "quality": quality,
           "lowering": lowering, "latency": latency}
    text = markdown(doc)
    print(text, end="")
    if args.json:
        atomic_write_json(args.json, doc)
    if args.markdown:
        atomic_write(args.markdown, lambda stream: stream.write(text.encode()))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
