"""Clean images: a procedural dead-leaves generator and the photos scikit-image ships.

Images are float32 arrays (H, W, 3) in [0, 1]. The scikit-image photos are split once
and for all: EVAL_PHOTOS build the evaluation suite and are never used for training.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import ndimage

# Public-domain / freely licensed photos bundled inside scikit-image (no download).
EVAL_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "stereo_motorcycle", "camera")
TRAIN_PHOTOS = (
    "immunohistochemistry",
    "hubble_deep_field",
    "retina",
    "colorwheel",
    "brick",
    "grass",
    "gravel",
    "moon",
    "clock",
    "coins",
    "page",
    "text",
    "cell",
)


@lru_cache(maxsize=None)
def load_photo(name: str) -> np.ndarray:
    """A scikit-image photo as float32 RGB (gray photos replicated to three channels)."""
    import skimage.data

    image = getattr(skimage.data, name)()
    if isinstance(image, tuple):  # stereo pairs: keep the left view
        image = image[0]
    image = np.asarray(image, dtype=np.float32) / 255.0
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    image = np.ascontiguousarray(image[..., :3])
    image.setflags(write=False)
    return image


def dead_leaves(rng: np.random.Generator, size: int, shapes: int = 700) -> np.ndarray:
    """A dead-leaves image: occluding disks and rectangles with power-law sizes.

    Dead-leaves models reproduce the scale invariance and edge statistics of natural
    images; each leaf also gets a colour gradient and, sometimes, a fine texture so the
    network sees smooth areas, edges and detail.
    """
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    canvas = np.empty((size, size, 3), dtype=np.float32)
    ramp = rng.normal(0.0, 0.3, 2) / size
    canvas[:] = (rng.uniform(0.1, 0.9, 3) + (yy * ramp[0] + xx * ramp[1])[..., None]).astype(np.float32)
    r_min, r_max = max(1.5, size / 64), size / 2.0
    for _ in range(shapes):
        # Radius density ~ r^-3 (inverse-CDF sampling), the classic dead-leaves law.
        u = rng.uniform()
        radius = 1.0 / np.sqrt(u / r_min**2 + (1 - u) / r_max**2)
        cy, cx = rng.uniform(-radius, size + radius, 2)
        y0, y1 = int(max(cy - radius, 0)), int(min(cy + radius + 1, size))
        x0, x1 = int(max(cx - radius, 0)), int(min(cx + radius + 1, size))
        if y0 >= y1 or x0 >= x1:
            continue
        dy, dx = yy[y0:y1, x0:x1] - cy, xx[y0:y1, x0:x1] - cx
        if rng.uniform() < 0.7:
            inside = dy * dy + dx * dx <= radius * radius
        else:
            angle = rng.uniform(0, np.pi)
            aspect = rng.uniform(0.3, 1.0)
            along = np.abs(dx * np.cos(angle) + dy * np.sin(angle))
            across = np.abs(-dx * np.sin(angle) + dy * np.cos(angle))
            inside = (along <= radius) & (across <= radius * aspect)
        # Painted back to front: each leaf occludes the ones before it.
        # Natural colours are mostly unsaturated: a luminance plus a smaller chroma.
        colour = (rng.uniform(0.05, 0.95) + rng.normal(0.0, 0.12, 3)).astype(np.float32)
        gradient = rng.normal(0.0, 0.15 / max(radius, 1.0), 2).astype(np.float32)
        patch = colour + (dy[..., None] * gradient[0] + dx[..., None] * gradient[1])
        if rng.uniform() < 0.3:
            patch = patch + rng.normal(0.0, rng.uniform(0.02, 0.08), patch.shape[:2])[..., None]
        region = canvas[y0:y1, x0:x1]
        region[inside] = patch[inside]
    # Slight blur: real edges are band-limited by optics.
    canvas = ndimage.gaussian_filter(canvas, sigma=(0.6, 0.6, 0))
    return np.clip(canvas, 0.0, 1.0)


def random_crop(rng: np.random.Generator, image: np.ndarray, size: int) -> np.ndarray:
    """A random size x size crop, flipped/rotated at random (reflect-padded if too small)."""
    height, width = image.shape[:2]
    if height < size or width < size:
        pad_h, pad_w = max(size - height, 0), max(size - width, 0)
        image = np.pad(image, ((0, pad_h), (0, pad_w), (0, 0)), mode="reflect")
        height, width = image.shape[:2]
    top = int(rng.integers(0, height - size + 1))
    left = int(rng.integers(0, width - size + 1))
    crop = image[top : top + size, left : left + size]
    crop = np.rot90(crop, int(rng.integers(0, 4)))
    if rng.uniform() < 0.5:
        crop = crop[:, ::-1]
    return np.ascontiguousarray(crop, dtype=np.float32)


def center_crop(image: np.ndarray, size: int) -> np.ndarray:
    height, width = image.shape[:2]
    side = min(size, height, width)
    top, left = (height - side) // 2, (width - side) // 2
    return np.ascontiguousarray(image[top : top + side, left : left + side])
