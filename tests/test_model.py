"""The CEA model: adapter identity at init, routing maps, external factors, export.

(The XNNPACK delegation goal for `edge` is pinned through the exporter, at fp32 and fp16:
tests/test_export.py::test_edge_lowers_entirely_into_xnnpack_through_the_exporter.)"""

from __future__ import annotations

import pytest
import torch

from cea_edge.errors import CeaError
from cea_edge.model import PRESETS, AdapterConfig, CEAConfig, CEANet, HyperAdapter, get_preset
from cea_edge.model.adapter import AdapterFactors, ExpertAdapter, ExpertGains
from cea_edge.model.layers import ChannelNorm, TokenNorm
from tests.helpers import make_active


def test_fresh_adapter_is_identity_but_generates_nonzero_factors():
    adapter = HyperAdapter(16, AdapterConfig(rank=4, hyper_tokens=4, hyper_dim=16, grid=4))
    features = torch.randn(2, 16, 32, 32)
    updated, routing, factors, _ = adapter(features)
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
    updated, routing, factors, _ = adapter(features)
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


# ---- v2 (edge2): experts assembled by per-image gains ----
def test_fresh_v2_network_and_adapter_are_the_identity():
    model = CEANet(get_preset("tiny2")).eval()
    image = torch.rand(1, 3, 32, 32)
    assert torch.equal(model(image), image)
    adapter = ExpertAdapter(8, get_preset("tiny2").adapter)
    features = torch.randn(2, 8, 16, 16)
    updated, routing, factors, generated = adapter(features)
    assert torch.equal(updated, features) and factors is generated
    assert routing.shape == (2, 3, 16, 16) and routing.abs().sum() > 0
    assert factors.routing_gains.shape == (2, 3, 1, 1) and factors.direction_gains.shape == (2, 8, 1, 1)


def test_v2_assembly_is_the_gain_weighted_expert_formula():
    torch.manual_seed(2)
    adapter = ExpertAdapter(8, get_preset("tiny2").adapter)
    torch.nn.init.normal_(adapter.experts_out.weight)
    features = torch.randn(2, 8, 4, 6)
    updated, routing, factors, _ = adapter(features)
    u, d = adapter.experts_in.weight[:, :, 0, 0], adapter.experts_out.weight[:, :, 0, 0]
    pixels = features.flatten(2)  # (B, C, N)
    a, b = factors.routing_gains.flatten(1), factors.direction_gains.flatten(1)
    expected_routing = a[:, :, None] * (u @ pixels + adapter.experts_in.bias[:, None])
    expected = pixels + b[:, :, None] * (d @ expected_routing + adapter.experts_out.bias[:, None])
    torch.testing.assert_close(routing.flatten(2), expected_routing)
    torch.testing.assert_close(updated.flatten(2), expected)
    # The gains differ per image: the assembled operator is the image's own.
    operators = adapter.operators(factors)
    torch.testing.assert_close(operators, b[:, :, None] * (d * a[:, None, :]) @ u)
    assert not torch.allclose(operators[0], operators[1])


def test_static_adapters_use_the_same_factors_for_every_image():
    config = get_preset("tiny2").with_static_adapters()
    model = CEANet(config).eval()
    assert config.adapter.mode == "static" and config.name == "tiny2-static"
    first, second = model.generate_factors(torch.rand(1, 3, 32, 32)), model.generate_factors(torch.rand(1, 3, 32, 32))
    assert all(torch.equal(a, b) for pair_a, pair_b in zip(first, second) for a, b in zip(pair_a, pair_b))
    assert not any("to_keys" in name for name, _ in model.named_parameters())  # no hyper-network to train
    with pytest.raises(CeaError, match="design v2"):
        get_preset("edge").with_static_adapters()


def test_context_argument_restores_with_the_context_images_factors():
    torch.manual_seed(3)
    model = make_active(CEANet(get_preset("tiny2"))).eval()
    image, context = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        given = model(image, model.generate_factors(context), full_output=True)
        in_context = model(image, context=context, full_output=True)
        whole = model(image, full_output=True)
    torch.testing.assert_close(in_context.image, given.image)
    assert not torch.allclose(in_context.image, whole.image)
    # generated: what the tile itself would have made, kept for the agreement loss
    torch.testing.assert_close(in_context.generated[0].routing_gains, whole.factors[0].routing_gains)


def test_pair_factors_builds_each_designs_factor_type(tiny_model):
    v2 = CEANet(get_preset("tiny2"))
    flat = [t for f in v2.generate_factors(torch.rand(1, 3, 32, 32)) for t in f]
    assert all(isinstance(f, ExpertGains) for f in v2.pair_factors(flat))
    flat = [t for f in tiny_model.generate_factors(torch.rand(1, 3, 32, 32)) for t in f]
    assert all(isinstance(f, AdapterFactors) for f in tiny_model.pair_factors(flat))


def test_unknown_design_or_mode_is_a_clear_error():
    with pytest.raises(CeaError, match="unknown design"):
        CEAConfig.from_dict(get_preset("edge").to_dict() | {"design": "v9"})
    with pytest.raises(CeaError, match="needs design v2"):
        CEAConfig.from_dict(get_preset("edge").to_dict() | {"adapter": {"mode": "static"}})
    assert CEAConfig.from_dict({k: v for k, v in get_preset("edge").to_dict().items() if k != "design"}).design == "v1"


@pytest.mark.parametrize("adapters", ["dynamic", "none", "static"])
@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_preset_trains_at_64_px(preset, adapters):
    """timm's test_model_backward over our presets: forward and backward at a capped size, every
    parameter gets a finite gradient (a block or adapter cut off from the loss would get none)."""
    config = PRESETS[preset]
    if adapters == "none":
        config = config.without_adapters()
    elif adapters == "static":
        if config.design != "v2":
            pytest.skip("static adapters exist for design v2 only")
        config = config.with_static_adapters()
    torch.manual_seed(0)
    model = CEANet(config)
    for parameter in model.parameters():  # off the zero-initialised identity, so every path carries gradient
        parameter.data.add_(torch.randn_like(parameter) * 0.02)
    side = max(64, config.min_tile)
    image = torch.rand(2, 3, side, side)
    output = model(image)
    assert output.shape == image.shape and torch.isfinite(output).all()
    ((output - image) ** 2).mean().backward()
    missing = [name for name, p in model.named_parameters() if p.requires_grad and (p.grad is None or not p.grad.abs().sum())]
    assert not missing, missing[:5]
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
