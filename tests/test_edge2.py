"""edge v2 (the tiny2 preset stands in): int8 graphs whose per-pixel ops all run on integers,
the time census an int8 export records when asked (--time-census), and the v2 factors through
every runtime path."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cea_edge import enhance
from cea_edge.contract import factor_names
from cea_edge.errors import run_cli
from cea_edge.model import get_preset
from cea_edge.model.checkpoint import load_checkpoint
from cea_edge.profile.census import executorch_census
from cea_edge.profile.ops import precision_class, precision_shares
from cea_edge.runtime.backends import open_backend

ADAPTERS = 3  # tiny2: middle + two decoder levels


@pytest.mark.parametrize(("op_type", "kind"), [
    ("Fully Connected (NC, QS8, QC8W) GEMM", "int8"), ("Convolution (NHWC, QC8) DWConv", "int8"),
    ("Convolution (NHWC, F32) IGEMM", "float"), ("Average Pooling (NHWC, F32) Average Pooling", "float"),
    ("Add (ND)", "untyped"), ("Convert (NC)", "convert"), ("Transpose (ND, X8)", "layout"),
    ("QLinearConv", "int8"), ("QLinearMul", "int8"), ("ConvTranspose", "float"), ("QuantizeLinear", "convert"),
    ("ReorderOutput", "layout"), ("Conv", "float"), ("DepthToSpace", "layout"),
])
def test_profiler_op_names_say_their_arithmetic(op_type, kind):
    assert precision_class(op_type) == kind


def test_precision_shares_add_up_and_list_the_float_ops():
    ops = {"source": "test", "threads": 1, "runs": 2, "records": [
        {"name": "a", "type": "QLinearConv", "where": "CPU", "calls": 4, "total_ms": 6.0},
        {"name": "b", "type": "ConvTranspose", "where": "CPU", "calls": 2, "total_ms": 3.0},
        {"name": "c", "type": "QuantizeLinear", "where": "CPU", "calls": 2, "total_ms": 1.0},
        {"name": "d", "type": "DELEGATE_CALL", "where": "delegate call", "calls": 2, "total_ms": 99.0},
    ]}
    census = precision_shares(ops)
    assert census["shares"]["int8"] == pytest.approx(0.6) and census["shares"]["float"] == pytest.approx(0.3)
    assert sum(census["shares"].values()) == pytest.approx(1.0) and census["ms_per_run"] == pytest.approx(5.0)
    assert census["float_ops"] == [{"type": "ConvTranspose", "calls_per_run": 1.0, "ms_per_run": 1.5, "share": 0.3}]


def check_time_census(manifest: dict, printed: str) -> dict:
    census = manifest["target_details"]["time_census"]
    assert sum(census["shares"].values()) == pytest.approx(1.0) and census["shares"]["int8"] > 0.3
    assert all(op["calls_per_run"] > 0 and 0 <= op["share"] < 1 for op in census["float_ops"])
    assert "op time (" in printed and "int8 " in printed
    return census


@pytest.mark.slow  # the tiny2 int8 ExecuTorch lowering, ~2 min
def test_executorch_int8_runs_every_per_pixel_op_on_integers(export_once, qat_checkpoint_v2):
    result = export_once(qat_checkpoint_v2, "executorch", "int8", "--time-census")
    details = result.manifest["target_details"]
    assert details["delegation"]["outside_ops"] == {} and result.manifest["verification"]["passed"]
    table = details["quantization"]["op_precisions"]
    # ReLU is the clamp of the integer convolution before it: never a float op of its own
    assert "relu" not in table
    # backbone, experts and up/down-sampling: int8. Float convolutions are the hyper-network's
    # (its key norm's mean and the two gain heads, on the pooled grid / the tokens), one set per adapter.
    assert table["conv_transpose2d"] == {"int8": 2}
    assert table["conv2d"].get("float", 0) <= 3 * ADAPTERS
    # the two gain multiplies of each adapter are int8 (the gains come straight from a quantized head)
    assert table["mul"].get("int8", 0) >= 2 * ADAPTERS
    check_time_census(result.manifest, result.printed)
    # forward_global takes the gains as inputs: re-quantized on their heads' grids, its
    # multiplies are int8 too -- in the graph and in the XNNPACK program the .pte carries
    assert details["quantization"]["quantized_factor_inputs"] == 2 * ADAPTERS
    global_table = details["quantization"]["global_op_precisions"]
    assert global_table["mul"] == {"int8": global_table["mul"]["int8"]} and global_table["mul"]["int8"] >= 2 * ADAPTERS
    multiplies = executorch_census(result.artifact)["methods"]["forward_global"]["ops_inside"]["Multiply"]
    assert "fp32" not in multiplies and multiplies.get("qint8", 0) >= 2 * ADAPTERS, multiplies


def test_onnx_int8_and_global_context_take_v2_factors(export_once, qat_checkpoint_v2):
    result = export_once(qat_checkpoint_v2, "onnx", "int8", "--time-census")
    assert result.manifest["verification"]["passed"]
    assert result.manifest["verification"]["global_context"]["passed"]
    check_time_census(result.manifest, result.printed)
    backend = open_backend(result.artifact)
    factors = backend.context(np.zeros((backend.context_size, backend.context_size, 3), np.float32)).factors
    rank, width = get_preset("tiny2").adapter.rank, get_preset("tiny2").width
    assert [f.shape for f in factors[:2]] == [(1, rank, 1, 1), (1, 4 * width, 1, 1)]  # middle adapter, x4 deep
    import onnx

    names = [i.name for i in onnx.load(str(result.artifact.with_name(result.artifact.stem + ".global.onnx"))).graph.input]
    assert names[1:] == factor_names(ADAPTERS, "v2")
    # the gain inputs are re-quantized (see the ExecuTorch test): onnxruntime fuses QLinearMul, no float Mul
    quantization = result.manifest["target_details"]["quantization"]
    kernels = quantization["global_ort_kernels"]
    assert "Mul" not in kernels and kernels.get("QLinearMul", 0) >= 2 * ADAPTERS, kernels
    # the up-sampling runs as integer 1x1 convolutions + DepthToSpace (onnx_forms): no float
    # ConvTranspose and no float conv + relu left in either tile graph
    assert quantization["onnxruntime_forms"]["forward"]["conv_transpose_as_conv_depth_to_space"] == 2
    for inventory in (quantization["ort_kernels"], kernels):
        assert not {"ConvTranspose", "FusedConv", "Relu"} & set(inventory), inventory
        assert inventory.get("DepthToSpace", 0) == 2, inventory


def test_onnx_int8_of_the_convolutions_placement(export_once, qat_checkpoint_v2_convolutions):
    """The bundled recipe's placement (activations "convolutions"): the export reproduces the QAT model in
    both context modes; the per-tile graph's convolutions run on integers (QLinearConv) while the gain
    multiplies between them stay float by design, so no factor input is re-quantized."""
    result = export_once(qat_checkpoint_v2_convolutions, "onnx", "int8")
    verification = result.manifest["verification"]
    assert verification["passed"] and verification["global_context"]["passed"]
    quantization = result.manifest["target_details"]["quantization"]
    kernels = quantization["global_ort_kernels"]
    assert kernels.get("QLinearConv", 0) > 0 and kernels.get("Mul", 0) >= 2 * ADAPTERS, kernels
    assert "QLinearMul" not in kernels and quantization["quantized_factor_inputs"] == 0, kernels


@pytest.mark.slow  # a Core ML conversion of tiny2; the main job's target is covered by test_coreml_end_to_end
def test_coreml_converts_v2(export_once, fp32_checkpoint_v2):
    result = export_once(fp32_checkpoint_v2, "coreml", "fp16")
    assert result.manifest["model"]["config"]["design"] == "v2"
    assert result.manifest["target_details"]["op_inventory"].get("conv", 0) > 0


def test_enhance_runs_v2_checkpoints_and_artifacts_in_global_mode(export_once, qat_checkpoint_v2,
                                                                  fp32_checkpoint_v2, rgb_file, tmp_path):
    # the int8 artifact the default tier builds anyway (test_onnx_int8_and_global_context_take_v2_factors);
    # the ExecuTorch int8 program runs through enhance in the Android host tests and the slow tier
    artifact = export_once(qat_checkpoint_v2, "onnx", "int8", "--time-census").artifact
    outputs = {}
    for name, model in (("pt", fp32_checkpoint_v2), ("onnx", artifact)):
        out = tmp_path / f"{name}.png"
        assert run_cli(enhance.main, [str(rgb_file), "-o", str(out), "--model", str(model), "--context", "global",
                                      "--quiet"]) == 0
        outputs[name] = out
    assert all(path.stat().st_size > 0 for path in outputs.values())
    assert load_checkpoint(fp32_checkpoint_v2).config.design == "v2"
    assert json.loads(artifact.with_name(artifact.name + ".json").read_text())["model"]["preset"] == "tiny2"
