package org.ceaedge.core;

/**
 * The row-of-tiles streaming of {@code cea_edge.runtime.tiling.tiled_apply}: one band of tiles
 * at a time is read, run and accumulated with its feathered window; rows no later band touches
 * are normalised by the summed weights and handed to the sink; the accumulator then moves down.
 * Beside the model's own memory it holds one input band (ARGB, at most a tile high), one
 * float accumulator a tile high, one output band and one tile in and out (see {@link MemoryBudget}).
 *
 * <p>The blend weight of a pixel is the product of per-axis sums (the plan is a product of row
 * and column starts), so no weight plane is stored. Input samples are read as tiled_apply reads
 * uint8: value * float32(1/255). Not thread-safe per instance; one instance per photo at a time.
 */
public final class BandStreamer {
    private final TileModel model;
    private final int tile;
    private final int overlap;

    public BandStreamer(TileModel model, int tile, int overlap) {
        if (tile < 1 || overlap < 0 || overlap >= tile) {
            throw new IllegalArgumentException("tile " + tile + " with overlap " + overlap
                    + ": need tile >= 1 and 0 <= overlap < tile");
        }
        this.model = model;
        this.tile = tile;
        this.overlap = overlap;
    }

    /**
     * Restore a {@code height x width} photo from {@code source} into {@code sink}.
     *
     * @param factors the photo's factors (global mode), or null: every tile makes its own
     * @param progress called after every tile, or null
     */
    public void run(RowSource source, int height, int width, float[][] factors, RowSink sink, Progress progress) {
        TilePlan plan = TilePlan.plan(height, width, tile, overlap);
        int paddedWidth = plan.paddedWidth();
        float[] ramp = BlendWeights.edgeRampFloat(tile, overlap);
        float[] window = BlendWeights.streamingWindow(ramp);
        float[] rowWeight = BlendWeights.axisWeights(plan.ys(), ramp, plan.paddedHeight());
        float[] columnWeight = BlendWeights.axisWeights(plan.xs(), ramp, paddedWidth);
        float[] inverseColumnWeight = new float[width];
        for (int x = 0; x < width; x++) {
            inverseColumnWeight[x] = 1.0f / columnWeight[x];
        }
        int[] sourceColumn = new int[paddedWidth]; // image column of each padded column
        for (int x = 0; x < paddedWidth; x++) {
            sourceColumn[x] = ContextImage.mirror(x, width);
        }

        int plane = tile * paddedWidth; // accumulator row 0 is always the current band's first row
        float[] accumulator = new float[3 * plane];
        int[] band = new int[Math.min(tile, height) * width];
        int[] bandRow = new int[tile]; // band row of each of the tile's rows
        float[] tileInput = new float[3 * tile * tile];
        float[] rows = new float[3 * tile * width];
        int tileArea = tile * tile;
        int done = 0;
        int base = 0;
        for (int rowIndex = 0; rowIndex < plan.rows(); rowIndex++) {
            int y = plan.rowStart(rowIndex);
            readBand(source, y, height, band, bandRow);
            for (int columnIndex = 0; columnIndex < plan.columns(); columnIndex++) {
                int x0 = plan.columnStart(columnIndex);
                for (int row = 0; row < tile; row++) {
                    int bandOffset = bandRow[row] * width;
                    for (int column = 0; column < tile; column++) {
                        int pixel = band[bandOffset + sourceColumn[x0 + column]];
                        int at = row * tile + column;
                        tileInput[at] = Pixels.channelScaled(pixel, 0);
                        tileInput[tileArea + at] = Pixels.channelScaled(pixel, 1);
                        tileInput[2 * tileArea + at] = Pixels.channelScaled(pixel, 2);
                    }
                }
                float[] result = model.run(tileInput, tile, factors);
                if (result == null || result.length != 3 * tileArea) {
                    throw new IllegalStateException("the model returned " + (result == null ? "nothing" : result.length
                            + " values") + " for a tile of " + tile + "x" + tile + "; expected " + 3 * tileArea);
                }
                for (int channel = 0; channel < 3; channel++) {
                    for (int row = 0; row < tile; row++) {
                        int into = channel * plane + row * paddedWidth + x0;
                        int from = channel * tileArea + row * tile;
                        for (int column = 0; column < tile; column++) {
                            accumulator[into + column] += result[from + column] * window[row * tile + column];
                        }
                    }
                }
                done++;
                if (progress != null) {
                    progress.update(done, plan.count());
                }
            }
            // Rows no later tile touches are final: normalise, hand on, drop.
            boolean last = rowIndex + 1 == plan.rows();
            int finalRow = last ? plan.paddedHeight() : plan.rowStart(rowIndex + 1);
            int finalInImage = Math.min(finalRow, height);
            if (finalInImage > base) {
                int count = finalInImage - base;
                for (int channel = 0; channel < 3; channel++) {
                    for (int row = 0; row < count; row++) {
                        float weight = rowWeight[base + row];
                        int from = channel * plane + row * paddedWidth;
                        int into = (channel * count + row) * width;
                        for (int x = 0; x < width; x++) {
                            rows[into + x] = accumulator[from + x] * inverseColumnWeight[x] / weight;
                        }
                    }
                }
                sink.writeRows(base, count, rows);
            }
            if (!last) {
                shiftUp(accumulator, plane, paddedWidth, finalRow - base);
            }
            base = finalRow;
        }
    }

    /** Read image rows y .. y + tile of the padded image (mirrored past the bottom) into {@code band}. */
    private void readBand(RowSource source, int y, int height, int[] band, int[] bandRow) {
        int lowest = Integer.MAX_VALUE;
        int highest = -1;
        for (int row = 0; row < tile; row++) {
            int imageRow = ContextImage.mirror(y + row, height);
            bandRow[row] = imageRow;
            lowest = Math.min(lowest, imageRow);
            highest = Math.max(highest, imageRow);
        }
        for (int row = 0; row < tile; row++) {
            bandRow[row] -= lowest;
        }
        source.readRows(lowest, highest - lowest + 1, band);
    }

    /** Drop the first {@code dropped} accumulator rows of every channel; zero the freed rows. */
    private static void shiftUp(float[] accumulator, int plane, int paddedWidth, int dropped) {
        int kept = plane - dropped * paddedWidth;
        for (int channel = 0; channel < 3; channel++) {
            int start = channel * plane;
            System.arraycopy(accumulator, start + dropped * paddedWidth, accumulator, start, kept);
            java.util.Arrays.fill(accumulator, start + kept, start + plane, 0f);
        }
    }
}
