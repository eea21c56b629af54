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
 *   <li>context image: (3, size, size) floats, shrunk then mirror-padded (two arrays), and the
 *       per-column int sums of the context pass (whose band buffer is the input band's size and
 *       is dropped before tiling starts)</li>
 * </ul>
 * The app adds ({@link #forApp}): the decoded region (a band of the stored photo as a Bitmap and its
 * turned ARGB copy) and the before/after previews (each a Bitmap plus the int[] it is made from).
 * The parts are summed (an upper bound: the context image is garbage once the factors exist).
 * The model's own memory (the mmapped program, XNNPACK's workspace) is not counted.
 */
public final class MemoryBudget {
    /** The longer side of the app's before/after previews (about a phone screen's). */
    public static final int APP_PREVIEW_SIDE = 1440;

    public final long inputBand;
    public final long outputBand;
    public final long accumulators;
    public final long tileBatch;
    public final long contextImage;
    /** App only (0 for the pipeline alone): the decoded region and the previews. */
    public final long decodeRegion;
    public final long previews;

    private MemoryBudget(long inputBand, long outputBand, long accumulators, long tileBatch, long contextImage,
            long decodeRegion, long previews) {
        this.inputBand = inputBand;
        this.outputBand = outputBand;
        this.accumulators = accumulators;
        this.tileBatch = tileBatch;
        this.contextImage = contextImage;
        this.decodeRegion = decodeRegion;
        this.previews = previews;
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
        long contextImage = contextSize > 0 ? 2L * 3L * contextSize * contextSize * 4L + 3L * width * 4L : 0L;
        return new MemoryBudget(inputBand, outputBand, accumulators, tileBatch, contextImage, 0, 0);
    }

    /** The pipeline's budget plus what the app holds beside it, previews at most previewSide on a side. */
    public static MemoryBudget forApp(int height, int width, int tile, int overlap, int contextSize, int previewSide) {
        MemoryBudget pipeline = of(height, width, tile, overlap, contextSize, 1);
        // A band of displayed rows is min(tile, height) rows of the stored photo, or as many columns
        // (orientations 5-8): the longer side bounds both.
        long decodeRegion = 2L * 4L * Math.min(tile, height) * (long) Math.max(height, width);
        int factor = Preview.factor(height, width, previewSide);
        long previewPixels = (long) ((height + factor - 1) / factor) * ((width + factor - 1) / factor);
        long previews = 2L * 2L * 4L * previewPixels;
        return new MemoryBudget(pipeline.inputBand, pipeline.outputBand, pipeline.accumulators, pipeline.tileBatch,
                pipeline.contextImage, decodeRegion, previews);
    }

    public long total() {
        return inputBand + outputBand + accumulators + tileBatch + contextImage + decodeRegion + previews;
    }

    @Override
    public String toString() {
        return String.format(java.util.Locale.ROOT,
                "%.1f MiB (input band %.1f, output band %.1f, accumulators %.1f, tile batch %.1f, context image %.1f"
                        + (previews > 0 ? ", decoded region %.1f, previews %.1f)" : ")"),
                mib(total()), mib(inputBand), mib(outputBand), mib(accumulators), mib(tileBatch), mib(contextImage),
                mib(decodeRegion), mib(previews));
    }

    private static double mib(long bytes) {
        return bytes / (1024.0 * 1024.0);
    }

    /** Prints the budgets at 12 MP and 48 MP for tile 256, overlap 32, context 512 (the bundled recipe). */
    public static void main(String[] arguments) {
        System.out.println("pipeline, 12 MP (4000x3000): " + of(3000, 4000, 256, 32, 512, 1));
        System.out.println("pipeline, 48 MP (8000x6000): " + of(6000, 8000, 256, 32, 512, 1));
        System.out.println("app, 12 MP (4000x3000): " + forApp(3000, 4000, 256, 32, 512, APP_PREVIEW_SIDE));
        System.out.println("app, 48 MP (8000x6000): " + forApp(6000, 8000, 256, 32, 512, APP_PREVIEW_SIDE));
    }
}
