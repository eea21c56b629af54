package org.ceaedge.demo;

import android.app.Activity;
import android.content.Intent;
import android.os.Bundle;
import android.view.View;
import android.widget.Button;
import android.widget.ProgressBar;
import android.widget.TextView;
import org.ceaedge.core.Benchmark;

/**
 * The benchmark screen: does int8 pay on this phone? Runs every bundled program (int8, fp32) at
 * 1..N threads on synthetic tiles (warm-up, then timed repeats) and end to end on a synthetic
 * photo, and writes a cea-edge-profile/1 JSON that {@code python -m cea_edge.report
 * --add-profile} imports. Start it from a script:
 * <pre>
 * adb shell am start -n org.ceaedge.demo/.BenchmarkActivity --ez benchmark true \
 *     [--ei threads N] [--ei runs 10] [--ei warmup 3] [--ef photo_mp 12] [--ei e2e_threads 4]
 * </pre>
 * ({@code benchmark true}: start at once; without it the screen waits for Start.) The job lives in
 * the process ({@link BenchmarkRun}): the screen may be recreated while it runs.
 */
public final class BenchmarkActivity extends Activity {
    static final String EXTRA_BENCHMARK = "benchmark";
    static final String EXTRA_THREADS = "threads";
    static final String EXTRA_RUNS = "runs";
    static final String EXTRA_WARMUP = "warmup";
    static final String EXTRA_PHOTO_MP = "photo_mp";
    static final String EXTRA_E2E_THREADS = "e2e_threads";
    /** Most thread counts timed by default: phones have up to 8 or 10 cores, and each count costs a minute. */
    private static final int MAX_DEFAULT_THREADS = 8;

    private BenchmarkRun run;
    private TextView status;
    private TextView steps;
    private ProgressBar progress;
    private Button start;
    private Button cancel;
    private Button share;

    @Override
    protected void onCreate(Bundle state) {
        super.onCreate(state);
        setContentView(R.layout.activity_benchmark);
        Insets.padForSystemBars(findViewById(R.id.root));
        status = (TextView) findViewById(R.id.status);
        steps = (TextView) findViewById(R.id.steps);
        progress = (ProgressBar) findViewById(R.id.progress);
        start = (Button) findViewById(R.id.start);
        cancel = (Button) findViewById(R.id.cancel);
        share = (Button) findViewById(R.id.share);
        ModelHost host = ModelHost.get(this);
        run = host.benchmark;
        start.setOnClickListener(new View.OnClickListener() {
            @Override
            public void onClick(View view) {
                run.start(settings(getIntent()));
            }
        });
        cancel.setOnClickListener(new View.OnClickListener() {
            @Override
            public void onClick(View view) {
                run.cancel();
            }
        });
        share.setOnClickListener(new View.OnClickListener() {
            @Override
            public void onClick(View view) {
                shareProfile();
            }
        });
        String lost = host.takeLostRun(); // a killed benchmark (or photo) is reported on whichever screen opens first
        if (lost != null && !run.running) {
            run.status = getString(R.string.lost_run, lost);
        } else if (run.status == null) {
            run.status = getString(R.string.benchmark_hint, BenchmarkRun.output(this).getAbsolutePath());
        }
        run.attach(this);
        // From adb: start once per launch (not again when the screen is recreated mid-run).
        if (state == null && getIntent().getBooleanExtra(EXTRA_BENCHMARK, false) && !run.running) {
            run.start(settings(getIntent()));
        }
    }

    @Override
    protected void onDestroy() {
        run.detach(this);
        super.onDestroy();
    }

    void render(BenchmarkRun state) {
        status.setText(state.status);
        StringBuilder lines = new StringBuilder();
        for (String step : state.steps) {
            lines.append(step).append('\n');
        }
        steps.setText(lines.toString());
        progress.setVisibility(state.running ? View.VISIBLE : View.INVISIBLE);
        progress.setIndeterminate(state.total == 0);
        progress.setMax(Math.max(1, state.total));
        progress.setProgress(state.done);
        start.setEnabled(!state.running);
        cancel.setEnabled(state.running);
        share.setEnabled(!state.running && state.json != null);
    }

    /** The intent's extras over the defaults: 1..N threads (N: the CPUs, at most 8), 3 warm-up, 10 runs, 12 MP. */
    static Benchmark.Settings settings(Intent intent) {
        Benchmark.Settings settings = new Benchmark.Settings();
        int cpus = Runtime.getRuntime().availableProcessors();
        int most = Math.max(1, intent.getIntExtra(EXTRA_THREADS, Math.min(cpus, MAX_DEFAULT_THREADS)));
        settings.threads = new int[most];
        for (int i = 0; i < most; i++) {
            settings.threads[i] = i + 1;
        }
        settings.runs = Math.max(1, intent.getIntExtra(EXTRA_RUNS, settings.runs));
        settings.warmup = Math.max(0, intent.getIntExtra(EXTRA_WARMUP, settings.warmup));
        settings.photoMegapixels = Math.max(0, intent.getFloatExtra(EXTRA_PHOTO_MP, (float) settings.photoMegapixels));
        settings.endToEndThreads = new int[] {Math.max(1, intent.getIntExtra(EXTRA_E2E_THREADS, ModelHost.defaultThreads()))};
        return settings;
    }

    /** Share the profile's JSON as text (mail, chat, a notes app): no file provider needed. */
    private void shareProfile() {
        if (run.json == null) {
            return;
        }
        Intent send = new Intent(Intent.ACTION_SEND).setType("text/plain")
                .putExtra(Intent.EXTRA_SUBJECT, BenchmarkRun.FILE_NAME).putExtra(Intent.EXTRA_TEXT, run.json);
        startActivity(Intent.createChooser(send, getString(R.string.share)));
    }
}
