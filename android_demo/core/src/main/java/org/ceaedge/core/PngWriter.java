package org.ceaedge.core;

import java.io.IOException;
import java.io.OutputStream;
import java.util.zip.CRC32;
import java.util.zip.Deflater;

/**
 * A streaming 8-bit RGB PNG encoder: rows go in top to bottom as they are restored and leave
 * deflated in IDAT chunks, so a 48 MP result never exists whole in memory. Each row is Paeth
 * filtered (best on photos of the five filters on average, one pass). An EXIF block (TIFF
 * bytes) can be carried in an eXIf chunk. Call {@link #finish} after the last row; the caller
 * owns the stream (write to a temporary name, rename when finish returns).
 */
public final class PngWriter {
    private static final int CHUNK = 1 << 16;

    private final OutputStream out;
    private final int height;
    private final int width;
    private final Deflater deflater;
    private final CRC32 crc = new CRC32();
    private final byte[] deflated = new byte[CHUNK];
    private byte[] previous;
    private byte[] current;
    private final byte[] filtered;
    private int rowsWritten;

    /** Writes the signature and header; {@code exifTiff} (nullable) goes into an eXIf chunk. */
    public PngWriter(OutputStream out, int height, int width, byte[] exifTiff, int level) throws IOException {
        if (height < 1 || width < 1) {
            throw new IllegalArgumentException("PNG of " + width + "x" + height);
        }
        this.out = out;
        this.height = height;
        this.width = width;
        this.deflater = new Deflater(level);
        this.previous = new byte[3 * width];
        this.current = new byte[3 * width];
        this.filtered = new byte[1 + 3 * width];
        out.write(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'});
        byte[] header = new byte[13];
        put32(header, 0, width);
        put32(header, 4, height);
        header[8] = 8; // bit depth
        header[9] = 2; // truecolour RGB
        chunk("IHDR", header, 0, header.length);
        if (exifTiff != null) {
            chunk("eXIf", exifTiff, 0, exifTiff.length);
        }
    }

    /** Rows [firstRow, firstRow + rowCount) as ARGB ({@code argb[r * width + x]}); alpha is dropped. */
    public void writeRows(int firstRow, int rowCount, int[] argb) throws IOException {
        if (firstRow != rowsWritten || firstRow + rowCount > height) {
            throw new IllegalStateException("rows " + firstRow + ".." + (firstRow + rowCount) + " after " + rowsWritten
                    + " of " + height + ": rows must come in order, each once");
        }
        for (int row = 0; row < rowCount; row++) {
            int base = row * width;
            for (int x = 0; x < width; x++) {
                int pixel = argb[base + x];
                current[3 * x] = (byte) (pixel >> 16);
                current[3 * x + 1] = (byte) (pixel >> 8);
                current[3 * x + 2] = (byte) pixel;
            }
            paeth();
            deflater.setInput(filtered, 0, filtered.length);
            while (!deflater.needsInput()) {
                drain(Deflater.NO_FLUSH);
            }
            byte[] swap = previous;
            previous = current;
            current = swap;
        }
        rowsWritten += rowCount;
    }

    /** Flush the compressed data and write IEND; fails when rows are missing. */
    public void finish() throws IOException {
        if (rowsWritten != height) {
            throw new IllegalStateException("finish after " + rowsWritten + " of " + height + " rows");
        }
        deflater.finish();
        while (!deflater.finished()) {
            drain(Deflater.NO_FLUSH);
        }
        deflater.end();
        chunk("IEND", new byte[0], 0, 0);
        out.flush();
    }

    /** Release the deflater without finishing (cancel, error). */
    public void abandon() {
        deflater.end();
    }

    private void paeth() {
        filtered[0] = 4;
        for (int index = 0; index < current.length; index++) {
            int a = index >= 3 ? current[index - 3] & 0xff : 0;
            int b = previous[index] & 0xff;
            int c = index >= 3 ? previous[index - 3] & 0xff : 0;
            int p = a + b - c;
            int pa = Math.abs(p - a);
            int pb = Math.abs(p - b);
            int pc = Math.abs(p - c);
            int predictor = pa <= pb && pa <= pc ? a : (pb <= pc ? b : c);
            filtered[1 + index] = (byte) ((current[index] & 0xff) - predictor);
        }
    }

    private void drain(int flush) throws IOException {
        int count = deflater.deflate(deflated, 0, deflated.length, flush);
        if (count > 0) {
            chunk("IDAT", deflated, 0, count);
        }
    }

    private void chunk(String type, byte[] data, int offset, int length) throws IOException {
        byte[] head = new byte[8];
        put32(head, 0, length);
        for (int index = 0; index < 4; index++) {
            head[4 + index] = (byte) type.charAt(index);
        }
        crc.reset();
        crc.update(head, 4, 4);
        crc.update(data, offset, length);
        out.write(head);
        out.write(data, offset, length);
        byte[] tail = new byte[4];
        put32(tail, 0, (int) crc.getValue());
        out.write(tail);
    }

    private static void put32(byte[] bytes, int at, int value) {
        bytes[at] = (byte) (value >>> 24);
        bytes[at + 1] = (byte) (value >>> 16);
        bytes[at + 2] = (byte) (value >>> 8);
        bytes[at + 3] = (byte) value;
    }
}
