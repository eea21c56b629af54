"""Synthetic all-in-one degradations: primitives, named evaluation cases, a training sampler.

All functions take and return float32 (H, W, 3) arrays in [0, 1] and draw every random
choice from the numpy Generator they are given, so a seed fixes the result.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Callable

import numpy as np
from PIL import Image
from scipy import ndimage

from cea_edge.photo_io import to_uint8

Degrade = Callable[[np.ndarray, np.random.Generator], np.ndarray]


# --- primitives --------------------------------------------------------------------


def add_noise(image: np.ndarray, rng: np.random.Generator, sigma: float | np.ndarray) -> np.ndarray:
    """Additive white Gaussian noise; sigma on the 0-255 scale (scalar or an (H, W) map)."""
    sigma_map = np.asarray(sigma, dtype=np.float32)
    if sigma_map.ndim == 2:
        sigma_map = sigma_map[..., None]
    return image + rng.standard_normal(image.shape, dtype=np.float32) * (sigma_map / 255.0)


def line_kernel(length: int, angle: float) -> np.ndarray:
    """A normalised straight-line (motion) kernel of odd size ``length``."""
    size = length if length % 2 else length + 1
    kernel = np.zeros((size, size), dtype=np.float32)
    centre = size // 2
    for t in np.linspace(-centre, centre, 4 * size):
        y = int(round(centre + t * np.sin(angle)))
        x = int(round(centre + t * np.cos(angle)))
        kernel[y, x] = 1.0
    return kernel / kernel.sum()


def disk_kernel(radius: float) -> np.ndarray:
    extent = int(np.ceil(radius))
    yy, xx = np.mgrid[-extent : extent + 1, -extent : extent + 1]
    kernel = (yy * yy + xx * xx <= radius * radius).astype(np.float32)
    return kernel / kernel.sum()


def blur(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    return ndimage.convolve(image, kernel[..., None], mode="reflect")


def rain_layer(rng: np.random.Generator, shape: tuple[int, int], density: float, length: int, angle: float) -> np.ndarray:
    """Rain streaks in [0, 1]: sparse drops smeared along one direction."""
    drops = (rng.random(shape, dtype=np.float32) < density) * rng.uniform(0.4, 1.0, shape).astype(np.float32)
    streaks = ndimage.convolve(drops, line_kernel(length, angle), mode="wrap") * length * 0.5
    return np.clip(ndimage.gaussian_filter(streaks, 0.6), 0.0, 1.0)


def add_rain(image: np.ndarray, rng: np.random.Generator, density: float, length: int, intensity: float) -> np.ndarray:
    angle = np.pi / 2 + rng.uniform(-0.4, 0.4)  # near vertical
    streaks = intensity * rain_layer(rng, image.shape[:2], density, length, angle)[..., None]
    return 1.0 - (1.0 - image) * (1.0 - streaks)  # screen blend: streaks brighten


def smooth_field(rng: np.random.Generator, shape: tuple[int, int], cells: int = 4) -> np.ndarray:
    """A smooth random field in [0, 1]: coarse noise upsampled with cubic interpolation."""
    coarse = rng.uniform(0.0, 1.0, (cells + 3, cells + 3)).astype(np.float32)
    zoom = (shape[0] / cells, shape[1] / cells)
    field = ndimage.zoom(coarse, zoom, order=3, mode="reflect")
    offset = (int(zoom[0]), int(zoom[1]))
    field = field[offset[0] : offset[0] + shape[0], offset[1] : offset[1] + shape[1]]
    field = field - field.min()
    return field / max(float(field.max()), 1e-6)


def add_haze(image: np.ndarray, rng: np.random.Generator, beta: float, airlight: float,
             depth_mask: np.ndarray | None = None) -> np.ndarray:
    """Atmospheric scattering I = J t + A (1 - t), t = exp(-beta d).

    The depth proxy d mixes a vertical gradient (the top of a photo is usually farther)
    with a smooth random field, so haze density varies over the image as in real scenes.
    """
    height, width = image.shape[:2]
    vertical = np.linspace(1.0, 0.3, height, dtype=np.float32)[:, None] * np.ones((1, width), np.float32)
    depth = 0.6 * vertical + 0.4 * smooth_field(rng, (height, width))
    if depth_mask is not None:
        depth = depth * depth_mask
    transmission = np.exp(-beta * depth)[..., None]
    tint = airlight + rng.uniform(-0.04, 0.04, 3).astype(np.float32)
    return image * transmission + tint * (1.0 - transmission)


def darken(image: np.ndarray, rng: np.random.Generator, scale: float, gamma: float, read_noise: float = 0.01) -> np.ndarray:
    """Low light: a gamma curve and exposure scale, then shot (Poisson-like) and read noise."""
    dark = scale * np.power(np.clip(image, 0.0, 1.0), gamma)
    shot = np.sqrt(np.maximum(dark, 0.0) * 0.01)
    return dark + rng.standard_normal(image.shape, dtype=np.float32) * (shot + read_noise)


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(to_uint8(image)).save(buffer, format="JPEG", quality=int(quality))
    buffer.seek(0)
    return np.asarray(Image.open(buffer), dtype=np.float32) / 255.0


def region_mask(rng: np.random.Generator, shape: tuple[int, int], kind: str) -> np.ndarray:
    """A soft mask in [0, 1] for spatially varying degradations.

    "ramp": a linear grade across the image in a random direction;
    "blob": a smooth region covering roughly half the image.
    """
    height, width = shape
    if kind == "ramp":
        angle = rng.uniform(0, 2 * np.pi)
        yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
        projection = (xx - width / 2) * np.cos(angle) + (yy - height / 2) * np.sin(angle)
        projection -= projection.min()
        return projection / max(float(projection.max()), 1e-6)
    field = smooth_field(rng, shape, cells=3)
    return np.clip((field - 0.45) * 6.0 + 0.5, 0.0, 1.0)


def blend(clean: np.ndarray, degraded: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return degraded * mask[..., None] + clean * (1.0 - mask[..., None])


# --- named cases (the evaluation suite) ---------------------------------------------


@dataclass(frozen=True)
class DegradationCase:
    """A named, reproducible degradation with fixed strength; ``family`` groups the table."""

    name: str
    family: str  # "single", "spatial" or "composite"
    apply: Degrade

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return np.clip(self.apply(image, rng), 0.0, 1.0).astype(np.float32)


def _rain(image, rng):
    return add_rain(image, rng, density=0.012, length=15, intensity=0.8)


def _haze(image, rng):
    return add_haze(image, rng, beta=1.6, airlight=0.85)


def _low(image, rng):
    return darken(image, rng, scale=0.2, gamma=1.5)


CASES: dict[str, DegradationCase] = {
    case.name: case
    for case in [
        DegradationCase("noise15", "single", lambda im, rng: add_noise(im, rng, 15)),
        DegradationCase("noise25", "single", lambda im, rng: add_noise(im, rng, 25)),
        DegradationCase("noise50", "single", lambda im, rng: add_noise(im, rng, 50)),
        DegradationCase("rain", "single", _rain),
        DegradationCase("haze", "single", _haze),
        DegradationCase("blur_motion", "single", lambda im, rng: blur(im, line_kernel(11, rng.uniform(0, np.pi)))),
        DegradationCase("blur_defocus", "single", lambda im, rng: blur(im, disk_kernel(3.0))),
        DegradationCase("lowlight", "single", _low),
        DegradationCase("jpeg", "single", lambda im, rng: jpeg(im, 15)),
        DegradationCase(
            "noise_graded", "spatial", lambda im, rng: add_noise(im, rng, 50 * region_mask(rng, im.shape[:2], "ramp"))
        ),
        DegradationCase("haze_region", "spatial",
                        lambda im, rng: blend(im, _haze(im, rng), region_mask(rng, im.shape[:2], "blob"))),
        DegradationCase("rain_region", "spatial",
                        lambda im, rng: blend(im, _rain(im, rng), region_mask(rng, im.shape[:2], "blob"))),
        DegradationCase("shadow", "spatial", lambda im, rng: blend(im, _low(im, rng), region_mask(rng, im.shape[:2], "blob"))),
        DegradationCase("low+haze", "composite", lambda im, rng: _low(_haze(im, rng), rng)),
        DegradationCase("haze+rain", "composite", lambda im, rng: _rain(_haze(im, rng), rng)),
        DegradationCase("low+rain", "composite", lambda im, rng: _low(_rain(im, rng), rng)),
        DegradationCase("low+haze+rain", "composite", lambda im, rng: _low(_rain(_haze(im, rng), rng), rng)),
    ]
}


# --- training sampler ---------------------------------------------------------------


def _random_single(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    kind = rng.choice(["noise", "rain", "haze", "motion", "defocus", "low", "jpeg"])
    if kind == "noise":
        return add_noise(image, rng, rng.uniform(5, 55))
    if kind == "rain":
        return add_rain(image, rng, rng.uniform(0.004, 0.02), int(rng.integers(7, 21)), rng.uniform(0.5, 1.0))
    if kind == "haze":
        return add_haze(image, rng, rng.uniform(0.5, 2.2), rng.uniform(0.7, 1.0))
    if kind == "motion":
        return blur(image, line_kernel(int(rng.integers(5, 16)), rng.uniform(0, np.pi)))
    if kind == "defocus":
        return blur(image, disk_kernel(rng.uniform(1.5, 4.0)))
    if kind == "low":
        return darken(image, rng, rng.uniform(0.08, 0.4), rng.uniform(1.0, 2.0), rng.uniform(0.0, 0.02))
    return jpeg(np.clip(image, 0, 1), int(rng.integers(10, 41)))


def _random_weather(image: np.ndarray, rng: np.random.Generator, parts: set[str]) -> np.ndarray:
    """A composite applied in physical order: haze (scene), rain (in front), exposure."""
    if "haze" in parts:
        image = add_haze(image, rng, rng.uniform(0.5, 2.2), rng.uniform(0.7, 1.0))
    if "rain" in parts:
        image = add_rain(image, rng, rng.uniform(0.004, 0.02), int(rng.integers(7, 21)), rng.uniform(0.5, 1.0))
    if "low" in parts:
        image = darken(image, rng, rng.uniform(0.08, 0.4), rng.uniform(1.0, 2.0), rng.uniform(0.0, 0.02))
    return image


def random_degradation(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Draw one degradation for training: single (60%), spatially varying (20%), composite (20%).

    Strengths are drawn from continuous ranges that contain the evaluation cases.
    """
    draw = rng.uniform()
    if draw < 0.6:
        degraded = _random_single(image, rng)
    elif draw < 0.8:
        kind = "ramp" if rng.uniform() < 0.3 else "blob"
        degraded = blend(image, _random_single(image, rng), region_mask(rng, image.shape[:2], kind))
    else:
        return random_composite(image, rng)
    return np.clip(degraded, 0.0, 1.0).astype(np.float32)


def random_composite(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One of ``aio-synth``'s composite families (two or three weather parts in physical order)."""
    options = [{"low", "haze"}, {"haze", "rain"}, {"low", "rain"}, {"low", "haze", "rain"}]
    degraded = _random_weather(image, rng, options[int(rng.integers(len(options)))])
    return np.clip(degraded, 0.0, 1.0).astype(np.float32)
