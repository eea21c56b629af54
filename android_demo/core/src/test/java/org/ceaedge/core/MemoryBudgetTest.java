package org.ceaedge.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import org.junit.jupiter.api.Test;

class MemoryBudgetTest {
    @Test
    void partsForASmallCase() {
        MemoryBudget budget = MemoryBudget.of(100, 50, 32, 8, 16, 1);
        assertEquals(32L * 50 * 4, budget.inputBand);
        assertEquals(32L * 50 * 16, budget.outputBand);
        assertEquals(3L * 32 * 50 * 4 + (100 + 2 * 50) * 4 + 50 * 4 + 32 * 4, budget.accumulators);
        assertEquals(2L * 3 * 32 * 32 * 4 + 32 * 32 * 4, budget.tileBatch);
        assertEquals(2L * 3 * 16 * 16 * 4 + 3 * 50 * 4, budget.contextImage);
        assertEquals(budget.inputBand + budget.outputBand + budget.accumulators + budget.tileBatch
                + budget.contextImage, budget.total());
        assertEquals(0, MemoryBudget.of(100, 50, 32, 8, 0, 1).contextImage);
    }

    @Test
    void photoSizesStayFarBelowAWholeImageInFloat() {
        MemoryBudget twelve = MemoryBudget.of(3000, 4000, 256, 32, 512, 1);
        MemoryBudget fortyEight = MemoryBudget.of(6000, 8000, 256, 32, 512, 1);
        System.out.println("[memory] 12 MP: " + twelve);
        System.out.println("[memory] 48 MP: " + fortyEight);
        assertTrue(twelve.total() < 3000L * 4000 * 12 / 3, "12 MP: under a third of the photo as float RGB");
        assertTrue(fortyEight.total() < 6000L * 8000 * 12 / 6, "48 MP: under a sixth of the photo as float RGB");
        assertTrue(fortyEight.total() < 2 * twelve.total());
    }

    /**
     * The budget bounds what the pipeline really allocates: a whole 12 MP and 48 MP photo through
     * both passes of global mode (an identity model, a source and a sink that allocate nothing).
     * The bytes the thread allocates in each pass (HotSpot's per-thread counter, an upper bound of
     * what is live at any moment of it) stay within that pass's parts of the budget: the context
     * pass within input band + context image, the tile pass within the rest. A buffer the size of
     * the photo would break it at once.
     */
    @Test
    void theBudgetBoundsWhatTheEnhancerAllocates() {
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        int[][] sizes = {{3000, 4000}, {6000, 8000}};
        for (int[] size : sizes) {
            final int height = size[0];
            final int width = size[1];
            RowSource source = new RowSource() {
                @Override
                public void readRows(int firstRow, int rowCount, int[] argb) {
                    for (int i = 0; i < rowCount * width; i++) {
                        argb[i] = 0xff000000 | ((firstRow * 31 + i) * 2654435761L > 0 ? i : ~i) & 0xffffff;
                    }
                }
            };
            ArgbRowSink sink = new ArgbRowSink(width) {
                @Override
                protected void writeArgb(int firstRow, int rowCount, int[] argb) {
                    // discarded: the app streams these into the PNG writer and the preview
                }
            };
            TileModel identity = new TileModel() {
                private final float[][] factors = new float[0][];

                @Override
                public float[][] context(float[] chwImage, int side) {
                    return factors;
                }

                @Override
                public float[] run(float[] chwTile, int tile, float[][] given) {
                    return chwTile;
                }
            };
            Enhancer enhancer = new Enhancer(identity, 256, 32, 512);
            MemoryBudget budget = MemoryBudget.of(height, width, 256, 32, 512, 1);
            long thread = Thread.currentThread().getId();
            long start = threads.getThreadAllocatedBytes(thread);
            float[][] factors = enhancer.factors(source, height, width);
            long contextPass = threads.getThreadAllocatedBytes(thread) - start;
            start = threads.getThreadAllocatedBytes(thread);
            new BandStreamer(identity, 256, 32).run(source, height, width, factors, sink, null);
            long tilePass = threads.getThreadAllocatedBytes(thread) - start;
            long contextBudget = budget.inputBand + budget.contextImage;
            long tileBudget = budget.total() - budget.contextImage;
            System.out.printf("[memory] %d MP: context pass allocated %.1f MiB (budget %.1f), tile pass %.1f MiB"
                    + " (budget %.1f); total budget %.1f MiB%n", height * width / 1000000, contextPass / 1048576.0,
                    contextBudget / 1048576.0, tilePass / 1048576.0, tileBudget / 1048576.0, budget.total() / 1048576.0);
            assertTrue(contextPass <= contextBudget, "context pass: " + contextPass + " bytes > " + contextBudget);
            assertTrue(tilePass <= tileBudget, "tile pass: " + tilePass + " bytes > " + tileBudget);
            assertTrue(tilePass >= tileBudget / 2 && contextPass >= contextBudget / 2,
                    "the budget no longer describes the buffers: it is far above what is allocated");
        }
    }

    @Test
    void theAppAddsTheDecodedRegionAndThePreviews() {
        MemoryBudget pipeline = MemoryBudget.of(3000, 4000, 256, 32, 512, 1);
        MemoryBudget app = MemoryBudget.forApp(3000, 4000, 256, 32, 512, 1440);
        assertEquals(2L * 4 * 256 * 4000, app.decodeRegion);
        assertEquals(2L * 2 * 4 * 1334 * 1000, app.previews); // factor 3: 1334 x 1000
        assertEquals(pipeline.total() + app.decodeRegion + app.previews, app.total());
        System.out.println("[memory] app, 12 MP: " + app);
        System.out.println("[memory] app, 48 MP: " + MemoryBudget.forApp(6000, 8000, 256, 32, 512, 1440));
    }
}
