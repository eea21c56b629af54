package org.ceaedge.core;

/** Test models that mirror the ones make_core_fixtures.py runs through the Python runtime. */
final class TestModels {
    private TestModels() {
    }

    /** gain[c] * x + bias[c, i, j] in float32, tile mode; with factors (global) adds f0 * 0.5 - f1 * 0.25. */
    static final class Affine implements TileModel {
        final float[] gain = Fixtures.get("model_gain").floats();
        final float[] bias = Fixtures.get("model_bias").floats();
        final int contextSize;
        int contextCalls;
        int runs;

        Affine(int contextSize) {
            this.contextSize = contextSize;
        }

        @Override
        public float[][] context(float[] chw, int size) {
            contextCalls++;
            int plane = size * size;
            float[] first = new float[3];
            float[] second = new float[3];
            for (int channel = 0; channel < 3; channel++) {
                first[channel] = chw[channel * plane];
                second[channel] = chw[channel * plane + (size / 2) * size + size - 1];
            }
            return new float[][] {first, second};
        }

        @Override
        public float[] run(float[] tile, int side, float[][] factors) {
            runs++;
            int area = side * side;
            float[] out = new float[3 * area];
            for (int channel = 0; channel < 3; channel++) {
                float shift = factors == null ? 0f
                        : factors[0][channel] * 0.5f - factors[1][channel] * 0.25f;
                for (int at = 0; at < area; at++) {
                    float value = tile[channel * area + at] * gain[channel] + bias[channel * area + at];
                    out[channel * area + at] = factors == null ? value : value + shift;
                }
            }
            return out;
        }
    }

    /** Returns the tile unchanged. */
    static final class Identity implements TileModel {
        @Override
        public float[][] context(float[] chw, int size) {
            return new float[0][];
        }

        @Override
        public float[] run(float[] tile, int side, float[][] factors) {
            return tile.clone();
        }
    }

    /** A deterministic model whose output depends on the tile's position content and on pixel position. */
    static final class Wavy implements TileModel {
        @Override
        public float[][] context(float[] chw, int size) {
            return new float[0][];
        }

        @Override
        public float[] run(float[] tile, int side, float[][] factors) {
            int area = side * side;
            float[] out = new float[3 * area];
            for (int at = 0; at < 3 * area; at++) {
                int inTile = at % area;
                out[at] = tile[at] * 0.8f + 0.05f * (float) Math.sin(inTile * 0.37) + 0.1f * tile[(at + area) % (3 * area)];
            }
            return out;
        }
    }
}
