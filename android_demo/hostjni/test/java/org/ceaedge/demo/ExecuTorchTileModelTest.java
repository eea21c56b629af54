package org.ceaedge.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.File;
import java.io.IOException;
import javax.imageio.ImageIO;
import org.ceaedge.core.Enhancer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.pytorch.executorch.Module;

/**
 * The app's ExecuTorchTileModel on a real .pte, through the host test double of ExecuTorch's
 * Java API (the wheel's C++ runtime over JNI). Paths come from system properties set by
 * tools/test_host.sh: cea.pte, cea.photo, cea.python.global, cea.python.tile, cea.expect.*;
 * optional cea.edge.pte for the 256-tile timing.
 *
 * <p>The edge timing runs last: setting a thread count resets the wheel's process-wide thread
 * pool, which programs loaded before it must not use afterwards (they hang).
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ExecuTorchTileModelTest {
    private static ExecuTorchTileModel model;

    @BeforeAll
    static void load() {
        model = ExecuTorchTileModel.load(property("cea.pte"));
    }

    @AfterAll
    static void destroy() {
        model.destroy();
    }

    @Test
    void readsConstantsFromTheProgram() {
        assertEquals(Integer.parseInt(property("cea.expect.tile")), model.tileSize());
        assertEquals(Integer.parseInt(property("cea.expect.overlap")), model.tileOverlap());
        assertEquals(Integer.parseInt(property("cea.expect.context")), model.contextSize());
        assertEquals("fp32", model.precision());
        assertEquals(property("cea.expect.preset"), model.preset());
    }

    @Test
    void globalModeMatchesPython() throws IOException {
        assertMatchesPython(Enhancer.GLOBAL, property("cea.python.global"));
    }

    @Test
    void tileModeMatchesPython() throws IOException {
        assertMatchesPython(Enhancer.TILE, property("cea.python.tile"));
    }

    @Test
    void timesOneTile() {
        float[] tile = gradientTile(model.tileSize());
        double ms = millisPerTile(model, tile, 20);
        System.out.printf("TIMING tiny fp32: %.3f ms per %d^2 tile (forward, host JVM)%n", ms, model.tileSize());
    }

    @Test
    @Order(Integer.MAX_VALUE)
    @EnabledIfSystemProperty(named = "cea.edge.pte", matches = ".+", disabledReason = "run test_host.sh --edge")
    void timesEdgeTileAtOneAndTwoThreads() {
        String edge = property("cea.edge.pte");
        for (int threads = 1; threads <= 2; threads++) {
            ExecuTorchTileModel edgeModel = new ExecuTorchTileModel(Module.load(edge, Module.LOAD_MODE_FILE, threads));
            try {
                float[] tile = gradientTile(edgeModel.tileSize());
                double ms = millisPerTile(edgeModel, tile, 5);
                System.out.printf("TIMING edge %s: %.1f ms per %d^2 tile at %d thread(s) (forward, host JVM)%n",
                        edgeModel.precision(), ms, edgeModel.tileSize(), threads);
            } finally {
                edgeModel.destroy();
            }
        }
    }

    /** Parity means something only when the model does work: it changes the photo, and the modes differ. */
    @Test
    void theModelChangesThePhotoAndTheModesDiffer() throws IOException {
        int[] photo = readArgb(property("cea.photo"));
        int[] global = readArgb(property("cea.python.global"));
        int[] tile = readArgb(property("cea.python.tile"));
        int photoToGlobal = maxAbs(photo, global);
        int globalToTile = maxAbs(global, tile);
        System.out.printf("CHANGE photo -> global: max-abs %d levels; global vs tile: max-abs %d levels%n",
                photoToGlobal, globalToTile);
        assertTrue(photoToGlobal > 1, "the fixture model leaves the photo unchanged: parity would prove nothing");
        assertTrue(globalToTile > 0, "global and tile mode agree: the factors make no difference");
    }

    private static void assertMatchesPython(String mode, String pythonPng) throws IOException {
        BufferedImage photo = ImageIO.read(new File(property("cea.photo")));
        int height = photo.getHeight();
        int width = photo.getWidth();
        int[] argb = photo.getRGB(0, 0, width, height, null, 0, width);
        Enhancer enhancer = new Enhancer(model, model.tileSize(), model.tileOverlap(), model.contextSize());
        int[] restored = enhancer.restore(argb, height, width, mode, null);

        BufferedImage expected = ImageIO.read(new File(pythonPng));
        assertEquals(width, expected.getWidth());
        assertEquals(height, expected.getHeight());
        int[] reference = expected.getRGB(0, 0, width, height, null, 0, width);
        int differing = 0;
        for (int i = 0; i < reference.length; i++) {
            for (int shift = 0; shift <= 16; shift += 8) {
                differing += ((restored[i] >> shift) & 0xff) == ((reference[i] >> shift) & 0xff) ? 0 : 1;
            }
        }
        int maxAbs = maxAbs(restored, reference);
        System.out.printf("PARITY %s %dx%d: max-abs %d levels, %d of %d values differ%n", mode, width, height,
                maxAbs, differing, reference.length * 3);
        assertTrue(maxAbs <= 1, mode + " mode: Java and Python differ by " + maxAbs + " levels");
    }

    private static int[] readArgb(String png) throws IOException {
        BufferedImage image = ImageIO.read(new File(png));
        return image.getRGB(0, 0, image.getWidth(), image.getHeight(), null, 0, image.getWidth());
    }

    /** Largest per-channel difference (RGB, 0..255) between two ARGB images. */
    private static int maxAbs(int[] a, int[] b) {
        int max = 0;
        for (int i = 0; i < a.length; i++) {
            for (int shift = 0; shift <= 16; shift += 8) {
                max = Math.max(max, Math.abs(((a[i] >> shift) & 0xff) - ((b[i] >> shift) & 0xff)));
            }
        }
        return max;
    }

    private static double millisPerTile(ExecuTorchTileModel timed, float[] tile, int runs) {
        timed.run(tile, timed.tileSize(), null);  // warm-up: first call initialises the delegate
        double[] times = new double[runs];
        for (int i = 0; i < runs; i++) {
            long start = System.nanoTime();
            timed.run(tile, timed.tileSize(), null);
            times[i] = (System.nanoTime() - start) / 1e6;
        }
        java.util.Arrays.sort(times);
        return times[runs / 2];  // median
    }

    private static float[] gradientTile(int side) {
        float[] tile = new float[3 * side * side];
        for (int i = 0; i < tile.length; i++) {
            tile[i] = (i % 97) / 96f;
        }
        return tile;
    }

    private static String property(String name) {
        String value = System.getProperty(name);
        if (value == null) {
            throw new IllegalStateException("system property " + name + " not set: run tools/test_host.sh");
        }
        return value;
    }
}
