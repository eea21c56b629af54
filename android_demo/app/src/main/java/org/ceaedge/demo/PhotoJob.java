package org.ceaedge.demo;

import android.content.ContentResolver;
import android.content.Context;
import android.database.Cursor;
import android.graphics.Bitmap;
import android.graphics.BitmapFactory;
import android.graphics.BitmapRegionDecoder;
import android.net.Uri;
import android.os.Build;
import android.os.Handler;
import android.os.Looper;
import android.os.ParcelFileDescriptor;
import android.provider.OpenableColumns;
import android.util.Log;
import java.io.BufferedOutputStream;
import java.io.File;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.zip.Deflater;
import org.ceaedge.core.Cancellation;
import org.ceaedge.core.Cost;
import org.ceaedge.core.Enhancer;
import org.ceaedge.core.Exif;
import org.ceaedge.core.MemoryBudget;
import org.ceaedge.core.Orientation;
import org.ceaedge.core.OrientedSource;
import org.ceaedge.core.PhotoCheck;
import org.ceaedge.core.PngWriter;
import org.ceaedge.core.Preview;
import org.ceaedge.core.Progress;
import org.ceaedge.core.ResultName;
import org.ceaedge.core.ResultSink;
import org.ceaedge.core.RowSource;
import org.ceaedge.core.RunMarker;
import org.ceaedge.core.TilePlan;

/**
 * One photo, on a worker thread: check it, show it, enhance it in global-context mode as
 * {@code python -m cea_edge.enhance} does, and stream the result into a PNG in the app's
 * cache (a temporary name, renamed when complete; deleted on cancel or error; a killed
 * process's is deleted at the next start, see RunMarker). It holds the model's gate while it
 * runs (queued briefly behind loading at start, refused behind the benchmark) and marks itself
 * running. Everything the UI hears goes through {@link Listener} on the main thread.
 */
final class PhotoJob implements Runnable {
    /** How long a photo waits for the model's gate (loading the model at start takes a few seconds). */
    private static final long GATE_WAIT_MS = 60000;
    /** Longer side of the before/after previews. */
    static final int PREVIEW_SIDE = MemoryBudget.APP_PREVIEW_SIDE;
    /** How many bytes of the photo are searched for its EXIF block (APP1 is at most 64 KiB). */
    private static final int HEAD_BYTES = 256 * 1024;

    interface Listener {
        void onPhoto(String name, int width, int height, Bitmap before);

        void onProgress(int done, int total);

        void onDone(File result, Bitmap after, Cost cost);

        void onFailed(String message);

        void onCancelled();
    }

    /** The model and how it was loaded, shared between jobs (loading takes a moment). */
    interface ModelSource {
        ExecuTorchTileModel model() throws ModelStore.ModelProblem;

        int threads();
    }

    /** Where results are written (app cache), and their temporary files. */
    static File resultsFolder(Context context) {
        return new File(context.getCacheDir(), "results");
    }

    /** A problem the user caused or met, with the message to show. */
    private static final class Refused extends Exception {
        private static final long serialVersionUID = 1L;

        Refused(String message) {
            super(message);
        }
    }

    private final Context context;
    private final Uri photo;
    private final ModelHost models;
    private final Listener listener;
    private final Cancellation cancellation = new Cancellation();
    private final Handler main = new Handler(Looper.getMainLooper());

    PhotoJob(Context context, Uri photo, ModelHost models, Listener listener) {
        this.context = context.getApplicationContext();
        this.photo = photo;
        this.models = models;
        this.listener = listener;
    }

    void cancel() {
        cancellation.cancel();
    }

    @Override
    public void run() {
        String job = "photo " + displayName();
        try {
            if (!models.gate.enterWithin(job, GATE_WAIT_MS)) {
                fail(context.getString(R.string.busy, models.gate.holder()));
                return;
            }
        } catch (InterruptedException interrupted) {
            Thread.currentThread().interrupt();
            fail("interrupted before the model was free");
            return;
        }
        try {
            models.marker.begin(job);
        } catch (IOException error) {
            Log.w(ModelHost.TAG, "could not mark the job as running: " + error.getMessage());
        }
        try {
            work();
        } finally {
            models.marker.end();
            models.gate.leave(job);
        }
    }

