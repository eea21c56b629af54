"""Data: clean sources, degradation cases, the evaluation suite and the training stream."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from cea_edge.data.degradations import CASES, add_haze, random_degradation, region_mask
from cea_edge.data.sources import EVAL_PHOTOS, TRAIN_PHOTOS, dead_leaves, load_photo
from cea_edge.data.stream import TrainingStream
from cea_edge.data.suite import SUITES, SuiteSpec, build_suite
from cea_edge.errors import CeaError
from cea_edge.metrics import psnr


def digest(samples) -> str:
    hasher = hashlib.sha256()
    for sample in samples:
        hasher.update(sample.case.encode() + sample.degraded.tobytes())
    return hasher.hexdigest()


MINI = SuiteSpec("mini", ("astronaut", "camera"), crop=64, seed=3)


def test_suite_is_deterministic_and_covers_every_family():
    first, second = build_suite(MINI), build_suite(MINI)
    assert digest(first) == digest(second)
    assert len(first) == 2 * len(CASES)
    assert {s.family for s in first} == {"single", "spatial", "composite"}
    assert digest(build_suite(SuiteSpec("mini", MINI.photos, MINI.crop, seed=4))) != digest(first)


def test_named_suite_uses_held_out_photos_only():
    assert not set(EVAL_PHOTOS) & set(TRAIN_PHOTOS)
    assert set(SUITES["aio-synth"].photos) == set(EVAL_PHOTOS)
    with pytest.raises(CeaError, match="unknown evaluation suite"):
        build_suite("nope")


def test_every_case_degrades_within_range():
    samples = build_suite(MINI)
    for sample in samples:
        assert sample.degraded.dtype == np.float32 and sample.degraded.shape == sample.clean.shape
        assert 0.0 <= sample.degraded.min() and sample.degraded.max() <= 1.0
        assert psnr(sample.clean, sample.degraded) < 35.0, sample.case
    by_case = {s.case: psnr(s.clean, s.degraded) for s in samples if s.photo == "astronaut"}
    assert by_case["noise15"] > by_case["noise25"] > by_case["noise50"]


def test_spatial_cases_leave_part_of_the_image_nearly_clean():
    image = load_photo("astronaut")[:128, :128]
    rng = np.random.default_rng(5)
    degraded = CASES["haze_region"](image, rng)
    error = np.abs(degraded - image).mean(axis=2)
    assert np.quantile(error, 0.2) < 0.01 < np.quantile(error, 0.9)


def test_haze_follows_the_scattering_model():
    image = np.full((32, 32, 3), 0.2, np.float32)
    hazy = add_haze(image, np.random.default_rng(0), beta=50.0, airlight=0.9)
    assert np.allclose(hazy, 0.9, atol=0.05)  # opaque haze -> airlight
    assert np.allclose(add_haze(image, np.random.default_rng(0), beta=0.0, airlight=0.9), image)


def test_region_masks_are_soft_and_in_range():
    rng = np.random.default_rng(0)
    for kind in ("ramp", "blob"):
        mask = region_mask(rng, (40, 50), kind)
        assert mask.shape == (40, 50) and mask.min() >= 0.0 and mask.max() <= 1.0 and mask.max() - mask.min() > 0.5


def test_dead_leaves_is_seeded_and_varied():
    a = dead_leaves(np.random.default_rng(1), 64)
    assert np.array_equal(a, dead_leaves(np.random.default_rng(1), 64))
    assert not np.array_equal(a, dead_leaves(np.random.default_rng(2), 64))
    assert a.shape == (64, 64, 3) and 0.0 <= a.min() and a.max() <= 1.0 and a.std() > 0.05


def test_random_degradation_is_seeded_and_really_degrades():
    """20 draws: reproducible from the seed, each in range, each a visible degradation
    (measured PSNR 7.8-39.0 dB, median 25.5), and varied (19 distinct: a deterministic kind
    with a discrete strength can repeat)."""
    image = load_photo("brick")[:64, :64]
    draws = [random_degradation(image, rng) for rng in [np.random.default_rng(0)] for _ in range(20)]
    again = [random_degradation(image, rng) for rng in [np.random.default_rng(0)] for _ in range(20)]
    assert all(np.array_equal(a, b) for a, b in zip(draws, again))
    for degraded in draws:
        assert degraded.dtype == np.float32 and degraded.shape == image.shape
        assert 0.0 <= degraded.min() and degraded.max() <= 1.0
    quality = [psnr(image, degraded) for degraded in draws]
    assert max(quality) < 40.0 and np.median(quality) < 30.0
    assert len({degraded.tobytes() for degraded in draws}) >= 15


def test_training_stream_is_reproducible_per_rank():
    one = TrainingStream(32, seed=1, rank=0, pool_size=2).batch(3)
    again = TrainingStream(32, seed=1, rank=0, pool_size=2).batch(3)
    other_rank = TrainingStream(32, seed=1, rank=1, pool_size=2).batch(3)
    assert one[0].shape == one[1].shape == (3, 3, 32, 32)
    assert all(np.array_equal(a, b) for a, b in zip(one, again))
    assert not np.array_equal(one[1], other_rank[1])


def test_a_stream_of_real_photos_cuts_from_them_and_degrades_like_a_camera(monkeypatch):
    from cea_edge.data import stream as stream_module
    from cea_edge.data.camera import MIX, mix_with

    photo = np.full((80, 90, 3), 200, np.uint8)
    photo[::2] = 40  # stripes: a patch cut from it is recognisable
    monkeypatch.setattr(stream_module, "REAL_PHOTO_FRACTION", 1.0)
    stream = TrainingStream(32, seed=2, pool_size=1, photos=[photo])
    assert stream.degrade.func is stream_module.camera_degradation and stream.degrade.keywords == {"mix": MIX}
    tuned = mix_with({"composite": 1.0})
    assert TrainingStream(32, seed=2, pool_size=1, photos=[photo], mix=tuned).degrade.keywords == {"mix": tuned}
    degraded, clean = stream.batch(4)
    values = np.unique(np.round(clean.numpy() * 255))
    assert set(values) == {40, 200}  # every clean patch is from the photo, rotated / flipped
    assert np.array_equal(np.round(degraded.numpy() * 255) / 255, degraded.numpy())  # 8-bit inputs
    assert TrainingStream(32, seed=2, pool_size=1).degrade is random_degradation  # no photos: the idealised model


def test_the_photo_suite_needs_a_corpus_and_says_how_to_get_one(tmp_path):
    with pytest.raises(CeaError, match="python -m cea_edge.data photos --out DIR"):
        build_suite("aio-photo")
    assert SUITES["aio-photo"].corpus and set(SUITES["aio-photo"].cases) >= {"clean", "noise15", "low+haze+rain"}
