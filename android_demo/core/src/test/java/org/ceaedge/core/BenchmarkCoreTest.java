package org.ceaedge.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The benchmark's bookkeeping on a fake program, the JSON writer, and the device readers on constructed files. */
class BenchmarkCoreTest {
    /** Identity on tiles; counts how many programs are open at once (the benchmark must hold one). */
    static final class FakeProgram implements Program {
        static int open;
        static int mostOpen;
        static int opened;
        final String precision;
        boolean destroyed;

        FakeProgram(String precision) {
            this.precision = precision;
            open++;
            opened++;
            mostOpen = Math.max(mostOpen, open);
        }

        @Override
        public float[][] context(float[] chw, int size) {
            return new float[][] {{1f}, {2f}};
        }

        @Override
        public float[] run(float[] tile, int side, float[][] factors) {
            return tile.clone();
        }

        @Override
        public int tileSize() {
            return 32;
        }

        @Override
        public int tileOverlap() {
            return 8;
        }

        @Override
        public int contextSize() {
            return 16;
        }

        @Override
        public String precision() {
            return precision;
        }

        @Override
        public String preset() {
            return "tiny";
        }

        @Override
        public Map<String, Double> loadMethods() {
            Map<String, Double> millis = new LinkedHashMap<>();
            millis.put(FORWARD, 1.0);
            millis.put(CONTEXT, 2.0);
            millis.put(FORWARD_GLOBAL, 3.0);
            return millis;
        }

        @Override
        public void destroy() {
            destroyed = true;
            open--;
        }
    }

    private static Benchmark.Settings settings() {
        Benchmark.Settings settings = new Benchmark.Settings();
        settings.threads = new int[] {1, 2, 3};
        settings.warmup = 1;
        settings.runs = 4;
        settings.photoMegapixels = 0.01;
        settings.endToEndThreads = new int[] {3};
        return settings;
    }

    @Test
    @SuppressWarnings("unchecked")
    void everyProgramAtEveryThreadCountOneOpenAtATime() {
        FakeProgram.open = 0;
        FakeProgram.mostOpen = 0;
        FakeProgram.opened = 0;
        List<String> steps = new ArrayList<>();
        Benchmark benchmark = new Benchmark((path, threads) -> new FakeProgram(path.contains("fp32") ? "fp32" : "int8"),
                settings(), (message, done, total) -> steps.add(done + "/" + total), null);
        Map<String, Object> machine = new LinkedHashMap<>();
        machine.put("cpu", "test");
        Map<String, Object> document = benchmark.run(Arrays.asList("/x/cea-edge.pte", "/x/cea-edge-fp32.pte"), machine, "rt");
        assertEquals("cea-edge-profile/1", document.get("schema"));
        assertEquals(1, FakeProgram.mostOpen, "two programs were loaded at once (the thread pool reset hazard)");
        assertEquals(0, FakeProgram.open, "a program was not destroyed");
        assertEquals(2 * (3 + 1), FakeProgram.opened, "one open per thread count and one per end-to-end run");
        assertEquals(benchmark.steps(2), steps.size());
        assertEquals(steps.size() + "/" + steps.size(), steps.get(steps.size() - 1));
        List<Object> profiles = (List<Object>) document.get("profiles");
        assertEquals(2, profiles.size());
        Map<String, Object> fp32 = (Map<String, Object>) profiles.get(1);
        assertEquals("cea-edge-fp32.pte", fp32.get("artifact"));
        assertEquals("fp32", fp32.get("precision"));
        assertEquals(machine, fp32.get("machine"));
        List<Object> latency = (List<Object>) fp32.get("latency");
        assertEquals(9, latency.size(), "3 methods x 3 thread counts");
        Map<String, Object> row = (Map<String, Object>) latency.get(4);
        assertEquals(Program.CONTEXT, row.get("graph"));
        assertEquals(2, row.get("threads"));
        assertEquals(4, row.get("runs"));
        assertTrue((Double) row.get("p10_ms") <= (Double) row.get("median_ms"));
        List<Object> load = (List<Object>) fp32.get("load");
        assertEquals(3.0, ((Map<String, Object>) ((Map<String, Object>) load.get(0)).get("methods_ms")).get(Program.FORWARD_GLOBAL));
        Map<String, Object> e2e = (Map<String, Object>) fp32.get("end_to_end");
        assertEquals(Arrays.asList(86, 115), e2e.get("size"), "4:3 at 0.01 MP");
        Map<String, Object> run = (Map<String, Object>) ((List<Object>) e2e.get("runs")).get(0);
        assertEquals("global", run.get("mode"));
        assertEquals(3, run.get("threads"));
        assertTrue((Double) run.get("ms_per_mp") > 0 && (Double) run.get("model_seconds") <= (Double) run.get("seconds"));
    }