    private void work() {
        try {
            enhance();
        } catch (Cancellation.Cancelled cancelled) {
            post(new Runnable() {
                @Override
                public void run() {
                    listener.onCancelled();
                }
            });
        } catch (Refused refused) {
            fail(refused.getMessage());
        } catch (ModelStore.ModelProblem problem) {
            fail(problem.getMessage());
        } catch (RegionDecoderReader.DecodeFailed failed) {
            fail(displayName() + ": " + failed.getMessage());
        } catch (ResultSink.WriteFailed failed) {
            fail("the result could not be written: " + failed.getMessage());
        } catch (OutOfMemoryError memory) {
            fail("the phone ran out of memory for this photo; close other apps or pick a smaller one");
        } catch (IOException error) {
            fail(displayName() + " could not be read: " + error.getMessage());
        } catch (RuntimeException error) {
            Log.e(ModelHost.TAG, "enhancement failed", error);
            fail("enhancement failed: " + error);
        }
    }

    private void enhance() throws IOException, Refused, ModelStore.ModelProblem {
        ContentResolver resolver = context.getContentResolver();
        String name = displayName();

        byte[] head = readHead(resolver);
        // HEIC/HEIF: BitmapFactory and BitmapRegionDecoder read it where the platform's codecs do (Android 9+).
        String problem = PhotoCheck.formatProblem(name, head, Build.VERSION.SDK_INT >= 28);
        if (problem != null) {
            throw new Refused(problem);
        }
        String format = PhotoCheck.format(head);
        BitmapFactory.Options bounds = new BitmapFactory.Options();
        bounds.inJustDecodeBounds = true;
        InputStream in = open(resolver);
        try {
            BitmapFactory.decodeStream(in, null, bounds);
        } finally {
            Streams.closeQuietly(in);
        }
        problem = PhotoCheck.sizeProblem(name, bounds.outWidth, bounds.outHeight, PhotoCheck.MAX_PIXELS);
        if (problem == null) {
            in = open(resolver);
            try {
                problem = PhotoCheck.truncationProblem(name, format, in);
            } finally {
                Streams.closeQuietly(in);
            }
        }
        if (problem != null) {
            throw new Refused(problem);
        }
        cancellation.check();

        byte[] tiff = Exif.find(head);
        int orientation = Exif.orientation(tiff);
        ParcelFileDescriptor descriptor = resolver.openFileDescriptor(photo, "r");
        if (descriptor == null) {
            throw new Refused(name + " could not be opened");
        }
        BitmapRegionDecoder decoder;
        try {
            decoder = BitmapRegionDecoder.newInstance(descriptor.getFileDescriptor(), false);
        } catch (IOException error) {
            Streams.closeQuietly(descriptor);
            throw new Refused(name + " could not be decoded (" + error.getMessage() + ")");
        }
        RegionDecoderReader reader = new RegionDecoderReader(decoder);
        try {
            OrientedSource source = new OrientedSource(reader, decoder.getHeight(), decoder.getWidth(), orientation);
            restore(name, source, reader, orientation, Exif.upright(tiff));
        } finally {
            reader.close();
            Streams.closeQuietly(descriptor);
        }
    }

