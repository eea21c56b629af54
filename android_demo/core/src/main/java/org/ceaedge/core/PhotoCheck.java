package org.ceaedge.core;

import java.io.IOException;
import java.io.InputStream;
import java.util.Locale;

/**
 * What the app checks about a photo before any model work, each with the message it shows:
 * the format (JPEG, PNG, WebP: what BitmapRegionDecoder reads in bands), the pixel limit and
 * whether the file is complete. A truncated JPEG or PNG decodes on Android without an error
 * (the missing part comes out grey), so completeness is read from the file's own structure:
 * JPEG markers up to EOI (entropy-coded data skipped, trailers after EOI such as motion-photo
 * videos allowed), PNG chunks up to IEND, WebP's RIFF length, HEIF's top-level boxes. HEIC/HEIF
 * (ISO base media file with a HEIF brand) is read where the platform decodes it (Android 9+).
 */
public final class PhotoCheck {
    /** As {@code cea_edge.photo_io.DEFAULT_MAX_PIXELS}: a decompression-bomb guard that 48 MP photos pass. */
    public static final long MAX_PIXELS = 100000000L;

    private static final byte[] PNG = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    /** ftyp brands of HEIF stills (ISO/IEC 23008-12): HEVC-coded and generic image brands. */
    private static final String[] HEIF_BRANDS = {"heic", "heix", "hevc", "hevx", "heim", "heis", "mif1", "msf1"};

    private PhotoCheck() {
    }

    /** "jpeg", "png", "webp" or "heif" from the first bytes; null for anything else. */
    public static String format(byte[] head) {
        if (head.length >= 3 && (head[0] & 0xff) == 0xff && (head[1] & 0xff) == 0xd8 && (head[2] & 0xff) == 0xff) {
            return "jpeg";
        }
        if (Exif.startsWith(head, 0, PNG)) {
            return "png";
        }
        if (Exif.ascii(head, 0, 4).equals("RIFF") && Exif.ascii(head, 8, 4).equals("WEBP")) {
            return "webp";
        }
        if (isHeif(head)) {
            return "heif";
        }
        return null;
    }

    /** An ISO base media file whose ftyp box names a HEIF brand (major or compatible; AVIF is not HEIF here). */
    private static boolean isHeif(byte[] head) {
        if (head.length < 16 || !Exif.ascii(head, 4, 4).equals("ftyp")) {
            return false;
        }
        String major = Exif.ascii(head, 8, 4);
        if (major.startsWith("avi")) {
            return false;
        }
        long size = ((head[0] & 0xffL) << 24) | ((head[1] & 0xff) << 16) | ((head[2] & 0xff) << 8) | (head[3] & 0xff);
        int end = (int) Math.min(Math.max(size, 16), head.length);
        for (int at = 8; at + 4 <= end; at += at == 8 ? 8 : 4) { // major brand, (minor version), compatible brands
            String brand = Exif.ascii(head, at, 4);
            for (String heif : HEIF_BRANDS) {
                if (heif.equals(brand)) {
                    return true;
                }
            }
        }
        return false;
    }

    /** The message for a file that is not a photo the app reads; null when it is one. HEIF is refused. */
    public static String formatProblem(String name, byte[] head) {
        return formatProblem(name, head, false);
    }

    /**
     * The message for a file that is not a photo the app reads; null when it is one.
     * {@code heifDecodable}: the platform decodes HEIC/HEIF (Android 9+, API 28).
     */
    public static String formatProblem(String name, byte[] head, boolean heifDecodable) {
        if (head.length == 0) {
            return name + " is empty";
        }
        String format = format(head);
        if ("heif".equals(format) && !heifDecodable) {
            return name + " is a HEIC/HEIF photo: this Android version cannot decode it (Android 9 or newer can)";
        }
        if (format == null) {
            return name + (heifDecodable ? " is not a JPEG, PNG, WebP or HEIC photo" : " is not a JPEG, PNG or WebP photo");
        }
        return null;
    }

    /** The message for a photo above {@code maxPixels}; null within it. */
    public static String sizeProblem(String name, int width, int height, long maxPixels) {
        if (width < 1 || height < 1) {
            return name + " could not be decoded (no image size in its header)";
        }
        long pixels = (long) width * height;
        if (pixels > maxPixels) {
            return String.format(Locale.ROOT, "%s has %.1f MP (%dx%d), above the %s limit", name, pixels / 1e6, width,
                    height, megapixels(maxPixels));
        }
        return null;
    }

    /** The message for a truncated file; null when its structure is complete. Reads {@code file} to its end. */
    public static String truncationProblem(String name, String format, InputStream file) throws IOException {
        boolean complete;
        if ("jpeg".equals(format)) {
            complete = jpegComplete(new Bytes(file));
        } else if ("png".equals(format)) {
            complete = pngComplete(new Bytes(file));
        } else if ("webp".equals(format)) {
            complete = webpComplete(new Bytes(file));
        } else if ("heif".equals(format)) {
            complete = heifComplete(new Bytes(file));
        } else {
            return null;
        }
        return complete ? null : name + " is damaged or truncated (the file ends before the image does)";
    }

