package org.ceaedge.demo;

import android.Manifest;
import android.app.Activity;
import android.content.Intent;
import android.content.pm.PackageManager;
import android.os.Build;
import android.os.Bundle;
import android.os.Handler;
import android.os.Looper;
import android.view.View;
import android.widget.Button;
import android.widget.ProgressBar;
import android.widget.TextView;
import java.io.File;
import java.io.IOException;

/**
 * Pick a photo, enhance it on the phone with the bundled ExecuTorch model, compare before and
 * after, save the result to the gallery. The job and its state live in the process
 * ({@link ModelHost}, {@link PhotoRun}); this activity only renders them, so a job survives the
 * activity being recreated (dark mode, language, font size; rotation does not even recreate it:
 * configChanges in the manifest) and shows up in the new one. Started with the boolean extra
 * {@code benchmark} (adb shell am start ... --ez benchmark true) it opens the benchmark screen.
 */
public final class MainActivity extends Activity {
    private static final int PICK = 1;
    private static final int STORAGE = 2;
    /** Intent action of the Android 13+ photo picker (MediaStore.ACTION_PICK_IMAGES, named by value). */
    private static final String PICK_IMAGES = "android.provider.action.PICK_IMAGES";
    /** What the picker offers: the formats PhotoCheck reads (HEIC/HEIF where the platform decodes it). */
    private static final String[] MIME_TYPES = {"image/jpeg", "image/png", "image/webp", "image/heic", "image/heif"};

    private ModelHost host;
    private CompareView compare;
    private ProgressBar progress;
    private TextView status;
    private TextView load;
    private TextView cost;
    private Button pick;
    private Button cancel;
    private Button save;
    private final Bitmaps shown = new Bitmaps();

    @Override
    protected void onCreate(Bundle state) {
        super.onCreate(state);
        if (getIntent().getBooleanExtra(BenchmarkActivity.EXTRA_BENCHMARK, false) && state == null) {
            startActivity(new Intent(getIntent()).setClass(this, BenchmarkActivity.class));
        }
        setContentView(R.layout.activity_main);
        Insets.padForSystemBars(findViewById(R.id.root));
        compare = (CompareView) findViewById(R.id.compare);
        progress = (ProgressBar) findViewById(R.id.progress);
        status = (TextView) findViewById(R.id.status);
        load = (TextView) findViewById(R.id.load);
        cost = (TextView) findViewById(R.id.cost);
        pick = (Button) findViewById(R.id.pick);
        cancel = (Button) findViewById(R.id.cancel);
        save = (Button) findViewById(R.id.save);
        pick.setOnClickListener(new View.OnClickListener() {
            @Override
            public void onClick(View view) {
                pickPhoto();
            }
        });
        cancel.setOnClickListener(new View.OnClickListener() {
            @Override
            public void onClick(View view) {
                host.photo.cancel();
            }
        });
        save.setOnClickListener(new View.OnClickListener() {
            @Override
            public void onClick(View view) {
                saveResult();
            }
        });
        findViewById(R.id.benchmark).setOnClickListener(new View.OnClickListener() {
            @Override
            public void onClick(View view) {
                startActivity(new Intent(MainActivity.this, BenchmarkActivity.class));
            }
        });
        host = ModelHost.get(this);
        PhotoRun run = host.photo;
        String lost = host.takeLostRun();
        if (lost != null && !run.running) {
            run.status = getString(R.string.lost_run, lost);
        } else if (run.status == null) {
            run.status = getString(R.string.hint);
        }
        run.attach(this);
        if (host.loadReport().isEmpty()) {
            host.preload(new Runnable() {
                @Override
                public void run() {
                    load.setText(host.loadReport());
                }
            });
        }
    }

    @Override
    protected void onDestroy() {
        host.photo.detach(this);
        if (isFinishing() && !isChangingConfigurations()) { // left the app (back): stop the work
            host.photo.cancel();
        }
        super.onDestroy();
    }

    /** Show the photo job's state as it stands (called on attach and after each of its events). */
    void render(PhotoRun run) {
        status.setText(run.status);
        load.setText(host.loadReport());
        cost.setText(run.cost);
        progress.setVisibility(run.running ? View.VISIBLE : View.INVISIBLE);
        progress.setIndeterminate(run.total == 0);
        progress.setMax(Math.max(1, run.total));
        progress.setProgress(run.done);
        pick.setEnabled(!run.running);
        cancel.setEnabled(run.running);
        save.setEnabled(!run.running && run.result != null);
        if (shown.before != run.before || shown.after != run.after) {
            shown.before = run.before;
            shown.after = run.after;
            if (run.before == null) {
                compare.clear();
            } else {
                compare.show(run.before, run.after);
            }
        }
    }

    private void pickPhoto() {
        Intent intent;
        if (Build.VERSION.SDK_INT >= 33) {
            intent = new Intent(PICK_IMAGES).setType("image/*");
        } else {
            intent = new Intent(Intent.ACTION_OPEN_DOCUMENT).addCategory(Intent.CATEGORY_OPENABLE).setType("image/*");
            intent.putExtra(Intent.EXTRA_MIME_TYPES, Build.VERSION.SDK_INT >= 28 ? MIME_TYPES
                    : new String[] {MIME_TYPES[0], MIME_TYPES[1], MIME_TYPES[2]});
        }
        startActivityForResult(intent, PICK);
    }

    @Override
    protected void onActivityResult(int requestCode, int resultCode, Intent data) {
        super.onActivityResult(requestCode, resultCode, data);
        if (requestCode == PICK && resultCode == RESULT_OK && data != null && data.getData() != null) {
            host.photo.start(data.getData());
        }
    }

    private void saveResult() {
        final File saving = host.photo.result;
        if (saving == null) {
            return;
        }
        if (GallerySaver.needsStoragePermission()
                && checkSelfPermission(Manifest.permission.WRITE_EXTERNAL_STORAGE) != PackageManager.PERMISSION_GRANTED) {
            requestPermissions(new String[] {Manifest.permission.WRITE_EXTERNAL_STORAGE}, STORAGE);
            return;
        }
        final Handler main = new Handler(Looper.getMainLooper());
        final PhotoRun run = host.photo;
        save.setEnabled(false);
        status.setText(R.string.saving);
        new Thread(new Runnable() {
            @Override
            public void run() {
                String message;
                try {
                    message = getString(R.string.saved, GallerySaver.save(getApplicationContext(), saving));
                } catch (IOException error) {
                    message = getString(R.string.save_failed, error.getMessage());
                }
                final String outcome = message;
                main.post(new Runnable() {
                    @Override
                    public void run() {
                        run.status = outcome; // through the run: a recreated activity shows it too
                        run.refresh();
                    }
                });
            }
        }, "cea-edge-save").start();
    }

    @Override
    public void onRequestPermissionsResult(int requestCode, String[] permissions, int[] grants) {
        if (requestCode == STORAGE) {
            if (grants.length > 0 && grants[0] == PackageManager.PERMISSION_GRANTED) {
                saveResult();
            } else {
                status.setText(R.string.no_storage);
            }
        }
    }

    /** The bitmaps the compare view shows now (redrawn only when the run's change). */
    private static final class Bitmaps {
        android.graphics.Bitmap before;
        android.graphics.Bitmap after;
    }
}
