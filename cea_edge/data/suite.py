"""Named evaluation suites: fixed crops of held-out photos x every named degradation case.

A suite is fully determined by its spec: every degraded image is drawn from a numpy
Generator seeded with (suite seed, photo index, case index), so "aio-synth" is the same
on every machine and every run. "aio-photo" takes its photos from the held-out part of
the project's photo corpus (``python -m cea_edge.data photos``: a folder the user gives,
fixed by the committed manifest) and degrades them with the camera-realistic cases.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cea_edge.data.camera import PHOTO_CASES
from cea_edge.data.degradations import CASES, DegradationCase
from cea_edge.data.sources import EVAL_PHOTOS, center_crop, load_photo
from cea_edge.errors import CeaError

CASE_TABLES: dict[str, dict[str, DegradationCase]] = {"synthetic": CASES, "camera": PHOTO_CASES}


@dataclass(frozen=True)
class SuiteSpec:
    name: str
    photos: tuple[str, ...]
    crop: int  # side of the centre crop; 0: the whole photo
    seed: int
    cases: tuple[str, ...] = tuple(CASES)
    case_table: str = "synthetic"  # a key of CASE_TABLES
    corpus: bool = False  # photos: the held-out part of a photo corpus folder (``photos`` is then empty)


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
    # The same photos and cases whole (0.13-0.37 MP each, 1.6 MP in all): what the tiled runtime meets in use --
    # several tiles, their seams and the global context of a whole photo -- for the trade-off report.
    "aio-whole": SuiteSpec("aio-whole", EVAL_PHOTOS, crop=0, seed=2028),
    # Real photos through the camera-realistic cases (clean and mild included): the held-out corpus photos.
    "aio-photo": SuiteSpec("aio-photo", (), crop=256, seed=2027, cases=tuple(PHOTO_CASES), case_table="camera",
                           corpus=True),
}


def get_suite_spec(name: str) -> SuiteSpec:
    try:
        return SUITES[name]
    except KeyError:
        raise CeaError(f"unknown evaluation suite '{name}'; choose one of: {', '.join(SUITES)}") from None


def suite_photos(spec: SuiteSpec, photo_folder: Path | None = None) -> list[tuple[str, np.ndarray]]:
    """(name, clean float32 image) of each photo of ``spec``, in the suite's order."""
    if not spec.corpus:
        return [(name, load_photo(name)) for name in spec.photos]
    if photo_folder is None:
        raise CeaError(f"suite '{spec.name}' is made of the held-out photos of a photo corpus: pass --photos DIR "
                       "(python -m cea_edge.data photos --out DIR makes one)")
    from cea_edge.data.photos import load_photo_folder, read_photo

    paths = load_photo_folder(photo_folder, "heldout")
    if not paths:
        raise CeaError(f"--photos '{photo_folder}': it has no held-out photos (a folder made by "
                       "python -m cea_edge.data photos has them; a folder of your own photos is training data only)")
    return [(path.stem, read_photo(path).astype(np.float32) / 255.0) for path in sorted(paths)]


def build_suite(spec: SuiteSpec | str, photo_folder: Path | None = None) -> list[SuiteSample]:
    if isinstance(spec, str):
        spec = get_suite_spec(spec)
    table = CASE_TABLES[spec.case_table]
    samples = []
    for photo_index, (photo, image) in enumerate(suite_photos(spec, photo_folder)):
        clean = np.ascontiguousarray(image) if spec.crop == 0 else center_crop(image, spec.crop)
        for case_index, case_name in enumerate(spec.cases):
            case = table[case_name]
            rng = np.random.default_rng([spec.seed, photo_index, case_index])
            samples.append(SuiteSample(photo, case_name, case.family, clean, case(clean, rng)))
    return samples
