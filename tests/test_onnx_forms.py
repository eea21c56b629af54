"""The int8 ONNX rewrites for onnxruntime (cea_edge/export/onnx_forms.py), on one-layer QDQ graphs:
each form is what onnxruntime then runs on integers, and computes what the original did."""

from __future__ import annotations

import numpy as np
import pytest

from cea_edge.export.onnx_forms import RELU, TRANSPOSED_CONV, rewrite_for_onnxruntime
from cea_edge.export.onnx_target import integer_kernels

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

CHANNELS, SIDE = 4, 6
INPUT_SCALE, INPUT_ZERO = 1 / 255, 0  # the image quantizer: [0, 1] in 255 steps
OUTPUT_SCALE = 0.02


def _qdq_layer(layer: str, output_zero: int, quantized_output: bool = True) -> onnx.ModelProto:
    """image -> Q -> DQ -> layer (int8 per-channel weights, int32 bias) [-> relu] -> Q -> DQ -> output.

    layer: "conv_transpose" (2x2, stride 2, CHANNELS -> 3) or "depthwise_relu" (3x3 depthwise + relu).
    """
    rng = np.random.default_rng(3)
    if layer == "conv_transpose":
        weight = rng.integers(-63, 64, (CHANNELS, 3, 2, 2), dtype=np.int8)  # (in, out, k, k)
        outputs, axis = 3, 1
        op = helper.make_node("ConvTranspose", ["x", "w", "b"], ["y"], kernel_shape=[2, 2], strides=[2, 2])
    else:
        weight = rng.integers(-127, 128, (CHANNELS, 1, 3, 3), dtype=np.int8)
        outputs, axis = CHANNELS, 0
        op = helper.make_node("Conv", ["x", "w", "b"], ["pre"], kernel_shape=[3, 3], pads=[1] * 4, group=CHANNELS)
    weight_scale = rng.uniform(0.002, 0.01, outputs).astype(np.float32)
    bias = rng.integers(-2000, 2000, outputs, dtype=np.int32)
    initializers = [
        numpy_helper.from_array(np.array(INPUT_SCALE, np.float32), "s_in"),
        numpy_helper.from_array(np.array(INPUT_ZERO, np.uint8), "z_in"),
        numpy_helper.from_array(weight, "w_q"), numpy_helper.from_array(weight_scale, "w_s"),
        numpy_helper.from_array(np.zeros(outputs, np.int8), "w_z"),
        numpy_helper.from_array(bias, "b_q"), numpy_helper.from_array(weight_scale * INPUT_SCALE, "b_s"),
        numpy_helper.from_array(np.array(OUTPUT_SCALE, np.float32), "s_out"),
        numpy_helper.from_array(np.array(output_zero, np.uint8), "z_out"),
    ]
    nodes = [
        helper.make_node("QuantizeLinear", ["image", "s_in", "z_in"], ["x_q"]),
        helper.make_node("DequantizeLinear", ["x_q", "s_in", "z_in"], ["x"]),
        helper.make_node("DequantizeLinear", ["w_q", "w_s", "w_z"], ["w"], axis=axis),
        helper.make_node("DequantizeLinear", ["b_q", "b_s"], ["b"], axis=0),
        op,
    ]
    if layer != "conv_transpose":
        nodes.append(helper.make_node("Relu", ["pre"], ["y"]))
    if quantized_output:
        nodes += [helper.make_node("QuantizeLinear", ["y", "s_out", "z_out"], ["y_q"]),
                  helper.make_node("DequantizeLinear", ["y_q", "s_out", "z_out"], ["restored"])]
    else:
        nodes.append(helper.make_node("Identity", ["y"], ["restored"]))
    size = 2 * SIDE if layer == "conv_transpose" else SIDE
    graph = helper.make_graph(
        nodes, layer, [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, CHANNELS, SIDE, SIDE])],
        [helper.make_tensor_value_info("restored", TensorProto.FLOAT, [1, outputs, size, size])], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    onnx.checker.check_model(model, full_check=True)
    return model


def _run(model: onnx.ModelProto, image: np.ndarray) -> tuple[np.ndarray, dict[str, int]]:
    """The output, and the kernels onnxruntime runs as the export's manifest counts them."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "layer.onnx"
        onnx.save_model(model, str(path))
        kernels = integer_kernels(path, ort)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"image": image})[0], kernels


def _image() -> np.ndarray:
    return np.random.default_rng(5).random((1, CHANNELS, SIDE, SIDE), dtype=np.float32)


def test_transposed_conv_becomes_an_integer_conv_and_depth_to_space():
    model = _qdq_layer("conv_transpose", output_zero=128)
    before, kernels_before = _run(model, _image())
    assert "ConvTranspose" in kernels_before  # onnxruntime has no integer transposed convolution
    rewritten = _qdq_layer("conv_transpose", output_zero=128)
    assert rewrite_for_onnxruntime(rewritten) == {RELU: 0, TRANSPOSED_CONV: 1}
    onnx.checker.check_model(rewritten, full_check=True)
    after, kernels = _run(rewritten, _image())
    assert "QLinearConv" in kernels and "ConvTranspose" not in kernels and "DepthToSpace" in kernels, kernels
    # the same integers: at most one output level apart (float vs integer accumulation at a tie)
    assert np.abs(after - before).max() <= OUTPUT_SCALE * 1.001
    assert np.mean(after == before) > 0.95
    # the replaced weight and its dequantizer are gone, not left for onnxruntime to warn about
    assert "w_q" not in {tensor.name for tensor in rewritten.graph.initializer}


def test_relu_before_a_quantizer_above_the_floor_runs_on_integers():
    model = _qdq_layer("depthwise_relu", output_zero=100)
    before, kernels_before = _run(model, _image())
    assert "QLinearConv" not in kernels_before  # conv + relu stay float: the relu is not droppable
    assert rewrite_for_onnxruntime(model) == {RELU: 1, TRANSPOSED_CONV: 0}
    after, kernels = _run(model, _image())
    assert "QLinearConv" in kernels and "QLinearLeakyRelu" in kernels, kernels
    assert not {"Relu", "FusedConv", "Conv", "LeakyRelu"} & set(kernels), kernels
    assert np.abs(after - before).max() <= OUTPUT_SCALE * 1.001
    assert after.min() >= 0  # still a relu: nothing below zero
    assert np.mean(after == before) > 0.95


@pytest.mark.parametrize(("layer", "output_zero", "quantized_output"), [
    ("depthwise_relu", 0, True),  # onnxruntime drops this relu itself
    ("conv_transpose", 0, False),  # a float output: float either way
])
def test_patterns_onnxruntime_already_handles_are_left_alone(layer, output_zero, quantized_output):
    model = _qdq_layer(layer, output_zero, quantized_output)
    original = model.SerializeToString()
    assert rewrite_for_onnxruntime(model) == {RELU: 0, TRANSPOSED_CONV: 0}
    assert model.SerializeToString() == original
