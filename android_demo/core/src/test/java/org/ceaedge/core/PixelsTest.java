package org.ceaedge.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import org.junit.jupiter.api.Test;

class PixelsTest {
    @Test
    void toFloatEqualsPhotoIoBitForBit() {
        float[] expected = Fixtures.get("to_float_all").floats();
        for (int value = 0; value < 256; value++) {
            assertEquals(Float.floatToIntBits(expected[value]), Float.floatToIntBits(Pixels.toFloat(value)), "value " + value);
        }
    }

    @Test
    void fromFloatEqualsPhotoIoExactly() {
        float[] probes = Fixtures.get("from_float_in").floats();
        int[] expected = Fixtures.get("from_float_out").bytes();
        for (int index = 0; index < probes.length; index++) {
            assertEquals(expected[index], Pixels.fromFloat(probes[index]), "probe " + probes[index]);
        }
    }

    @Test
    void argbRoundTripIsExact() {
        Random random = new Random(14);
        int height = 17;
        int width = 23;
        int[] argb = new int[height * width];
        for (int index = 0; index < argb.length; index++) {
            argb[index] = random.nextInt() | 0xff000000;
        }
        argb[0] = 0xff000000;
        argb[1] = 0xffffffff;
        float[] planes = Pixels.toPlanar(argb, height, width);
        assertEquals(Pixels.channel(argb[5], 1) / 255f, planes[height * width + 5], 0f);
        assertArrayEquals(argb, Pixels.toArgb(planes, height, width));
    }

    @Test
    void everySampleRoundTrips() {
        for (int value = 0; value < 256; value++) {
            assertEquals(value, Pixels.fromFloat(Pixels.toFloat(value)));
            assertEquals(value, Pixels.fromFloat(value * Pixels.SCALE));
        }
    }

    @Test
    void alphaIsDroppedAndWrittenOpaque() {
        int[] argb = {0x12345678};
        int[] back = Pixels.toArgb(Pixels.toPlanar(argb, 1, 1), 1, 1);
        assertEquals(0xff345678, back[0]);
    }
}
