package org.pytorch.executorch;

import java.util.Arrays;

/**
 * HOST TEST DOUBLE of ExecuTorch's {@code org.pytorch.executorch.Tensor} (float32 only): the
 * subset the app calls, same signatures as the AAR. Never packaged into the APK.
 */
public final class Tensor {
    private final float[] data;
    private final long[] shape;

    private Tensor(float[] data, long[] shape) {
        this.data = data;
        this.shape = shape;
    }

    /** Like the AAR: copies {@code data}; its length must equal the product of {@code shape}. */
    public static Tensor fromBlob(float[] data, long[] shape) {
        long numel = numel(shape);
        if (data.length != numel) {
            throw new IllegalArgumentException("data has " + data.length + " values, shape "
                    + Arrays.toString(shape) + " needs " + numel);
        }
        return new Tensor(data.clone(), shape.clone());
    }

    public static long numel(long[] shape) {
        long numel = 1;
        for (long side : shape) {
            numel *= side;
        }
        return numel;
    }

    public long numel() {
        return numel(shape);
    }

    public long[] shape() {
        return shape.clone();
    }

    public float[] getDataAsFloatArray() {
        return data.clone();
    }

    /** For the double's JNI side: the values without a copy. */
    float[] rawData() {
        return data;
    }

    long[] rawShape() {
        return shape;
    }
}
