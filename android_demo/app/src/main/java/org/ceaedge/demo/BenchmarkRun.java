package org.ceaedge.demo;

import android.content.Context;
import android.os.Handler;
import android.os.Looper;
import android.util.Log;
import java.io.File;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.ceaedge.core.Benchmark;
import org.ceaedge.core.Cancellation;
import org.ceaedge.core.Json;
import org.ceaedge.core.RunMarker;

/**
 * The benchmark job and its state, kept by the process like {@link PhotoRun}: every bundled
 * program (int8 and fp32) through {@link Benchmark} on a worker thread, holding the model's
 * gate (the app's model is freed first: the benchmark loads each program at each thread count),
 * and the profile written to {@link #output} under a temporary name, renamed when complete.
 * Each step goes to logcat (tag cea-edge) and to the attached {@link BenchmarkActivity}.
 */
final class BenchmarkRun implements Benchmark.Listener {
    static final String JOB = "benchmark";
    static final String FILE_NAME = "cea-edge-profile.json";

    private final ModelHost host;
    private final Handler main = new Handler(Looper.getMainLooper());
    private BenchmarkActivity activity;
    private Cancellation cancellation;

    boolean running;
    String status;
    int done;
    int total;
    /** The last steps, newest last (what the screen lists). */
    final List<String> steps = new ArrayList<String>();
    /** The profile of the last complete run, and where it was written. */
    String json;
    File written;

    BenchmarkRun(ModelHost host) {
        this.host = host;
    }

    /** Where the profile goes: app-specific external storage (adb pull reads it), else internal storage. */
    static File outputFolder(Context context) {
        File external = context.getExternalFilesDir(null);
        return external != null ? external : context.getFilesDir();
    }

    static File output(Context context) {
        return new File(outputFolder(context), FILE_NAME);
    }

    void attach(BenchmarkActivity shown) {
        activity = shown;
        shown.render(this);
    }

    void detach(BenchmarkActivity gone) {
        if (activity == gone) {
            activity = null;
        }
    }

    /** Start with {@code settings}; refused (the status says why) while another job uses the model. */
    void start(final Benchmark.Settings settings) {
        if (running || !host.gate.tryEnter(JOB)) {
            status = host.context.getString(R.string.busy, running ? JOB : host.gate.holder());
            Log.w(ModelHost.TAG, status);
            show();
            return;
        }
        running = true;
        done = 0;
        total = 0;
        steps.clear();
        status = host.context.getString(R.string.benchmark_running);
        cancellation = new Cancellation();
        final Cancellation cancelling = cancellation;
        show();
        new Thread(new Runnable() {
            @Override
            public void run() {
                try {
                    host.marker.begin(JOB);
                } catch (IOException error) {
                    Log.w(ModelHost.TAG, "could not mark the benchmark as running: " + error.getMessage());
                }
                String outcome;
                String text = null;
                File out = output(host.context);
                try {
                    host.releaseModel();
                    List<String> paths = new ArrayList<String>();
                    for (String asset : ModelStore.BENCHMARK_ASSETS) {
                        paths.add(ModelStore.file(host.context, asset).getAbsolutePath());
                    }
                    Benchmark benchmark = new Benchmark(ExecuTorchTileModel.OPENER, settings, BenchmarkRun.this, cancelling);
                    Map<String, Object> document = benchmark.run(paths, DeviceMachine.describe(),
                            "executorch-android " + ModelStore.EXECUTORCH_VERSION);
                    text = Json.write(document);
                    write(out, text);
                    outcome = host.context.getString(R.string.benchmark_done, out.getAbsolutePath());
                    Log.i(ModelHost.TAG, "benchmark written: " + out.getAbsolutePath());
                } catch (Cancellation.Cancelled cancelled) {
                    outcome = host.context.getString(R.string.cancelled);
                    Log.i(ModelHost.TAG, "benchmark cancelled");
                } catch (ModelStore.ModelProblem problem) {
                    outcome = problem.getMessage();
                    Log.e(ModelHost.TAG, "benchmark failed: " + outcome);
                } catch (IOException | RuntimeException error) {
                    outcome = "benchmark failed: " + error;
                    Log.e(ModelHost.TAG, "benchmark failed", error);
                } finally {
                    host.marker.end();
                    host.gate.leave(JOB);
                }
                host.preload(null); // the app's model again, for the next photo
                final String message = outcome;
                final String profile = text;
                final File file = profile == null ? null : out;
                main.post(new Runnable() {
                    @Override
                    public void run() {
                        running = false;
                        status = message;
                        if (profile != null) {
                            json = profile;
                            written = file;
                        }
                        show();
                    }
                });
            }
        }, "cea-edge-benchmark").start();
    }

    void cancel() {
        if (cancellation != null && running) {
            cancellation.cancel();
            status = host.context.getString(R.string.cancelling);
            show();
        }
    }

    @Override
    public void step(final String message, final int stepsDone, final int stepsTotal) {
        Log.i(ModelHost.TAG, "benchmark " + stepsDone + "/" + stepsTotal + ": " + message);
        main.post(new Runnable() {
            @Override
            public void run() {
                done = stepsDone;
                total = stepsTotal;
                steps.add(message);
                while (steps.size() > 12) {
                    steps.remove(0);
                }
                show();
            }
        });
    }

    private void show() {
        if (activity != null) {
            activity.render(this);
        }
    }

    /** Write atomically: a temporary name, renamed when complete (a killed run leaves no half file). */
    private static void write(File out, String text) throws IOException {
        File folder = out.getParentFile();
        if (folder != null && !folder.isDirectory() && !folder.mkdirs()) {
            throw new IOException("could not create " + folder);
        }
        File part = new File(out.getPath() + RunMarker.PART_SUFFIX);
        boolean complete = false;
        try {
            OutputStream stream = new FileOutputStream(part);
            try {
                stream.write(text.getBytes("UTF-8"));
            } finally {
                stream.close();
            }
            if (!part.renameTo(out)) {
                throw new IOException("could not rename " + part + " to " + out);
            }
            complete = true;
        } finally {
            if (!complete) {
                part.delete();
            }
        }
    }
}
