package org.ceaedge.core;

/**
 * The whole photo as one (3, size, size) float image in [0, 1] for the context graph: the
 * numbers of {@code cea_edge.runtime.tiling.context_image}. A side longer than {@code size} is
 * shrunk by box averaging (area resize: noise and rain streaks are averaged, not aliased); a
 * shorter side is mirror-padded at the bottom / right, never enlarged. Works band by band, so a
 * 48 MP photo is never held as floats.
 */
public final class ContextImage {
    private ContextImage() {
    }

    /** From a whole ARGB image of {@code height x width} pixels. */
    public static float[] fromArgb(int[] argb, int height, int width, int size) {
        return fromSource(new ArgbImage(argb, height, width), height, width, size, Math.min(height, 64));
    }

    /**
     * From rows read {@code bandRows} at a time; holds one band of ARGB and one int row of sums
     * per channel beside the result.
     */
    public static float[] fromSource(RowSource source, int height, int width, int size, int bandRows) {
        if (height < 1 || width < 1 || size < 1 || bandRows < 1) {
            throw new IllegalArgumentException("context image of a " + width + "x" + height + " photo at side "
                    + size + " (bands of " + bandRows + " rows): all must be at least 1");
        }
        int outHeight = Math.min(height, size);
        int outWidth = Math.min(width, size);
        int[] rowEdges = shrinkEdges(height, outHeight);
        int[] columnEdges = shrinkEdges(width, outWidth);
        float[] shrunk = new float[3 * outHeight * outWidth];
        // uint8 sums are exact in int, as numpy's float32 sums of integers are (below 2^24)
        int[] sums = new int[3 * width];
        int[] band = new int[Math.min(bandRows, height) * width];
        int box = 0;
        for (int first = 0; first < height; first += bandRows) {
            int count = Math.min(bandRows, height - first);
            source.readRows(first, count, band);
            for (int row = 0; row < count; row++) {
                for (int x = 0; x < width; x++) {
                    int pixel = band[row * width + x];
                    sums[x] += (pixel >> 16) & 0xff;
                    sums[width + x] += (pixel >> 8) & 0xff;
                    sums[2 * width + x] += pixel & 0xff;
                }
                if (first + row + 1 == rowEdges[box + 1]) {
                    finishBox(sums, width, rowEdges[box + 1] - rowEdges[box], columnEdges, shrunk,
                            box, outHeight, outWidth);
                    java.util.Arrays.fill(sums, 0);
                    box++;
                }
            }
        }
        return mirrorPad(shrunk, outHeight, outWidth, size);
    }

    /** One output row: column sums / rows (float32), summed over each column box, / columns, * 1/255. */
    private static void finishBox(int[] sums, int width, int rows, int[] columnEdges, float[] shrunk, int box,
                                  int outHeight, int outWidth) {
        float rowCount = (float) rows;
        for (int channel = 0; channel < 3; channel++) {
            for (int column = 0; column < outWidth; column++) {
                float total = 0f;
                for (int x = columnEdges[column]; x < columnEdges[column + 1]; x++) {
                    total += (float) sums[channel * width + x] / rowCount;
                }
                float columns = (float) (columnEdges[column + 1] - columnEdges[column]);
                shrunk[(channel * outHeight + box) * outWidth + column] = total / columns * Pixels.SCALE;
            }
        }
    }

    /** {@code _shrink_edges}: floor(linspace(0, size, target + 1)), in the same double arithmetic. */
    static int[] shrinkEdges(int size, int target) {
        int[] edges = new int[target + 1];
        double step = (double) size / target;
        for (int index = 0; index < target; index++) {
            edges[index] = (int) Math.floor(index * step + 0.0);
        }
        edges[target] = size;
        return edges;
    }

    /** np.pad(mode="symmetric") at the bottom and right up to size x size: period-2n mirror. */
    private static float[] mirrorPad(float[] shrunk, int height, int width, int size) {
        if (height == size && width == size) {
            return shrunk;
        }
        float[] padded = new float[3 * size * size];
        for (int channel = 0; channel < 3; channel++) {
            for (int row = 0; row < size; row++) {
                int sourceRow = mirror(row, height);
                for (int column = 0; column < size; column++) {
                    padded[(channel * size + row) * size + column] =
                            shrunk[(channel * height + sourceRow) * width + mirror(column, width)];
                }
            }
        }
        return padded;
    }

    /** Index {@code index} of a side of {@code size} mirrored past its end, repeating as often as needed. */
    static int mirror(int index, int size) {
        int folded = index % (2 * size);
        return folded < size ? folded : 2 * size - 1 - folded;
    }
}
