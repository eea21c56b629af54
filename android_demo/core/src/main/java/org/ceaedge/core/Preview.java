package org.ceaedge.core;

/**
 * A small copy of a photo built from its rows as they stream past (box average over
 * factor x factor blocks, the last blocks partial), for the before/after view: the full result
 * is never held. The factor is the smallest integer that brings the longer side to at most
 * {@code maxSide}. Rows must arrive top to bottom.
 */
public final class Preview {
    public final int factor;
    public final int height;
    public final int width;
    private final int sourceHeight;
    private final int sourceWidth;
    private final long[] sums; // one preview row of RGB sums
    private final int[] pixels;
    private int nextRow;

    public Preview(int sourceHeight, int sourceWidth, int maxSide) {
        this.factor = factor(sourceHeight, sourceWidth, maxSide);
        this.sourceHeight = sourceHeight;
        this.sourceWidth = sourceWidth;
        this.height = (sourceHeight + factor - 1) / factor;
        this.width = (sourceWidth + factor - 1) / factor;
        this.sums = new long[3 * width];
        this.pixels = new int[height * width];
    }

    /** The smallest integer factor that brings max(height, width) to at most maxSide. */
    public static int factor(int height, int width, int maxSide) {
        int longer = Math.max(height, width);
        return Math.max(1, (longer + maxSide - 1) / maxSide);
    }

    /** Rows [firstRow, firstRow + rowCount) of the source as ARGB, {@code argb[r * sourceWidth + x]}. */
    public void addRows(int firstRow, int rowCount, int[] argb) {
        if (firstRow != nextRow) {
            throw new IllegalStateException("preview rows out of order: " + firstRow + " after " + nextRow);
        }
        for (int row = 0; row < rowCount; row++) {
            int y = firstRow + row;
            int base = row * sourceWidth;
            for (int x = 0; x < sourceWidth; x++) {
                int pixel = argb[base + x];
                int into = 3 * (x / factor);
                sums[into] += (pixel >> 16) & 0xff;
                sums[into + 1] += (pixel >> 8) & 0xff;
                sums[into + 2] += pixel & 0xff;
            }
            if ((y + 1) % factor == 0 || y + 1 == sourceHeight) {
                emit(y / factor, y - (y / factor) * factor + 1);
            }
        }
        nextRow += rowCount;
    }

    /** The preview's ARGB pixels (height x width); complete once every source row was added. */
    public int[] pixels() {
        return pixels;
    }

    private void emit(int previewRow, int rows) {
        for (int column = 0; column < width; column++) {
            int columns = Math.min(factor, sourceWidth - column * factor);
            long count = (long) rows * columns;
            int r = (int) ((sums[3 * column] + count / 2) / count);
            int g = (int) ((sums[3 * column + 1] + count / 2) / count);
            int b = (int) ((sums[3 * column + 2] + count / 2) / count);
            pixels[previewRow * width + column] = Pixels.argb(r, g, b);
        }
        java.util.Arrays.fill(sums, 0L);
    }
}
