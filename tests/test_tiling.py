"""The tile plan (exhaustively on small sizes) and feathered blending."""

from __future__ import annotations

import numpy as np
import pytest

from cea_edge.errors import CeaError
from cea_edge.runtime.tiling import blend_window, edge_ramp, plan_tiles, tiled_apply


@pytest.mark.parametrize("tile,overlap", [(1, 0), (8, 0), (8, 3), (8, 7), (16, 4), (16, 8)])
def test_plans_cover_every_pixel_with_full_tiles(tile, overlap):
    for height in range(1, 3 * tile + 3):
        for width in (1, tile - 1 if tile > 1 else 1, tile, tile + 1, 2 * tile + 5):
            plan = plan_tiles(height, width, tile, overlap)
            for starts, size in ((plan.ys, plan.padded_height), (plan.xs, plan.padded_width)):
                assert size == max(tile, height if starts is plan.ys else width)
                assert starts[0] == 0 and starts[-1] == size - tile  # full tiles, the last one ends at the border
                assert all(b > a for a, b in zip(starts, starts[1:]))
                # neighbours overlap by at least `overlap`, and never leave a gap
                assert all(a + tile - b >= overlap for a, b in zip(starts, starts[1:]))
                covered = np.zeros(size, dtype=int)
                for start in starts:
                    covered[start:start + tile] += 1
                assert covered.min() >= 1
            assert plan.count == len(plan.ys) * len(plan.xs) == len(list(plan.tiles()))


def test_bad_plans_are_clear_errors():
    for args in ((0, 5, 8, 2), (5, 5, 8, 8), (5, 5, 0, 0), (5, 5, 8, -1)):
        with pytest.raises(CeaError):
            plan_tiles(*args)


@pytest.mark.parametrize("tile,overlap", [(8, 0), (8, 3), (16, 8)])
def test_window_is_positive_symmetric_and_flat_inside(tile, overlap):
    ramp = edge_ramp(tile, overlap)
    assert ramp.min() > 0 and np.allclose(ramp, ramp[::-1]) and ramp.max() <= 1.0
    assert np.all(ramp[overlap:tile - overlap] == 1.0)
    assert np.all(np.diff(ramp[:min(overlap, tile // 2)]) > 0)  # rising towards the inside
    window = blend_window(tile, overlap)
    assert window.shape == (tile, tile) and np.allclose(window, window.T)


@pytest.mark.parametrize("size", [(1, 1), (5, 3), (16, 16), (17, 40), (33, 9)])
@pytest.mark.parametrize("batch", [1, 3])
def test_blending_reproduces_a_pointwise_model_exactly(size, batch):
    """Normalised weights sum to one: any per-pixel model comes back unchanged by tiling."""
    rng = np.random.default_rng(sum(size))
    image = rng.random((*size, 3), dtype=np.float32)
    seen = []

    def model(tiles):
        assert tiles.shape[1:] == (3, 8, 8) and len(tiles) <= batch
        return tiles * 2.0 - 0.25

    result = tiled_apply(image, model, tile=8, overlap=3, batch=batch, progress=lambda done, total: seen.append((done, total)))
    assert result.shape == image.shape
    np.testing.assert_allclose(result, image * 2.0 - 0.25, atol=1e-5)
    assert seen[-1][0] == seen[-1][1] and all(b[0] > a[0] for a, b in zip(seen, seen[1:]))


def test_feathering_hides_tile_boundaries():
    """A model that adds a different constant to every tile: hard stitching would leave steps
    of that size at tile borders; the blend turns them into ramps no steeper than inside."""
    image = np.zeros((40, 40, 3), dtype=np.float32)
    offsets = iter(np.linspace(0.0, 1.0, 100))

    def model(tiles):
        return np.stack([tile + next(offsets) for tile in tiles])

    result = tiled_apply(image, model, tile=16, overlap=8)[..., 0]
    steps = max(np.abs(np.diff(result, axis=0)).max(), np.abs(np.diff(result, axis=1)).max())
    jump = 1.0 / 99 * 3  # the offset difference between horizontal neighbours is 1/99; vertical 3/99
    assert steps < jump / 2
