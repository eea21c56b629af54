"""Image quality metrics: PSNR and SSIM from scikit-image (not re-implemented here)."""

from __future__ import annotations

import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity


def psnr(reference: np.ndarray, image: np.ndarray) -> float:
    """PSNR in dB of (H, W, 3) images in [0, 1]."""
    return float(peak_signal_noise_ratio(reference, np.clip(image, 0.0, 1.0), data_range=1.0))


def ssim(reference: np.ndarray, image: np.ndarray) -> float:
    """SSIM of (H, W, 3) images in [0, 1], per channel and averaged (scikit-image defaults)."""
    return float(structural_similarity(reference, np.clip(image, 0.0, 1.0), data_range=1.0, channel_axis=2))
