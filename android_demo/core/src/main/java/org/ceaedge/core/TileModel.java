package org.ceaedge.core;

/**
 * The exported model as the core sees it (on Android: the ExecuTorch program's methods
 * {@code context} and {@code forward} / {@code forward_global}; tile, overlap and context side
 * come from its constant methods {@code tile_size}, {@code tile_overlap}, {@code context_size}).
 */
public interface TileModel {
    /**
     * The photo's factors from its (3, size, size) context image in [0, 1], flat adapter by
     * adapter in the contract's order: routing_bases_0, residual_directions_0, routing_bases_1, ...
     */
    float[][] context(float[] chwImage, int size);

    /**
     * Restore one (3, tile, tile) tile in [0, 1]; returns (3, tile, tile). {@code factors} null:
     * tile mode, the tile makes its own factors; else every tile uses the photo's factors.
     */
    float[] run(float[] chwTile, int tile, float[][] factors);
}
