"""cea_edge.metrics: exact PSNR on tiny arrays; SSIM is Wang et al.'s (Gaussian sigma = 1.5), not a 7x7 box."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter
from skimage.metrics import structural_similarity

from cea_edge.metrics import effective_rank, max_abs_error, psnr, ssim


def wang_ssim(reference: np.ndarray, image: np.ndarray) -> float:
    """Wang et al. 2004 written out: Gaussian window sigma 1.5 (11x11), population moments, 5 px border left out."""
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    per_channel = []
    for channel in range(reference.shape[2]):
        x, y = reference[..., channel].astype(np.float64), image[..., channel].astype(np.float64)
        blur = lambda a: gaussian_filter(a, sigma=1.5, truncate=3.5, mode="reflect")  # noqa: E731
        mu_x, mu_y = blur(x), blur(y)
        var_x, var_y, cov = blur(x * x) - mu_x ** 2, blur(y * y) - mu_y ** 2, blur(x * y) - mu_x * mu_y
        index = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x ** 2 + mu_y ** 2 + c1) * (var_x + var_y + c2))
        per_channel.append(index[5:-5, 5:-5].mean())
    return float(np.mean(per_channel))


@pytest.fixture
def noisy_pair() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    ramp = np.linspace(0.1, 0.9, 40)
    clean = np.stack([np.add.outer(ramp, ramp) / 2, np.outer(ramp, ramp), np.tile(ramp, (40, 1))], axis=2)
    return clean, np.clip(clean + rng.normal(0.0, 0.08, clean.shape), 0.0, 1.0)


def test_psnr_of_a_constant_error_is_exact():
    reference = np.full((4, 5, 3), 0.5)
    assert psnr(reference, reference + 0.1) == pytest.approx(20.0, abs=1e-9)  # MSE 0.01
    assert psnr(reference, reference - 0.01) == pytest.approx(40.0, abs=1e-9)
    assert psnr(reference * 255, reference * 255 + 25.5, data_range=255.0) == pytest.approx(20.0, abs=1e-9)


def test_psnr_takes_a_stack_of_tiles_and_averages_the_mse_over_all_of_them():
    reference = np.full((2, 3, 4, 4), 0.5, dtype=np.float32)
    image = reference.copy()
    image[0] += 0.1  # half the elements off by 0.1: MSE 0.005
    assert psnr(reference, image) == pytest.approx(10 * math.log10(1 / 0.005), abs=1e-5)


def test_psnr_is_inf_when_identical_and_clamps_both_images():
    reference = np.full((3, 3, 3), 0.25)
    assert psnr(reference, reference) == math.inf
    assert psnr(np.ones((2, 2, 3)), np.full((2, 2, 3), 1.7)) == math.inf  # overshoot is clamped to 1
    assert psnr(np.full((2, 2, 3), -0.5), np.full((2, 2, 3), 0.1)) == pytest.approx(20.0, abs=1e-9)
    with pytest.raises(ValueError, match="one shape"):
        psnr(np.zeros((2, 2, 3)), np.zeros((2, 3, 3)))


def test_max_abs_error_is_unclamped():
    assert max_abs_error(np.zeros((2, 2)), np.array([[0.0, -0.5], [1.75, 0.25]])) == 1.75


def test_ssim_is_one_for_identical_images_and_symmetric(noisy_pair):
    clean, noisy = noisy_pair
    assert ssim(clean, clean) == pytest.approx(1.0, abs=1e-12)
    assert ssim(clean, noisy) == pytest.approx(ssim(noisy, clean), abs=1e-12)
    assert 0.0 < ssim(clean, noisy) < 1.0


def test_ssim_is_wang_et_al_with_a_gaussian_window(noisy_pair):
    clean, noisy = noisy_pair
    assert ssim(clean, noisy) == pytest.approx(wang_ssim(clean, noisy), abs=1e-9)
    assert ssim(clean.astype(np.float32), noisy.astype(np.float32)) == pytest.approx(wang_ssim(clean, noisy), abs=1e-6)


def test_ssim_is_not_scikit_images_default_uniform_window(noisy_pair):
    clean, noisy = noisy_pair
    uniform = structural_similarity(clean, noisy, data_range=1.0, channel_axis=2)  # 7x7 box, sample covariance
    assert abs(ssim(clean, noisy) - uniform) > 0.01


def test_ssim_clamps_the_image_and_rejects_other_shapes(noisy_pair):
    clean, noisy = noisy_pair
    overshoot = noisy.copy()
    overshoot[noisy == 1.0] = 1.5  # clipped highlights; the clamp brings them back to 1
    assert ssim(clean, overshoot) == ssim(clean, noisy)
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        ssim(clean[..., 0], noisy[..., 0])


def test_effective_rank_counts_equal_directions_and_is_zero_for_nothing():
    rng = np.random.default_rng(0)
    u, v = rng.normal(size=(8, 1)), rng.normal(size=(1, 8))
    assert effective_rank(u @ v) == pytest.approx(1.0)
    assert effective_rank(np.diag([2.0, 2.0, 2.0, 0.0])) == pytest.approx(3.0)
    assert effective_rank(np.zeros((4, 4))) == 0.0
    assert 1.0 < effective_rank(np.diag([1.0, 0.1])) < 2.0  # a weak second direction counts a little
