"""Regenerate the bundled example photo: a held-out scikit-image photo with a seeded composite degradation.

    python examples/make_example.py coffee low+haze+rain
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from cea_edge.data.degradations import CASES
from cea_edge.data.sources import load_photo
from cea_edge.photo_io import write_rgb

if __name__ == "__main__":
    photo, case = (sys.argv[1:3] + ["coffee", "low+haze+rain"][len(sys.argv[1:3]):])[:2]
    degraded = CASES[case](load_photo(photo), np.random.default_rng(0))
    target = Path(__file__).resolve().parent / f"{photo}_{case}.png"
    write_rgb(degraded, target, overwrite=True)
    print(f"wrote {target}")
