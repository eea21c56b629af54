package org.ceaedge.core;

/**
 * One whole photo through a {@link TileModel}, as {@code cea_edge.runtime.restore.restore_photo}
 * does it. Global mode: the photo is shrunk (or mirror-padded) to the context side, the context
 * method turns it into the factors once, and every tile is restored with those factors -- the
 * adapters see the whole photo. Tile mode: every tile makes its own factors.
 */
public final class Enhancer {
    public static final String GLOBAL = "global";
    public static final String TILE = "tile";

    private final TileModel model;
    private final int tile;
    private final int overlap;
    private final int contextSize;

    /** tile, overlap, contextSize: the program's tile_size, tile_overlap and context_size (0: tile mode only). */
    public Enhancer(TileModel model, int tile, int overlap, int contextSize) {
        this.model = model;
        this.tile = tile;
        this.overlap = overlap;
        this.contextSize = contextSize;
    }

    /** Restore {@code height x width} ARGB pixels held in memory; returns opaque ARGB. */
    public int[] restore(int[] argb, int height, int width, String mode, Progress progress) {
        int[] restored = new int[height * width];
        restore(new ArgbImage(argb, height, width), height, width, mode, ArgbImage.sinkInto(restored, width),
                progress);
        return restored;
    }

    /**
     * Restore a photo streamed from {@code source} into {@code sink}. Global mode reads the
     * source twice: once (band by band) for the context image, once for the tiles.
     */
    public void restore(RowSource source, int height, int width, String mode, RowSink sink, Progress progress) {
        float[][] factors = null;
        if (GLOBAL.equals(mode)) {
            factors = factors(source, height, width);
        } else if (!TILE.equals(mode)) {
            throw new IllegalArgumentException("mode must be \"" + GLOBAL + "\" or \"" + TILE + "\", got \"" + mode + "\"");
        }
        new BandStreamer(model, tile, overlap).run(source, height, width, factors, sink, progress);
    }

    /** The photo's factors from its context image (global mode's first pass). */
    public float[][] factors(RowSource source, int height, int width) {
        if (contextSize < 1) {
            throw new IllegalArgumentException("this model has no context graph (context_size 0): use mode \""
                    + TILE + "\"");
        }
        float[] context = ContextImage.fromSource(source, height, width, contextSize, Math.min(tile, height));
        return model.context(context, contextSize);
    }
}
