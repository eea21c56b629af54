package org.ceaedge.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** Each fixture photo: the app's checks agree with what the Python toolkit makes of it. */
class PhotoCheckTest {
    @Test
    void formatOrientationAndCompletenessAgreeWithPython() throws IOException {
        int complete = 0;
        int refused = 0;
        for (String line : Fixtures.lines("photos.txt")) {
            String[] parts = line.split(" ");
            String name = parts[0];
            byte[] file = Fixtures.bytes("photos/" + name);
            String format = PhotoCheck.format(file);
            String problem = PhotoCheck.formatProblem(name, file);
            if (problem == null) {
                problem = PhotoCheck.truncationProblem(name, format, new ByteArrayInputStream(file));
            }
            if (parts[3].equals("complete")) {
                complete++;
                assertNull(problem, name);
                assertEquals(parts[1], format, name);
                assertEquals(Integer.parseInt(parts[2]), Exif.orientation(Exif.find(file)), name + " orientation");
            } else {
                refused++;
                assertNotNull(problem, name + ": Python refuses it, the app must too");
                if (!parts[1].equals("none")) {
                    assertEquals(parts[1], format, name);
                    assertTrue(problem.contains("truncated"), problem);
                }
            }
        }
        assertTrue(complete >= 6 && refused >= 5, "the fixture set shrank: " + complete + " complete, " + refused + " refused");
    }

    @Test
    void everyPrefixOfAJpegIsTruncatedAndTheWholeIsNot() throws IOException {
        byte[] file = Fixtures.bytes("photos/progressive.jpg");
        assertNull(PhotoCheck.truncationProblem("p", "jpeg", new ByteArrayInputStream(file)));
        for (int length = 0; length < file.length; length += 1 + length / 7) {
            byte[] cut = Arrays.copyOf(file, length);
            assertNotNull(PhotoCheck.truncationProblem("p", "jpeg", new ByteArrayInputStream(cut)), "prefix " + length);
        }
        byte[] png = Fixtures.bytes("photos/plain.png");
        assertNotNull(PhotoCheck.truncationProblem("p", "png", new ByteArrayInputStream(Arrays.copyOf(png, png.length - 1))));
    }

    @Test
    void pixelLimitIsPythonsAndNamedInTheMessage() {
        assertEquals("max_pixels " + PhotoCheck.MAX_PIXELS, Fixtures.lines("limits.txt").get(0));
        assertNull(PhotoCheck.sizeProblem("p.jpg", 8000, 6000, PhotoCheck.MAX_PIXELS));
        assertEquals("p.jpg has 100.0 MP (10001x10000), above the 100 MP limit",
                PhotoCheck.sizeProblem("p.jpg", 10001, 10000, PhotoCheck.MAX_PIXELS));
        assertNotNull(PhotoCheck.sizeProblem("p.jpg", 0, 10, PhotoCheck.MAX_PIXELS));
        assertEquals("e.png is empty", PhotoCheck.formatProblem("e.png", new byte[0]));
        assertEquals("t.jpg is not a JPEG, PNG or WebP photo", PhotoCheck.formatProblem("t.jpg", "hello".getBytes()));
    }

    @Test
    void uprightExifChangesOnlyTheOrientation() {
        byte[] tiff = Exif.find(Fixtures.bytes("photos/rotated.jpg"));
        assertEquals(6, Exif.orientation(tiff));
        byte[] upright = Exif.upright(tiff);
        assertEquals(1, Exif.orientation(upright));
        int differing = 0;
        for (int index = 0; index < tiff.length; index++) {
            differing += tiff[index] == upright[index] ? 0 : 1;
        }
        assertTrue(differing >= 1 && differing <= 2, differing + " bytes changed");
        assertNull(Exif.find(Fixtures.bytes("photos/plain.png")));
        assertEquals(1, Exif.orientation(null));
        assertEquals(1, Exif.orientation(new byte[] {'I', 'I', 42, 0, (byte) 0xff, (byte) 0xff, 0, 0}));
    }
}
