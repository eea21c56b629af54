package org.ceaedge.core;

/** Decodes a rectangle of the stored (not yet oriented) photo: on Android a BitmapRegionDecoder. */
public interface RegionReader {
    /** Fill {@code argb[0 .. width * height)} with the stored pixels of the rectangle, row-major. */
    void read(int x, int y, int width, int height, int[] argb);
}
