"""An endless, seeded stream of (degraded, clean) training patches."""

from __future__ import annotations

from functools import partial
from typing import Sequence

import numpy as np
import torch

from cea_edge.data.camera import MIX, camera_degradation
from cea_edge.data.degradations import random_degradation
from cea_edge.data.sources import TRAIN_PHOTOS, dead_leaves, load_photo, random_crop

# With a folder of real photos: the share of patches cut from them (the rest: dead leaves and the
# scikit-image pictures, which keep the procedural edge statistics in the mix).
REAL_PHOTO_FRACTION = 0.85


class TrainingStream:
    """Clean patches, degraded at random: without real photos, from dead leaves (a refreshed pool) and
    the scikit-image training pictures through the idealised degradations; with ``photos`` (uint8
    RGB arrays, a prepared corpus: ``python -m cea_edge.data photos``) mostly from those, through the
    camera-realistic ones (``cea_edge.data.camera``), drawn from ``mix`` (default ``MIX``).

    Each (seed, rank, start_step) gives its own reproducible stream, so distributed ranks
    see different data and a resumed run continues with fresh, deterministic batches.
    """

    def __init__(self, patch: int, seed: int = 0, rank: int = 0, start_step: int = 0,
                 pool_size: int = 48, photo_fraction: float = 0.5, photos: Sequence[np.ndarray] = (),
                 mix: tuple[tuple[str, float], ...] | None = None) -> None:
        self.patch = patch
        self.photo_fraction = photo_fraction
        self.rng = np.random.default_rng([seed, rank, start_step])
        self.leaf_size = max(2 * patch, 128)
        self.pool = [dead_leaves(self.rng, self.leaf_size) for _ in range(pool_size)]
        self.photos = [load_photo(name) for name in TRAIN_PHOTOS]
        self.real_photos = list(photos)
        self.degrade = partial(camera_degradation, mix=mix or MIX) if self.real_photos else random_degradation

    def _clean_patch(self) -> np.ndarray:
        if self.real_photos and self.rng.uniform() < REAL_PHOTO_FRACTION:
            photo = self.real_photos[int(self.rng.integers(len(self.real_photos)))]
            # Cut from the uint8 photo first: converting a whole 1-megapixel photo per patch would cost more.
            return random_crop(self.rng, photo, self.patch) / np.float32(255.0)
        if self.rng.uniform() < self.photo_fraction:
            photo = self.photos[int(self.rng.integers(len(self.photos)))]
            return random_crop(self.rng, photo, self.patch)
        return random_crop(self.rng, self.pool[int(self.rng.integers(len(self.pool)))], self.patch)

    def batch(self, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(degraded, clean), each (size, 3, patch, patch) float32 in [0, 1]."""
        # One new dead-leaves image per batch keeps the procedural source unlimited.
        self.pool[int(self.rng.integers(len(self.pool)))] = dead_leaves(self.rng, self.leaf_size)
        clean = np.stack([self._clean_patch() for _ in range(size)])
        degraded = np.stack([self.degrade(image, self.rng) for image in clean])
        to_tensor = lambda a: torch.from_numpy(a).permute(0, 3, 1, 2).contiguous()  # noqa: E731
        return to_tensor(degraded), to_tensor(clean)
