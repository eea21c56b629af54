package org.ceaedge.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class ContextImageTest {
    private static final int[][] CASES = {{1, 1, 8}, {1, 9, 16}, {5, 70, 16}, {37, 53, 16}, {64, 48, 24},
        {100, 33, 32}, {16, 16, 16}, {200, 3, 8}};

    @Test
    void equalsPythonContextImage() {
        double worst = 0;
        for (int[] setting : CASES) {
            String name = setting[0] + "_" + setting[1] + "_" + setting[2];
            int[] argb = Fixtures.get("context_in_" + name).argb();
            float[] actual = ContextImage.fromArgb(argb, setting[0], setting[1], setting[2]);
            float[] expected = Fixtures.hwcToChw(Fixtures.get("context_out_" + name).floats(), setting[2], setting[2]);
            double difference = Fixtures.maxAbs(expected, actual);
            worst = Math.max(worst, difference);
            assertTrue(difference <= 1e-6, name + ": max-abs " + difference);
        }
        Fixtures.report("context_image", worst);
    }

    @Test
    void bandHeightDoesNotChangeTheResult() {
        int[] argb = Fixtures.get("context_in_100_33_32").argb();
        float[] whole = ContextImage.fromSource(new ArgbImage(argb, 100, 33), 100, 33, 32, 100);
        for (int bandRows : new int[] {1, 3, 7, 64, 1000}) {
            assertArrayEquals(whole, ContextImage.fromSource(new ArgbImage(argb, 100, 33), 100, 33, 32, bandRows), 0f);
        }
    }

    @Test
    void anImageOfTheContextSideComesBackAsItsPixels() {
        int[] argb = Fixtures.get("context_in_16_16_16").argb();
        float[] context = ContextImage.fromArgb(argb, 16, 16, 16);
        for (int index = 0; index < argb.length; index++) {
            assertEquals(Pixels.channel(argb[index], 2) * Pixels.SCALE, context[2 * 256 + index], 0f);
        }
    }

    @Test
    void shrinkEdgesAreFloorOfLinspace() {
        assertArrayEquals(new int[] {0, 3, 6, 10}, ContextImage.shrinkEdges(10, 3));
        assertArrayEquals(new int[] {0, 1}, ContextImage.shrinkEdges(1, 1));
        int[] edges = ContextImage.shrinkEdges(6000, 512);
        for (int index = 1; index < edges.length; index++) {
            assertTrue(edges[index] > edges[index - 1]);
        }
    }

    @Test
    void mirrorRepeatsLikeSymmetricPadding() {
        int[] expected = {0, 1, 2, 2, 1, 0, 0, 1, 2, 2};
        for (int index = 0; index < expected.length; index++) {
            assertEquals(expected[index], ContextImage.mirror(index, 3));
        }
        assertEquals(0, ContextImage.mirror(7, 1));
    }
}
