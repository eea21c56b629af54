package org.ceaedge.core;

/**
 * Where rows of a photo come from, a band at a time (on Android: a BitmapRegionDecoder
 * region, then {@code Bitmap.getPixels}); rows are asked for top to bottom.
 */
public interface RowSource {
    /**
     * Fill {@code argb[0 .. rowCount * width)} with image rows [firstRow, firstRow + rowCount),
     * row-major, ARGB_8888; {@code width} is the photo's full width.
     */
    void readRows(int firstRow, int rowCount, int[] argb);
}
