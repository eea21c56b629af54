package org.ceaedge.demo;

import android.content.Context;
import android.util.Log;
import java.io.File;
import java.util.Locale;
import java.util.Map;
import org.ceaedge.core.JobGate;
import org.ceaedge.core.RunMarker;

/**
 * What outlives an activity: one per process, made on first use. It owns the loaded model, the
 * gate that lets one job at a time use it (a photo, the benchmark, loading at start), the marker
 * that tells the next process a job was killed, and the running jobs' state ({@link PhotoRun},
 * {@link BenchmarkRun}), to which a new activity re-attaches after a configuration change (dark
 * mode, language, font size: the activity is recreated, the process and its jobs are not).
 */
final class ModelHost implements PhotoJob.ModelSource {
    static final String TAG = "cea-edge";
    /** The gate's name for loading the model at start: a photo queued behind it waits. */
    static final String LOADING = "loading the model";

    private static ModelHost instance;

    final Context context;
    final JobGate gate = new JobGate();
    final RunMarker marker;
    final PhotoRun photo;
    final BenchmarkRun benchmark;
    private final int threads = defaultThreads();
    private ExecuTorchTileModel model;
    private String loadReport = "";
    private String lostRun;

    private ModelHost(Context context) {
        this.context = context.getApplicationContext();
        marker = new RunMarker(new File(this.context.getFilesDir(), "running"));
        // Once per process, before any job: a marker left behind means the last process died mid-run.
        lostRun = marker.recover(PhotoJob.resultsFolder(this.context), this.context.getFilesDir(),
                BenchmarkRun.outputFolder(this.context));
        if (lostRun != null) {
            Log.w(TAG, "the previous process was stopped during: " + lostRun + "; its partial files were deleted");
        }
        photo = new PhotoRun(this);
        benchmark = new BenchmarkRun(this);
    }

    static synchronized ModelHost get(Context context) {
        if (instance == null) {
            instance = new ModelHost(context);
        }
        return instance;
    }

    /** Threads for the runtime: the CPUs the app may use, at most 4 (phones' big cores). */
    static int defaultThreads() {
        return Math.max(1, Math.min(4, Runtime.getRuntime().availableProcessors()));
    }

    /** What a killed process was running (once; null when nothing was lost). */
    synchronized String takeLostRun() {
        String lost = lostRun;
        lostRun = null;
        return lost;
    }

    /** The model, loaded (and its methods loaded) when not yet; call with the gate held, off the UI thread. */
    @Override
    public synchronized ExecuTorchTileModel model() throws ModelStore.ModelProblem {
        if (model == null) {
            long start = System.nanoTime();
            ExecuTorchTileModel loaded = ModelStore.load(context, threads);
            double programMs = (System.nanoTime() - start) / 1e6;
            Map<String, Double> methods;
            try {
                methods = loaded.loadMethods();
            } catch (RuntimeException error) {
                loaded.destroy();
                Log.e(TAG, "loadMethod failed", error);
                throw new ModelStore.ModelProblem("the bundled model's methods could not be loaded: " + error.getMessage());
            }
            model = loaded;
            StringBuilder report = new StringBuilder(String.format(Locale.ROOT, "Model loaded in %.0f ms", programMs));
            String separator = " (methods: ";
            for (Map.Entry<String, Double> method : methods.entrySet()) {
                report.append(separator).append(String.format(Locale.ROOT, "%s %.0f ms", method.getKey(), method.getValue()));
                separator = ", ";
            }
            loadReport = report.append("), ").append(describe()).toString();
            Log.i(TAG, loadReport);
        }
        return model;
    }

    @Override
    public int threads() {
        return threads;
    }

    /** How long the model and its methods took to load (shown apart from the photo's time); "" before. */
    synchronized String loadReport() {
        return loadReport;
    }

    synchronized String describe() {
        return model == null ? "" : model.preset() + " " + model.precision() + ", tile " + model.tileSize() + ", context "
                + model.contextSize() + ", " + threads + " threads";
    }

    /** Free the model (the benchmark loads programs at other thread counts); call with the gate held. */
    synchronized void releaseModel() {
        if (model != null) {
            model.destroy();
            model = null;
        }
    }

    /** Load the model and its methods at start, so a missing or corrupt one shows before a photo is picked. */
    void preload(final Runnable loaded) {
        new Thread(new Runnable() {
            @Override
            public void run() {
                if (!gate.tryEnter(LOADING)) {
                    return; // a job is using the model: it loads it if needed
                }
                try {
                    model();
                } catch (ModelStore.ModelProblem problem) {
                    Log.e(TAG, problem.getMessage());
                    photo.modelProblem(problem.getMessage());
                } finally {
                    gate.leave(LOADING);
                }
                photo.post(loaded);
            }
        }, "cea-edge-model").start();
    }
}
