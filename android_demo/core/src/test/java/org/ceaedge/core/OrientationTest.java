package org.ceaedge.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import org.junit.jupiter.api.Test;

class OrientationTest {
    @Test
    void everyOrientationEqualsPythonUpright() {
        int[] stored = Fixtures.get("orient_in").argb(); // 5 x 7
        for (int orientation = 1; orientation <= 8; orientation++) {
            Fixtures.Array expected = Fixtures.get("orient_out_" + orientation);
            assertEquals(expected.shape[0], Orientation.displayedHeight(5, 7, orientation));
            assertEquals(expected.shape[1], Orientation.displayedWidth(5, 7, orientation));
            assertArrayEquals(expected.argb(), Orientation.apply(stored, 5, 7, orientation), "orientation " + orientation);
        }
    }

    @Test
    void unknownValuesAreUpright() {
        int[] stored = Fixtures.get("orient_in").argb();
        assertArrayEquals(stored, Orientation.apply(stored, 5, 7, 0));
        assertArrayEquals(stored, Orientation.apply(stored, 5, 7, 9));
    }

    /** Band by band through a region reader equals turning the whole image, for any band split. */
    @Test
    void orientedSourceBandsEqualTheWholeImage() {
        Random random = new Random(6);
        int[][] sizes = {{1, 1}, {1, 9}, {9, 1}, {5, 7}, {33, 20}};
        for (int[] size : sizes) {
            final int height = size[0];
            final int width = size[1];
            final int[] stored = new int[height * width];
            for (int index = 0; index < stored.length; index++) {
                stored[index] = random.nextInt();
            }
            RegionReader reader = new RegionReader() {
                @Override
                public void read(int x, int y, int w, int h, int[] argb) {
                    if (x < 0 || y < 0 || x + w > width || y + h > height) {
                        throw new AssertionError("region outside the photo: " + x + "," + y + " " + w + "x" + h);
                    }
                    for (int row = 0; row < h; row++) {
                        System.arraycopy(stored, (y + row) * width + x, argb, row * w, w);
                    }
                }
            };
            for (int orientation = 1; orientation <= 8; orientation++) {
                OrientedSource source = new OrientedSource(reader, height, width, orientation);
                int[] whole = Orientation.apply(stored, height, width, orientation);
                int shown = source.width();
                for (int band = 1; band <= source.height(); band += 3) {
                    int[] got = new int[source.height() * shown];
                    int[] buffer = new int[band * shown];
                    for (int first = 0; first < source.height(); first += band) {
                        int count = Math.min(band, source.height() - first);
                        source.readRows(first, count, buffer);
                        System.arraycopy(buffer, 0, got, first * shown, count * shown);
                    }
                    assertArrayEquals(whole, got, height + "x" + width + " orientation " + orientation + " band " + band);
                }
            }
        }
    }
}
