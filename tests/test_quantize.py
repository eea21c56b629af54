"""The quantization stage: NNCF QAT / PTQ on `tiny`, exact checkpoint round trip, resume, errors."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import torch

from cea_edge.errors import CeaError, run_cli
from cea_edge.model import CEANet, get_preset
from cea_edge.model.checkpoint import (
    DEFAULT_QAT_CHECKPOINT,
    EDGE2_QAT_CHECKPOINT,
    EDGE_V1_QAT_CHECKPOINT,
    load_checkpoint,
    save_checkpoint,
)
from cea_edge.model.quantized import from_portable_config, is_quantized, portable_config, quantizer_inputs
from cea_edge.quantize import (
    activation_ranges,
    calibration_set,
    insert_quantizers,
    load_quant_recipe,
    pin_input_range,
    quantization_record,
    recipe_from_record,
)
from cea_edge.quantize.__main__ import main
from cea_edge.quantize.recipe import LEGACY_RANGE_LR_FACTOR
from cea_edge.recipe_io import bundled_recipe
from cea_edge.train import DEFAULT_SCHEDULE, make_optimizer
from tests.helpers import make_active

pytest.importorskip("nncf")

TINY_RECIPE = """\
scheme = "int8"
nncf_preset = "mixed"
overflow_fix = "enable"
activation_range = "minmax"
activations = "all"
ignored_patterns = []
float_hyper_network = false
calibration_size = 16
calibration_patch = 32
[train]
target = "fp32"
range_lr_factor = 20.0
steps = 4
batch = 2
patch = 32
lr = 1e-4
min_lr = 1e-6
weight_decay = 1e-4
warmup = 1
frequency_loss = 0.05
grad_clip = 1.0
context_loss = 0.0
seed = 1
val_every = 2
save_every = 2
"""


@pytest.fixture
def tiny_recipe(tmp_path: Path) -> Path:
    path = tmp_path / "tiny-int8.toml"
    path.write_text(TINY_RECIPE)
    return path


def quantize_argv(checkpoint: Path, recipe: Path, out: Path, *extra: str) -> list[str]:
    return ["--checkpoint", str(checkpoint), "--recipe", str(recipe), "--out", str(out), "--no-progress",
            "--no-eval", *extra]


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def test_bundled_recipe_is_int8_with_overflow_fix():
    recipe = load_quant_recipe()
    assert recipe.scheme == "int8" and recipe.overflow_fix == "enable" and recipe.calibration_size >= 16
    assert recipe.train.steps > 0 and recipe.train.lr <= 1e-4


def test_bundled_recipe_is_the_one_source_of_qat_values():
    """The shipped QAT checkpoint was made with the bundled recipe: its record reads back to the same
    values. v1's (written before the [train] nesting: flat, "preset"; before range_lr_factor) still
    reads, with the values it ran at."""
    recipe = load_quant_recipe()
    assert recipe.source == str(bundled_recipe("quantization", "int8")) and recipe.nncf_preset == "mixed"
    shipped = load_checkpoint(DEFAULT_QAT_CHECKPOINT).quantization["recipe"]
    assert recipe_from_record(shipped | {"source": recipe.source}) == recipe
    v1 = load_checkpoint(EDGE_V1_QAT_CHECKPOINT).quantization["recipe"]
    assert "preset" in v1 and "train" not in v1  # the old layout, still readable
    legacy = recipe_from_record(v1 | {"source": recipe.source})
    edge2 = recipe_from_record(load_checkpoint(EDGE2_QAT_CHECKPOINT).quantization["recipe"])
    # v1's flat record holds the schedule edge2's twin ran at too (the bundled one before edge3's)
    assert legacy.range_lr_factor == LEGACY_RANGE_LR_FACTOR and legacy.train == edge2.train
    # the QAT schedule shares the loss and optimizer settings of fp32 training
    for name in ("weight_decay", "frequency_loss", "grad_clip"):
        assert getattr(recipe.train, name) == getattr(DEFAULT_SCHEDULE, name)
    assert recipe_from_record(recipe.to_dict()) == recipe  # what new checkpoints record


@pytest.mark.parametrize(("edit", "expected"), [
    (("min_lr = 1e-6\n", ""), "missing key(s) ['min_lr'] in [train]"),
    (('activation_range = "minmax"\n', ""), "missing key(s) ['activation_range']"),
    (("nncf_preset", "preset"), "key 'preset' is now called 'nncf_preset'"),
    (("float_hyper_network = false\n", ""), "missing key(s) ['float_hyper_network']"),
    (('activations = "all"\n', ""), "missing key(s) ['activations']"),
    (("[train]", "[training]"), "[train] table, which is missing"),
])
def test_recipe_keys_are_all_required(tiny_recipe, edit, expected):
    tiny_recipe.write_text(TINY_RECIPE.replace(*edit))
    with pytest.raises(CeaError) as error:
        load_quant_recipe(tiny_recipe)
    assert expected in str(error.value) and str(tiny_recipe) in str(error.value)


def test_float_hyper_network_must_be_a_boolean(tiny_recipe):
    tiny_recipe.write_text(TINY_RECIPE.replace("float_hyper_network = false", "float_hyper_network = 1"))
    with pytest.raises(CeaError, match="'float_hyper_network' must be true or false, got 1"):
        load_quant_recipe(tiny_recipe)


@pytest.mark.parametrize("preset", ["tiny", "tiny2"])  # v1's hyper-adapter, v2's expert adapter
def test_float_hyper_network_keeps_only_the_pooled_ops_in_float(preset, tiny_recipe, tmp_path):
    torch.manual_seed(0)
    checkpoint = tmp_path / f"{preset}.pt"
    save_checkpoint(checkpoint, make_active(CEANet(get_preset(preset))), {"note": "test fixture"})
    probe = torch.rand(1, 3, 32, 32)
    hooks = {}
    for flag in ("false", "true"):
        tiny_recipe.write_text(TINY_RECIPE.replace("float_hyper_network = false", f"float_hyper_network = {flag}"))
        out = tmp_path / flag
        assert run_cli(main, quantize_argv(checkpoint, tiny_recipe, out, "--ptq")) == 0
        final = load_checkpoint(out / "final.pt")  # rebuilt from the record: the placement is recorded
        assert final.quantization["recipe"]["float_hyper_network"] is (flag == "true")
        hooks[flag] = quantizer_inputs(final.model, probe)
    # ops that run only on the g x g grid (v1's adapter also normalises every pixel and applies its generated
    # U, D there with bmm)
    pooled_ops = {"adaptive_avg_pool2d", "softmax"} | ({"bmm", "linear", "rsqrt"} if preset == "tiny2" else set())

    def ops(names):
        return {re.sub(r"/\d+__.*", "", name.split(".", 1)[1]).split("/")[-1] for name in names}

    assert pooled_ops <= ops(hooks["false"]) and not pooled_ops & ops(hooks["true"])
    assert len(hooks["true"]) < len(hooks["false"])
    # what runs per pixel keeps its quantizers: v2's expert convolutions, and the non-adapter ops
    per_pixel = {name for name in hooks["false"] if "/experts_" in name or "adapter/" not in name}
    moved = per_pixel - set(hooks["true"])  # the features' shared quantizer, fed to the pooling too before
    assert per_pixel and all(name.startswith("post_hooks./add/") for name in moved)
    # ... now quantized where the per-pixel adapter ops take them
    assert moved and any(name.startswith("pre_hooks.adapter/") and name.endswith("__0.0") for name in hooks["true"])


def test_activations_must_name_a_placement(tiny_recipe):
    tiny_recipe.write_text(TINY_RECIPE.replace('activations = "all"', 'activations = "convs"'))
    with pytest.raises(CeaError, match="unknown activations 'convs'; choose one of: all, convolutions"):
        load_quant_recipe(tiny_recipe)


@pytest.mark.parametrize("preset", ["tiny", "tiny2"])
def test_convolutions_placement_quantizes_convolutions_in_and_out_only(preset, tiny_recipe, tmp_path):
    """activations = "convolutions": every int8 convolution reads and writes int8 (what static int8
    kernels need), no other op takes a quantized input, and the residual stream between stays float."""
    from nncf.torch.function_hook.nncf_graph.nncf_graph_builder import build_nncf_graph

    torch.manual_seed(0)
    checkpoint = tmp_path / f"{preset}.pt"
    model = make_active(CEANet(get_preset(preset)))
    save_checkpoint(checkpoint, model, {"note": "test fixture"})
    tiny_recipe.write_text(TINY_RECIPE.replace('activations = "all"', 'activations = "convolutions"'))
    assert run_cli(main, quantize_argv(checkpoint, tiny_recipe, tmp_path / "q", "--ptq")) == 0
    final = load_checkpoint(tmp_path / "q" / "final.pt")  # rebuilt from the record: the added quantizers too
    assert final.quantization["recipe"]["activations"] == "convolutions"
    probe = torch.rand(1, 3, 32, 32)
    hooks = set(quantizer_inputs(final.model, probe))
    graph = build_nncf_graph(model.eval(), probe)
    nodes = {node.node_name: node for node in graph.get_all_nodes()}

    def op(hook: str) -> str:
        return hook.split(".", 1)[1].rsplit("__", 1)[0]

    int8 = {op(hook) for hook in hooks if hook.startswith("pre_hooks.") and hook.endswith("__1.0")}  # weights
    assert int8 and all(nodes[name].node_type in ("conv2d", "conv_transpose2d") for name in int8)
    for name in int8:
        # its own output quantizer, or that of the ReLU it feeds (the runtimes fuse the two: one int8 write)
        consumers = [edge.to_node for edge in graph.get_output_edges(nodes[name])]
        relus = [node.node_name for node in consumers if node.node_type == "relu"]
        fused = bool(relus) and len(relus) == len(consumers) and all(f"post_hooks.{r}__0.0" in hooks for r in relus)
        assert (f"post_hooks.{name}__0.0" in hooks) is not fused, f"{name} writes float or twice"
        (source,) = [edge.from_node.node_name for edge in graph.get_input_edges(nodes[name])
                     if "." not in edge.from_node.node_name and edge.from_node.node_type != "nncf_model_const"]
        assert {f"pre_hooks.{name}__0.0", f"post_hooks.{source}__0.0"} & hooks, f"{name} reads float"
    assert all(op(hook) in int8 for hook in hooks if hook.startswith("pre_hooks."))
    # the frozen channel-mean convolutions of the norms and the linear maps stay float
    assert not any(nodes[name].node_type == "linear" for name in map(op, hooks))
    adds = [name for name, node in nodes.items() if node.node_type == "add"]
    assert adds and any(f"post_hooks.{name}__0.0" not in hooks for name in adds)
    assert pin_input_range(final.model) == 1  # the first convolution's input quantizer holds the image


def test_quantizers_round_trip_exactly(tiny_model, tmp_path):
    recipe = load_quant_recipe().with_overrides(calibration_size=16, calibration_patch=32)
    quantized = insert_quantizers(tiny_model, recipe, calibration_set(recipe))
    assert is_quantized(quantized) and quantized is not tiny_model and not is_quantized(tiny_model)
    assert pin_input_range(quantized) == 1  # the input quantizer: the one given the image tensor itself
    # Perturb the learned ranges as QAT would, so that a loader that re-calibrates fails.
    with torch.no_grad():
        for name, tensor in quantized.named_parameters():
            if "__nncf_hooks" in name and tensor.is_floating_point():
                tensor.mul_(1.1)
    path = tmp_path / "q.pt"
    record = quantization_record(quantized, recipe, {"path": "fixture"})
    save_checkpoint(path, quantized, {"step": 0}, quantization=record)

    torch.load(path, weights_only=True)  # no pickled NNCF classes in the file
    loaded = load_checkpoint(path)
    assert loaded.quantization["method"] == "qat" and is_quantized(loaded.model)
    image = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        expected, restored, fp32 = quantized.eval()(image), loaded.model(image), tiny_model(image)
    assert torch.equal(expected, restored)
    assert not torch.allclose(restored, fp32, atol=1e-4)  # the quantizers really act


def test_activation_ranges_learn_at_their_own_rate(tiny_model):
    """range_lr_factor: the activation quantizers' ranges (not the weights' scales, not the pinned
    input range) form an optimizer group of their own, at the factor times the rate, without decay."""
    from nncf.torch.function_hook.wrapper import get_hook_storage
    from nncf.torch.quantization.layers import AsymmetricQuantizer, SymmetricQuantizer

    recipe = load_quant_recipe().with_overrides(calibration_size=16, calibration_patch=32)
    quantized = insert_quantizers(tiny_model, recipe, calibration_set(recipe))
    ranges = activation_ranges(quantized, torch.zeros(1, 3, 32, 32))
    hooks = [hook for _, hook in get_hook_storage(quantized).named_hooks()]
    # The mixed preset: symmetric weights, asymmetric activations -- a second way to tell them apart.
    expected = {id(p) for hook in hooks if isinstance(hook, AsymmetricQuantizer) for p in hook.parameters()
                if p.requires_grad}
    weight_scales = {id(p) for hook in hooks if isinstance(hook, SymmetricQuantizer) for p in hook.parameters()}
    assert {id(p) for p in ranges} == expected and len(ranges) == len(expected) > 0 and not expected & weight_scales
    optimizer, scheduler = make_optimizer(quantized, recipe.train, ranges, 50.0)
    rest, scaled = optimizer.param_groups
    assert scaled["lr"] == pytest.approx(50.0 * rest["lr"]) and scaled["weight_decay"] == 0.0
    assert rest["weight_decay"] == recipe.train.weight_decay
    grouped = [id(p) for group in optimizer.param_groups for p in group["params"]]
    assert sorted(grouped) == sorted(id(p) for p in quantized.parameters())  # every parameter, once


def test_portable_config_refuses_foreign_types():
    assert from_portable_config(portable_config({"a": [1, (2, 3)]})) == {"a": [1, (2, 3)]}
    with pytest.raises(CeaError, match="not an NNCF type"):
        from_portable_config({"__nncf_enum__": "os:system", "value": "ls"})


def test_qat_run_and_resume(tiny_checkpoint, tiny_recipe, tmp_path, monkeypatch, capsys):
    out = tmp_path / "qat"
    # Interrupt the run at its third batch: last.pt (step 2) is on disk, final.pt is not.
    from cea_edge.data import stream as stream_module

    original = stream_module.TrainingStream.batch
    calls = {"n": 0}

    def interrupted(self, size):
        calls["n"] += size == 2  # training batches (the calibration set is drawn as one batch of 16)
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return original(self, size)

    monkeypatch.setattr(stream_module.TrainingStream, "batch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        main(quantize_argv(tiny_checkpoint, tiny_recipe, out))
    assert sorted(p.name for p in out.iterdir()) == ["last.pt"]
    last = load_checkpoint(out / "last.pt")
    assert last.training_state["step"] == 2 and last.quantization["method"] == "qat"

    monkeypatch.setattr(stream_module.TrainingStream, "batch", original)
    assert run_cli(main, ["--resume", str(out / "last.pt"), "--out", str(out), "--no-progress", "--no-eval"]) == 0
    final = load_checkpoint(out / "final.pt")
    assert final.metadata["step"] == 4 and final.training_state is None
    assert [record["step"] for record in final.metadata["validation"]] == [2, 4]
    assert final.quantization["source_checkpoint"]["path"] == str(tiny_checkpoint)
    assert is_quantized(final.model)


def test_ptq_is_calibration_only(tiny_checkpoint, tiny_recipe, tmp_path, capsys):
    out = tmp_path / "ptq"
    assert run_cli(main, quantize_argv(tiny_checkpoint, tiny_recipe, out, "--ptq")) == 0
    assert sorted(p.name for p in out.iterdir()) == ["final.pt"]
    final = load_checkpoint(out / "final.pt")
    assert final.quantization["method"] == "ptq" and final.metadata["step"] == 0
    # A PTQ checkpoint keeps the fp32 weights: only quantizers were added.
    source = load_checkpoint(tiny_checkpoint).model.state_dict()
    weights = {k: v for k, v in final.model.state_dict().items() if "__nncf_hooks" not in k}
    assert weights.keys() == source.keys()
    assert all(torch.equal(weights[k], source[k]) for k in source if not k.endswith("bias"))  # bias correction may move biases


def test_qat_on_photos_calibrates_and_fine_tunes_on_them(tiny_checkpoint, tiny_recipe, tmp_path, monkeypatch):
    """A model trained with --photos is quantized on the same stream: calibration and fine-tuning
    batches come from the photos, and the run records which folder it used."""
    import numpy as np
    from PIL import Image

    from cea_edge.data import stream as stream_module

    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for index in range(3):
        Image.fromarray(rng.integers(0, 256, (40 + 8 * index, 48, 3), dtype=np.uint8)).save(photos / f"p{index}.png")
    seen = []
    original = stream_module.TrainingStream.__init__

    def recording(self, *args, **kwargs):
        original(self, *args, **kwargs)
        seen.append(len(self.real_photos))

    monkeypatch.setattr(stream_module.TrainingStream, "__init__", recording)
    out = tmp_path / "qat"
    assert run_cli(main, quantize_argv(tiny_checkpoint, tiny_recipe, out, "--steps", "2", "--photos", str(photos))) == 0
    assert seen == [3, 3]  # the calibration set, then the fine-tuning stream
    final = load_checkpoint(out / "final.pt")
    assert final.metadata["photos"]["count"] == 3 and final.metadata["photos"]["folder"] == str(photos)


@pytest.mark.parametrize("case", ["already_quantized", "calibration_small", "resume_not_qat", "resume_and_ptq",
                                  "recipe_key", "overflow", "missing_nncf", "photo_suite_without_photos",
                                  "photos_missing"])
def test_bad_input_is_one_clear_error(case, tiny_checkpoint, tiny_recipe, tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    argv = quantize_argv(tiny_checkpoint, tiny_recipe, out)
    expected = {
        "already_quantized": "is already quantized", "calibration_small": "calibration set too small",
        "resume_not_qat": "not the last.pt of a quantization run", "resume_and_ptq": "drop --recipe / --ptq",
        "recipe_key": "unknown key(s) ['bits']", "overflow": "unknown overflow fix 'maybe'",
        "missing_nncf": "pip install 'cea-edge[deploy]'",
        "photo_suite_without_photos": "--eval-suite aio-photo: its photos are the held-out part of a photo corpus: "
                                      "pass --photos DIR",
        "photos_missing": "nowhere' does not exist",
    }[case]
    if case == "already_quantized":
        ptq = tmp_path / "ptq"
        assert run_cli(main, quantize_argv(tiny_checkpoint, tiny_recipe, ptq, "--ptq")) == 0
        argv = quantize_argv(ptq / "final.pt", tiny_recipe, out)
    elif case == "calibration_small":
        argv += ["--calibration-size", "4"]
    elif case == "resume_not_qat":
        argv = ["--resume", str(tiny_checkpoint), "--out", str(out), "--no-eval"]
    elif case == "resume_and_ptq":
        argv = ["--resume", str(tiny_checkpoint), "--ptq", "--out", str(out)]
    elif case == "recipe_key":
        tiny_recipe.write_text(TINY_RECIPE.replace('scheme = "int8"', 'scheme = "int8"\nbits = 4'))
    elif case == "overflow":
        tiny_recipe.write_text(TINY_RECIPE.replace('"enable"', '"maybe"'))
    elif case == "missing_nncf":
        monkeypatch.setitem(sys.modules, "nncf", None)
    elif case == "photo_suite_without_photos":
        argv = [a for a in argv if a != "--no-eval"] + ["--eval-suite", "aio-photo"]
    elif case == "photos_missing":
        argv += ["--photos", str(tmp_path / "nowhere")]
    capsys.readouterr()
    assert run_cli(main, argv) == 2
    errors = error_lines(capsys.readouterr().err)
    assert len(errors) == 1 and expected in errors[0], errors
    assert not out.exists()


@pytest.mark.parametrize("extra, expected", [
    (["--batch", "0"], "--batch 0: must be positive"),
    (["--lr", "-1"], "--lr -1.0: must be positive"),
    (["--range-lr-factor", "0"], "--range-lr-factor 0.0: must be positive"),
    (["--steps", "-5"], "--steps -5: must be >= 0"),
    (["--calibration-size", "4"], "--calibration-size 4: calibration set too small"),
    (["--patch", "30"], "--patch 30: must be a multiple of 4"),
    (["--threads", "0"], "--threads 0: must be positive"),
    (["--ptq", "--steps", "10"], "--ptq means --steps 0"),
])
def test_a_bad_flag_value_names_the_flag_not_the_recipe(extra, expected, tiny_checkpoint, tiny_recipe, tmp_path, capsys):
    out = tmp_path / "out"
    assert run_cli(main, quantize_argv(tiny_checkpoint, tiny_recipe, out, *extra)) == 2
    (error,) = error_lines(capsys.readouterr().err)
    assert error.startswith(f"error: {expected}"), error
    assert not out.exists()


def test_a_bad_recipe_value_names_the_recipe(tiny_checkpoint, tiny_recipe, tmp_path, capsys):
    tiny_recipe.write_text(TINY_RECIPE.replace("batch = ", "batch = 0 #", 1))
    assert run_cli(main, quantize_argv(tiny_checkpoint, tiny_recipe, tmp_path / "out")) == 2
    (error,) = error_lines(capsys.readouterr().err)
    assert error == f"error: recipe {tiny_recipe}: batch 0: must be positive"


@pytest.mark.parametrize("blocker", ["file", "under_file", "final_dir", "quality_dir"])
def test_an_unusable_out_fails_before_calibration(blocker, tiny_checkpoint, tiny_recipe, tmp_path, capsys, monkeypatch):
    a_file = tmp_path / "a_file"
    a_file.write_text("keep me")
    out = {"file": a_file, "under_file": a_file / "run"}.get(blocker, tmp_path / "run")
    if blocker in ("final_dir", "quality_dir"):
        (out / ("final.pt" if blocker == "final_dir" else "quality.json")).mkdir(parents=True)
    monkeypatch.setattr("cea_edge.quantize.__main__.quantize", lambda *a, **k: pytest.fail("the work started"))
    assert run_cli(main, quantize_argv(tiny_checkpoint, tiny_recipe, out, "--ptq")) == 2
    (error,) = error_lines(capsys.readouterr().err)
    assert "pass --out" in error and a_file.read_text() == "keep me"
