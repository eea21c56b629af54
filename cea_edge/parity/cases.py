"""Parity sets: the fixed inputs every artifact is compared on against the FP32 reference.

A parity set is data, like an evaluation suite: single tiles cut from the `aio-synth` cases
(each restored in tile mode: the `forward` graph) and whole degraded photos (restored in
global-context mode: the `context` graph once, then every tile through `forward_global`,
feathered blending). At least one photo is larger than the context side, so the shrunken
context image and the tiled plan are both covered. Inputs are quantized to 8 bits, as a
photo is: the reference and every artifact read exactly the same pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cea_edge.data.degradations import CASES
from cea_edge.data.sources import center_crop, load_photo
from cea_edge.data.suite import build_suite, get_suite_spec
from cea_edge.errors import CeaError
from cea_edge.photo_io import from_float

TILE_KIND, PHOTO_KIND = "tile", "photo"


@dataclass(frozen=True)
class PhotoCase:
    photo: str  # a named photo of cea_edge.data.sources
    degradation: str  # a case of cea_edge.data.degradations.CASES
    crop: tuple[int, int] | None = None  # (H, W) centre crop; None: the whole photo


@dataclass(frozen=True)
class ParitySet:
    name: str
    suite: str  # the tile cases are crops of this suite's samples
    tile_cases: tuple[str, ...]  # degradation cases, one tile each, the suite's photos in turn
    tile_crop: int  # side of the tile cases: the model's tile, so each is exactly one tile
    photos: tuple[PhotoCase, ...]
    seed: int  # of the photos' degradations (the tiles keep the suite's own seeding)


@dataclass(frozen=True)
class ParityCase:
    name: str
    kind: str  # TILE_KIND or PHOTO_KIND
    photo: str
    degradation: str
    clean: np.ndarray  # (H, W, 3) uint8
    degraded: np.ndarray  # (H, W, 3) uint8: the input


PARITY_SETS: dict[str, ParitySet] = {
    # The committed reference of the bundled checkpoint (tile 256, context 512): ~5 MB of PNGs.
    "standard": ParitySet(
        "standard", "aio-synth", ("noise50", "rain", "haze", "blur_motion", "lowlight", "low+haze+rain"), 256,
        (PhotoCase("stereo_motorcycle", "low+haze+rain", (360, 600)),  # wider than the 512 context: shrunk
         PhotoCase("chelsea", "noise25", (256, 320))),  # smaller: mirror-padded up to the context side
        seed=2026),
    # The tests' set, for tile-32 / context-64 models: the same structure at a tenth of the size.
    "smoke": ParitySet(
        "smoke", "aio-synth-mini", ("noise25", "rain", "haze"), 32,
        (PhotoCase("coffee", "haze+rain", (72, 100)), PhotoCase("chelsea", "noise25", (40, 56))),
        seed=7),
}


def get_parity_set(name: str) -> ParitySet:
    try:
        return PARITY_SETS[name]
    except KeyError:
        raise CeaError(f"unknown parity set '{name}'; choose one of: {', '.join(PARITY_SETS)}") from None


def _centre(image: np.ndarray, height: int, width: int) -> np.ndarray:
    top, left = (image.shape[0] - height) // 2, (image.shape[1] - width) // 2
    if top < 0 or left < 0:
        raise CeaError(f"a {height}x{width} crop does not fit a {image.shape[0]}x{image.shape[1]} photo")
    return image[top:top + height, left:left + width]


def build_cases(spec: ParitySet) -> list[ParityCase]:
    """The set's inputs, the same on every machine (seeded generators, bundled photos)."""
    suite = get_suite_spec(spec.suite)
    if spec.tile_crop > suite.crop:
        raise CeaError(f"parity set '{spec.name}': tile crop {spec.tile_crop} exceeds suite '{suite.name}' crops "
                       f"({suite.crop})")
    by_case: dict[str, list] = {}
    for sample in build_suite(suite):
        by_case.setdefault(sample.case, []).append(sample)
    cases = []
    for index, degradation in enumerate(spec.tile_cases):
        if degradation not in by_case:
            raise CeaError(f"parity set '{spec.name}': suite '{suite.name}' has no case '{degradation}'")
        sample = by_case[degradation][index % len(by_case[degradation])]
        clean, degraded = (center_crop(image, spec.tile_crop) for image in (sample.clean, sample.degraded))
        cases.append(ParityCase(f"tile-{degradation}-{sample.photo}", TILE_KIND, sample.photo, degradation,
                                from_float(clean, 8), from_float(degraded, 8)))
    for index, photo in enumerate(spec.photos):
        clean = load_photo(photo.photo)
        if photo.crop is not None:
            clean = _centre(clean, *photo.crop)
        degraded = CASES[photo.degradation](clean, np.random.default_rng([spec.seed, index]))
        cases.append(ParityCase(f"photo-{photo.degradation}-{photo.photo}-{clean.shape[1]}x{clean.shape[0]}",
                                PHOTO_KIND, photo.photo, photo.degradation, from_float(clean, 8), from_float(degraded, 8)))
    return cases
