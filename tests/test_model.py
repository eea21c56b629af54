"""The CEA model: adapter identity at init, routing maps, external factors, export.

(The XNNPACK delegation goal for `edge` is pinned through the exporter, at fp32 and fp16:
tests/test_export.py::test_edge_lowers_entirely_into_xnnpack_through_the_exporter.)"""

from __future__ import annotations

import pytest
import torch

from cea_edge.errors import CeaError
from cea_edge.model import PRESETS, AdapterConfig, CEANet, HyperAdapter, get_preset
from cea_edge.model.layers import ChannelNorm, TokenNorm
from tests.helpers import make_active


def test_fresh_adapter_is_identity_but_generates_nonzero_factors():
    adapter = HyperAdapter(16, AdapterConfig(rank=4, hyper_tokens=4, hyper_dim=16, grid=4))
    features = torch.randn(2, 16, 32, 32)
    updated, routing, factors = adapter(features)
    assert torch.equal(updated, features)
    assert routing.shape == (2, 4, 32, 32)
    assert factors.routing_bases.abs().sum() > 0 and factors.residual_directions.abs().sum() > 0


def test_fresh_network_is_identity():
    model = CEANet(get_preset("tiny")).eval()
    image = torch.rand(1, 3, 32, 32)
    assert torch.equal(model(image), image)


def test_assembly_is_the_dense_signed_low_rank_formula():
    torch.manual_seed(1)
    adapter = HyperAdapter(8, AdapterConfig(rank=3, hyper_tokens=2, hyper_dim=8, grid=2))
    torch.nn.init.normal_(adapter.gamma)
    features = torch.randn(1, 8, 4, 6)
    updated, routing, factors = adapter(features)
    tokens = adapter.token_norm(features).flatten(2).transpose(1, 2)  # (1, N, C)
    expected_routing = tokens @ factors.routing_bases.transpose(1, 2) / 8**0.5  # (1, N, r)
    expected_delta = expected_routing @ factors.residual_directions  # (1, N, C)
    expected = features + adapter.gamma * expected_delta.transpose(1, 2).reshape(features.shape)
    torch.testing.assert_close(routing.flatten(2).transpose(1, 2), expected_routing)
    torch.testing.assert_close(updated, expected)
    # Dense and signed: every token uses every component, with both signs (no Top-K, no softmax).
    assert (routing != 0).all() and (routing < 0).any() and (routing > 0).any()


def test_routing_maps_one_per_adapter_with_rank_channels(tiny_model):
    output = tiny_model.restore(torch.rand(2, 3, 32, 48))
    config = tiny_model.config
    assert len(output.routing_maps) == len(tiny_model.adapters) == 3
    strides = [4, 2, 1]  # middle (x4 down), then decoder levels
    for routing, stride in zip(output.routing_maps, strides):
        assert routing.shape == (2, config.adapter.rank, 32 // stride, 48 // stride)


def test_external_factors_replace_generated_ones(tiny_model):
    photo, other = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
    own = tiny_model.generate_factors(photo)
    with torch.no_grad():
        torch.testing.assert_close(tiny_model(photo, factors=own), tiny_model(photo))
        foreign = tiny_model(photo, factors=tiny_model.generate_factors(other))
    assert (foreign - tiny_model(photo)).abs().max() > 1e-4
    # Global-context use: factors of a downscaled whole photo drive a crop of it.
    small = torch.nn.functional.avg_pool2d(torch.rand(1, 3, 64, 64), 2)
    with torch.no_grad():
        out = tiny_model.restore(photo, factors=tiny_model.generate_factors(small))
    assert [f.routing_bases.shape for f in out.factors] == [f.routing_bases.shape for f in own]


def test_wrong_number_of_factors_is_a_clear_error(tiny_model):
    factors = tiny_model.generate_factors(torch.rand(1, 3, 32, 32))
    with pytest.raises(CeaError, match="expected factors for 3 adapters"):
        tiny_model(torch.rand(1, 3, 32, 32), factors=factors[:1])


def test_no_adapter_ablation_has_none():
    model = CEANet(get_preset("edge").without_adapters())
    assert model.adapters == [] and model.restore(torch.rand(1, 3, 64, 64)).routing_maps == []


def test_norms_match_layer_norm():
    x = torch.randn(2, 6, 5, 7)
    norm = ChannelNorm(6)
    reference = torch.nn.functional.layer_norm(x.permute(0, 2, 3, 1), (6,), eps=1e-6).permute(0, 3, 1, 2)
    torch.testing.assert_close(norm(x), reference, atol=1e-5, rtol=1e-5)
    tokens = torch.randn(3, 4, 10)
    torch.testing.assert_close(TokenNorm(10)(tokens), torch.nn.functional.layer_norm(tokens, (10,), eps=1e-6),
                               atol=1e-5, rtol=1e-5)


def test_fixed_pooling_equals_adaptive_pooling():
    torch.manual_seed(0)
    model = make_active(CEANet(get_preset("tiny")))
    image = torch.rand(1, 3, 32, 64)
    with torch.no_grad():
        adaptive = model(image)
        fixed = model.fix_input_size(32, 64)(image)
    torch.testing.assert_close(fixed, adaptive)
    assert {a.pool.kernel for a in model.adapters} == {(2, 4), (4, 8), (8, 16)}


@pytest.mark.parametrize("size", [(48, 64), (64, 40)])
def test_fix_input_size_rejects_sizes_off_the_grid(size):
    with pytest.raises(CeaError, match="multiples of 64"):
        CEANet(get_preset("edge")).fix_input_size(*size)


def test_presets_scale_as_documented():
    edge, base = PRESETS["edge"], PRESETS["base"]
    assert edge.adapter.rank == 4 and edge.adapter.hyper_tokens == 4 and edge.adapter.grid == 8
    assert base.width == 48 and base.adapter.rank == 16 and base.adapter.hyper_tokens == 16
    with pytest.raises(CeaError, match="unknown preset"):
        get_preset("huge")


def test_edge_exports_with_torch_export_at_256():
    model = make_active(CEANet(get_preset("edge"))).fix_input_size(256, 256)
    image = torch.rand(1, 3, 256, 256)
    program = torch.export.export(model, (image,))
    with torch.no_grad():
        torch.testing.assert_close(program.module()(image), model(image), atol=1e-5, rtol=1e-5)
    ops = {str(node.target) for node in program.graph.nodes if node.op == "call_function"}
    assert not any("adaptive" in op or "fft" in op or "mean" in op for op in ops), ops
