"""How much memory a forward pass needs, estimated from the config before anything is built.

PyTorch on CPU (no_grad) holds, at its peak, a few full-resolution tensors of the first
level's width (the block's input, its mixer and gated FFN intermediates, the level's skip
connection) plus the image in and out; the deeper levels add a geometric tail (width doubles,
area quarters). Measured peak RSS growth over the loaded model, one forward at a time
(benchmark in docs/runtime.md), divided by batch x tile^2 x width x 4 bytes:

    tiny  (width 8):  12.2-13.2 at tile 1024 / batch 4 x 512  (19 at 512: fixed overheads)
    edge  (width 16): 12.1-12.4 at tile 1024, batch 4 x 512, batch 8 x 256
    edge, full output (the context graph): 11.7 at tile 1024
    base  (width 48): 13.3 at tile 512

so the estimate takes FLOATS_PER_WIDTH = 14 floats per pixel per unit of width, a ~10%
margin over the largest measured ratio at the sizes where it matters.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from cea_edge.errors import CeaError
from cea_edge.model.config import CEAConfig

FLOATS_PER_WIDTH = 14  # peak float32 values per pixel per unit of config.width (calibrated above)
IMAGE_FLOATS = 6  # the (3-channel) input and output of the batch
FIXED_BYTES = 64 << 20  # allocator and kernel scratch measured beside the activations
USABLE_FRACTION = 0.9  # of MemAvailable: leave the rest to the photo, its output and the system


def activation_bytes(config: CEAConfig, tile: int, batch: int = 1) -> int:
    """Estimated peak bytes of one forward pass on a (batch, 3, tile, tile) float32 input."""
    # A stem of stride s runs the widest level on 1/s^2 of the pixels (edge2; not calibrated apart).
    per_pixel = 4 * (FLOATS_PER_WIDTH * config.width * config.ffn_expansion / 2 / config.stem**2 + IMAGE_FLOATS)
    return int(batch * tile * tile * per_pixel) + FIXED_BYTES


def largest_tile(config: CEAConfig, budget_bytes: int, batch: int = 1) -> int:
    """The largest tile (a multiple of config.min_tile) whose activation_bytes fit ``budget_bytes``; 0 if none."""
    step = config.min_tile
    per_pixel = (activation_bytes(config, step, batch) - FIXED_BYTES) / (step * step)
    room = budget_bytes - FIXED_BYTES
    tile = 0 if room <= 0 else int(math.isqrt(int(room / per_pixel))) // step * step
    while tile > 0 and activation_bytes(config, tile, batch) > budget_bytes:  # float rounding at the edge
        tile -= step
    return tile


def _machine_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _address_space_room() -> int | None:
    """What an address-space limit (ulimit -v, prlimit --as) leaves this process; None: no limit."""
    try:
        import resource

        limit = resource.getrlimit(resource.RLIMIT_AS)[0]
        if limit == resource.RLIM_INFINITY:
            return None
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmSize:"):
                return max(0, limit - int(line.split()[1]) * 1024)
    except (ImportError, OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_room() -> int | None:
    """What a cgroup v2 memory limit (a container's) leaves; None: no limit."""
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit == "max":
            return None
        return max(0, int(limit) - int(Path("/sys/fs/cgroup/memory.current").read_text()))
    except (OSError, ValueError):
        return None


def available_memory() -> int | None:
    """Bytes this process can get now: the machine's MemAvailable (free pages elsewhere), less where an
    address-space limit or a container's memory limit leaves less; None when unknown."""
    known = [room for room in (_machine_available(), _address_space_room(), _cgroup_room()) if room is not None]
    return min(known) if known else None


def _gb(size: int) -> str:
    return f"{size / 1e9:.1f} GB"


def check_fits(config: CEAConfig, tile: int, batch: int = 1, what: str = "tile") -> None:
    """CeaError when one forward pass at ``tile`` x ``batch`` cannot fit in the memory available here."""
    available = available_memory()
    if available is None:
        return
    budget = int(available * USABLE_FRACTION)
    needed = activation_bytes(config, tile, batch)
    if needed > budget:
        fits = largest_tile(config, budget, batch)
        batch_note = f" in batches of {batch}" if batch > 1 else ""
        raise CeaError(f"{what} {tile} needs about {_gb(needed)} of memory for preset '{config.name}'{batch_note}, "
                       f"more than the {_gb(budget)} this machine can give now ({USABLE_FRACTION:.0%} of "
                       f"{_gb(available)} available); the largest {what} that fits is "
                       + (f"{fits}" if fits else "none: free memory first"))


def largest_batch(config: CEAConfig, tile: int, limit: int) -> int:
    """The most tiles (up to ``limit``, at least 1) one call can take at ``tile`` in the memory available here."""
    available = available_memory()
    if available is None:
        return limit
    budget = int(available * USABLE_FRACTION)
    return max(1, min(limit, (budget - FIXED_BYTES) // max(1, activation_bytes(config, tile, 1) - FIXED_BYTES)))
