package org.ceaedge.core;

/**
 * The peak bytes the streaming design holds for one photo, beside the model's own working
 * memory and whatever decodes the rows: a pure function of the photo's size and the
 * program's tile settings, so the app can state it before it starts.
 *
 * <ul>
 *   <li>input band: at most a tile of ARGB rows, full width ({@link BandStreamer}; the context
 *       pass reads bands of the same height and is done before tiling starts)</li>
 *   <li>output band: at most a tile of finished rows as float RGB, plus their ARGB form</li>
 *   <li>accumulators: a tile-high float RGB accumulator over the padded width, the per-axis
 *       weight sums, the column map</li>
 *   <li>tile batch: {@code batch} tiles in and out as float RGB, and the window</li>
 *   <li>context image: (3, size, size) floats and the per-column int sums of the context pass</li>
 * </ul>
 * The parts are summed (an upper bound: the context image is garbage once the factors exist).
 */
public final class MemoryBudget {
    public final long inputBand;
    public final long outputBand;
    public final long accumulators;
    public final long tileBatch;
    public final long contextImage;

    private MemoryBudget(long inputBand, long outputBand, long accumulators, long tileBatch, long contextImage) {
        this.inputBand = inputBand;
        this.outputBand = outputBand;
        this.accumulators = accumulators;
        this.tileBatch = tileBatch;
        this.contextImage = contextImage;
    }

    /** contextSize 0: tile mode (no context image). batch: tiles held at once (1 for {@link BandStreamer}). */
    public static MemoryBudget of(int height, int width, int tile, int overlap, int contextSize, int batch) {
        TilePlan plan = TilePlan.plan(height, width, tile, overlap);
        long bandRows = Math.min(tile, height);
        long paddedWidth = plan.paddedWidth();
        long inputBand = bandRows * width * 4L;
        long outputBand = bandRows * width * (3L * 4L + 4L);
        long accumulators = 3L * tile * paddedWidth * 4L + (plan.paddedHeight() + 2L * paddedWidth) * 4L
                + paddedWidth * 4L + (long) tile * 4L;
        long tileBatch = (long) batch * 2L * 3L * tile * tile * 4L + (long) tile * tile * 4L;
        long contextImage = contextSize > 0 ? 3L * contextSize * contextSize * 4L + 3L * width * 4L : 0L;
        return new MemoryBudget(inputBand, outputBand, accumulators, tileBatch, contextImage);
    }

    public long total() {
        return inputBand + outputBand + accumulators + tileBatch + contextImage;
    }

    @Override
    public String toString() {
        return String.format(java.util.Locale.ROOT,
                "%.1f MiB (input band %.1f, output band %.1f, accumulators %.1f, tile batch %.1f, context image %.1f)",
                mib(total()), mib(inputBand), mib(outputBand), mib(accumulators), mib(tileBatch), mib(contextImage));
    }

    private static double mib(long bytes) {
        return bytes / (1024.0 * 1024.0);
    }

    /** Prints the budget at 12 MP and 48 MP for tile 256, overlap 32, context 512 (the bundled recipes). */
    public static void main(String[] arguments) {
        System.out.println("12 MP (4000x3000): " + of(3000, 4000, 256, 32, 512, 1));
        System.out.println("48 MP (8000x6000): " + of(6000, 8000, 256, 32, 512, 1));
    }
}
