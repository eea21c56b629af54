package org.ceaedge.core;

import java.io.File;
import java.text.SimpleDateFormat;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TimeZone;

/**
 * The app's benchmark: each bundled program, per thread count, its methods timed on synthetic
 * inputs (warm-up calls, then timed repeats: median and the 10th/90th percentiles), then end
 * to end on a synthetic photo in global-context mode (seconds, ms/MP, time inside the runtime,
 * peak RSS). The result is a {@code cea-edge-profile/1} document (cea_edge/profile/schema.py)
 * that {@code python -m cea_edge.report --add-profile} and {@code python -m cea_edge.profile
 * --import} read as a machine of their own.
 *
 * <p>Every program is opened afresh per thread count and destroyed before the next opens: loading
 * at a thread count resets the runtime's process-wide pool under any program still loaded. The
 * caller holds the {@link JobGate} for the whole run.
 */
public final class Benchmark {
    public static final String SCHEMA = "cea-edge-profile/1";

    /** What to run; the defaults are the app's (intent extras override them). */
    public static final class Settings {
        public int[] threads = {1, 2};
        public int warmup = 3;
        public int runs = 10;
        public double photoMegapixels = 12.0;
        /** Thread counts of the end-to-end runs (each a whole photo: the costly part). */
        public int[] endToEndThreads = {2};
    }

    /** Hears each step (for the progress bar and logcat) and may stop the run ({@link Cancellation}). */
    public interface Listener {
        void step(String message, int done, int total);
    }

    private final Program.Opener opener;
    private final Settings settings;
    private final Listener listener;
    private final Cancellation cancellation;
    private int done;
    private int total;

    public Benchmark(Program.Opener opener, Settings settings, Listener listener, Cancellation cancellation) {
        this.opener = opener;
        this.settings = settings;
        this.listener = listener;
        this.cancellation = cancellation == null ? new Cancellation() : cancellation;
    }

    /** Steps {@link #run} reports for {@code programs} programs. */
    public int steps(int programs) {
        return programs * (settings.threads.length * 4 + (settings.photoMegapixels > 0 ? settings.endToEndThreads.length : 0));
    }

    /**
     * The profile document of {@code paths} (each a .pte; its artifact name is the file name) on
     * the machine {@code machine} (see {@link DeviceInfo} and the app's device reader), run by
     * {@code runtime} (e.g. "executorch-android 1.5.1").
     */
    public Map<String, Object> run(List<String> paths, Map<String, Object> machine, String runtime) {
        done = 0;
        total = steps(paths.size());
        List<Object> profiles = new ArrayList<Object>();
        for (String path : paths) {
            profiles.add(profile(path, machine, runtime));
        }
        Map<String, Object> settingsJson = new LinkedHashMap<String, Object>();
        settingsJson.put("runs", settings.runs);
        settingsJson.put("warmup", settings.warmup);
        settingsJson.put("threads", ints(settings.threads));
        settingsJson.put("photo_mp", settings.photoMegapixels);
        settingsJson.put("modes", Arrays.<Object>asList(Enhancer.GLOBAL));
        settingsJson.put("end_to_end_threads", ints(settings.endToEndThreads));
        settingsJson.put("ops", false);
        settingsJson.put("imports", new ArrayList<Object>());
        settingsJson.put("other_cpus", null);
        settingsJson.put("inputs", "synthetic (org.ceaedge.core.SyntheticPhoto)");
        Map<String, Object> document = new LinkedHashMap<String, Object>();
        document.put("schema", SCHEMA);
        document.put("created", now());
        document.put("machine", machine);
        document.put("peaks", new ArrayList<Object>());
        document.put("settings", settingsJson);
        document.put("profiles", profiles);
        return document;
    }

