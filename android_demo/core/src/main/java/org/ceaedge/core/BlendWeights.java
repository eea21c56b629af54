package org.ceaedge.core;

/**
 * The feathered blend window of {@code cea_edge.runtime.tiling}: a raised-cosine rise over
 * {@code overlap} pixels at both ends of each axis, 1 in between, sampled at pixel centres so
 * that the smallest weight stays above zero (a pixel only one tile covers is still defined).
 */
public final class BlendWeights {
    private BlendWeights() {
    }

    /** {@code edge_ramp(tile, overlap)}: the 1-D weights in double precision. */
    public static double[] edgeRamp(int tile, int overlap) {
        double[] ramp = new double[tile];
        for (int index = 0; index < tile; index++) {
            int distance = Math.min(index, tile - 1 - index); // pixels to the nearer edge
            ramp[index] = distance < overlap
                    ? 0.5 - 0.5 * StrictMath.cos(Math.PI * (distance + 0.5) / (overlap + 1))
                    : 1.0;
        }
        return ramp;
    }

    /** The ramp as float32, which is what the tile streaming multiplies by. */
    public static float[] edgeRampFloat(int tile, int overlap) {
        double[] ramp = edgeRamp(tile, overlap);
        float[] single = new float[tile];
        for (int index = 0; index < tile; index++) {
            single[index] = (float) ramp[index];
        }
        return single;
    }

    /** {@code blend_window(tile, overlap)}: (tile x tile) row-major, outer product in double, then float. */
    public static float[] window(int tile, int overlap) {
        double[] ramp = edgeRamp(tile, overlap);
        float[] window = new float[tile * tile];
        for (int row = 0; row < tile; row++) {
            for (int column = 0; column < tile; column++) {
                window[row * tile + column] = (float) (ramp[row] * ramp[column]);
            }
        }
        return window;
    }

    /** The window {@code tiled_apply} multiplies tiles by: outer product of the float32 ramps, in float. */
    static float[] streamingWindow(float[] ramp) {
        int tile = ramp.length;
        float[] window = new float[tile * tile];
        for (int row = 0; row < tile; row++) {
            for (int column = 0; column < tile; column++) {
                window[row * tile + column] = ramp[row] * ramp[column];
            }
        }
        return window;
    }

    /** Summed float32 ramps along one axis of the padded image, in the order of the starts. */
    static float[] axisWeights(int[] starts, float[] ramp, int paddedSize) {
        float[] sums = new float[paddedSize];
        for (int start : starts) {
            for (int index = 0; index < ramp.length; index++) {
                sums[start + index] += ramp[index];
            }
        }
        return sums;
    }
}