    @Test
    void aCancelStopsTheRunAndStillFreesTheProgram() {
        FakeProgram.open = 0;
        Cancellation cancellation = new Cancellation();
        Benchmark benchmark = new Benchmark((path, threads) -> new FakeProgram("int8"), settings(),
                (message, done, total) -> {
                    if (done == 2) {
                        cancellation.cancel();
                    }
                }, cancellation);
        assertThrows(Cancellation.Cancelled.class, () -> benchmark.run(Arrays.asList("/x/a.pte"), new LinkedHashMap<>(), "rt"));
        assertEquals(0, FakeProgram.open);
    }

    @Test
    void percentilesAreNumpysLinearInterpolation() {
        double[] sorted = {1, 2, 3, 4, 10};
        assertEquals(3.0, Benchmark.percentile(sorted, 50), 1e-12);
        assertEquals(1.4, Benchmark.percentile(sorted, 10), 1e-12); // numpy.percentile([1,2,3,4,10], 10)
        assertEquals(7.6, Benchmark.percentile(sorted, 90), 1e-12);
        assertEquals(5.0, Benchmark.percentile(new double[] {5}, 90), 1e-12);
    }

    @Test
    void jsonEscapesAndKeepsIntegersApartFromFloats() {
        Map<String, Object> value = new LinkedHashMap<>();
        value.put("text", "a \"quote\"\\ and\nnew line \u0001");
        value.put("int", 3);
        value.put("float", 2.0);
        value.put("nan", Double.NaN);
        value.put("list", Arrays.asList(1, null, true));
        value.put("empty", new LinkedHashMap<>());
        String json = Json.write(value).replaceAll("\\s+", "");
        assertEquals("{\"text\":\"a\\\"quote\\\"\\\\and\\nnewline\\u0001\",\"int\":3,\"float\":2.0,\"nan\":null,"
                + "\"list\":[1,null,true],\"empty\":{}}", json);
    }

    @Test
    void coresAreGroupedIntoClustersBigAndLittle(@TempDir File sys) throws IOException {
        long[] phone = {1800000, 1800000, 1800000, 1800000, 2400000, 2400000, 2400000, 3200000};
        for (int cpu = 0; cpu < phone.length; cpu++) {
            File file = new File(sys, "cpu" + cpu + "/cpufreq/cpuinfo_max_freq");
            assertTrue(file.getParentFile().mkdirs());
            Files.write(file.toPath(), (phone[cpu] + "\n").getBytes(StandardCharsets.UTF_8));
        }
        long[] read = DeviceInfo.maxFrequenciesKhz(sys, 9); // cpu8 missing: offline
        assertEquals(0, read[8]);
        Map<String, Object> cores = DeviceInfo.cores(read);
        assertEquals(9, cores.get("count"));
        assertEquals(4, cores.get("big"), "prime and big cores");
        assertEquals(4, cores.get("little"));
        assertEquals(1, cores.get("unreadable"));
        assertEquals("{max_mhz=3200.0, cpus=1}", ((List<?>) cores.get("clusters")).get(0).toString());
        Map<String, Object> same = DeviceInfo.cores(new long[] {2000000, 2000000});
        assertEquals(2, same.get("big"));
        assertEquals(0, same.get("little"));
        Map<String, Object> unknown = DeviceInfo.cores(new long[] {0, 0});
        assertNull(unknown.get("big"));
        assertNull(unknown.get("little"));
    }

    @Test
    void residentMemoryIsReadFromProcStatus(@TempDir File folder) throws IOException {
        File status = new File(folder, "status");
        Files.write(status.toPath(), "Name:\tjava\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\n".getBytes(StandardCharsets.UTF_8));
        assertEquals(200.0, DeviceInfo.statusMegabytes(status, "VmHWM"), 1e-9);
        assertEquals(100.0, DeviceInfo.statusMegabytes(status, "VmRSS"), 1e-9);
        assertEquals(-1.0, DeviceInfo.statusMegabytes(status, "VmSwap"), 1e-9);
        assertEquals(-1.0, DeviceInfo.statusMegabytes(new File(folder, "missing"), "VmRSS"), 1e-9);
    }

    @Test
    void syntheticPhotosAreFourByThreeAndTheSameEveryTime() {
        SyntheticPhoto twelve = SyntheticPhoto.sized(12);
        assertEquals(4000, twelve.width);
        assertEquals(3000, twelve.height);
        int[] a = new int[2 * twelve.width];
        int[] b = new int[2 * twelve.width];
        twelve.readRows(1500, 2, a);
        SyntheticPhoto.sized(12).readRows(1500, 2, b);
        assertEquals(Arrays.toString(a), Arrays.toString(b));
        assertTrue(Arrays.stream(a).distinct().count() > 100, "a flat image would not exercise the model");
    }
}
