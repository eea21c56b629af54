"""Training: the loss falls, checkpoints round-trip, resume continues, torchrun works."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from cea_edge.data.camera import mix_with
from cea_edge.data.stream import TrainingStream
from cea_edge.errors import CeaError
from cea_edge.model import CEANet, get_preset
from cea_edge.model.checkpoint import (
    DEFAULT_CHECKPOINT,
    DEFAULT_QAT_CHECKPOINT,
    EDGE_V1_CHECKPOINT,
    EDGE_V1_QAT_CHECKPOINT,
    file_sha256,
    load_checkpoint,
    save_checkpoint,
)
from cea_edge.train import DEFAULT_SCHEDULE, TrainConfig, cosine_with_warmup, train
from cea_edge.train.loop import context_view, factor_distance

QUICK = dict(preset="tiny", batch=2, patch=32, warmup=2, val_every=3, save_every=3, val_suite="aio-synth-mini")


def test_loss_falls_on_a_tiny_run():
    torch.manual_seed(0)
    model = CEANet(get_preset("tiny"))
    degraded, clean = TrainingStream(32, seed=0, pool_size=4).batch(8)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        loss = (model(degraded) - clean).abs().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0]


def test_schedule_warms_up_then_decays_to_the_floor():
    schedule = DEFAULT_SCHEDULE.with_overrides(steps=100, warmup=10, lr=1e-3, min_lr=1e-5)
    factor = cosine_with_warmup(schedule)
    assert factor(0) == 0.1 and factor(9) == 1.0
    assert factor(50) < factor(10) and abs(factor(100) - 0.01) < 1e-9


def test_run_metadata_keeps_the_keys_of_shipped_checkpoints():
    """train_config / quantize_config are flat dicts with the keys (and order) checkpoints always had:
    a run that uses no later field records v1's keys; edge2's record is rebuilt from its own values."""
    plain = list(TrainConfig().record())
    assert plain == list(load_checkpoint(EDGE_V1_CHECKPOINT).metadata["train_config"])
    assert plain == list(load_checkpoint(EDGE_V1_QAT_CHECKPOINT).metadata["quantize_config"])
    assert plain == list(load_checkpoint(DEFAULT_QAT_CHECKPOINT).metadata["quantize_config"])  # QAT: no context loss
    shipped = load_checkpoint(DEFAULT_CHECKPOINT).metadata["train_config"]
    assert shipped["context_loss"] > 0
    schedule = {key: value for key, value in shipped.items() if key not in ("preset", "adapters", "val_suite")}
    rebuilt = TrainConfig.build(shipped["preset"], shipped["adapters"], shipped["val_suite"], **schedule)
    assert rebuilt.record() == shipped and list(rebuilt.record()) == list(shipped)


def test_checkpoint_round_trip(tmp_path, tiny_model):
    path = tmp_path / "model.pt"
    save_checkpoint(path, tiny_model, {"step": 7})
    loaded = load_checkpoint(path, expected_preset="tiny")
    image = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(loaded.model(image), tiny_model(image))
    assert loaded.config == tiny_model.config and loaded.metadata == {"step": 7}
    assert loaded.training_state is None
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]  # no temporary left over


def test_train_writes_checkpoints_and_resumes(tmp_path):
    out = tmp_path / "run"
    final = train(TrainConfig.build(steps=3, **QUICK), out, progress=False)
    first = load_checkpoint(final)
    assert first.metadata["step"] == 3 and len(first.metadata["validation"]) == 1
    assert load_checkpoint(out / "last.pt").training_state["step"] == 3
    resumed = train(TrainConfig.build(steps=6, **QUICK), out, resume=out / "last.pt", progress=False)
    meta = load_checkpoint(resumed).metadata
    assert meta["step"] == 6 and [v["step"] for v in meta["validation"]] == [3, 6]


def test_no_adapter_training_records_the_ablation_config(tmp_path):
    final = train(TrainConfig.build(steps=1, adapters=False, **QUICK), tmp_path, progress=False)
    loaded = load_checkpoint(final)
    assert loaded.config.adapter_sites == () and loaded.config.name == "tiny-noadapter"


def test_torchrun_two_cpu_processes(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29517",
               "-m", "cea_edge.train", "--preset", "tiny", "--steps", "3", "--batch", "2", "--patch", "32",
               "--val-every", "3", "--save-every", "3", "--out", str(tmp_path), "--no-progress", "--device", "cpu"]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    loaded = load_checkpoint(Path(tmp_path) / "final.pt")
    assert loaded.metadata["world_size"] == 2 and loaded.metadata["step"] == 3


def test_init_fine_tunes_from_weights_and_checks_the_preset(tmp_path, tiny_checkpoint):
    final = train(TrainConfig.build(steps=1, lr=0.0, min_lr=0.0, frequency_loss=0.0, **QUICK), tmp_path / "ft",
                  progress=False, init=tiny_checkpoint)
    start, tuned = load_checkpoint(tiny_checkpoint).model, load_checkpoint(final).model
    for (name, a), b in zip(start.state_dict().items(), tuned.state_dict().values()):
        assert torch.equal(a, b), name  # lr 0: the weights are exactly the initial ones
    with pytest.raises(CeaError, match="holds 'tiny'"):
        train(TrainConfig.build(steps=1, adapters=False, **QUICK), tmp_path / "bad", progress=False, init=tiny_checkpoint)
    # A fine-tune of that fine-tune records the whole lineage, the oldest start innermost.
    again = train(TrainConfig.build(steps=1, **QUICK), tmp_path / "ft2", progress=False, init=final)
    lineage = load_checkpoint(again).metadata["init"]
    assert lineage["sha256"] == file_sha256(final) and lineage["init"]["sha256"] == file_sha256(tiny_checkpoint)
    assert "init" not in lineage["init"]


def test_context_view_is_the_runtimes_shrunk_and_mirror_padded_view():
    """Box-averaged 2x down (context_image's area resize at an integer factor); half the time the
    lower rows mirror the kept ones, as context_image pads a photo that is not square."""
    batch = torch.rand(2, 3, 16, 16)
    shrunk = torch.nn.functional.avg_pool2d(batch, 2)
    views = [context_view(batch, np.random.default_rng(seed)) for seed in range(8)]
    assert all(view.shape == (2, 3, 8, 8) for view in views)
    assert any(torch.equal(view, shrunk) for view in views)
    padded = next(view for view in views if not torch.equal(view, shrunk))
    kept = next(k for k in range(8) if not torch.equal(padded[..., k, :], shrunk[..., k, :]))
    assert torch.equal(padded[..., :kept, :], shrunk[..., :kept, :])
    assert torch.equal(padded[..., kept, :], shrunk[..., kept - 1, :])  # the edge row repeats (symmetric)


def test_factor_distance_is_zero_only_for_equal_factors():
    model = CEANet(get_preset("tiny2"))
    own = model.generate_factors(torch.rand(1, 3, 32, 32))
    assert factor_distance(own, own) == 0
    other = [type(f)(f[0] + 1, f[1]) for f in own]
    assert factor_distance(own, other) == pytest.approx(0.5)  # routing gains off by 1, direction gains equal


def test_v2_global_context_training_and_the_ablations_record_what_they_trained(tmp_path):
    v2 = dict(QUICK, preset="tiny2")
    final = train(TrainConfig.build(steps=2, context_loss=0.5, **v2), tmp_path / "ctx", progress=False)
    loaded = load_checkpoint(final)
    assert loaded.config.design == "v2" and loaded.metadata["train_config"]["context_loss"] == 0.5
    static = load_checkpoint(train(TrainConfig.build(steps=1, static_adapters=True, **v2), tmp_path / "static",
                                   progress=False))
    assert static.config.adapter.mode == "static" and static.metadata["train_config"]["static_adapters"] is True
    # a run that uses neither records the keys every v1 checkpoint has
    assert list(TrainConfig.build(**QUICK).record()) == list(load_checkpoint(EDGE_V1_CHECKPOINT).metadata["train_config"])


def test_init_grows_a_preset_into_one_with_more_blocks(tmp_path, tiny_checkpoint, monkeypatch):
    """edge2 -> edge3: the added blocks start as identities, so the grown model computes what the start did."""
    from dataclasses import replace

    from cea_edge.model import config as model_config

    deeper = replace(get_preset("tiny"), name="tiny-deep", middle_blocks=3, decoder_blocks=(2, 1))
    monkeypatch.setitem(model_config.PRESETS, "tiny-deep", deeper)
    final = train(TrainConfig.build(steps=1, lr=0.0, min_lr=0.0, **dict(QUICK, preset="tiny-deep")), tmp_path / "grown",
                  progress=False, init=tiny_checkpoint)
    start, grown = load_checkpoint(tiny_checkpoint).model, load_checkpoint(final).model
    assert grown.config == deeper
    image = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(start(image), grown(image))
    wider = replace(deeper, name="tiny-wide", width=12)
    monkeypatch.setitem(model_config.PRESETS, "tiny-wide", wider)
    with pytest.raises(CeaError, match="does not extend 'tiny'"):
        train(TrainConfig.build(steps=1, **dict(QUICK, preset="tiny-wide")), tmp_path / "bad", progress=False,
              init=tiny_checkpoint)


def test_a_run_on_a_photo_folder_under_bf16_records_both(tmp_path):
    from PIL import Image

    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for index in range(3):
        Image.fromarray(rng.integers(0, 256, (48 + 8 * index, 64, 3), dtype=np.uint8)).save(photos / f"p{index}.png")
    mix = mix_with({"composite": 0.5, "clean": 0.0})
    final = train(TrainConfig.build(steps=2, bf16=True, mix=mix, **QUICK), tmp_path / "run", progress=False,
                  photos=photos)
    meta = load_checkpoint(final).metadata
    assert meta["train_config"]["bf16"] is True and meta["photos"]["count"] == 3
    assert meta["train_config"]["mix"] == dict(mix) and "clean" not in meta["train_config"]["mix"]
    assert all(torch.isfinite(t).all() for t in load_checkpoint(final).model.state_dict().values())
