package org.ceaedge.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.File;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import org.ceaedge.core.ArgbImage;
import org.ceaedge.core.Enhancer;
import org.ceaedge.core.RowSink;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.pytorch.executorch.Module;
import javax.imageio.ImageIO;

/**
 * The app's ExecuTorchTileModel on real .pte files, through the host test double of ExecuTorch's
 * Java API (the wheel's C++ runtime over JNI), against the Python runtime on the same program and
 * photo. tools/test_host.sh sets the system properties: cea.cases (comma-separated case names),
 * and per case cea.CASE.pte, .photo, .expect.{tile,overlap,context,preset,precision} and Python's
 * outputs per mode: .python.MODE.png (python -m cea_edge.enhance) and .python.MODE.f32 (the same
 * restoration before rounding, float32 H x W x 3). Optional cea.timing.ptes for the tile timing.
 *
 * <p>Bars: fp32 programs match to max-abs 1e-4 before rounding and 1 level after; int8 programs
 * to PSNR 45 dB (the same int8 kernels, but XNNPACK may pick other micro-kernels per call).
 * The timing runs last: setting a thread count resets the wheel's process-wide thread pool, which
 * programs loaded before must not use afterwards (a limit of the double, see Module).
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ExecuTorchTileModelTest {
    private static final String[] MODES = {Enhancer.GLOBAL, Enhancer.TILE};

    @TestFactory
    @Order(1)
    List<DynamicTest> everyProgramMatchesPython() {
        List<DynamicTest> tests = new ArrayList<>();
        for (final String name : property("cea.cases").split(",")) {
            tests.add(DynamicTest.dynamicTest(name + ": constants read from the program", () -> constants(name)));
            for (final String mode : MODES) {
                tests.add(DynamicTest.dynamicTest(name + ": " + mode + " mode equals Python", () -> parity(name, mode)));
            }
            tests.add(DynamicTest.dynamicTest(name + ": the model changes the photo and the modes differ",
                    () -> doesWork(name)));
        }
        return tests;
    }

    private static void constants(String name) {
        ExecuTorchTileModel model = ExecuTorchTileModel.load(property("cea." + name + ".pte"));
        try {
            assertEquals(Integer.parseInt(property("cea." + name + ".expect.tile")), model.tileSize());
            assertEquals(Integer.parseInt(property("cea." + name + ".expect.overlap")), model.tileOverlap());
            assertEquals(Integer.parseInt(property("cea." + name + ".expect.context")), model.contextSize());
            assertEquals(property("cea." + name + ".expect.precision"), model.precision());
            assertEquals(property("cea." + name + ".expect.preset"), model.preset());
        } finally {
            model.destroy();
        }
    }

    private static void parity(String name, String mode) throws IOException {
        ExecuTorchTileModel model = ExecuTorchTileModel.load(property("cea." + name + ".pte"));
        try {
            BufferedImage photo = ImageIO.read(new File(property("cea." + name + ".photo")));
            final int height = photo.getHeight();
            final int width = photo.getWidth();
            int[] argb = photo.getRGB(0, 0, width, height, null, 0, width);
            Enhancer enhancer = new Enhancer(model, model.tileSize(), model.tileOverlap(), model.contextSize());
            int[] restored = enhancer.restore(argb, height, width, mode, null);
            // The same run before rounding: rows as the sink receives them, back to H x W x 3.
            final float[] floats = new float[height * width * 3];
            enhancer.restore(new ArgbImage(argb, height, width), height, width, mode, new RowSink() {
                @Override
                public void writeRows(int firstRow, int rowCount, float[] rows) {
                    for (int c = 0; c < 3; c++) {
                        for (int r = 0; r < rowCount; r++) {
                            for (int x = 0; x < width; x++) {
                                floats[((firstRow + r) * width + x) * 3 + c] = rows[(c * rowCount + r) * width + x];
                            }
                        }
                    }
                }
            }, null);
            float[] python = readFloats(property("cea." + name + ".python." + mode + ".f32"), floats.length);
            int[] pythonPng = readArgb(property("cea." + name + ".python." + mode + ".png"), height, width);
            double maxAbs = 0;
            double squared = 0;
            for (int i = 0; i < floats.length; i++) {
                double difference = Math.abs((double) floats[i] - python[i]);
                maxAbs = Math.max(maxAbs, difference);
                double clipped = Math.max(0, Math.min(1, floats[i])) - Math.max(0, Math.min(1, python[i]));
                squared += clipped * clipped;
            }
            double psnr = squared == 0 ? Double.POSITIVE_INFINITY : 10 * Math.log10(floats.length / squared);
            int levels = maxLevels(restored, pythonPng);
            System.out.printf("PARITY %s %s %dx%d: float max-abs %.2e, PSNR %.1f dB; 8-bit vs python -m cea_edge.enhance:"
                    + " max-abs %d levels%n", name, mode, width, height, maxAbs, psnr, levels);
            if ("int8".equals(model.precision())) {
                assertTrue(psnr >= 45, name + " " + mode + ": PSNR " + psnr + " dB against Python, below 45 dB");
            } else {
                assertTrue(maxAbs <= 1e-4, name + " " + mode + ": max-abs " + maxAbs + " against Python, above 1e-4");
                assertTrue(levels <= 1, name + " " + mode + ": the 8-bit results differ by " + levels + " levels");
            }
        } finally {
            model.destroy();
        }
    }

    /** Parity means something only when the model does work: it changes the photo, and the modes differ. */
    private static void doesWork(String name) throws IOException {
        BufferedImage photo = ImageIO.read(new File(property("cea." + name + ".photo")));
        int height = photo.getHeight();
        int width = photo.getWidth();
        int[] input = photo.getRGB(0, 0, width, height, null, 0, width);
        int[] global = readArgb(property("cea." + name + ".python.global.png"), height, width);
        int[] tile = readArgb(property("cea." + name + ".python.tile.png"), height, width);
        int photoToGlobal = maxLevels(input, global);
        int globalToTile = maxLevels(global, tile);
        System.out.printf("CHANGE %s photo -> global: max-abs %d levels; global vs tile: max-abs %d levels%n", name,
                photoToGlobal, globalToTile);
        assertTrue(photoToGlobal > 1, name + " leaves the photo unchanged: parity would prove nothing");
        assertTrue(globalToTile > 0, name + ": global and tile mode agree, the factors make no difference");
    }

    @Test
    @Order(2)
    @EnabledIfSystemProperty(named = "cea.timing.ptes", matches = ".+", disabledReason = "run test_host.sh --edge")
    void timesOneTileAtOneAndTwoThreads() {
        for (String pte : property("cea.timing.ptes").split(",")) {
            for (int threads = 1; threads <= 2; threads++) {
                ExecuTorchTileModel model = new ExecuTorchTileModel(Module.load(pte, Module.LOAD_MODE_FILE, threads));
                try {
                    double ms = millisPerTile(model, 20);
                    System.out.printf("TIMING java %s %s: %.1f ms per %d^2 tile at %d thread(s) (forward, host JVM)%n",
                            model.preset(), model.precision(), ms, model.tileSize(), threads);
                    assertTrue(ms > 0);
                } finally {
                    model.destroy();
                }
            }
        }
    }

    private static double millisPerTile(ExecuTorchTileModel timed, int runs) {
        int side = timed.tileSize();
        float[] tile = new float[3 * side * side];
        for (int i = 0; i < tile.length; i++) {
            tile[i] = (i % 97) / 96f;
        }
        timed.run(tile, side, null); // warm-up: the first call initialises the delegate
        double[] times = new double[runs];
        for (int i = 0; i < runs; i++) {
            long start = System.nanoTime();
            timed.run(tile, side, null);
            times[i] = (System.nanoTime() - start) / 1e6;
        }
        java.util.Arrays.sort(times);
        return times[runs / 2]; // median
    }

    private static float[] readFloats(String path, int count) throws IOException {
        byte[] bytes = Files.readAllBytes(new File(path).toPath());
        assertEquals(4L * count, bytes.length, path + " has the wrong size");
        float[] values = new float[count];
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(values);
        return values;
    }

    private static int[] readArgb(String png, int height, int width) throws IOException {
        BufferedImage image = ImageIO.read(new File(png));
        assertEquals(width, image.getWidth(), png);
        assertEquals(height, image.getHeight(), png);
        return image.getRGB(0, 0, width, height, null, 0, width);
    }

    /** Largest per-channel difference (RGB, 0..255) between two ARGB images. */
    private static int maxLevels(int[] a, int[] b) {
        int max = 0;
        for (int i = 0; i < a.length; i++) {
            for (int shift = 0; shift <= 16; shift += 8) {
                max = Math.max(max, Math.abs(((a[i] >> shift) & 0xff) - ((b[i] >> shift) & 0xff)));
            }
        }
        return max;
    }

    private static String property(String name) {
        String value = System.getProperty(name);
        if (value == null) {
            throw new IllegalStateException("system property " + name + " not set: run tools/test_host.sh");
        }
        return value;
    }
}
