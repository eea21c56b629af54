package org.ceaedge.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.File;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.ceaedge.core.Benchmark;
import org.ceaedge.core.DeviceInfo;
import org.ceaedge.core.JobGate;
import org.ceaedge.core.Json;
import org.ceaedge.core.Program;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The app's model class and the core's benchmark on the programs the app bundles (int8 and fp32
 * assets), through the host test double of ExecuTorch's Java API: methods loaded at start with
 * their times recorded, one job at a time on a real Module, and the benchmark's profile JSON
 * checked by the Python side (tools/check_phone_profile.py: schema, --import, report rows).
 * tools/test_host.sh sets cea.bench.ptes (comma-separated), cea.python and cea.checker.
 */
class BenchmarkTest {
    @Test
    void loadMethodsLoadsEveryMethodTheAppRunsAndTimesEach() {
        ExecuTorchTileModel model = ExecuTorchTileModel.load(ptes().get(0), 0);
        try {
            Map<String, Double> millis = model.loadMethods();
            assertEquals(Arrays.asList(Program.FORWARD, Program.CONTEXT, Program.FORWARD_GLOBAL),
                    new ArrayList<>(millis.keySet()));
            for (Map.Entry<String, Double> method : millis.entrySet()) {
                assertTrue(method.getValue() > 0, method.getKey() + " took " + method.getValue() + " ms to load");
            }
            System.out.printf("LOAD %s %s: %s ms%n", model.preset(), model.precision(), millis);
            // Loaded once, the methods run (and loading again is a no-op of the runtime, not an error).
            float[] tile = new float[3 * model.tileSize() * model.tileSize()];
            assertEquals(tile.length, model.run(tile, model.tileSize(), null).length);
            model.loadMethods();
        } finally {
            model.destroy();
        }
    }

    /** A second job while one is using the model is refused, not run beside it on the same Module. */
    @Test
    void aSecondJobIsRefusedWhileOneUsesTheModel() throws Exception {
        final JobGate gate = new JobGate();
        final ExecuTorchTileModel model = ExecuTorchTileModel.load(ptes().get(0), 0);
        try {
            final CountDownLatch inside = new CountDownLatch(1);
            final CountDownLatch release = new CountDownLatch(1);
            final AtomicBoolean failed = new AtomicBoolean();
            Thread first = new Thread(() -> {
                assertTrue(gate.tryEnter("photo a.jpg"));
                try {
                    float[] tile = new float[3 * model.tileSize() * model.tileSize()];
                    model.run(tile, model.tileSize(), null);
                    inside.countDown();
                    release.await(30, TimeUnit.SECONDS);
                    model.run(tile, model.tileSize(), null);
                } catch (Throwable error) {
                    failed.set(true);
                } finally {
                    gate.leave("photo a.jpg");
                }
            });
            first.start();
            assertTrue(inside.await(60, TimeUnit.SECONDS));
            assertFalse(gate.tryEnter("benchmark"), "a second job got the model while the first used it");
            assertEquals("photo a.jpg", gate.holder());
            release.countDown();
            assertTrue(gate.enterWithin("benchmark", 60000), "the queued job never got the model");
            gate.leave("benchmark");
            first.join();
            assertFalse(failed.get());
        } finally {
            model.destroy();
        }
    }

    @Test
    void theBenchmarkProfileValidatesAndImportsOnThePythonSide(@TempDir File folder) throws Exception {
        Benchmark.Settings settings = new Benchmark.Settings();
        settings.threads = new int[] {1, 2};
        settings.warmup = 1;
        settings.runs = 3;
        settings.photoMegapixels = 0.3; // 632 x 474: 6 tiles of 256, both passes
        settings.endToEndThreads = new int[] {2};
        final List<String> steps = new ArrayList<>();
        Benchmark benchmark = new Benchmark(ExecuTorchTileModel.OPENER, settings,
                (message, done, total) -> steps.add(done + "/" + total + " " + message), null);
        Map<String, Object> document = benchmark.run(ptes(), hostMachine(), "executorch 1.5.1 (host JVM, test double)");
        assertEquals(benchmark.steps(2), steps.size(), String.join("\n", steps));
        steps.forEach(step -> System.out.println("BENCH " + step));

        File out = new File(folder, "phone.json");
        Files.write(out.toPath(), Json.write(document).getBytes(StandardCharsets.UTF_8));
        Process python = new ProcessBuilder(property("cea.python"), property("cea.checker"), out.getPath())
                .directory(new File(property("cea.root"))).redirectErrorStream(true).start();
        StringBuilder log = new StringBuilder();
        try (BufferedReader reader = new BufferedReader(new InputStreamReader(python.getInputStream(),
                StandardCharsets.UTF_8))) {
            for (String line = reader.readLine(); line != null; line = reader.readLine()) {
                if (line.startsWith("PROFILE")) {
                    System.out.println(line);
                }
                log.append(line).append('\n');
            }
        }
        assertEquals(0, python.waitFor(), "the Python side refused the benchmark's profile:\n" + log);
        String keep = System.getProperty("cea.profile.keep");
        if (keep != null && !keep.isEmpty()) {
            Files.copy(out.toPath(), new File(keep).toPath(), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
    }

    /** This machine as the app describes a phone (DeviceMachine), from what the JVM and /sys say. */
    private static Map<String, Object> hostMachine() {
        int cpus = Runtime.getRuntime().availableProcessors();
        Map<String, Object> machine = new LinkedHashMap<>();
        machine.put("cpu", "host JVM through the ExecuTorch test double (" + System.getProperty("os.arch") + ")");
        machine.put("arch", System.getProperty("os.arch"));
        machine.put("logical_cpus", cpus);
        machine.put("usable_cpus", cpus);
        machine.put("isa", new LinkedHashMap<String, Object>());
        machine.put("os", System.getProperty("os.name") + " " + System.getProperty("os.version"));
        machine.put("python", null);
        Map<String, Object> runtimes = new LinkedHashMap<>();
        runtimes.put("executorch", "1.5.1");
        machine.put("runtimes", runtimes);
        machine.put("thread_env", new LinkedHashMap<String, Object>());
        machine.put("device", "test double");
        machine.put("soc", "unknown SoC");
        machine.put("abis", Arrays.<Object>asList("x86_64"));
        machine.put("cores", DeviceInfo.cores(DeviceInfo.maxFrequenciesKhz(DeviceInfo.SYS_CPU, cpus)));
        return machine;
    }

    private static List<String> ptes() {
        return Arrays.asList(property("cea.bench.ptes").split(","));
    }

    private static String property(String name) {
        String value = System.getProperty(name);
        if (value == null) {
            throw new IllegalStateException("system property " + name + " not set: run tools/test_host.sh");
        }
        return value;
    }
}
