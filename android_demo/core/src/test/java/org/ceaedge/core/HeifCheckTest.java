package org.ceaedge.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** HEIC/HEIF photos: recognised by their ftyp brand, admitted where the platform decodes them, checked for truncation. */
class HeifCheckTest {
    private static byte[] box(String type, int payload) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int size = 8 + payload;
        out.write(size >>> 24);
        out.write(size >>> 16);
        out.write(size >>> 8);
        out.write(size);
        out.write(type.getBytes(StandardCharsets.US_ASCII), 0, 4);
        out.write(new byte[payload], 0, payload);
        return out.toByteArray();
    }

    private static byte[] ftyp(String major, String... compatible) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int size = 16 + 4 * compatible.length;
        out.write(0);
        out.write(0);
        out.write(0);
        out.write(size);
        out.write("ftyp".getBytes(StandardCharsets.US_ASCII), 0, 4);
        out.write(major.getBytes(StandardCharsets.US_ASCII), 0, 4);
        out.write(new byte[4], 0, 4); // minor version
        for (String brand : compatible) {
            out.write(brand.getBytes(StandardCharsets.US_ASCII), 0, 4);
        }
        return out.toByteArray();
    }

    private static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] part : parts) {
            out.write(part, 0, part.length);
        }
        return out.toByteArray();
    }

    private static String truncation(byte[] file) throws IOException {
        return PhotoCheck.truncationProblem("p.heic", "heif", new ByteArrayInputStream(file));
    }

    @Test
    void heifBrandsAreRecognisedAndAvifIsNot() {
        assertEquals("heif", PhotoCheck.format(ftyp("heic", "mif1", "heic")));
        assertEquals("heif", PhotoCheck.format(ftyp("mif1", "heic")));
        assertEquals("heif", PhotoCheck.format(ftyp("msf1", "hevc")));
        assertNull(PhotoCheck.format(ftyp("avif", "mif1", "miaf")), "AVIF is not read as HEIF");
        assertNull(PhotoCheck.format(ftyp("isom", "mp42")), "an MP4 video is no photo");
    }

    @Test
    void heifIsAdmittedOnlyWhereThePlatformDecodesIt() {
        byte[] head = ftyp("heic", "mif1");
        assertNull(PhotoCheck.formatProblem("IMG_1.HEIC", head, true));
        String old = PhotoCheck.formatProblem("IMG_1.HEIC", head, false);
        assertTrue(old.contains("Android 9"), old);
        assertEquals("IMG_1.HEIC is a HEIC/HEIF photo: this Android version cannot decode it (Android 9 or newer can)",
                PhotoCheck.formatProblem("IMG_1.HEIC", head));
        assertEquals("notes.txt is not a JPEG, PNG, WebP or HEIC photo",
                PhotoCheck.formatProblem("notes.txt", "hello".getBytes(StandardCharsets.US_ASCII), true));
        assertEquals("notes.txt is not a JPEG, PNG or WebP photo",
                PhotoCheck.formatProblem("notes.txt", "hello".getBytes(StandardCharsets.US_ASCII), false));
    }

    @Test
    void aHeifFileIsCompleteWhenItsBoxesEndWithTheFile() throws IOException {
        byte[] whole = concat(ftyp("heic", "mif1"), box("meta", 40), box("mdat", 1000));
        assertNull(truncation(whole));
        assertTrue(truncation(Arrays.copyOf(whole, whole.length - 1)).contains("damaged or truncated"));
        assertTrue(truncation(Arrays.copyOf(whole, whole.length - 1003)).contains("truncated"), "cut inside a box header");
        assertTrue(truncation(concat(ftyp("heic"), box("mdat", 10))).contains("truncated"), "no meta box: no image");
        assertTrue(truncation(concat(box("meta", 4), ftyp("heic"))).contains("truncated"), "ftyp must come first");
        // size 0: the last box runs to the end of the file; size 1: a 64-bit size follows the type
        byte[] open = concat(ftyp("heic"), box("meta", 4), new byte[] {0, 0, 0, 0, 'm', 'd', 'a', 't', 1, 2, 3});
        assertNull(truncation(open));
        byte[] large = concat(ftyp("heic"), box("meta", 4),
                new byte[] {0, 0, 0, 1, 'm', 'd', 'a', 't', 0, 0, 0, 0, 0, 0, 0, 20, 9, 9, 9, 9});
        assertNull(truncation(large));
        assertTrue(truncation(Arrays.copyOf(large, large.length - 2)).contains("truncated"));
    }
}
