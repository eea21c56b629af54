package org.ceaedge.core;

/**
 * A photo made on the fly for the benchmark (no file, no memory for the whole image): smooth
 * colour ramps plus a hashed noise texture, so the model sees image-like content; the same
 * pixels on every run and every device. {@link #sized} picks a 4:3 size for a megapixel count.
 */
public final class SyntheticPhoto implements RowSource {
    public final int height;
    public final int width;

    public SyntheticPhoto(int height, int width) {
        if (height < 1 || width < 1) {
            throw new IllegalArgumentException("a photo needs at least one pixel, got " + width + "x" + height);
        }
        this.height = height;
        this.width = width;
    }

    /** Landscape 4:3 with about {@code megapixels} MP (12 MP: 4000 x 3000). */
    public static SyntheticPhoto sized(double megapixels) {
        int width = (int) Math.max(1, Math.round(Math.sqrt(megapixels * 1e6 * 4 / 3)));
        int height = (int) Math.max(1, Math.round(width * 3 / 4.0));
        return new SyntheticPhoto(height, width);
    }

    @Override
    public void readRows(int firstRow, int rowCount, int[] argb) {
        for (int r = 0; r < rowCount; r++) {
            int y = firstRow + r;
            for (int x = 0; x < width; x++) {
                int noise = (hash(x, y) & 0x1f) - 16;
                int red = clamp(64 + 128 * x / width + noise);
                int green = clamp(48 + 160 * y / height + noise);
                int blue = clamp(200 - 120 * (x + y) / (width + height) + noise);
                argb[r * width + x] = 0xff000000 | (red << 16) | (green << 8) | blue;
            }
        }
    }

    /** A (3, side, side) planar image in [0, 1] of this photo's top-left corner (tiles, context images). */
    public float[] chw(int side) {
        int rows = Math.min(side, height);
        int[] argb = new int[rows * width];
        readRows(0, rows, argb);
        float[] chw = new float[3 * side * side];
        for (int y = 0; y < side; y++) {
            for (int x = 0; x < side; x++) {
                int pixel = argb[Math.min(y, rows - 1) * width + Math.min(x, width - 1)];
                for (int c = 0; c < 3; c++) {
                    chw[(c * side + y) * side + x] = ((pixel >> (16 - 8 * c)) & 0xff) / 255f;
                }
            }
        }
        return chw;
    }

    private static int hash(int x, int y) {
        int h = x * 0x27d4eb2d ^ y * 0x165667b1;
        h ^= h >>> 15;
        h *= 0x2c1b3c6d;
        return h ^ (h >>> 12);
    }

    private static int clamp(int value) {
        return Math.max(0, Math.min(255, value));
    }
}
