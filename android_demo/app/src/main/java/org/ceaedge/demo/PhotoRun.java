package org.ceaedge.demo;

import android.graphics.Bitmap;
import android.net.Uri;
import android.os.Handler;
import android.os.Looper;
import android.util.Log;
import java.io.File;
import org.ceaedge.core.Cost;

/**
 * The photo job's state, kept by the process ({@link ModelHost}) rather than the activity: every
 * event of the running {@link PhotoJob} updates it on the main thread, and the attached activity
 * (if any: none between the old activity's onDestroy and the new one's onCreate) renders it. A
 * recreated activity attaches and renders the state as it stands, so the running job carries on
 * showing its progress and its result in the new one.
 */
final class PhotoRun implements PhotoJob.Listener {
    private final ModelHost host;
    private final Handler main = new Handler(Looper.getMainLooper());
    private MainActivity activity;
    private PhotoJob job;

    boolean running;
    String status;
    /** Tiles done and their total; total 0: not started yet (indeterminate). */
    int done;
    int total;
    Bitmap before;
    Bitmap after;
    File result;
    String cost = "";

    PhotoRun(ModelHost host) {
        this.host = host;
    }

    void attach(MainActivity shown) {
        activity = shown;
        shown.render(this);
    }

    void detach(MainActivity gone) {
        if (activity == gone) {
            activity = null;
        }
    }

    /** Start enhancing {@code photo}; refused (the message says why) while the benchmark uses the model. */
    void start(Uri photo) {
        String holder = host.gate.holder();
        if (running || (holder != null && !ModelHost.LOADING.equals(holder))) {
            status = host.context.getString(R.string.busy, holder != null ? holder : "a photo");
            show();
            return;
        }
        job = new PhotoJob(host.context, photo, host, this);
        running = true;
        before = null;
        after = null;
        result = null;
        cost = "";
        done = 0;
        total = 0;
        status = host.context.getString(R.string.reading, job.displayName());
        show();
        new Thread(job, "cea-edge-enhance").start();
    }

    void cancel() {
        if (job != null) {
            job.cancel();
            status = host.context.getString(R.string.cancelling);
            show();
        }
    }

    void modelProblem(final String message) {
        post(new Runnable() {
            @Override
            public void run() {
                if (!running) {
                    status = message;
                    show();
                }
            }
        });
    }

    void post(Runnable runnable) {
        if (runnable != null) {
            main.post(runnable);
        }
    }

    /** Render the state in the attached activity, if one is shown. */
    void refresh() {
        show();
    }

    private void show() {
        if (activity != null) {
            activity.render(this);
        }
    }

    @Override
    public void onPhoto(String name, int width, int height, Bitmap photo) {
        before = photo;
        status = host.context.getString(R.string.enhancing, name, width, height, width * (long) height / 1e6);
        show();
    }

    @Override
    public void onProgress(int tilesDone, int tilesTotal) {
        done = tilesDone;
        total = tilesTotal;
        show();
    }

    @Override
    public void onDone(File restored, Bitmap restoredPreview, Cost spent) {
        job = null;
        running = false;
        result = restored;
        after = restoredPreview;
        status = host.context.getString(R.string.done);
        cost = host.context.getString(R.string.cost, spent.toString(), host.describe());
        Log.i(ModelHost.TAG, "photo enhanced: " + spent + " (" + host.describe() + ")");
        show();
    }

    @Override
    public void onFailed(String message) {
        job = null;
        running = false;
        status = message;
        Log.e(ModelHost.TAG, "photo failed: " + message);
        show();
    }

    @Override
    public void onCancelled() {
        job = null;
        running = false;
        before = null;
        status = host.context.getString(R.string.cancelled);
        Log.i(ModelHost.TAG, "photo cancelled");
        show();
    }
}
