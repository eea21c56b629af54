"""Restoring one whole photo with a backend: the library entry point behind
`python -m cea_edge.enhance`, the benchmarks and the parity stage.

In global-context mode the photo is first shrunk (or mirror-padded) to the backend's
context side, the context graph turns it into each adapter's factors once, and every tile
is restored with those same factors -- the adapters see the whole photo, as on whole-image
inference. In tile mode every tile makes its own factors.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from cea_edge.runtime.backends import Backend, GlobalContext
from cea_edge.runtime.tiling import context_image, tiled_apply

CONTEXT_MODES = ("global", "tile")


class Restoration(NamedTuple):
    pixels: np.ndarray  # same shape and dtype as the input pixels
    context: GlobalContext | None  # the photo's factors and routing maps (global mode, or when asked)


def restore_photo(pixels: np.ndarray, backend: Backend, mode: str = "global", overlap: int | None = None,
                  progress: Callable[[int, int], None] | None = None, want_context: bool = False) -> Restoration:
    """Restore (H, W, 3) uint8, uint16 or float pixels tile by tile, streaming into the output.

    overlap: None takes the backend's recommendation; progress(done, total) is called per tile.
    """
    if mode not in CONTEXT_MODES:
        raise ValueError(f"mode must be one of {CONTEXT_MODES}, got {mode!r}")
    context = None
    if mode == "global" or want_context:
        context = backend.context(context_image(pixels, backend.context_size))
    factors = context.factors if mode == "global" else None

    def run(tiles: np.ndarray) -> np.ndarray:
        return backend.run(tiles, factors)

    restored = np.empty_like(pixels)
    tiled_apply(pixels, run, backend.tile, backend.overlap if overlap is None else overlap, batch=backend.max_batch,
                progress=progress, out=restored)
    return Restoration(restored, context)
