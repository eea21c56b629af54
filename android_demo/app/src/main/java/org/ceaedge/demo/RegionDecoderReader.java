package org.ceaedge.demo;

import android.graphics.Bitmap;
import android.graphics.BitmapFactory;
import android.graphics.BitmapRegionDecoder;
import android.graphics.Rect;
import org.ceaedge.core.RegionReader;

/**
 * Stored pixels a rectangle at a time from a {@link BitmapRegionDecoder}: the photo is never
 * decoded whole. One bitmap is reused while the rectangles keep their size (the bands do).
 */
final class RegionDecoderReader implements RegionReader {
    /** The decoder returned nothing for a region: the file is damaged past its header. */
    static final class DecodeFailed extends RuntimeException {
        private static final long serialVersionUID = 1L;

        DecodeFailed(String message) {
            super(message);
        }
    }

    private final BitmapRegionDecoder decoder;
    private final BitmapFactory.Options options = new BitmapFactory.Options();
    private Bitmap reusable;

    RegionDecoderReader(BitmapRegionDecoder decoder) {
        this.decoder = decoder;
        options.inPreferredConfig = Bitmap.Config.ARGB_8888;
    }

    @Override
    public void read(int x, int y, int width, int height, int[] argb) {
        options.inBitmap = reusable != null && reusable.getWidth() == width && reusable.getHeight() == height
                ? reusable : null;
        Bitmap bitmap = decoder.decodeRegion(new Rect(x, y, x + width, y + height), options);
        if (bitmap == null) {
            throw new DecodeFailed("the photo could not be decoded at rows " + y + "-" + (y + height));
        }
        bitmap.getPixels(argb, 0, width, 0, 0, width, height);
        if (reusable != null && reusable != bitmap) {
            reusable.recycle();
        }
        reusable = bitmap;
    }

    int height() {
        return decoder.getHeight();
    }

    int width() {
        return decoder.getWidth();
    }

    /** A whole-photo copy at 1/sampleSize (a power of two), for the "before" preview. */
    Bitmap sampled(int sampleSize) {
        BitmapFactory.Options sampled = new BitmapFactory.Options();
        sampled.inPreferredConfig = Bitmap.Config.ARGB_8888;
        sampled.inSampleSize = sampleSize;
        Bitmap bitmap = decoder.decodeRegion(new Rect(0, 0, decoder.getWidth(), decoder.getHeight()), sampled);
        if (bitmap == null) {
            throw new DecodeFailed("the photo could not be decoded");
        }
        return bitmap;
    }

    void close() {
        if (reusable != null) {
            reusable.recycle();
            reusable = null;
        }
        decoder.recycle();
    }
}
