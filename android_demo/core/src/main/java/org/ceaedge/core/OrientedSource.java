package org.ceaedge.core;

/**
 * Displayed rows of a stored photo, decoded a band at a time: each band of displayed rows is
 * one stored rectangle (whole rows, or whole columns for orientations 5-8), read and turned.
 * Holds one region buffer, as large as the largest band asked for.
 */
public final class OrientedSource implements RowSource {
    private final RegionReader reader;
    private final int storedHeight;
    private final int storedWidth;
    private final int orientation;
    private int[] region = new int[0];

    public OrientedSource(RegionReader reader, int storedHeight, int storedWidth, int orientation) {
        this.reader = reader;
        this.storedHeight = storedHeight;
        this.storedWidth = storedWidth;
        this.orientation = Orientation.normalise(orientation);
    }

    public int height() {
        return Orientation.displayedHeight(storedHeight, storedWidth, orientation);
    }

    public int width() {
        return Orientation.displayedWidth(storedHeight, storedWidth, orientation);
    }

    @Override
    public void readRows(int firstRow, int rowCount, int[] argb) {
        int[] rect = Orientation.storedRegion(firstRow, rowCount, storedHeight, storedWidth, orientation);
        int count = rect[2] * rect[3];
        if (orientation == 1) { // the common case: no copy
            reader.read(rect[0], rect[1], rect[2], rect[3], argb);
            return;
        }
        if (region.length < count) {
            region = new int[count];
        }
        reader.read(rect[0], rect[1], rect[2], rect[3], region);
        // The region is itself a stored image (rect[3] x rect[2]) shown with the same orientation.
        int width = width();
        for (int row = 0; row < rowCount; row++) {
            for (int column = 0; column < width; column++) {
                argb[row * width + column] = region[Orientation.storedIndex(row, column, rect[3], rect[2], orientation)];
            }
        }
    }
}
