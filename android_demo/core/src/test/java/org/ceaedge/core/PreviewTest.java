package org.ceaedge.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

class PreviewTest {
    @Test
    void factorBringsTheLongerSideWithinTheLimit() {
        assertEquals(1, Preview.factor(3000, 4000, 4000));
        assertEquals(2, Preview.factor(3000, 4001, 4000));
        assertEquals(4, Preview.factor(6000, 8000, 2048));
        assertEquals(1, Preview.factor(1, 1, 2048));
        for (int side = 1; side < 5000; side += 37) {
            Preview preview = new Preview(side, side / 2 + 1, 256);
            assertTrue(preview.height <= 256 && preview.width <= 256, "side " + side);
        }
    }

    @Test
    void streamedRowsEqualABoxAverageOfTheWholeImage() {
        Random random = new Random(9);
        int height = 23;
        int width = 31;
        int[] argb = new int[height * width];
        for (int index = 0; index < argb.length; index++) {
            argb[index] = Pixels.argb(random.nextInt(256), random.nextInt(256), random.nextInt(256));
        }
        Preview preview = new Preview(height, width, 7); // factor 5, partial last blocks both ways
        assertEquals(5, preview.factor);
        int[] band = new int[4 * width];
        for (int first = 0; first < height; first += 4) {
            int count = Math.min(4, height - first);
            System.arraycopy(argb, first * width, band, 0, count * width);
            preview.addRows(first, count, band);
        }
        int[] expected = new int[preview.height * preview.width];
        for (int py = 0; py < preview.height; py++) {
            for (int px = 0; px < preview.width; px++) {
                long[] sum = new long[3];
                int count = 0;
                for (int y = py * 5; y < Math.min(height, py * 5 + 5); y++) {
                    for (int x = px * 5; x < Math.min(width, px * 5 + 5); x++) {
                        for (int channel = 0; channel < 3; channel++) {
                            sum[channel] += Pixels.channel(argb[y * width + x], channel);
                        }
                        count++;
                    }
                }
                expected[py * preview.width + px] = Pixels.argb((int) Math.round((double) sum[0] / count - 1e-9),
                        (int) Math.round((double) sum[1] / count - 1e-9), (int) Math.round((double) sum[2] / count - 1e-9));
            }
        }
        // rounding halves up in both (integer (s + n/2) / n vs round(s/n)), up to ties handled alike
        int worst = 0;
        for (int index = 0; index < expected.length; index++) {
            for (int channel = 0; channel < 3; channel++) {
                worst = Math.max(worst, Math.abs(Pixels.channel(expected[index], channel)
                        - Pixels.channel(preview.pixels()[index], channel)));
            }
        }
        assertTrue(worst <= 1, "preview differs from the box average by " + worst);
        assertThrows(IllegalStateException.class, () -> preview.addRows(0, 1, band));
    }

    @Test
    void factorOneIsTheImage() {
        int[] argb = {Pixels.argb(1, 2, 3), Pixels.argb(4, 5, 6)};
        Preview preview = new Preview(1, 2, 10);
        preview.addRows(0, 1, argb);
        assertArrayEquals(argb, preview.pixels());
    }
}
