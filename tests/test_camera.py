"""The camera-realistic degradations: each physical step does what its model says, on tiny images."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from cea_edge.data import camera
from cea_edge.data.camera import (
    DAYLIGHT,
    PHOTO_CASES,
    Camera,
    camera_degradation,
    capture,
    defocus_kernel,
    demosaic,
    linear_to_srgb,
    mix_with,
    mosaic,
    motion_kernel,
    photograph,
    sensor_noise,
    srgb_to_linear,
)
from cea_edge.errors import CeaError

QUIET = Camera(shot=0.0, read=0.0, wb_gains=(2.0, 1.0, 1.6))  # no noise, no ISP extras, no JPEG


def gradient_image(size: int = 64) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / (size - 1)
    return np.stack([0.2 + 0.6 * xx, 0.3 + 0.4 * yy, 0.5 + 0.3 * xx * yy], axis=-1).astype(np.float32)


def test_linear_light_round_trip_and_curve():
    image = gradient_image()
    assert np.abs(linear_to_srgb(srgb_to_linear(image)) - image).max() < 1e-5
    assert srgb_to_linear(np.float32([0.5]))[0] == pytest.approx(0.2140, abs=1e-4)  # the sRGB standard's value


def test_a_flat_field_survives_mosaic_demosaic_and_a_quiet_camera():
    flat = np.full((16, 20, 3), (0.3, 0.5, 0.2), np.float32)
    assert np.allclose(demosaic(mosaic(flat)), flat, atol=1e-6)
    raw = mosaic(gradient_image(8))
    assert raw.shape == (8, 8) and raw[0, 0] == gradient_image(8)[0, 0, 0] and raw[1, 1] == gradient_image(8)[1, 1, 2]
    srgb = np.full((16, 16, 3), (0.6, 0.4, 0.3), np.float32)
    out = capture(srgb_to_linear(srgb), np.random.default_rng(0), QUIET)
    assert np.allclose(out, srgb, atol=1e-5)


def test_sensor_noise_is_signal_dependent_poisson_gaussian():
    shot, read = 4e-3, 5e-3
    noisy_camera = Camera(shot=shot, read=read, wb_gains=(1.0, 1.0, 1.0))
    rng = np.random.default_rng(1)
    for level in (0.05, 0.6):
        raw = np.full((256, 256), level, np.float32)
        variance = np.var(sensor_noise(raw, rng, noisy_camera) - raw)
        assert variance == pytest.approx(shot * level + read**2, rel=0.05)


def test_demosaicing_makes_the_noise_spatially_correlated():
    """What distinguishes camera noise from the i.i.d. noise of the benchmarks."""
    flat = np.full((128, 128, 3), 0.2, np.float32)
    rng = np.random.default_rng(2)
    noisy_camera = replace(QUIET, shot=5e-3, read=5e-3)
    residual = capture(flat, rng, noisy_camera)[..., 1] - linear_to_srgb(flat)[..., 1]
    correlation = np.corrcoef(residual[:, :-1].ravel(), residual[:, 1:].ravel())[0, 1]
    white = rng.standard_normal((128, 128))
    assert correlation > 0.3 and abs(np.corrcoef(white[:, :-1].ravel(), white[:, 1:].ravel())[0, 1]) < 0.05


def test_blur_kernels_are_normalised_and_shaped():
    rng = np.random.default_rng(3)
    for extent in (3.0, 9.0, 17.0):
        kernel = motion_kernel(rng, extent)
        assert kernel.min() >= 0 and kernel.sum() == pytest.approx(1.0, abs=1e-5)
        assert kernel.shape[0] == kernel.shape[1] <= int(np.ceil(extent)) + 3
        assert (kernel > 0).sum() > 2  # a trajectory, not a point
    disk = defocus_kernel(2.5)
    assert disk.sum() == pytest.approx(1.0, abs=1e-5) and np.allclose(disk, disk.T) and np.allclose(disk, disk[::-1])
    assert disk[disk.shape[0] // 2, disk.shape[1] // 2] == disk.max() and disk[0, 0] == 0


def test_haze_is_denser_far_away_and_rain_brightens_a_dark_scene():
    rng = np.random.default_rng(4)
    scene = np.full((64, 64, 3), 0.05, np.float32)
    hazy = camera.haze(scene, rng, beta=1.5, airlight=0.9)
    assert hazy[:16].mean() > hazy[-16:].mean() > scene.mean()  # the top of the frame is farther
    rainy = camera.rain(scene, rng, density=0.004, opacity=0.6)
    changed = np.abs(rainy - scene).max(axis=-1) > 0.01
    assert 0.005 < changed.mean() < 0.6 and (rainy >= scene - 1e-6).all()


def test_low_light_is_dark_and_noisy_and_the_order_is_physical():
    image = gradient_image()
    dark = photograph(image, np.random.default_rng(5), ("lowlight",), DAYLIGHT)
    assert dark.mean() < 0.75 * image.mean()
    # the order given does not matter: scene, optics, exposure, sensor, ISP, JPEG
    a = photograph(image, np.random.default_rng(6), ("lowlight", "haze", "motion"), QUIET)
    b = photograph(image, np.random.default_rng(6), ("motion", "haze", "lowlight"), QUIET)
    assert np.array_equal(a, b)


def test_the_training_sampler_gives_8_bit_inputs_reproducibly_and_some_untouched():
    image = np.round(gradient_image(32) * 255) / 255
    draws = [camera_degradation(image, np.random.default_rng([7, i])) for i in range(200)]
    assert all(d.shape == image.shape and d.dtype == np.float32 for d in draws)
    assert all(np.array_equal(np.round(d * 255) / 255, d) and d.min() >= 0 and d.max() <= 1 for d in draws)
    assert np.array_equal(draws[3], camera_degradation(image, np.random.default_rng([7, 3])))
    identical = sum(np.array_equal(d, image) for d in draws) / len(draws)
    assert 0.01 < identical < 0.15  # the "clean" share of MIX (5 %), give or take


def test_the_photo_cases_cover_every_family_with_clean_inputs_untouched():
    assert {case.family for case in PHOTO_CASES.values()} == {"clean", "mild", "single", "spatial", "composite"}
    image = np.round(gradient_image(64) * 255) / 255
    for name, case in PHOTO_CASES.items():
        out = case(image, np.random.default_rng(8))
        assert out.shape == image.shape and np.isfinite(out).all(), name
        if name == "clean":
            assert np.array_equal(out, image)
        else:
            assert not np.array_equal(out, image), name
    noise = PHOTO_CASES["noise25"](image, np.random.default_rng(9)) - image
    assert np.std(noise) * 255 == pytest.approx(25, rel=0.1)


def test_a_re_weighted_mix_draws_only_what_it_weighs_and_refuses_bad_weights():
    image = np.round(gradient_image(32) * 255) / 255
    clean_only = mix_with({kind: 0.0 for kind, _ in camera.MIX} | {"clean": 1.0})
    assert clean_only == (("clean", 1.0),)
    assert all(np.array_equal(camera_degradation(image, np.random.default_rng(i), clean_only), image) for i in range(5))
    composites = mix_with({kind: 0.0 for kind, _ in camera.MIX} | {"composite": 1.0})
    # Every composite darkens, hazes or rains over the whole image: none comes back near the input.
    assert all(np.abs(camera_degradation(image, np.random.default_rng(i), composites) - image).mean() > 0.01
               for i in range(5))
    assert dict(mix_with({"composite": 0.3})) == dict(camera.MIX) | {"composite": 0.3}  # others keep theirs
    for overrides, message in (({"snow": 1.0}, "unknown kind"), ({"clean": -1.0}, ">= 0"),
                               ({"clean": float("nan")}, "finite"),
                               ({kind: 0.0 for kind, _ in camera.MIX}, "every weight is zero")):
        with pytest.raises(CeaError, match=message):
            mix_with(overrides)
