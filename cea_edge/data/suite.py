"""Named evaluation suites: fixed crops of held-out photos x every named degradation case.

A suite is fully determined by its spec: every degraded image is drawn from a numpy
Generator seeded with (suite seed, photo index, case index), so "aio-synth" is the same
on every machine and every run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cea_edge.data.degradations import CASES
from cea_edge.data.sources import EVAL_PHOTOS, center_crop, load_photo
from cea_edge.errors import CeaError


@dataclass(frozen=True)
class SuiteSpec:
    name: str
    photos: tuple[str, ...]
    crop: int
    seed: int
    cases: tuple[str, ...] = tuple(CASES)


@dataclass(frozen=True)
class SuiteSample:
    photo: str
    case: str
    family: str
    clean: np.ndarray  # (H, W, 3) float32 in [0, 1]
    degraded: np.ndarray


SUITES: dict[str, SuiteSpec] = {
    # The suite behind every quality number the project reports.
    "aio-synth": SuiteSpec("aio-synth", EVAL_PHOTOS, crop=256, seed=2026),
    # Progress monitoring during training (smaller, same held-out photos and cases).
    "aio-synth-mini": SuiteSpec("aio-synth-mini", EVAL_PHOTOS[:2], crop=128, seed=7),
}


def get_suite_spec(name: str) -> SuiteSpec:
    try:
        return SUITES[name]
    except KeyError:
        raise CeaError(f"unknown evaluation suite '{name}'; choose one of: {', '.join(SUITES)}") from None


def build_suite(spec: SuiteSpec | str) -> list[SuiteSample]:
    if isinstance(spec, str):
        spec = get_suite_spec(spec)
    samples = []
    for photo_index, photo in enumerate(spec.photos):
        clean = center_crop(load_photo(photo), spec.crop)
        for case_index, case_name in enumerate(spec.cases):
            case = CASES[case_name]
            rng = np.random.default_rng([spec.seed, photo_index, case_index])
            samples.append(SuiteSample(photo, case_name, case.family, clean, case(clean, rng)))
    return samples