    private static String megapixels(long pixels) {
        return pixels % 1000000L == 0 ? (pixels / 1000000L) + " MP" : String.format(Locale.ROOT, "%.1f MP", pixels / 1e6);
    }

    private static boolean jpegComplete(Bytes in) throws IOException {
        if (in.next() != 0xff || in.next() != 0xd8) {
            return false;
        }
        int marker = nextMarker(in);
        while (marker >= 0) {
            if (marker == 0xd9) {
                return true;
            }
            if (marker == 0x01 || (marker >= 0xd0 && marker <= 0xd7)) { // no length
                marker = nextMarker(in);
                continue;
            }
            int high = in.next();
            int low = in.next();
            if (low < 0 || ((high << 8) | low) < 2 || !in.skip(((high << 8) | low) - 2)) {
                return false;
            }
            marker = marker == 0xda ? afterScan(in) : nextMarker(in);
        }
        return false;
    }

    /** The marker after a segment: 0xFF, fill bytes, the code; -1 at the end of the file. */
    private static int nextMarker(Bytes in) throws IOException {
        int value = in.next();
        while (value >= 0 && value != 0xff) { // tolerate junk between segments, as decoders do
            value = in.next();
        }
        while (value == 0xff) {
            value = in.next();
        }
        return value;
    }

    /** Skip entropy-coded data (stuffed 0xFF00 and restart markers belong to it); the next marker or -1. */
    private static int afterScan(Bytes in) throws IOException {
        while (true) {
            int value = in.next();
            if (value < 0) {
                return -1;
            }
            if (value != 0xff) {
                continue;
            }
            while (value == 0xff) {
                value = in.next();
            }
            if (value < 0) {
                return -1;
            }
            if (value != 0x00 && (value < 0xd0 || value > 0xd7)) {
                return value;
            }
        }
    }

    private static boolean pngComplete(Bytes in) throws IOException {
        if (!in.skip(8)) {
            return false;
        }
        while (true) {
            long length = in.be32();
            long type = in.be32();
            if (length < 0 || type < 0) {
                return false;
            }
            if (type == 0x49454e44L) { // IEND: its CRC must be there too
                return in.skip(4);
            }
            if (!in.skip(length + 4)) {
                return false;
            }
        }
    }

    private static boolean webpComplete(Bytes in) throws IOException {
        if (!in.skip(4)) {
            return false;
        }
        long riffLength = 0;
        for (int index = 0; index < 4; index++) {
            int value = in.next();
            if (value < 0) {
                return false;
            }
            riffLength |= (long) value << (8 * index);
        }
        return in.skip(riffLength);
    }

    /**
     * HEIF: top-level boxes (32-bit size and type; size 1: a 64-bit size follows; size 0: to the
     * end of the file) that end exactly at the end of the file, ftyp first, a meta box among them.
     */
    private static boolean heifComplete(Bytes in) throws IOException {
        boolean first = true;
        boolean meta = false;
        while (true) {
            int lead = in.next();
            if (lead < 0) { // the file ends between boxes
                return !first && meta;
            }
            long size = lead;
            for (int i = 0; i < 3; i++) {
                int b = in.next();
                if (b < 0) {
                    return false;
                }
                size = (size << 8) | b;
            }
            StringBuilder type = new StringBuilder();
            for (int i = 0; i < 4; i++) {
                int b = in.next();
                if (b < 0) {
                    return false;
                }
                type.append((char) b);
            }
            long header = 8;
            if (size == 1) {
                long high = in.be32();
                long low = in.be32();
                if (high < 0 || low < 0) {
                    return false;
                }
                size = (high << 32) | low;
                header = 16;
            }
            String name = type.toString();
            if (first && !"ftyp".equals(name)) {
                return false;
            }
            first = false;
            meta |= "meta".equals(name);
            if (size == 0) { // the last box runs to the end of the file
                return meta;
            }
            if (size < header || !in.skip(size - header)) {
                return false;
            }
        }
    }

    /** A byte reader over a stream (buffered here: Android's ContentResolver streams are not). */
    private static final class Bytes {
        private final InputStream stream;
        private final byte[] buffer = new byte[1 << 16];
        private int position;
        private int limit;

        Bytes(InputStream stream) {
            this.stream = stream;
        }

        int next() throws IOException {
            if (position == limit) {
                limit = stream.read(buffer, 0, buffer.length);
                position = 0;
                if (limit <= 0) {
                    limit = 0;
                    return -1;
                }
            }
            return buffer[position++] & 0xff;
        }

        long be32() throws IOException {
            long value = 0;
            for (int index = 0; index < 4; index++) {
                int b = next();
                if (b < 0) {
                    return -1;
                }
                value = (value << 8) | b;
            }
            return value;
        }

        /** Skip {@code count} bytes; false when the file ends first. */
        boolean skip(long count) throws IOException {
            long left = count;
            int buffered = Math.min(limit - position, (int) Math.min(left, Integer.MAX_VALUE));
            position += buffered;
            left -= buffered;
            while (left > 0) {
                int read = stream.read(buffer, 0, (int) Math.min(buffer.length, left));
                if (read <= 0) {
                    return false;
                }
                left -= read;
            }
            return true;
        }
    }
}
