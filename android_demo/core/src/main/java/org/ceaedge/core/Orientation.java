package org.ceaedge.core;

/**
 * EXIF orientation 1-8 as {@code cea_edge.photo_exif.upright} applies it (the transforms of
 * PIL's {@code ImageOps.exif_transpose}): the pixels a viewer shows from the stored pixels.
 * Orientations 5-8 swap height and width. Unknown values count as 1 (stored upright).
 */
public final class Orientation {
    private Orientation() {
    }

    /** Orientation as applied: 1-8, anything else is 1. */
    public static int normalise(int orientation) {
        return orientation >= 1 && orientation <= 8 ? orientation : 1;
    }

    /** True for 5-8: displayed rows are stored columns. */
    public static boolean transposes(int orientation) {
        return normalise(orientation) >= 5;
    }

    public static int displayedHeight(int storedHeight, int storedWidth, int orientation) {
        return transposes(orientation) ? storedWidth : storedHeight;
    }

    public static int displayedWidth(int storedHeight, int storedWidth, int orientation) {
        return transposes(orientation) ? storedHeight : storedWidth;
    }

    /**
     * Index into the stored (storedHeight x storedWidth, row-major) pixels of displayed pixel
     * (row, column).
     */
    public static int storedIndex(int row, int column, int storedHeight, int storedWidth, int orientation) {
        int h = storedHeight - 1;
        int w = storedWidth - 1;
        switch (normalise(orientation)) {
            case 2: return row * storedWidth + (w - column);
            case 3: return (h - row) * storedWidth + (w - column);
            case 4: return (h - row) * storedWidth + column;
            case 5: return column * storedWidth + row;
            case 6: return (h - column) * storedWidth + row;
            case 7: return (h - column) * storedWidth + (w - row);
            case 8: return column * storedWidth + (w - row);
            default: return row * storedWidth + column;
        }
    }

    /**
     * The stored rectangle {x, y, width, height} that holds displayed rows
     * [firstRow, firstRow + rowCount): whole stored rows (1-4) or whole stored columns (5-8).
     */
    public static int[] storedRegion(int firstRow, int rowCount, int storedHeight, int storedWidth, int orientation) {
        switch (normalise(orientation)) {
            case 3: case 4: return new int[] {0, storedHeight - firstRow - rowCount, storedWidth, rowCount};
            case 5: case 6: return new int[] {firstRow, 0, rowCount, storedHeight};
            case 7: case 8: return new int[] {storedWidth - firstRow - rowCount, 0, rowCount, storedHeight};
            default: return new int[] {0, firstRow, storedWidth, rowCount};
        }
    }

    /** The displayed image of whole stored pixels (small images: previews, tests). */
    public static int[] apply(int[] stored, int storedHeight, int storedWidth, int orientation) {
        int height = displayedHeight(storedHeight, storedWidth, orientation);
        int width = displayedWidth(storedHeight, storedWidth, orientation);
        int[] displayed = new int[height * width];
        for (int row = 0; row < height; row++) {
            for (int column = 0; column < width; column++) {
                displayed[row * width + column] = stored[storedIndex(row, column, storedHeight, storedWidth, orientation)];
            }
        }
        return displayed;
    }
}
