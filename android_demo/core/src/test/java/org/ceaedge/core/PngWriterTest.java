package org.ceaedge.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.Random;
import java.util.zip.Deflater;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;

class PngWriterTest {
    @Test
    void streamedRowsDecodeToTheSamePixels() throws IOException {
        Random random = new Random(3);
        int[][] sizes = {{1, 1}, {1, 300}, {300, 1}, {97, 131}};
        for (int[] size : sizes) {
            int height = size[0];
            int width = size[1];
            int[] argb = new int[height * width];
            for (int index = 0; index < argb.length; index++) {
                // smooth plus noise: every Paeth predictor branch is taken
                argb[index] = Pixels.argb((index % width) * 255 / Math.max(1, width - 1), random.nextInt(256),
                        (index / width) % 256);
            }
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            PngWriter png = new PngWriter(bytes, height, width, null, Deflater.DEFAULT_COMPRESSION);
            int[] band = new int[17 * width];
            for (int first = 0; first < height; first += 17) {
                int count = Math.min(17, height - first);
                System.arraycopy(argb, first * width, band, 0, count * width);
                png.writeRows(first, count, band);
            }
            png.finish();
            byte[] file = bytes.toByteArray();
            assertNull(PhotoCheck.truncationProblem("out.png", "png", new ByteArrayInputStream(file)));
            BufferedImage decoded = ImageIO.read(new ByteArrayInputStream(file));
            assertEquals(width, decoded.getWidth());
            assertEquals(height, decoded.getHeight());
            assertArrayEquals(argb, decoded.getRGB(0, 0, width, height, null, 0, width), height + "x" + width);
        }
    }

    @Test
    void carriesTheExifItIsGiven() throws IOException {
        byte[] tiff = Exif.upright(Exif.find(Fixtures.bytes("photos/rotated.jpg")));
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PngWriter png = new PngWriter(bytes, 2, 2, tiff, 1);
        png.writeRows(0, 2, new int[] {1, 2, 3, 4});
        png.finish();
        byte[] file = bytes.toByteArray();
        assertArrayEquals(tiff, Exif.find(file));
        assertEquals(1, Exif.orientation(Exif.find(file)));
    }

    @Test
    void rowsOutOfOrderOrMissingAreRefused() throws IOException {
        PngWriter png = new PngWriter(new ByteArrayOutputStream(), 4, 2, null, 1);
        assertThrows(IllegalStateException.class, () -> png.writeRows(1, 1, new int[2]));
        png.writeRows(0, 2, new int[4]);
        assertThrows(IllegalStateException.class, png::finish);
        assertThrows(IllegalStateException.class, () -> png.writeRows(2, 3, new int[6]));
        png.abandon();
    }
}
