package org.ceaedge.core;

/**
 * The EXIF block of a JPEG, PNG or WebP file (from its first bytes) and its IFD0 orientation,
 * read as {@code cea_edge.photo_exif} reads them: the orientation is a SHORT tag 0x0112,
 * anything unreadable counts as 1 (upright). {@link #upright} patches that one entry to 1 and
 * keeps every other byte, as {@code upright_exif} does, so the saved result is not turned twice.
 */
public final class Exif {
    public static final int ORIENTATION_TAG = 0x0112;
    private static final byte[] PREFIX = {'E', 'x', 'i', 'f', 0, 0};

    private Exif() {
    }

    /**
     * The TIFF block ("II" or "MM" onwards) of the file whose first bytes are {@code head}; null
     * when there is none in those bytes (or the format is not one the app reads).
     */
    public static byte[] find(byte[] head) {
        String format = PhotoCheck.format(head);
        if ("jpeg".equals(format)) {
            return jpeg(head);
        }
        if ("png".equals(format)) {
            return chunk(head, 8, false, "eXIf", "IDAT");
        }
        if ("webp".equals(format)) {
            return chunk(head, 12, true, "EXIF", null);
        }
        return null;
    }

    /** IFD0's orientation 1-8 of a TIFF block; 1 when absent, damaged or out of range. */
    public static int orientation(byte[] tiff) {
        int entry = orientationEntry(tiff);
        if (entry < 0) {
            return 1;
        }
        return Orientation.normalise(read16(tiff, entry + 8, tiff[0] == 'I'));
    }

    /** A copy of the TIFF block with the orientation entry set to 1 (upright); null stays null. */
    public static byte[] upright(byte[] tiff) {
        if (tiff == null) {
            return null;
        }
        byte[] copy = tiff.clone();
        int entry = orientationEntry(copy);
        if (entry >= 0) {
            boolean little = copy[0] == 'I';
            copy[entry + 8] = (byte) (little ? 1 : 0);
            copy[entry + 9] = (byte) (little ? 0 : 1);
        }
        return copy;
    }

    /** Offset of IFD0's orientation entry (type SHORT), or -1. */
    private static int orientationEntry(byte[] tiff) {
        if (tiff == null || tiff.length < 8) {
            return -1;
        }
        boolean little;
        if (tiff[0] == 'I' && tiff[1] == 'I') {
            little = true;
        } else if (tiff[0] == 'M' && tiff[1] == 'M') {
            little = false;
        } else {
            return -1;
        }
        long ifd = read32(tiff, 4, little);
        if (ifd < 8 || ifd + 2 > tiff.length) {
            return -1;
        }
        int count = read16(tiff, (int) ifd, little);
        for (int index = 0; index < count; index++) {
            int entry = (int) ifd + 2 + 12 * index;
            if (entry + 12 > tiff.length) {
                return -1;
            }
            if (read16(tiff, entry, little) == ORIENTATION_TAG && read16(tiff, entry + 2, little) == 3) {
                return entry;
            }
        }
        return -1;
    }

    /** JPEG: the APP1 segment that starts with "Exif\0\0", looked for up to the first scan. */
    private static byte[] jpeg(byte[] head) {
        int at = 2;
        while (at + 4 <= head.length) {
            if ((head[at] & 0xff) != 0xff) {
                return null;
            }
            int marker = head[at + 1] & 0xff;
            if (marker == 0xff) { // fill byte
                at++;
                continue;
            }
            if (marker == 0xda || marker == 0xd9) {
                return null;
            }
            int length = read16(head, at + 2, false);
            if (length < 2) {
                return null;
            }
            int data = at + 4;
            if (marker == 0xe1 && startsWith(head, data, PREFIX)) {
                return slice(head, data + PREFIX.length, at + 2 + length);
            }
            at += 2 + length;
        }
        return null;
    }

    /** PNG and RIFF (WebP) chunk lists; {@code stopAt}: a chunk after which none is looked at. */
    private static byte[] chunk(byte[] head, int at, boolean riff, String wanted, String stopAt) {
        while (at + 8 <= head.length) {
            long length = riff ? (read32(head, at + 4, true)) : read32(head, at, false);
            String type = riff ? ascii(head, at, 4) : ascii(head, at + 4, 4);
            int data = at + 8;
            if (type.equals(wanted)) {
                int start = startsWith(head, data, PREFIX) ? data + PREFIX.length : data;
                return slice(head, start, (int) Math.min(data + length, Integer.MAX_VALUE));
            }
            if (type.equals(stopAt)) {
                return null;
            }
            long next = data + length + (riff ? (length & 1) : 4); // RIFF pads to even; PNG has a CRC
            if (next > Integer.MAX_VALUE) {
                return null;
            }
            at = (int) next;
        }
        return null;
    }

    private static byte[] slice(byte[] bytes, int from, int to) {
        if (from < 0 || to > bytes.length || to - from < 8) {
            return null;
        }
        byte[] part = new byte[to - from];
        System.arraycopy(bytes, from, part, 0, part.length);
        return part;
    }

    static boolean startsWith(byte[] bytes, int at, byte[] prefix) {
        if (at < 0 || at + prefix.length > bytes.length) {
            return false;
        }
        for (int index = 0; index < prefix.length; index++) {
            if (bytes[at + index] != prefix[index]) {
                return false;
            }
        }
        return true;
    }

    static String ascii(byte[] bytes, int at, int length) {
        if (at + length > bytes.length) {
            return "";
        }
        char[] chars = new char[length];
        for (int index = 0; index < length; index++) {
            chars[index] = (char) (bytes[at + index] & 0xff);
        }
        return new String(chars);
    }

    static int read16(byte[] bytes, int at, boolean little) {
        int a = bytes[at] & 0xff;
        int b = bytes[at + 1] & 0xff;
        return little ? a | (b << 8) : (a << 8) | b;
    }

    static long read32(byte[] bytes, int at, boolean little) {
        long value = 0;
        for (int index = 0; index < 4; index++) {
            int shift = little ? 8 * index : 8 * (3 - index);
            value |= (long) (bytes[at + index] & 0xff) << shift;
        }
        return value;
    }
}
