package org.ceaedge.core;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** The arrays make_core_fixtures.py wrote from the Python runtime (test resources under fixtures/). */
final class Fixtures {
    static final class Array {
        final String dtype;
        final int[] shape;
        final ByteBuffer data;

        Array(String dtype, int[] shape, ByteBuffer data) {
            this.dtype = dtype;
            this.shape = shape;
            this.data = data;
        }

        float[] floats() {
            float[] values = new float[data.remaining() / 4];
            data.duplicate().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(values);
            return values;
        }

        double[] doubles() {
            double[] values = new double[data.remaining() / 8];
            data.duplicate().order(ByteOrder.LITTLE_ENDIAN).asDoubleBuffer().get(values);
            return values;
        }

        int[] bytes() {
            int[] values = new int[data.remaining()];
            for (int index = 0; index < values.length; index++) {
                values[index] = data.get(index) & 0xff;
            }
            return values;
        }

        /** An (H, W, 3) uint8 array as ARGB. */
        int[] argb() {
            int[] samples = bytes();
            int[] argb = new int[samples.length / 3];
            for (int index = 0; index < argb.length; index++) {
                argb[index] = Pixels.argb(samples[3 * index], samples[3 * index + 1], samples[3 * index + 2]);
            }
            return argb;
        }
    }

    private static Map<String, String[]> index;

    private Fixtures() {
    }

    static synchronized Array get(String name) {
        if (index == null) {
            index = new HashMap<>();
            for (String line : text("index.txt").split("\n")) {
                if (!line.trim().isEmpty()) {
                    String[] parts = line.trim().split(" ");
                    index.put(parts[0], parts);
                }
            }
        }
        String[] entry = index.get(name);
        if (entry == null) {
            throw new IllegalArgumentException("no fixture " + name + ": rerun android_demo/tools/make_core_fixtures.py");
        }
        int[] shape = new int[entry.length - 2];
        for (int index = 0; index < shape.length; index++) {
            shape[index] = Integer.parseInt(entry[index + 2]);
        }
        return new Array(entry[1], shape, ByteBuffer.wrap(bytes(name + ".bin")));
    }

    static String text(String name) {
        return new String(bytes(name), StandardCharsets.UTF_8);
    }

    static List<String> lines(String name) {
        List<String> lines = new ArrayList<>();
        for (String line : text(name).split("\n")) {
            if (!line.trim().isEmpty()) {
                lines.add(line);
            }
        }
        return lines;
    }

    static byte[] bytes(String name) {
        try (InputStream stream = Fixtures.class.getResourceAsStream("/fixtures/" + name)) {
            if (stream == null) {
                throw new IllegalStateException("fixture /fixtures/" + name + " is not on the classpath");
            }
            ByteArrayOutputStream buffer = new ByteArrayOutputStream();
            byte[] chunk = new byte[1 << 16];
            for (int read; (read = stream.read(chunk)) > 0; ) {
                buffer.write(chunk, 0, read);
            }
            return buffer.toByteArray();
        } catch (IOException error) {
            throw new IllegalStateException(error);
        }
    }

    /** (H, W, 3) float32 as (3, H, W) planes. */
    static float[] hwcToChw(float[] hwc, int height, int width) {
        float[] chw = new float[hwc.length];
        int plane = height * width;
        for (int pixel = 0; pixel < plane; pixel++) {
            for (int channel = 0; channel < 3; channel++) {
                chw[channel * plane + pixel] = hwc[3 * pixel + channel];
            }
        }
        return chw;
    }

    static double maxAbs(float[] expected, float[] actual) {
        if (expected.length != actual.length) {
            throw new AssertionError("lengths differ: " + expected.length + " vs " + actual.length);
        }
        double worst = 0;
        for (int index = 0; index < expected.length; index++) {
            worst = Math.max(worst, Math.abs((double) expected[index] - actual[index]));
        }
        return worst;
    }

    /** Prints a measured difference so the test log records it. */
    static void report(String what, double difference) {
        System.out.println("[max-abs] " + what + ": " + difference);
    }
}
