package org.ceaedge.core;

/** A whole ARGB image in memory as a {@link RowSource} and an ARGB sink: small photos and tests. */
public final class ArgbImage implements RowSource {
    public final int height;
    public final int width;
    public final int[] pixels;

    public ArgbImage(int[] pixels, int height, int width) {
        if (pixels.length != height * width) {
            throw new IllegalArgumentException("ARGB image of " + width + "x" + height + " needs "
                    + height * width + " pixels, got " + pixels.length);
        }
        this.height = height;
        this.width = width;
        this.pixels = pixels;
    }

    @Override
    public void readRows(int firstRow, int rowCount, int[] argb) {
        System.arraycopy(pixels, firstRow * width, argb, 0, rowCount * width);
    }

    /** A sink that writes rounded ARGB rows into {@code target} (height x width). */
    public static ArgbRowSink sinkInto(final int[] target, final int width) {
        return new ArgbRowSink(width) {
            @Override
            protected void writeArgb(int firstRow, int rowCount, int[] argb) {
                System.arraycopy(argb, 0, target, firstRow * width, rowCount * width);
            }
        };
    }
}
