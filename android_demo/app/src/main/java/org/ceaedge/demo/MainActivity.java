package org.ceaedge.demo;

import android.Manifest;
import android.app.Activity;
import android.content.Context;
import android.content.Intent;
import android.content.pm.PackageManager;
import android.graphics.Bitmap;
import android.net.Uri;
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
import org.ceaedge.core.Cost;

/**
 * Pick a photo, enhance it on the phone with the bundled ExecuTorch model, compare before and
 * after, save the result to the gallery. The work runs on one worker thread ({@link PhotoJob});
 * this activity only shows its state. Rotation does not restart it (configChanges in the
 * manifest), so a running enhancement survives turning the phone.
 */
public final class MainActivity extends Activity implements PhotoJob.Listener {
    private static final int PICK = 1;
    private static final int STORAGE = 2;
    /** Intent action of the Android 13+ photo picker (MediaStore.ACTION_PICK_IMAGES, named by value). */
    private static final String PICK_IMAGES = "android.provider.action.PICK_IMAGES";

    private static Models models;

    private CompareView compare;
    private ProgressBar progress;
    private TextView status;
    private TextView cost;
    private Button pick;
    private Button cancel;
    private Button save;
    private PhotoJob job;
    private File result;
    private Bitmap before;

    @Override
    protected void onCreate(Bundle state) {
        super.onCreate(state);
        setContentView(R.layout.activity_main);
        compare = (CompareView) findViewById(R.id.compare);
        progress = (ProgressBar) findViewById(R.id.progress);
        status = (TextView) findViewById(R.id.status);
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
                if (job != null) {
                    job.cancel();
                    status.setText(R.string.cancelling);
                }
            }
        });
        save.setOnClickListener(new View.OnClickListener() {
            @Override
            public void onClick(View view) {
                saveResult();
            }
        });
        if (models == null) {
            models = new Models(getApplicationContext());
        }
        showIdle(getString(R.string.hint));
        models.preload(new Handler(Looper.getMainLooper()), this);
    }

    @Override
    protected void onDestroy() {
        if (job != null && isFinishing()) {
            job.cancel();
        }
        super.onDestroy();
    }

    private void pickPhoto() {
        Intent intent;
        if (Build.VERSION.SDK_INT >= 33) {
            intent = new Intent(PICK_IMAGES).setType("image/*");
        } else {
            intent = new Intent(Intent.ACTION_OPEN_DOCUMENT).addCategory(Intent.CATEGORY_OPENABLE).setType("image/*");
        }
        startActivityForResult(intent, PICK);
    }

    @Override
    protected void onActivityResult(int requestCode, int resultCode, Intent data) {
        super.onActivityResult(requestCode, resultCode, data);
        if (requestCode == PICK && resultCode == RESULT_OK && data != null && data.getData() != null) {
            start(data.getData());
        }
    }

    private void start(Uri photo) {
        if (job != null) {
            job.cancel();
        }
        result = null;
        before = null;
        compare.clear();
        cost.setText("");
        job = new PhotoJob(this, photo, models, this);
        status.setText(getString(R.string.reading, job.displayName()));
        progress.setIndeterminate(true);
        progress.setVisibility(View.VISIBLE);
        pick.setEnabled(false);
        cancel.setEnabled(true);
        save.setEnabled(false);
        Thread worker = new Thread(job, "cea-edge-enhance");
        worker.start();
    }

    @Override
    public void onPhoto(String name, int width, int height, Bitmap photo) {
        before = photo;
        compare.show(photo, null);
        status.setText(getString(R.string.enhancing, name, width, height, width * (long) height / 1e6));
    }

    @Override
    public void onProgress(int done, int total) {
        progress.setIndeterminate(false);
        progress.setMax(total);
        progress.setProgress(done);
    }

    @Override
    public void onDone(File restored, Bitmap after, Cost spent) {
        job = null;
        result = restored;
        compare.show(before, after);
        showIdle(getString(R.string.done));
        cost.setText(getString(R.string.cost, spent.toString(), models.describe()));
        save.setEnabled(true);
    }

    @Override
    public void onFailed(String message) {
        job = null;
        showIdle(message);
    }

    @Override
    public void onCancelled() {
        job = null;
        compare.clear();
        showIdle(getString(R.string.cancelled));
    }

    private void showIdle(String message) {
        status.setText(message);
        progress.setVisibility(View.INVISIBLE);
        pick.setEnabled(true);
        cancel.setEnabled(false);
    }

    private void saveResult() {
        if (result == null) {
            return;
        }
        if (GallerySaver.needsStoragePermission()
                && checkSelfPermission(Manifest.permission.WRITE_EXTERNAL_STORAGE) != PackageManager.PERMISSION_GRANTED) {
            requestPermissions(new String[] {Manifest.permission.WRITE_EXTERNAL_STORAGE}, STORAGE);
            return;
        }
        final File saving = result;
        final Handler main = new Handler(Looper.getMainLooper());
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
                final String shown = message;
                main.post(new Runnable() {
                    @Override
                    public void run() {
                        status.setText(shown);
                        save.setEnabled(result != null);
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

    /** The model, loaded once per process on a worker thread and shared by every job. */
    private static final class Models implements PhotoJob.ModelSource {
        private final Context context;
        private final int threads = ModelStore.threads();
        private ExecuTorchTileModel model;

        Models(Context context) {
            this.context = context;
        }

        @Override
        public synchronized ExecuTorchTileModel model() throws ModelStore.ModelProblem {
            if (model == null) {
                model = ModelStore.load(context, threads);
            }
            return model;
        }

        @Override
        public int threads() {
            return threads;
        }

        synchronized String describe() {
            return model == null ? "" : model.preset() + " " + model.precision() + ", tile " + model.tileSize() + ", context "
                    + model.contextSize();
        }

        /** Copy and load the model at start, so a missing or corrupt one is reported before a photo is picked. */
        void preload(final Handler main, final MainActivity activity) {
            new Thread(new Runnable() {
                @Override
                public void run() {
                    try {
                        model();
                    } catch (final ModelStore.ModelProblem problem) {
                        main.post(new Runnable() {
                            @Override
                            public void run() {
                                activity.status.setText(problem.getMessage());
                            }
                        });
                    }
                }
            }, "cea-edge-model").start();
        }
    }
}
