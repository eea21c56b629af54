package org.ceaedge.demo;

import android.content.ContentResolver;
import android.content.ContentValues;
import android.content.Context;
import android.media.MediaScannerConnection;
import android.net.Uri;
import android.os.Build;
import android.os.Environment;
import android.provider.MediaStore;
import java.io.File;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/**
 * Puts a finished result into the gallery as a new image, never over an existing one:
 * Android 10+ through MediaStore (a pending entry, published when the copy is complete,
 * deleted when it fails; MediaStore picks a free name), older Android into
 * Pictures/cea-edge under a free name (reserved with an exclusive create, filled through a
 * temporary file, then scanned). The original photo is never written to.
 */
final class GallerySaver {
    static final String FOLDER = "cea-edge";
    /** Build.VERSION_CODES.Q: the constants below are named by value so the code compiles against API 23. */
    private static final int ANDROID_10 = 29;
    private static final String RELATIVE_PATH = "relative_path";
    private static final String IS_PENDING = "is_pending";

    private GallerySaver() {
    }

    /** Legacy storage (Android 9 and older) needs WRITE_EXTERNAL_STORAGE at run time. */
    static boolean needsStoragePermission() {
        return Build.VERSION.SDK_INT < ANDROID_10;
    }

    /** Copy {@code result} into the gallery; returns where it went, for the message. */
    static String save(Context context, File result) throws IOException {
        return Build.VERSION.SDK_INT >= ANDROID_10 ? saveToMediaStore(context, result) : saveToPictures(context, result);
    }

    private static String saveToMediaStore(Context context, File result) throws IOException {
        ContentResolver resolver = context.getContentResolver();
        String folder = Environment.DIRECTORY_PICTURES + "/" + FOLDER;
        ContentValues values = new ContentValues();
        values.put(MediaStore.MediaColumns.DISPLAY_NAME, result.getName());
        values.put(MediaStore.MediaColumns.MIME_TYPE, "image/png");
        values.put(RELATIVE_PATH, folder);
        values.put(IS_PENDING, 1);
        Uri uri = resolver.insert(MediaStore.Images.Media.EXTERNAL_CONTENT_URI, values);
        if (uri == null) {
            throw new IOException("the gallery refused a new image");
        }
        boolean published = false;
        try {
            OutputStream out = resolver.openOutputStream(uri, "w");
            if (out == null) {
                throw new IOException("the gallery gave no stream to write to");
            }
            try {
                copy(result, out);
            } finally {
                out.close();
            }
            ContentValues done = new ContentValues();
            done.put(IS_PENDING, 0);
            resolver.update(uri, done, null, null);
            published = true;
        } finally {
            if (!published) {
                resolver.delete(uri, null, null);
            }
        }
        return folder + "/" + result.getName();
    }

    @SuppressWarnings("deprecation") // the public Pictures folder is the gallery on Android 9 and older
    private static String saveToPictures(Context context, File result) throws IOException {
        File folder = new File(Environment.getExternalStoragePublicDirectory(Environment.DIRECTORY_PICTURES), FOLDER);
        if (!folder.isDirectory() && !folder.mkdirs()) {
            throw new IOException("could not create " + folder);
        }
        File target = reserve(folder, result.getName());
        File part = new File(folder, "." + target.getName() + ".part");
        boolean complete = false;
        try {
            OutputStream out = new FileOutputStream(part);
            try {
                copy(result, out);
            } finally {
                out.close();
            }
            if (!part.renameTo(target)) { // replaces only our own empty reservation
                throw new IOException("could not rename " + part.getName() + " to " + target.getName());
            }
            complete = true;
        } finally {
            if (!complete) {
                part.delete();
                target.delete();
            }
        }
        MediaScannerConnection.scanFile(context, new String[] {target.getPath()}, new String[] {"image/png"}, null);
        return target.getPath();
    }

    /** Create an empty file under a free name: name.png, name (2).png, ... (exclusive, so never an existing one). */
    private static File reserve(File folder, String name) throws IOException {
        String stem = name.endsWith(".png") ? name.substring(0, name.length() - 4) : name;
        for (int attempt = 1; attempt < 10000; attempt++) {
            File candidate = new File(folder, attempt == 1 ? stem + ".png" : stem + " (" + attempt + ").png");
            if (candidate.createNewFile()) {
                return candidate;
            }
        }
        throw new IOException("no free name for " + name + " in " + folder);
    }

    private static void copy(File from, OutputStream out) throws IOException {
        InputStream in = new FileInputStream(from);
        try {
            Streams.copy(in, out);
        } finally {
            in.close();
        }
    }
}
