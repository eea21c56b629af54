package org.ceaedge.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class BlendWeightsTest {
    private static final int[][] CASES = {{1, 0}, {5, 2}, {8, 7}, {16, 0}, {32, 8}, {64, 16}};

    @Test
    void windowsEqualPythonBlendWindow() {
        double worstRamp = 0;
        double worstWindow = 0;
        for (int[] setting : CASES) {
            String name = setting[0] + "_" + setting[1];
            double[] ramp = BlendWeights.edgeRamp(setting[0], setting[1]);
            double[] expected = Fixtures.get("ramp_" + name).doubles();
            assertEquals(expected.length, ramp.length);
            for (int index = 0; index < ramp.length; index++) {
                worstRamp = Math.max(worstRamp, Math.abs(expected[index] - ramp[index]));
            }
            float[] window = BlendWeights.window(setting[0], setting[1]);
            // float32 after rounding: must be bit-equal
            assertArrayEquals(Fixtures.get("window_" + name).floats(), window, 0f, name);
            worstWindow = Math.max(worstWindow, Fixtures.maxAbs(Fixtures.get("window_" + name).floats(), window));
        }
        Fixtures.report("edge_ramp (float64)", worstRamp);
        Fixtures.report("blend_window (float32)", worstWindow);
        assertTrue(worstRamp <= 1e-15);
    }

    @Test
    void weightsArePositiveAndSymmetric() {
        for (int[] setting : CASES) {
            double[] ramp = BlendWeights.edgeRamp(setting[0], setting[1]);
            for (int index = 0; index < ramp.length; index++) {
                assertTrue(ramp[index] > 0 && ramp[index] <= 1);
                assertEquals(ramp[index], ramp[ramp.length - 1 - index], 0.0);
            }
        }
    }

    @Test
    void normalisedWeightsSumToOneAtEveryPixel() {
        int[][] images = {{1, 1}, {1, 70}, {70, 1}, {33, 47}, {100, 64}, {31, 31}};
        int[][] settings = {{8, 0}, {16, 4}, {32, 8}, {32, 31}, {1, 0}};
        for (int[] image : images) {
            for (int[] setting : settings) {
                TilePlan plan = TilePlan.plan(image[0], image[1], setting[0], setting[1]);
                float[] ramp = BlendWeights.edgeRampFloat(setting[0], setting[1]);
                float[] rows = BlendWeights.axisWeights(plan.ys(), ramp, plan.paddedHeight());
                float[] columns = BlendWeights.axisWeights(plan.xs(), ramp, plan.paddedWidth());
                double[] sum = new double[image[0] * image[1]];
                int tile = setting[0];
                for (int y : plan.ys()) {
                    for (int x : plan.xs()) {
                        for (int i = 0; i < tile; i++) {
                            for (int j = 0; j < tile; j++) {
                                if (y + i < image[0] && x + j < image[1]) {
                                    sum[(y + i) * image[1] + x + j] +=
                                            (double) ramp[i] * ramp[j] / ((double) rows[y + i] * columns[x + j]);
                                }
                            }
                        }
                    }
                }
                for (double total : sum) {
                    assertEquals(1.0, total, 1e-6);
                }
            }
        }
    }
}
