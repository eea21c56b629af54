"""Image quality metrics: the one place cea-edge computes PSNR and SSIM.

Everything that reports a PSNR or SSIM (evaluate, quantize, export verification,
benchmarks, tests) calls these functions, so every number in the repository follows
one convention:

- **Colour**: RGB, all three channels (not the Y channel of YCbCr).
- **Range**: images are floats in [0, ``data_range``] (1.0 everywhere in cea-edge); both
  images are clamped to that range first, as a viewer would see them.
- **Border**: no crop for PSNR. SSIM uses no crop either, except the one scikit-image
  applies: the window is filtered over the whole image (``mode='reflect'`` padding), and
  the mean SSIM leaves out a strip of the window half-width, 5 px, on every side of
  every channel (``(win_size - 1) // 2`` with ``win_size = 11``).
- **PSNR**: ``10 log10(data_range^2 / MSE)``, the MSE taken over all elements (all
  pixels and channels, and all tiles of a stack) in float64; ``inf`` when identical.
- **SSIM**: Wang et al. 2004 ("Image quality assessment: from error visibility to
  structural similarity"): a Gaussian window with sigma = 1.5, truncated at 3.5 sigma
  (an 11x11 window), K1 = 0.01, K2 = 0.03, population (not sample) covariance; computed
  per RGB channel in float64 and the channel means averaged. This is scikit-image's
  ``structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False)``
  -- not its default 7x7 uniform window with sample covariance, which gives different
  (usually lower) numbers than the ones papers report.
"""

from __future__ import annotations

import math

import numpy as np
from skimage.metrics import structural_similarity

SSIM_SIGMA = 1.5  # Wang et al. 2004; scikit-image truncates the Gaussian at 3.5 sigma: an 11x11 window
SSIM_BORDER = 5  # the window half-width that scikit-image leaves out of the mean SSIM, px


def _clamped(image: np.ndarray, data_range: float) -> np.ndarray:
    return np.clip(np.asarray(image, dtype=np.float64), 0.0, data_range)


def psnr(reference: np.ndarray, image: np.ndarray, data_range: float = 1.0) -> float:
    """PSNR in dB of two arrays of the same shape, e.g. (H, W, 3) or a stack (N, 3, T, T).

    Both are clamped to [0, data_range]; the MSE is over all elements, in float64.
    Returns ``math.inf`` when the clamped arrays are identical.
    """
    reference, image = np.asarray(reference), np.asarray(image)
    if reference.shape != image.shape:
        raise ValueError(f"PSNR needs arrays of one shape, got {reference.shape} and {image.shape}")
    error = _clamped(image, data_range) - _clamped(reference, data_range)
    mse = float(np.mean(error * error))
    return math.inf if mse == 0.0 else 10.0 * math.log10(data_range * data_range / mse)


def max_abs_error(reference: np.ndarray, image: np.ndarray) -> float:
    """The largest absolute element-wise difference, unclamped, in float64."""
    return float(np.max(np.abs(np.asarray(image, dtype=np.float64) - np.asarray(reference, dtype=np.float64))))


def ssim(reference: np.ndarray, image: np.ndarray, data_range: float = 1.0) -> float:
    """Mean SSIM (Wang et al. 2004, see the module docstring) of (H, W, 3) images, H, W >= 11.

    Both images are clamped to [0, data_range]; SSIM per RGB channel, then averaged.
    """
    reference, image = np.asarray(reference), np.asarray(image)
    if reference.shape != image.shape or reference.ndim != 3 or reference.shape[2] != 3:
        raise ValueError(f"SSIM needs two (H, W, 3) images of one shape, got {reference.shape} and {image.shape}")
    return float(structural_similarity(
        _clamped(reference, data_range), _clamped(image, data_range), data_range=data_range, channel_axis=2,
        gaussian_weights=True, sigma=SSIM_SIGMA, use_sample_covariance=False))


def effective_rank(matrix: np.ndarray) -> float:
    """Effective rank of a matrix (Roy & Vetterli 2007): exp of the entropy of its normalised
    singular values -- 1.0 for a rank-1 map, k for k equal directions, 0.0 for the zero matrix."""
    singular = np.linalg.svd(np.asarray(matrix, dtype=np.float64), compute_uv=False)
    total = singular.sum()
    if total <= 0:
        return 0.0
    share = singular[singular > 0] / total
    return float(np.exp(-(share * np.log(share)).sum()))