    private void restore(final String name, final OrientedSource source, RegionDecoderReader reader, int orientation,
            byte[] exif) throws IOException, Refused, ModelStore.ModelProblem {
        final int height = source.height();
        final int width = source.width();
        final Bitmap before = beforePreview(reader, orientation);
        post(new Runnable() {
            @Override
            public void run() {
                listener.onPhoto(name, width, height, before);
            }
        });

        ExecuTorchTileModel model = models.model();
        cancellation.check();
        int tile = model.tileSize();
        int overlap = model.tileOverlap();
        int contextSize = model.contextSize();
        checkMemory(name, height, width, tile, overlap, contextSize);

        File folder = resultsFolder(context);
        if (!folder.isDirectory() && !folder.mkdirs()) {
            throw new IOException("could not create " + folder);
        }
        for (File old : listFiles(folder)) { // one result at a time: the previous one was saved or dropped
            old.delete();
        }
        File result = new File(folder, ResultName.of(name));
        File part = new File(folder, result.getName() + RunMarker.PART_SUFFIX);
        Preview preview = new Preview(height, width, PREVIEW_SIDE);
        OutputStream out = new BufferedOutputStream(new FileOutputStream(part), 1 << 16);
        PngWriter png = null;
        boolean complete = false;
        long start = System.nanoTime();
        try {
            png = new PngWriter(out, height, width, exif, Deflater.DEFAULT_COMPRESSION);
            Enhancer enhancer = new Enhancer(model, tile, overlap, contextSize);
            String mode = contextSize > 0 ? Enhancer.GLOBAL : Enhancer.TILE;
            Progress progress = cancellation.progress(new Progress() {
                @Override
                public void update(final int done, final int total) {
                    post(new Runnable() {
                        @Override
                        public void run() {
                            listener.onProgress(done, total);
                        }
                    });
                }
            });
            // Cancel is also checked before every band read: the context pass reads the whole photo first.
            RowSource cancellable = new RowSource() {
                @Override
                public void readRows(int firstRow, int rowCount, int[] argb) {
                    cancellation.check();
                    source.readRows(firstRow, rowCount, argb);
                }
            };
            enhancer.restore(cancellable, height, width, mode, new ResultSink(width, png, preview), progress);
            png.finish();
            out.close();
            if (!part.renameTo(result)) {
                throw new IOException("could not rename " + part.getName() + " to " + result.getName());
            }
            complete = true;
        } finally {
            if (!complete) {
                if (png != null) {
                    png.abandon();
                }
                Streams.closeQuietly(out);
                part.delete();
            }
        }
        // The photo's own time: the model and its methods were loaded before `start` (ModelHost.model()).
        final Cost cost = new Cost(TilePlan.plan(height, width, tile, overlap).count(), models.threads(),
                System.nanoTime() - start, (long) height * width);
        final Bitmap after = Bitmap.createBitmap(preview.pixels(), preview.width, preview.height,
                Bitmap.Config.ARGB_8888);
        final File saved = result;
        post(new Runnable() {
            @Override
            public void run() {
                listener.onDone(saved, after, cost);
            }
        });
    }

    /** The design's buffers and the previews (MemoryBudget.forApp) must fit in what the heap has left. */
    private void checkMemory(String name, int height, int width, int tile, int overlap, int contextSize)
            throws Refused {
        long need = MemoryBudget.forApp(height, width, tile, overlap, contextSize, PREVIEW_SIDE).total();
        Runtime runtime = Runtime.getRuntime();
        long free = runtime.maxMemory() - (runtime.totalMemory() - runtime.freeMemory());
        if (need > free) {
            throw new Refused(String.format(java.util.Locale.ROOT,
                    "%s needs about %d MiB of working memory; the app has %d MiB free", name, need >> 20, free >> 20));
        }
    }

    private Bitmap beforePreview(RegionDecoderReader reader, int orientation) {
        int sample = 1;
        while (Math.max(reader.height(), reader.width()) / sample > PREVIEW_SIDE) {
            sample *= 2;
        }
        Bitmap stored = reader.sampled(sample);
        if (Orientation.normalise(orientation) == 1) {
            return stored;
        }
        int h = stored.getHeight();
        int w = stored.getWidth();
        int[] pixels = new int[h * w];
        stored.getPixels(pixels, 0, w, 0, 0, w, h);
        stored.recycle();
        int[] shown = Orientation.apply(pixels, h, w, orientation);
        return Bitmap.createBitmap(shown, Orientation.displayedWidth(h, w, orientation),
                Orientation.displayedHeight(h, w, orientation), Bitmap.Config.ARGB_8888);
    }

    private byte[] readHead(ContentResolver resolver) throws IOException {
        return Streams.head(open(resolver), HEAD_BYTES);
    }

    private InputStream open(ContentResolver resolver) throws IOException {
        InputStream in = resolver.openInputStream(photo);
        if (in == null) {
            throw new IOException("the provider returned no data");
        }
        return in;
    }

    String displayName() {
        Cursor cursor = null;
        try {
            cursor = context.getContentResolver().query(photo, new String[] {OpenableColumns.DISPLAY_NAME}, null, null,
                    null);
            if (cursor != null && cursor.moveToFirst() && !cursor.isNull(0)) {
                return cursor.getString(0);
            }
        } catch (RuntimeException providerError) {
            // some providers refuse the query: the last path segment names the photo well enough
        } finally {
            if (cursor != null) {
                cursor.close();
            }
        }
        String segment = photo.getLastPathSegment();
        return segment == null ? "photo" : segment;
    }

    private static File[] listFiles(File folder) {
        File[] files = folder.listFiles();
        return files == null ? new File[0] : files;
    }

    private void fail(final String message) {
        post(new Runnable() {
            @Override
            public void run() {
                listener.onFailed(message);
            }
        });
    }

    private void post(Runnable runnable) {
        main.post(runnable);
    }
}
