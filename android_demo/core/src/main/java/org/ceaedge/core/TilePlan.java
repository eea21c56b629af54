package org.ceaedge.core;

/**
 * Where the tiles of a fixed-tile model go on an image of any size: the same starts as
 * {@code cea_edge.runtime.tiling.plan_tiles}.
 *
 * <p>Along each axis the stride is {@code tile - overlap} and the last tile is shifted inward
 * to end at the border, so every tile the model sees is real image. A side shorter than a
 * tile is mirror-padded (at the bottom / right) up to the tile: the plan then has one start, 0,
 * on that axis and the padded side is {@code tile}.
 */
public final class TilePlan {
    public final int height;
    public final int width;
    public final int tile;
    public final int overlap;
    private final int[] ys;
    private final int[] xs;

    private TilePlan(int height, int width, int tile, int overlap) {
        this.height = height;
        this.width = width;
        this.tile = tile;
        this.overlap = overlap;
        this.ys = axisStarts(Math.max(height, tile), tile, overlap);
        this.xs = axisStarts(Math.max(width, tile), tile, overlap);
    }

    /** The plan for an image of {@code height x width} pixels; a user-facing error for impossible settings. */
    public static TilePlan plan(int height, int width, int tile, int overlap) {
        if (height < 1 || width < 1) {
            throw new IllegalArgumentException("cannot tile an image of " + width + "x" + height + " pixels");
        }
        if (tile < 1 || overlap < 0 || overlap >= tile) {
            throw new IllegalArgumentException("tile " + tile + " with overlap " + overlap
                    + ": need tile >= 1 and 0 <= overlap < tile");
        }
        return new TilePlan(height, width, tile, overlap);
    }

    /** Tile starts along one axis of {@code size} (>= tile, or 1 start when smaller) pixels. */
    public static int[] axisStarts(int size, int tile, int overlap) {
        if (size <= tile) {
            return new int[] {0};
        }
        int stride = tile - overlap;
        int regular = (size - tile + stride - 1) / stride; // starts 0, stride, ... below size - tile
        int[] starts = new int[regular + 1];
        for (int index = 0; index < regular; index++) {
            starts[index] = index * stride;
        }
        starts[regular] = size - tile;
        return starts;
    }

    public int paddedHeight() {
        return Math.max(height, tile);
    }

    public int paddedWidth() {
        return Math.max(width, tile);
    }

    public int count() {
        return ys.length * xs.length;
    }

    /** Row starts in the padded image (a copy). */
    public int[] ys() {
        return ys.clone();
    }

    /** Column starts in the padded image (a copy). */
    public int[] xs() {
        return xs.clone();
    }

    int rowStart(int index) {
        return ys[index];
    }

    int rows() {
        return ys.length;
    }

    int columnStart(int index) {
        return xs[index];
    }

    int columns() {
        return xs.length;
    }
}