    private Map<String, Object> profile(String path, Map<String, Object> machine, String runtime) {
        String artifact = new File(path).getName();
        Map<String, Object> profile = new LinkedHashMap<String, Object>();
        List<Object> latency = new ArrayList<Object>();
        List<Object> loads = new ArrayList<Object>();
        for (int threads : settings.threads) {
            long start = System.nanoTime();
            Program program = opener.open(path, threads);
            double openMs = (System.nanoTime() - start) / 1e6;
            try {
                if (profile.isEmpty()) {
                    describe(profile, artifact, program, machine, runtime);
                }
                Map<String, Object> load = new LinkedHashMap<String, Object>();
                load.put("threads", threads);
                load.put("program_ms", openMs);
                load.put("methods_ms", new LinkedHashMap<String, Object>(program.loadMethods()));
                loads.add(load);
                step(artifact + ": loaded at " + threads + " thread(s) in " + format(openMs) + " ms");
                latency.addAll(methods(program, artifact, threads));
            } finally {
                program.destroy();
            }
        }
        profile.put("latency", latency);
        profile.put("load", loads);
        profile.put("end_to_end", settings.photoMegapixels > 0 ? endToEnd(path, artifact) : null);
        profile.put("ops", new ArrayList<Object>());
        profile.put("census", null);
        profile.put("not_measured", Arrays.<Object>asList(
                "ops: no per-operator breakdown on the phone (the app's AAR runs without ETDump)",
                "census: not read on the phone; python -m cea_edge.profile on the same .pte gives it",
                "gflops, peak_fp32_gflops: no MatMul peak measured on the phone"));
        return profile;
    }

    private static void describe(Map<String, Object> profile, String artifact, Program program,
            Map<String, Object> machine, String runtime) {
        profile.put("artifact", artifact);
        profile.put("format", "executorch");
        profile.put("runtime", runtime);
        profile.put("precision", program.precision());
        profile.put("preset", program.preset());
        profile.put("tile", program.tileSize());
        profile.put("overlap", program.tileOverlap());
        profile.put("context_size", program.contextSize());
        profile.put("machine", machine);
        profile.put("source", "measured");
        profile.put("gflop_per_tile", null);
    }

    /** forward, and with context graphs context and forward_global, at one thread count. */
    private List<Object> methods(final Program program, String artifact, int threads) {
        final int tile = program.tileSize();
        SyntheticPhoto photo = new SyntheticPhoto(Math.max(tile, program.contextSize()), Math.max(tile, program.contextSize()));
        final float[] tileInput = photo.chw(tile);
        List<Object> rows = new ArrayList<Object>();
        rows.add(time(Program.FORWARD, threads, artifact, new Runnable() {
            @Override
            public void run() {
                program.run(tileInput, tile, null);
            }
        }));
        if (program.contextSize() > 0) {
            final int side = program.contextSize();
            final float[] contextInput = photo.chw(side);
            final float[][] factors = program.context(contextInput, side);
            rows.add(time(Program.CONTEXT, threads, artifact, new Runnable() {
                @Override
                public void run() {
                    program.context(contextInput, side);
                }
            }));
            program.context(contextInput, side); // forward_global's factor shapes: the last context call's
            rows.add(time(Program.FORWARD_GLOBAL, threads, artifact, new Runnable() {
                @Override
                public void run() {
                    program.run(tileInput, tile, factors);
                }
            }));
        } else {
            step(artifact + ": no context graphs");
            step(artifact + ": no context graphs");
        }
        return rows;
    }

    private Map<String, Object> time(String graph, int threads, String artifact, Runnable call) {
        for (int i = 0; i < settings.warmup; i++) {
            cancellation.check();
            call.run();
        }
        double[] ms = new double[settings.runs];
        for (int i = 0; i < ms.length; i++) {
            cancellation.check();
            long start = System.nanoTime();
            call.run();
            ms[i] = (System.nanoTime() - start) / 1e6;
        }
        Arrays.sort(ms);
        Map<String, Object> row = new LinkedHashMap<String, Object>();
        row.put("graph", graph);
        row.put("threads", threads);
        row.put("runs", ms.length);
        row.put("median_ms", percentile(ms, 50));
        row.put("p10_ms", percentile(ms, 10));
        row.put("p90_ms", percentile(ms, 90));
        row.put("min_ms", ms[0]);
        row.put("max_ms", ms[ms.length - 1]);
        row.put("compute_units", null);
        row.put("gflops", null);
        row.put("peak_fp32_gflops", null);
        row.put("peak_fraction", null);
        step(artifact + ": " + graph + " at " + threads + " thread(s): median " + format(percentile(ms, 50))
                + " ms (p10 " + format(percentile(ms, 10)) + ", p90 " + format(percentile(ms, 90)) + ")");
        return row;
    }

