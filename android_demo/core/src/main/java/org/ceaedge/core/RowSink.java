package org.ceaedge.core;

/** Where finished rows go, top to bottom, each row exactly once. */
public interface RowSink {
    /**
     * Rows [firstRow, firstRow + rowCount) of the restored photo, as float RGB planes:
     * {@code rows[c * rowCount * width + r * width + x]}, unclamped. The array is reused after
     * the call returns (and may be longer than {@code 3 * rowCount * width}): copy what you keep.
     */
    void writeRows(int firstRow, int rowCount, float[] rows);
}
