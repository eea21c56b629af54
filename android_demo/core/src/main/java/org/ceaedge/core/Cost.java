package org.ceaedge.core;

import java.util.Locale;

/** What one enhancement cost, as the app shows it: tiles, threads, seconds, ms per megapixel. */
public final class Cost {
    public final int tiles;
    public final int threads;
    public final long nanos;
    public final long pixels;

    public Cost(int tiles, int threads, long nanos, long pixels) {
        this.tiles = tiles;
        this.threads = threads;
        this.nanos = nanos;
        this.pixels = pixels;
    }

    public double seconds() {
        return nanos / 1e9;
    }

    public double millisPerMegapixel() {
        return pixels == 0 ? 0 : (nanos / 1e6) / (pixels / 1e6);
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "%d tiles, %d thread%s, %.1f s, %.0f ms/MP", tiles, threads,
                threads == 1 ? "" : "s", seconds(), millisPerMegapixel());
    }
}
