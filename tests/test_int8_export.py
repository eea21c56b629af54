"""int8 from a QAT checkpoint: the shared quantize/dequantize graph, each target end to end
on `tiny` (short QAT run), the overflow guard, and the user errors of --precision int8."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from cea_edge.errors import run_cli
from cea_edge.export.__main__ import main as export_main
from cea_edge.metrics import psnr
from cea_edge.model import get_preset
from cea_edge.model.checkpoint import file_sha256, load_checkpoint
from cea_edge.runtime.backends import open_backend
from tests.helpers import OVERLAP, TILE, Exported, error_lines, export_argv, files_in, run_qat

pytest.importorskip("nncf")

def exported(export_once, target: str, checkpoint: Path, precision: str, name: str, *flags: str) -> Exported:
    """The session's build of ``checkpoint`` for ``target`` at ``precision`` (global context 64)."""
    result = export_once(checkpoint, target, precision, *flags)
    artifact = result.artifact
    assert artifact.name == name and result.manifest["precision"] == precision
    # ONNX and Core ML keep the global-context graphs as siblings, ExecuTorch as methods
    siblings = [] if target == "executorch" else [artifact.stem + s + artifact.suffix for s in (".context", ".global")]
    assert files_in(result.folder) == sorted([artifact.name, artifact.name + ".json", *siblings])
    global_context = result.manifest["verification"]["global_context"]
    if target != "coreml" or global_context["ran"]:  # the int8 global-context graphs, end to end in the runtime
        assert global_context["ran"] and global_context["passed"] and global_context["psnr_db"] >= 35.0
    return result


def initializer_bytes(path: Path) -> dict[str, int]:
    import onnx

    sizes: dict[str, int] = {}
    for tensor in onnx.load(str(path)).graph.initializer:
        kind = onnx.TensorProto.DataType.Name(tensor.data_type)
        sizes[kind] = sizes.get(kind, 0) + onnx.numpy_helper.to_array(tensor).nbytes
    return sizes


def check_verified_against_qat_and_fp32(manifest: dict) -> None:
    verification = manifest["verification"]
    assert verification["passed"] and verification["reference"] == "PyTorch QAT model"
    assert verification["psnr_db"] >= 35.0
    # The fp32 checkpoint the QAT started from is found (by sha256) and measured beside it.
    assert verification["fp32_psnr_db"] is not None and verification["fp32_psnr_db"] < verification["psnr_db"]


# --- the graph every int8 target is built from ---------------------------------------------

