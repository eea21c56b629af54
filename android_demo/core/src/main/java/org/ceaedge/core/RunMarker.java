package org.ceaedge.core;

import java.io.File;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.Charset;

/**
 * Survives the process: a small file that says a job is running. Android may kill a process in
 * the background at any moment; the job's output is written under a temporary name
 * ({@link #PART_SUFFIX}) and renamed when complete, so a killed job leaves a temporary file and
 * this marker behind, never a result that looks whole. At the next process start
 * {@link #recover} deletes those temporary files and returns what was running, for the UI to
 * say that run was lost. A job that ends in any way (done, cancelled, failed) calls {@link #end}.
 */
public final class RunMarker {
    /** Suffix of every file a job writes before it is complete. */
    public static final String PART_SUFFIX = ".part";
    private static final Charset UTF8 = Charset.forName("UTF-8");

    private final File file;

    /** {@code file}: where the marker lives (app-private storage, e.g. filesDir/running). */
    public RunMarker(File file) {
        this.file = file;
    }

    /** Mark {@code description} (one line, e.g. "photo IMG_1.jpg") as running; written atomically. */
    public void begin(String description) throws IOException {
        File part = new File(file.getPath() + PART_SUFFIX);
        OutputStream out = new FileOutputStream(part);
        try {
            out.write(description.replace('\n', ' ').getBytes(UTF8));
        } finally {
            out.close();
        }
        if (!part.renameTo(file)) {
            part.delete();
            throw new IOException("could not rename " + part + " to " + file);
        }
    }

    /** The job ended (any way): nothing to recover. */
    public void end() {
        file.delete();
    }

    /** Whether a job is marked as running. */
    public boolean isRunning() {
        return file.isFile();
    }

    /**
     * Call once per process start, before any job: deletes the temporary files ({@link #PART_SUFFIX})
     * left in {@code outputFolders} and the marker, and returns the description of the run a dead
     * process left behind, or null when the last run ended normally.
     */
    public String recover(File... outputFolders) {
        for (File folder : outputFolders) {
            File[] files = folder == null ? null : folder.listFiles();
            if (files == null) {
                continue;
            }
            for (File stale : files) {
                if (stale.isFile() && stale.getName().endsWith(PART_SUFFIX)) {
                    stale.delete();
                }
            }
        }
        new File(file.getPath() + PART_SUFFIX).delete();
        if (!file.isFile()) {
            return null;
        }
        String description = read(file);
        file.delete();
        return description.isEmpty() ? "a run" : description;
    }

    private static String read(File file) {
        try {
            InputStream in = new FileInputStream(file);
            try {
                byte[] buffer = new byte[512];
                int length = 0;
                int read;
                while (length < buffer.length && (read = in.read(buffer, length, buffer.length - length)) > 0) {
                    length += read;
                }
                return new String(buffer, 0, length, UTF8).trim();
            } finally {
                in.close();
            }
        } catch (IOException unreadable) {
            return "";
        }
    }
}
