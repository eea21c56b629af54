"""What int8 latency would be if every conv/linear ran on integers (a probe, not a product path).

    python benchmarks/int8_coverage_probe.py [--qat PATH] [--tile 256] [--runs 20] [--json probe.json]

NNCF leaves 71 of edge's 159 conv/linear layers with a float output, so XNNPACK runs them
in float. This probe adds an output quantizer to each of them (ranges: min/max over the
quantization calibration set, no QAT with them), lowers the graph to ExecuTorch/XNNPACK
and measures latency (1 and 2 threads) and aio-synth quality next to the shipped int8
graph and fp32 — the trade-off a QAT run with those quantizers would start from.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Sequence

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from int8_tradeoff import latency_ms, runner, suite_quality

from cea_edge.atomic import atomic_write_json
from cea_edge.data.suite import build_suite
from cea_edge.errors import run_cli
from cea_edge.export.common import export_program, module_for
from cea_edge.export.quantized_graph import (
    _decomposed_ops,
    _layer_inventory,
    quantized_graph,
    unshare_dequantize,
)
from cea_edge.model.checkpoint import DEFAULT_CHECKPOINT, DEFAULT_QAT_CHECKPOINT, load_checkpoint
from cea_edge.quantize import calibration_set, load_quant_recipe


class OutputQDQ(nn.Module):
    """Records the range it sees while calibrating, then quantizes to int8 with it."""

    def __init__(self) -> None:
        super().__init__()
        self.low, self.high, self.calibrating = 0.0, 0.0, True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.calibrating:
            self.low, self.high = min(self.low, float(x.min())), max(self.high, float(x.max()))
            return x
        scale = (self.high - self.low) / 255
        zero_point = int(round(-128 - self.low / scale))
        ops = _decomposed_ops()
        q = ops.quantize_per_tensor.default(x, scale, zero_point, -128, 127, torch.int8)
        return ops.dequantize_per_tensor.default(q, scale, zero_point, -128, 127, torch.int8)


def full_coverage(qat: Path, tile: int) -> nn.Module:
    from nncf.torch.function_hook.hook_storage import decode_hook_name
    from nncf.torch.function_hook.wrapper import get_hook_storage, register_post_function_hook

    model = load_checkpoint(qat).model.eval().fix_input_size(tile, tile)
    graph = quantized_graph(model, tile)  # float layers keep int8 weights behind a dequantize
    program = export_program(graph.module, tile)
    added = []
    storage = get_hook_storage(graph.module)
    for name, layer in _layer_inventory(program).items():
        if layer.input_scale is None:  # no input quantizer either (adapter linears after pooling): stays float
            storage.get_submodule(name).keep_float()
        elif not layer.int8:
            hook = OutputQDQ()
            register_post_function_hook(graph.module, decode_hook_name(name)[1], 0, hook)
            added.append(hook)
    with torch.no_grad():
        for patch in calibration_set(load_quant_recipe()):
            graph.module(nn.functional.interpolate(patch, size=(tile, tile), mode="bilinear"))
    for hook in added:
        hook.calibrating = False
    print(f"added {len(added)} output quantizers", file=sys.stderr)
    return graph.module


def lower(module: nn.Module, tile: int, path: Path, quantized: bool) -> Path:
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    program = export_program(module, tile)
    if quantized:
        unshare_dequantize(program)
    path.write_bytes(to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()]).to_executorch().buffer)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/int8_coverage_probe.py", description=__doc__.splitlines()[0])
    parser.add_argument("--fp32", type=Path, default=DEFAULT_CHECKPOINT)
    parser.add_argument("--qat", type=Path, default=DEFAULT_QAT_CHECKPOINT)
    parser.add_argument("--tile", type=int, default=256)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    tile = args.tile
    rows = []
    samples = build_suite("aio-synth")
    with tempfile.TemporaryDirectory(prefix="cea-probe-") as scratch:
        folder = Path(scratch)
        fp32 = load_checkpoint(args.fp32).model.eval().fix_input_size(tile, tile)
        qat = load_checkpoint(args.qat).model.eval().fix_input_size(tile, tile)
        variants = {
            "fp32": lower(module_for(fp32, "fp32"), tile, folder / "fp32.pte", quantized=False),
            "int8 (shipped: 88 int8 layers)": lower(quantized_graph(qat, tile, float_layers_as_float=True).module, tile,
                                                    folder / "int8.pte", quantized=True),
            "int8 (all layers, probe)": lower(full_coverage(args.qat, tile), tile, folder / "full.pte", quantized=True),
        }
        for label, path in variants.items():
            row = {"model": label, "bytes": path.stat().st_size,
                   "psnr_db": suite_quality(runner(path, 2), samples) if tile == 256 else None}
            for threads in (1, 2):
                row[f"median_ms_{threads}t"] = latency_ms(runner(path, threads), tile, 3, args.runs)["median"]
            rows.append(row)
            print(f"{label}: {row}", file=sys.stderr)
    base = rows[0]
    print(f"| model (ExecuTorch XNNPACK, tile {tile}) | aio-synth PSNR (dB) | 1 thread (ms) | 2 threads (ms) "
          "| vs fp32 (1t / 2t) |")
    print("|---|---|---|---|---|")
    for row in rows:
        psnr = "n/a" if row["psnr_db"] is None else f"{row['psnr_db']:.3f}"
        print(f"| {row['model']} | {psnr} | {row['median_ms_1t']:.1f} | {row['median_ms_2t']:.1f} | "
              f"{row['median_ms_1t'] / base['median_ms_1t']:.2f}x / {row['median_ms_2t'] / base['median_ms_2t']:.2f}x |")
    if args.json:
        atomic_write_json(args.json, {"tile": tile, "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