def test_qdq_graph_reproduces_the_qat_model(qat_checkpoint):
    from cea_edge.export.quantized_graph import WeightDQ, quantized_graph

    model = load_checkpoint(qat_checkpoint).model.eval().fix_input_size(TILE, TILE)
    graph = quantized_graph(model, TILE)
    x = torch.rand(2, 3, TILE, TILE, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected, got = model(x), graph.module(x)
    # Same scales and zero points; only float rounding at exact ties may differ by one step.
    assert psnr(expected.numpy(), got.numpy()) > 45.0
    weights = [m for m in graph.module.modules() if isinstance(m, WeightDQ)]
    assert weights and all(w.qweight.dtype == torch.int8 for w in weights if not w.as_float)
    assert sum(graph.int8_layers.values()) + sum(graph.float_layers.values()) == len(weights)
    assert graph.activation_quantizers > 0 and graph.overflow_safe and graph.max_weight_level <= 63
    # The float weights the hooks now supply are gone: artifacts store each weight once
    # (what stays float: norm affines, adapter queries and scales).
    float_left = sum(p.numel() for name, p in graph.module.named_parameters() if "__nncf_hooks" not in name)
    assert float_left < 0.2 * sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("design", ["v1", "v2"])
def test_every_factor_gets_the_quantizer_that_made_it(design, qat_checkpoint, qat_checkpoint_v2):
    """forward_global re-quantizes its factor inputs (so its per-pixel multiplies run on
    integers); each must get its own maker's grid, or the re-quantization would move them."""
    from cea_edge.export.quantized_graph import quantized_graph

    model = load_checkpoint(qat_checkpoint if design == "v1" else qat_checkpoint_v2).model.eval()
    graph = quantized_graph(model.fix_input_size(TILE, TILE), TILE)
    x = torch.rand(1, 3, TILE, TILE, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        factors = [tensor for pair in graph.module(x, full_output=True).factors for tensor in pair]
    assert len(graph.factor_qdq) == len(factors) == 2 * len(model.adapters)
    assert len({id(qdq) for qdq in graph.factor_qdq}) == len(factors)
    for qdq, factor in zip(graph.factor_qdq, factors):
        assert torch.equal(qdq(factor), factor)  # already on this grid
        # and on no other factor's (the scales differ): a swapped pair would move values
        others = [other for other in graph.factor_qdq if other is not qdq and other.scale != qdq.scale]
        assert all(not torch.equal(other(factor), factor) for other in others)
    assert graph.to_dict()["quantized_factor_inputs"] == len(factors)
    assert quantized_graph(model, TILE, weights_only=True).factor_qdq == []


def test_input_quantizer_is_lossless_for_8_bit_images(qat_checkpoint):
    from nncf.torch.function_hook.wrapper import get_hook_storage

    model = load_checkpoint(qat_checkpoint).model
    (image_quantizer,) = [h for n, h in get_hook_storage(model).named_hooks() if n.startswith("post_hooks.image__")]
    pixels = torch.arange(256, dtype=torch.float32).reshape(1, 1, 16, 16).expand(1, 3, 16, 16) / 255
    with torch.no_grad():
        assert torch.allclose(image_quantizer(pixels), pixels, atol=1e-6)


@pytest.mark.slow  # a six-step v1 QAT run at a high rate, ~35 s
def test_qat_keeps_weights_in_the_overflow_safe_range(fp32_checkpoint, tmp_path):
    """A high learning rate drives NNCF's 8-bit scales past the 7-bit range; the rebuilt
    half-range quantizers hold it."""
    from cea_edge.export.quantized_graph import quantized_graph

    # the activation ranges at the plain rate: at the quick recipe's factor they would learn at 5 (refused)
    final = run_qat(fp32_checkpoint, tmp_path / "qat", steps=6, lr=5e-2, range_lr_factor=1.0)
    model = load_checkpoint(final).model.eval().fix_input_size(TILE, TILE)
    assert quantized_graph(model, TILE).max_weight_level <= 63


# --- the three targets ---------------------------------------------------------------------

@pytest.mark.slow  # v1's int8 chain; the default tier keeps the v2 one (test_edge2)
def test_onnx_int8_end_to_end(export_once, qat_checkpoint, fp32_checkpoint, session_checkpoint):
    result = exported(export_once, "onnx", qat_checkpoint, "int8", f"tiny-int8-{TILE}.onnx")
    check_verified_against_qat_and_fp32(result.manifest)
    assert "time_census" not in result.manifest["target_details"]  # the profiler's job: only with --time-census
    # the artifact names the fp32 checkpoint its QAT weights came from (the parity stage's lineage)
    info = open_backend(result.artifact).info
    assert (info.checkpoint_sha256, info.source_sha256) == (file_sha256(qat_checkpoint), file_sha256(fp32_checkpoint))
    weights = initializer_bytes(result.artifact)
    assert weights.get("INT8", 0) > 0
    quantization = result.manifest["target_details"]["quantization"]
    fused = {op: n for op, n in quantization["ort_kernels"].items() if op.startswith(("QLinear", "QGemm"))}
    assert fused.get("QLinearConv", 0) > 0, quantization["ort_kernels"]
    # Weights are stored as int8: the float data shrinks to what stays float (scales, norm
    # affines). (tiny's file as a whole does not shrink: its weights are smaller than the
    # graph's quantize/dequantize nodes; edge's halves, see docs/export.md.) The float file to compare
    # with is the session's fp32 export of `tiny`: same architecture, so the same weight sizes.
    fp32 = export_once(session_checkpoint, "onnx", "fp32")
    assert fp32.manifest["model"]["config"] == result.manifest["model"]["config"]
    assert weights["FLOAT"] < 0.5 * initializer_bytes(fp32.artifact)["FLOAT"]


@pytest.mark.slow  # ~4 min: the tiny QAT model lowered three times (forward, context, global) into XNNPACK
def test_executorch_int8_end_to_end(export_once, qat_checkpoint):
    result = exported(export_once, "executorch", qat_checkpoint, "int8", f"tiny-xnnpack-int8-{TILE}.pte")
    check_verified_against_qat_and_fp32(result.manifest)
    details = result.manifest["target_details"]
    assert details["delegation"]["outside_ops"] == {} and details["delegation"]["delegates"] == 1
    table = details["quantization"]["op_precisions"]
    assert table["conv2d"].get("int8", 0) > 0  # convolutions run on integers inside XNNPACK
    assert "quantized_decomposed_dequantize_per_channel_default" in details["delegation"]["delegated_ops"]


@pytest.mark.slow  # two v1 Core ML int8 conversions, ~1 min each
@pytest.mark.parametrize("precision", ["int8", "int8w"])
def test_coreml_int8_programs(export_once, qat_checkpoint, precision):
    result = exported(export_once, "coreml", qat_checkpoint, precision, f"tiny-{precision}-{TILE}.mlpackage")
    ops = result.manifest["target_details"]["op_inventory"]
    assert ops.get("constexpr_affine_dequantize", 0) > 0  # int8 weights
    assert (ops.get("quantize", 0) > 0) == (precision == "int8")  # activations only in W8A8
    assert result.manifest["target_details"]["quantization"]["weights_only"] == (precision == "int8w")


# --- what must fail --------------------------------------------------------------------------

@pytest.mark.slow  # a QAT run and a v1 int8 export of its own
def test_weights_without_overflow_fix_fail_the_onnx_export(fp32_checkpoint, tmp_path, capsys):
    unsafe = run_qat(fp32_checkpoint, tmp_path / "qat", overflow_fix="disable")
    out = tmp_path / "out"
    capsys.readouterr()
    assert run_cli(export_main, export_argv("onnx", unsafe, out, "--precision", "int8", context=0)) == 2
    error = capsys.readouterr().err
    assert "saturate" in error and "overflow_fix" in error
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.slow  # a v1 int8 export of its own
def test_a_misread_quantizer_fails_verification(qat_checkpoint, tmp_path, capsys, monkeypatch):
    """Activation scales read 25 % off: the artifact no longer reproduces the QAT model,
    and the bar catches it."""
    from cea_edge.export.quantized_graph import ActivationQDQ

    read = ActivationQDQ.__init__

    def misread(self, quantizer, dtype):
        read(self, quantizer, dtype)
        self.scale *= 1.25

    monkeypatch.setattr(ActivationQDQ, "__init__", misread)
    out = tmp_path / "out"
    capsys.readouterr()
    assert run_cli(export_main, export_argv("onnx", qat_checkpoint, out, "--precision", "int8", context=0)) == 2
    errors = error_lines(capsys.readouterr().err)
    assert len(errors) == 1 and "verification of tiny-int8-32.onnx failed" in errors[0]
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize("case", ["float_for_int8", "qat_for_fp32", "int8w_onnx", "int8_coreml_delegate", "other_preset",
                                  "time_census_fp32", "time_census_coreml"])
def test_bad_int8_requests_are_one_clear_error(case, qat_checkpoint, fp32_checkpoint, tmp_path, capsys):
    target, checkpoint, extra = "onnx", qat_checkpoint, ["--precision", "int8"]
    expected = {
        "float_for_int8": "python -m cea_edge.quantize", "qat_for_fp32": "export it with --precision int8",
        "int8w_onnx": "int8w (int8 weights, float activations) is a Core ML format",
        "int8_coreml_delegate": "int8 ExecuTorch programs are built for XNNPACK",
        "other_preset": "do not match its config 'edge'",
        "time_census_fp32": "--time-census: it measures int8 exports",
        "time_census_coreml": "--time-census: Core ML has no per-operator profiler",
    }[case]
    if case == "float_for_int8":
        checkpoint = fp32_checkpoint
    elif case == "qat_for_fp32":
        extra = ["--precision", "fp32"]
    elif case == "int8w_onnx":
        extra = ["--precision", "int8w"]
    elif case == "int8_coreml_delegate":
        target, extra = "executorch", ["--precision", "int8", "--delegate", "coreml"]
    elif case == "other_preset":
        payload = torch.load(qat_checkpoint, weights_only=True)
        payload["config"] = json.loads(json.dumps(get_preset("edge").to_dict()))
        checkpoint = tmp_path / "relabelled.pt"
        torch.save(payload, checkpoint)
    elif case == "time_census_fp32":
        checkpoint, extra = fp32_checkpoint, ["--precision", "fp32", "--time-census"]
    elif case == "time_census_coreml":
        target, extra = "coreml", ["--precision", "int8", "--time-census"]
    out = tmp_path / "out"
    capsys.readouterr()
    assert run_cli(export_main, export_argv(target, checkpoint, out, *extra, context=0)) == 2
    errors = error_lines(capsys.readouterr().err)
    assert len(errors) == 1 and expected in errors[0], errors
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.slow  # the v1 tiny int8 ExecuTorch lowering, ~2.5 min
def test_int8_outputs_match_between_onnxruntime_and_executorch(export_once, qat_checkpoint):
    """The two runtimes that run here execute the same QAT graph: their outputs agree as
    closely as each agrees with PyTorch."""
    onnx_file = exported(export_once, "onnx", qat_checkpoint, "int8", f"tiny-int8-{TILE}.onnx").artifact
    pte = exported(export_once, "executorch", qat_checkpoint, "int8", f"tiny-xnnpack-int8-{TILE}.pte").artifact
    x = np.random.default_rng(3).random((1, 3, TILE, TILE), dtype=np.float32)
    a, b = open_backend(onnx_file).run(x), open_backend(pte).run(x)
    qat = open_backend(qat_checkpoint, tile=TILE, overlap=OVERLAP, context_size=0).run(x)
    # each runtime's own rounding sets the bar: the two agree within 1 dB of the closer one's agreement with PyTorch
    assert psnr(a, b) >= min(psnr(qat, a), psnr(qat, b)) - 1.0 and psnr(a, b) > 35.0
