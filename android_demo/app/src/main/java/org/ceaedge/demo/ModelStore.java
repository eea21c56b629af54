package org.ceaedge.demo;

import android.content.Context;
import android.content.pm.PackageManager;
import java.io.File;
import java.io.FileInputStream;
import java.io.FileNotFoundException;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import org.ceaedge.core.ProgramFile;
import org.ceaedge.core.RunMarker;
import org.pytorch.executorch.Module;

/**
 * The bundled programs: android_demo/tools/bundle_model.sh puts the int8 .pte (the one the app
 * enhances with) and its fp32 twin (for the benchmark: does int8 pay on this phone?) into the
 * assets. Each is copied to app storage once per installed version (ExecuTorch loads from a
 * path), checked like the toolkit checks a .pte, and loaded with an explicit thread count.
 */
final class ModelStore {
    /** The program the app enhances photos with (int8). */
    static final String ASSET = "cea-edge.pte";
    /** Every program the benchmark runs, the app's own first. */
    static final String[] BENCHMARK_ASSETS = {ASSET, "cea-edge-fp32.pte"};
    /** The ExecuTorch AAR the app links: gradle.properties' executorchVersion (a test keeps the two equal). */
    static final String EXECUTORCH_VERSION = "1.5.1";

    /** A failure the user can act on; the message says what. */
    static final class ModelProblem extends Exception {
        private static final long serialVersionUID = 1L;

        ModelProblem(String message) {
            super(message);
        }
    }

    private ModelStore() {
    }

    /** Threads for the runtime: the CPUs the app may use, at most 4 (phones' big cores). */
    static int threads() {
        return Math.max(1, Math.min(4, Runtime.getRuntime().availableProcessors()));
    }

    /** Copy (when new or the app was updated), check and load the model. Call off the UI thread. */
    static ExecuTorchTileModel load(Context context, int threads) throws ModelProblem {
        File model = file(context, ASSET);
        Module module;
        try {
            module = Module.load(model.getAbsolutePath(), Module.LOAD_MODE_MMAP, threads);
        } catch (RuntimeException error) {
            throw new ModelProblem("the ExecuTorch runtime could not load the bundled model: " + error.getMessage());
        }
        try {
            return new ExecuTorchTileModel(module);
        } catch (RuntimeException error) {
            module.destroy();
            throw new ModelProblem(error.getMessage());
        }
    }

    /**
     * The asset {@code name} as a checked file in app storage, copied when missing or when the app
     * was installed or updated since (a stamp file holds the install time it was copied for).
     */
    static File file(Context context, String name) throws ModelProblem {
        File model = new File(context.getFilesDir(), name);
        File stamp = new File(context.getFilesDir(), name + ".version");
        String version = installedVersion(context);
        if (!model.isFile() || !version.equals(read(stamp))) {
            copyAsset(context, name, model);
            write(stamp, version);
        }
        String problem = ProgramFile.problem("the bundled model " + name, model.length(), head(model, 8));
        if (problem != null) {
            throw new ModelProblem(problem + ". Rebuild the app after android_demo/tools/bundle_model.sh.");
        }
        return model;
    }

    private static void copyAsset(Context context, String name, File model) throws ModelProblem {
        File part = new File(model.getPath() + RunMarker.PART_SUFFIX);
        InputStream in;
        try {
            in = context.getAssets().open(name);
        } catch (FileNotFoundException missing) {
            throw new ModelProblem("the app has no model (assets/" + name + " is missing): run"
                    + " android_demo/tools/bundle_model.sh, then rebuild");
        } catch (IOException error) {
            throw new ModelProblem("the bundled model could not be read: " + error.getMessage());
        }
        try {
            OutputStream out = new FileOutputStream(part);
            try {
                Streams.copy(in, out);
            } finally {
                out.close();
            }
            if (!part.renameTo(model)) {
                throw new IOException("could not rename " + part + " to " + model);
            }
        } catch (IOException error) {
            part.delete();
            throw new ModelProblem("the model could not be copied to app storage: " + error.getMessage());
        } finally {
            Streams.closeQuietly(in);
        }
    }

    private static String installedVersion(Context context) {
        try {
            return Long.toString(context.getPackageManager().getPackageInfo(context.getPackageName(), 0).lastUpdateTime);
        } catch (PackageManager.NameNotFoundException impossible) {
            return "unknown";
        }
    }

    private static String read(File file) {
        return new String(head(file, 64)).trim();
    }

    /** The first bytes of a file; none when it cannot be read (then it is treated as missing). */
    private static byte[] head(File file, int limit) {
        try {
            return Streams.head(new FileInputStream(file), limit);
        } catch (IOException error) {
            return new byte[0];
        }
    }

    private static void write(File file, String text) throws ModelProblem {
        try {
            OutputStream out = new FileOutputStream(file);
            try {
                out.write(text.getBytes("UTF-8"));
            } finally {
                out.close();
            }
        } catch (IOException error) {
            throw new ModelProblem("could not write " + file + ": " + error.getMessage());
        }
    }
}
