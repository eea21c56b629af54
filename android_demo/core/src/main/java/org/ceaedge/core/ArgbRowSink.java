package org.ceaedge.core;

/**
 * A {@link RowSink} that hands on opaque ARGB rows rounded as {@code from_float} (the uint8
 * output of {@code tiled_apply}), e.g. into {@code Bitmap.setPixels}. One ARGB band is reused.
 */
public abstract class ArgbRowSink implements RowSink {
    private final int width;
    private int[] argb = new int[0];

    protected ArgbRowSink(int width) {
        this.width = width;
    }

    /** Rows [firstRow, firstRow + rowCount) as ARGB, {@code argb[r * width + x]}; reused after the call. */
    protected abstract void writeArgb(int firstRow, int rowCount, int[] argb);

    @Override
    public final void writeRows(int firstRow, int rowCount, float[] rows) {
        int plane = rowCount * width;
        if (argb.length < plane) {
            // As large as the caller's buffer allows at once: allocated once per photo, not per band.
            argb = new int[Math.max(plane, rows.length / 3)];
        }
        Pixels.toArgb(rows, plane, argb);
        writeArgb(firstRow, rowCount, argb);
    }
}