    /** The photo end to end in global mode at each end-to-end thread count, with the process's peak RSS. */
    private Map<String, Object> endToEnd(String path, String artifact) {
        SyntheticPhoto photo = SyntheticPhoto.sized(settings.photoMegapixels);
        boolean reset = DeviceInfo.resetPeak(DeviceInfo.PROC_CLEAR_REFS);
        double baseline = DeviceInfo.statusMegabytes(DeviceInfo.PROC_STATUS, "VmRSS");
        List<Object> runs = new ArrayList<Object>();
        for (int threads : settings.endToEndThreads) {
            Program program = opener.open(path, threads);
            try {
                program.loadMethods();
                TimedModel timed = new TimedModel(program);
                Enhancer enhancer = new Enhancer(timed, program.tileSize(), program.tileOverlap(), program.contextSize());
                RowSink discard = new RowSink() {
                    @Override
                    public void writeRows(int firstRow, int rowCount, float[] rows) {
                        cancellation.check();
                    }
                };
                String mode = program.contextSize() > 0 ? Enhancer.GLOBAL : Enhancer.TILE;
                long start = System.nanoTime();
                enhancer.restore(photo, photo.height, photo.width, mode, discard, cancellation.progress(null));
                double seconds = (System.nanoTime() - start) / 1e9;
                double megapixels = photo.height * (double) photo.width / 1e6;
                Map<String, Object> run = new LinkedHashMap<String, Object>();
                run.put("mode", mode);
                run.put("threads", threads);
                run.put("seconds", seconds);
                run.put("ms_per_mp", seconds * 1e3 / megapixels);
                run.put("model_seconds", timed.nanos / 1e9);
                runs.add(run);
                step(artifact + ": " + photo.width + "x" + photo.height + " end to end at " + threads + " thread(s): "
                        + format(seconds) + " s, " + format(seconds * 1e3 / megapixels) + " ms/MP");
            } finally {
                program.destroy();
            }
        }
        double peak = DeviceInfo.statusMegabytes(DeviceInfo.PROC_STATUS, "VmHWM");
        Map<String, Object> endToEnd = new LinkedHashMap<String, Object>();
        endToEnd.put("megapixels", photo.height * (double) photo.width / 1e6);
        endToEnd.put("size", Arrays.<Object>asList(photo.height, photo.width));
        endToEnd.put("runs", runs);
        endToEnd.put("peak_rss_mb", peak < 0 ? null : (Object) peak);
        endToEnd.put("baseline_rss_mb", baseline < 0 ? null : (Object) baseline);
        endToEnd.put("rss_method", "VmHWM (peak) / VmRSS (before the program opened) of /proc/self/status in the app's process, MiB as the profile stage"
                + (reset ? ", peak reset before this program" : ", peak since the process started"));
        return endToEnd;
    }

    /** Linear interpolation between order statistics, as numpy.percentile's default ({@code sorted} ascending). */
    static double percentile(double[] sorted, double percent) {
        double position = percent / 100 * (sorted.length - 1);
        int below = (int) Math.floor(position);
        int above = Math.min(below + 1, sorted.length - 1);
        return sorted[below] + (sorted[above] - sorted[below]) * (position - below);
    }

    private void step(String message) {
        done++;
        if (listener != null) {
            listener.step(message, done, total);
        }
    }

    private static List<Object> ints(int[] values) {
        List<Object> list = new ArrayList<Object>();
        for (int value : values) {
            list.add(value);
        }
        return list;
    }

    private static String format(double value) {
        return String.format(Locale.ROOT, "%.1f", value);
    }

    private static String now() {
        SimpleDateFormat iso = new SimpleDateFormat("yyyy-MM-dd'T'HH:mm:ss'+00:00'", Locale.ROOT);
        iso.setTimeZone(TimeZone.getTimeZone("UTC"));
        return iso.format(new Date());
    }

    /** The model's calls, timed: what end to end spends inside the runtime. */
    private static final class TimedModel implements TileModel {
        private final TileModel model;
        long nanos;

        TimedModel(TileModel model) {
            this.model = model;
        }

        @Override
        public float[][] context(float[] chwImage, int size) {
            long start = System.nanoTime();
            try {
                return model.context(chwImage, size);
            } finally {
                nanos += System.nanoTime() - start;
            }
        }

        @Override
        public float[] run(float[] chwTile, int tile, float[][] factors) {
            long start = System.nanoTime();
            try {
                return model.run(chwTile, tile, factors);
            } finally {
                nanos += System.nanoTime() - start;
            }
        }
    }
}
