package org.ceaedge.core;

/**
 * ARGB_8888 pixels (Android's {@code Bitmap.getPixels}) to and from planar CHW float RGB in
 * [0, 1], with the rounding of {@code cea_edge.photo_io}: {@code to_float} divides by 255 in
 * float32; {@code from_float} clips to [0, 1] (NaN to 0), multiplies by 255, adds 0.5 and
 * truncates. Alpha is dropped on the way in and written as opaque on the way out.
 *
 * <p>Note: {@code tiled_apply} and {@code context_image} scale uint8 by multiplying with
 * float32(1/255) instead, which differs from dividing by 255 in the last bit for 126 of the
 * 256 values; {@link #SCALE} and {@link #channelScaled} are that form, used where those are
 * mirrored.
 */
public final class Pixels {
    /** float32(1 / 255), as {@code np.float32(1.0 / 255)}. */
    public static final float SCALE = (float) (1.0 / 255.0);

    private Pixels() {
    }

    /** Channel 0 = red, 1 = green, 2 = blue of an ARGB int, 0..255. */
    public static int channel(int argb, int channel) {
        return (argb >> (16 - 8 * channel)) & 0xff;
    }

    /** The channel as {@code tiled_apply} reads uint8: value * float32(1/255). */
    static float channelScaled(int argb, int channel) {
        return channel(argb, channel) * SCALE;
    }

    /** {@code to_float} of one sample. */
    public static float toFloat(int value) {
        return (float) value / 255f;
    }

    /** {@code from_float(value, 8)} of one sample. */
    public static int fromFloat(float value) {
        if (value != value) {
            return 0;
        }
        float clipped = value < 0f ? 0f : (value > 1f ? 1f : value);
        return (int) (clipped * 255f + 0.5f);
    }

    /** (height * width) ARGB -> (3, height, width) float planes. */
    public static float[] toPlanar(int[] argb, int height, int width) {
        int plane = height * width;
        checkLength(argb.length, plane, "ARGB pixels");
        float[] chw = new float[3 * plane];
        for (int index = 0; index < plane; index++) {
            int pixel = argb[index];
            chw[index] = toFloat(channel(pixel, 0));
            chw[plane + index] = toFloat(channel(pixel, 1));
            chw[2 * plane + index] = toFloat(channel(pixel, 2));
        }
        return chw;
    }

    /** (3, height, width) float planes -> opaque ARGB, rounded as {@code from_float}. */
    public static int[] toArgb(float[] chw, int height, int width) {
        int[] argb = new int[height * width];
        toArgb(chw, height * width, argb);
        return argb;
    }

    /** The first {@code plane} pixels of planes laid out with channel stride {@code plane} into {@code argb}. */
    public static void toArgb(float[] chw, int plane, int[] argb) {
        checkLength(chw.length, 3 * plane, "float planes");
        checkLength(argb.length, plane, "ARGB buffer");
        for (int index = 0; index < plane; index++) {
            argb[index] = 0xff000000 | (fromFloat(chw[index]) << 16) | (fromFloat(chw[plane + index]) << 8)
                    | fromFloat(chw[2 * plane + index]);
        }
    }

    /** Opaque ARGB from 0..255 red, green, blue. */
    public static int argb(int red, int green, int blue) {
        return 0xff000000 | (red << 16) | (green << 8) | blue;
    }

    private static void checkLength(int have, int need, String what) {
        if (have < need) {
            throw new IllegalArgumentException(what + ": " + have + " values, need at least " + need);
        }
    }
}
