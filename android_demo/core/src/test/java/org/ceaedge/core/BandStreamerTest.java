package org.ceaedge.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class BandStreamerTest {
    private static final int[][] PYTHON_CASES = {{70, 45}, {20, 45}, {1, 50}, {1, 1}, {40, 70}};

    /** Collects float rows into a (3, H, W) image and records how they came. */
    static final class Collector implements RowSink {
        final int height;
        final int width;
        final float[] image;
        final List<int[]> calls = new ArrayList<>();

        Collector(int height, int width) {
            this.height = height;
            this.width = width;
            this.image = new float[3 * height * width];
        }

        @Override
        public void writeRows(int firstRow, int rowCount, float[] rows) {
            calls.add(new int[] {firstRow, rowCount});
            int plane = height * width;
            for (int channel = 0; channel < 3; channel++) {
                System.arraycopy(rows, channel * rowCount * width, image, channel * plane + firstRow * width,
                        rowCount * width);
            }
        }
    }

    @Test
    void equalsPythonTiledApplyFloatAndUint8() {
        double worst = 0;
        for (int[] size : PYTHON_CASES) {
            int height = size[0];
            int width = size[1];
            String name = height + "_" + width;
            int[] argb = Fixtures.get("tiled_in_" + name).argb();
            Collector collector = new Collector(height, width);
            new BandStreamer(new TestModels.Affine(0), 32, 8).run(new ArgbImage(argb, height, width), height, width,
                    null, collector, null);
            float[] expected = Fixtures.hwcToChw(Fixtures.get("tiled_float_" + name).floats(), height, width);
            double difference = Fixtures.maxAbs(expected, collector.image);
            worst = Math.max(worst, difference);
            assertTrue(difference <= 1e-6, name + ": max-abs " + difference);

            int[] restored = new int[height * width];
            new BandStreamer(new TestModels.Affine(0), 32, 8).run(new ArgbImage(argb, height, width), height, width,
                    null, ArgbImage.sinkInto(restored, width), null);
            assertArrayEquals(Fixtures.get("tiled_uint8_" + name).argb(), restored, name + " uint8");
        }
        Fixtures.report("tiled_apply float32 output", worst);
    }

    @Test
    void bandStreamingEqualsWholeImageBlending() {
        Random random = new Random(3);
        int[][] shapes = {{1, 1}, {1, 37}, {37, 1}, {50, 61}, {97, 33}, {16, 16}};
        int[][] settings = {{16, 4}, {8, 0}, {16, 15}, {1, 0}};
        for (int[] shape : shapes) {
            for (int[] setting : settings) {
                int height = shape[0];
                int width = shape[1];
                int[] argb = new int[height * width];
                for (int index = 0; index < argb.length; index++) {
                    argb[index] = random.nextInt() | 0xff000000;
                }
                Collector collector = new Collector(height, width);
                new BandStreamer(new TestModels.Wavy(), setting[0], setting[1])
                        .run(new ArgbImage(argb, height, width), height, width, null, collector, null);
                double[] reference = wholeImageBlend(argb, height, width, setting[0], setting[1], new TestModels.Wavy());
                double worst = 0;
                for (int index = 0; index < reference.length; index++) {
                    worst = Math.max(worst, Math.abs(reference[index] - collector.image[index]));
                }
                assertTrue(worst <= 1e-6, height + "x" + width + " tile " + setting[0] + ": " + worst);
            }
        }
    }

    @Test
    void anIdentityModelGivesBackTheImage() {
        Random random = new Random(5);
        int height = 83;
        int width = 29;
        int[] argb = new int[height * width];
        for (int index = 0; index < argb.length; index++) {
            argb[index] = random.nextInt() | 0xff000000;
        }
        int[] restored = new int[argb.length];
        new BandStreamer(new TestModels.Identity(), 16, 5).run(new ArgbImage(argb, height, width), height, width, null,
                ArgbImage.sinkInto(restored, width), null);
        assertArrayEquals(argb, restored);
    }

    @Test
    void rowsComeOnceInOrderAtMostATileAtATime() {
        int height = 301;
        int width = 7;
        Collector collector = new Collector(height, width);
        final int[] reads = {0, 0};
        RowSource source = new RowSource() {
            @Override
            public void readRows(int firstRow, int rowCount, int[] argb) {
                assertTrue(rowCount <= 32 && firstRow >= reads[0]);
                reads[0] = firstRow;
                reads[1]++;
                java.util.Arrays.fill(argb, 0, rowCount * width, 0xff808080);
            }
        };
        final List<Integer> progress = new ArrayList<>();
        new BandStreamer(new TestModels.Identity(), 32, 8).run(source, height, width, null, collector,
                (done, total) -> {
                    progress.add(done);
                    assertEquals(TilePlan.plan(height, width, 32, 8).count(), total);
                });
        int next = 0;
        for (int[] call : collector.calls) {
            assertEquals(next, call[0]);
            assertTrue(call[1] > 0 && call[1] <= 32);
            next += call[1];
        }
        assertEquals(height, next);
        assertEquals(TilePlan.plan(height, width, 32, 8).rows(), reads[1]);
        assertEquals(TilePlan.plan(height, width, 32, 8).count(), progress.size());
        assertEquals(progress.size(), (int) progress.get(progress.size() - 1));
    }

    @Test
    void aModelReturningTheWrongShapeIsReported() {
        TileModel broken = new TileModel() {
            @Override
            public float[][] context(float[] chw, int size) {
                return null;
            }

            @Override
            public float[] run(float[] tile, int side, float[][] factors) {
                return new float[3];
            }
        };
        IllegalStateException error = assertThrows(IllegalStateException.class, () -> new BandStreamer(broken, 8, 2)
                .run(new ArgbImage(new int[64], 8, 8), 8, 8, null, new Collector(8, 8), null));
        assertTrue(error.getMessage().contains("expected 192"));
    }

    /** Reference: the whole padded image's accumulator and weight plane in double, then divided. */
    static double[] wholeImageBlend(int[] argb, int height, int width, int tile, int overlap, TileModel model) {
        TilePlan plan = TilePlan.plan(height, width, tile, overlap);
        int paddedHeight = plan.paddedHeight();
        int paddedWidth = plan.paddedWidth();
        double[] values = new double[3 * paddedHeight * paddedWidth];
        double[] weights = new double[paddedHeight * paddedWidth];
        float[] ramp = BlendWeights.edgeRampFloat(tile, overlap);
        int area = tile * tile;
        for (int y : plan.ys()) {
            for (int x : plan.xs()) {
                float[] input = new float[3 * area];
                for (int i = 0; i < tile; i++) {
                    for (int j = 0; j < tile; j++) {
                        int pixel = argb[ContextImage.mirror(y + i, height) * width + ContextImage.mirror(x + j, width)];
                        for (int channel = 0; channel < 3; channel++) {
                            input[channel * area + i * tile + j] = Pixels.channel(pixel, channel) * Pixels.SCALE;
                        }
                    }
                }
                float[] output = model.run(input, tile, null);
                for (int i = 0; i < tile; i++) {
                    for (int j = 0; j < tile; j++) {
                        double weight = (double) ramp[i] * ramp[j];
                        weights[(y + i) * paddedWidth + x + j] += weight;
                        for (int channel = 0; channel < 3; channel++) {
                            values[(channel * paddedHeight + y + i) * paddedWidth + x + j] +=
                                    output[channel * area + i * tile + j] * weight;
                        }
                    }
                }
            }
        }
        double[] image = new double[3 * height * width];
        for (int channel = 0; channel < 3; channel++) {
            for (int row = 0; row < height; row++) {
                for (int column = 0; column < width; column++) {
                    image[(channel * height + row) * width + column] =
                            values[(channel * paddedHeight + row) * paddedWidth + column]
                                    / weights[row * paddedWidth + column];
                }
            }
        }
        return image;
    }
}
