package org.ceaedge.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** One job at a time on the model, and what a killed process leaves behind. */
class JobGateAndMarkerTest {
    @Test
    void theGateAdmitsOneJobAndRefusesTheNext() {
        JobGate gate = new JobGate();
        assertNull(gate.holder());
        assertTrue(gate.tryEnter("photo a.jpg"));
        assertFalse(gate.tryEnter("benchmark"), "a second job entered beside the first");
        assertEquals("photo a.jpg", gate.holder());
        assertThrows(IllegalStateException.class, () -> gate.leave("benchmark"), "a job that never entered left");
        gate.leave("photo a.jpg");
        assertTrue(gate.tryEnter("benchmark"));
        gate.leave("benchmark");
        assertThrows(IllegalStateException.class, () -> gate.leave("benchmark"), "left twice");
    }

    @Test
    void aQueuedJobWaitsForTheGateAndTimesOut() throws Exception {
        JobGate gate = new JobGate();
        assertTrue(gate.tryEnter("loading the model"));
        long start = System.nanoTime();
        assertFalse(gate.enterWithin("photo a.jpg", 50));
        assertTrue((System.nanoTime() - start) / 1e6 >= 45, "it did not wait");
        AtomicBoolean left = new AtomicBoolean();
        Thread loader = new Thread(() -> {
            try {
                Thread.sleep(100);
            } catch (InterruptedException ignored) {
                // the test times out instead
            }
            left.set(true);
            gate.leave("loading the model");
        });
        loader.start();
        assertTrue(gate.enterWithin("photo a.jpg", 10000), "the queued job never got the gate");
        assertTrue(left.get(), "it entered before the holder left");
        assertEquals("photo a.jpg", gate.holder());
        loader.join();
    }

    @Test
    void aMarkerLeftByAKilledProcessIsReportedOnceAndItsPartialFilesDeleted(@TempDir File folder) throws IOException {
        File results = new File(folder, "results");
        assertTrue(results.mkdirs());
        File part = new File(results, "IMG_1_enhanced.png" + RunMarker.PART_SUFFIX);
        File kept = new File(results, "IMG_0_enhanced.png");
        Files.write(part.toPath(), new byte[10]);
        Files.write(kept.toPath(), new byte[10]);
        RunMarker marker = new RunMarker(new File(folder, "running"));
        marker.begin("photo IMG_1.jpg\nsecond line");
        assertTrue(marker.isRunning());
        assertFalse(new File(folder, "running" + RunMarker.PART_SUFFIX).exists(), "the marker's temporary file stayed");
        // The process dies here; the next one recovers.
        RunMarker next = new RunMarker(new File(folder, "running"));
        assertEquals("photo IMG_1.jpg second line", next.recover(results, new File(folder, "missing")));
        assertFalse(part.exists(), "the killed job's partial result survived");
        assertTrue(kept.exists(), "a complete result was deleted");
        assertFalse(next.isRunning());
        assertNull(next.recover(results), "a lost run was reported twice");
    }

    @Test
    void aJobThatEndsLeavesNothingToRecover(@TempDir File folder) throws IOException {
        RunMarker marker = new RunMarker(new File(folder, "running"));
        marker.begin("benchmark");
        marker.end();
        assertNull(marker.recover(folder));
        Files.write(new File(folder, "running").toPath(), "".getBytes(StandardCharsets.UTF_8));
        assertEquals("a run", marker.recover(folder), "an empty marker still means a run was lost");
    }
}
