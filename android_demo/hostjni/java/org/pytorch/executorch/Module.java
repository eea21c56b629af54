package org.pytorch.executorch;

/**
 * HOST TEST DOUBLE of ExecuTorch's {@code org.pytorch.executorch.Module}: the AAR's signatures,
 * backed by {@code libexecutorch_jni_host.so} (the executorch wheel's C++ {@code extension::Module})
 * so that the app's own model class runs a real .pte on a desktop JVM. Never packaged into the APK.
 * Inputs must be float32 tensors; outputs may be float32 tensors, ints, doubles, strings, bools.
 */
public class Module {
    public static final int LOAD_MODE_FILE = 0;
    public static final int LOAD_MODE_MMAP = 1;

    static {
        System.loadLibrary("executorch_jni_host");
    }

    private long handle;

    private Module(String path, int loadMode, int numThreads) {
        handle = nativeLoad(path, loadMode, numThreads);
    }

    public static Module load(String modelPath) {
        return load(modelPath, LOAD_MODE_FILE, 0);
    }

    public static Module load(String modelPath, int loadMode) {
        return load(modelPath, loadMode, 0);
    }

    /**
     * numThreads 0: the runtime's default. Otherwise the wheel's process-wide thread pool is
     * reset to that size: modules loaded earlier in the process must not run afterwards (their
     * XNNPACK runtimes keep the old pool and hang) -- a limit of this double, not of the AAR.
     */
    public static Module load(String modelPath, int loadMode, int numThreads) {
        if (modelPath == null || !new java.io.File(modelPath).isFile()) {
            throw new IllegalArgumentException("Cannot load model path " + modelPath);
        }
        return new Module(modelPath, loadMode, numThreads);
    }

    public EValue[] forward(EValue... inputs) {
        return execute("forward", inputs);
    }

    public synchronized EValue[] execute(String methodName, EValue... inputs) {
        if (handle == 0) {
            throw new IllegalStateException("Module has been destroyed");
        }
        float[][] datas = new float[inputs.length][];
        long[][] shapes = new long[inputs.length][];
        for (int i = 0; i < inputs.length; i++) {
            Tensor tensor = inputs[i].toTensor();
            datas[i] = tensor.rawData();
            shapes[i] = tensor.rawShape();
        }
        Object[] raw = nativeExecute(handle, methodName, datas, shapes);
        EValue[] outputs = new EValue[raw.length];
        for (int i = 0; i < raw.length; i++) {
            Object value = raw[i];
            if (value instanceof Object[]) {  // a tensor: {float[] data, long[] shape}
                Object[] pair = (Object[]) value;
                outputs[i] = EValue.from(Tensor.fromBlob((float[]) pair[0], (long[]) pair[1]));
            } else if (value instanceof Long) {
                outputs[i] = EValue.from((Long) value);
            } else if (value instanceof Double) {
                outputs[i] = EValue.from((Double) value);
            } else if (value instanceof Boolean) {
                outputs[i] = EValue.from((Boolean) value);
            } else {
                outputs[i] = EValue.from((String) value);
            }
        }
        return outputs;
    }

    public synchronized void loadMethod(String methodName) {
        nativeLoadMethod(handle, methodName);
    }

    public synchronized void destroy() {
        if (handle != 0) {
            nativeDestroy(handle);
            handle = 0;
        }
    }

    private static native long nativeLoad(String path, int loadMode, int numThreads);

    private static native Object[] nativeExecute(long handle, String method, float[][] datas, long[][] shapes);

    private static native void nativeLoadMethod(long handle, String method);

    private static native void nativeDestroy(long handle);
}
