package org.ceaedge.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class TilePlanTest {
    @Test
    void plansEqualPythonPlanTiles() {
        List<String> lines = Fixtures.lines("plans.txt");
        assertTrue(lines.size() >= 20);
        for (String line : lines) {
            String[] parts = line.split("\\|");
            String[] head = parts[0].trim().split(" ");
            TilePlan plan = TilePlan.plan(Integer.parseInt(head[0]), Integer.parseInt(head[1]),
                    Integer.parseInt(head[2]), Integer.parseInt(head[3]));
            assertArrayEquals(ints(parts[1]), plan.ys(), line);
            assertArrayEquals(ints(parts[2]), plan.xs(), line);
        }
    }

    @Test
    void tinyImages() {
        TilePlan single = TilePlan.plan(1, 1, 32, 8);
        assertArrayEquals(new int[] {0}, single.ys());
        assertArrayEquals(new int[] {0}, single.xs());
        assertEquals(32, single.paddedHeight());
        assertEquals(1, single.count());
        TilePlan row = TilePlan.plan(1, 50, 32, 8);
        assertArrayEquals(new int[] {0}, row.ys());
        assertArrayEquals(new int[] {0, 18}, row.xs());
        TilePlan pixelTiles = TilePlan.plan(3, 4, 1, 0);
        assertArrayEquals(new int[] {0, 1, 2}, pixelTiles.ys());
        assertArrayEquals(new int[] {0, 1, 2, 3}, pixelTiles.xs());
    }

    @Test
    void everyPlanCoversWithAtLeastTheOverlap() {
        int[][] settings = {{1, 0}, {2, 1}, {5, 2}, {8, 0}, {16, 4}, {32, 8}, {32, 31}};
        for (int[] setting : settings) {
            int tile = setting[0];
            int overlap = setting[1];
            for (int size = 1; size <= 120; size++) {
                int[] starts = TilePlan.axisStarts(Math.max(size, tile), tile, overlap);
                int padded = Math.max(size, tile);
                String what = "size " + size + " tile " + tile + " overlap " + overlap;
                assertEquals(0, starts[0], what);
                assertEquals(padded - tile, starts[starts.length - 1], what);
                for (int index = 1; index < starts.length; index++) {
                    int gap = starts[index] - starts[index - 1];
                    assertTrue(gap > 0 && gap <= tile - overlap, what);
                }
                if (size <= tile) {
                    assertEquals(1, starts.length, what);
                }
            }
        }
    }

    @Test
    void impossibleSettingsSayWhatIsWrong() {
        IllegalArgumentException empty = assertThrows(IllegalArgumentException.class, () -> TilePlan.plan(0, 5, 8, 2));
        assertTrue(empty.getMessage().contains("5x0"));
        assertThrows(IllegalArgumentException.class, () -> TilePlan.plan(5, 5, 8, 8));
        assertThrows(IllegalArgumentException.class, () -> TilePlan.plan(5, 5, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> TilePlan.plan(5, 5, 8, -1));
    }

    private static int[] ints(String text) {
        String[] parts = text.trim().split(" ");
        int[] values = new int[parts.length];
        for (int index = 0; index < parts.length; index++) {
            values[index] = Integer.parseInt(parts[index]);
        }
        return values;
    }
}
