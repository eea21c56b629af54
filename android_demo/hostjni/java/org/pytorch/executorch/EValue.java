package org.pytorch.executorch;

/**
 * HOST TEST DOUBLE of ExecuTorch's {@code org.pytorch.executorch.EValue}: tensor, int, double,
 * string and bool values, with the AAR's factories and accessors. Never packaged into the APK.
 */
public final class EValue {
    private static final int TENSOR = 1;
    private static final int STRING = 2;
    private static final int DOUBLE = 3;
    private static final int INT = 4;
    private static final int BOOL = 5;
    private static final String[] NAMES = {"None", "Tensor", "String", "Double", "Int", "Bool"};

    private final int typeCode;
    private final Object data;

    private EValue(int typeCode, Object data) {
        this.typeCode = typeCode;
        this.data = data;
    }

    public static EValue from(Tensor tensor) {
        return new EValue(TENSOR, tensor);
    }

    public static EValue from(long value) {
        return new EValue(INT, value);
    }

    public static EValue from(double value) {
        return new EValue(DOUBLE, value);
    }

    public static EValue from(String value) {
        return new EValue(STRING, value);
    }

    public static EValue from(boolean value) {
        return new EValue(BOOL, value);
    }

    public boolean isTensor() {
        return typeCode == TENSOR;
    }

    public boolean isInt() {
        return typeCode == INT;
    }

    public boolean isDouble() {
        return typeCode == DOUBLE;
    }

    public boolean isString() {
        return typeCode == STRING;
    }

    public boolean isBool() {
        return typeCode == BOOL;
    }

    public Tensor toTensor() {
        expect(TENSOR);
        return (Tensor) data;
    }

    public long toInt() {
        expect(INT);
        return (Long) data;
    }

    public double toDouble() {
        expect(DOUBLE);
        return (Double) data;
    }

    public String toStr() {
        expect(STRING);
        return (String) data;
    }

    public boolean toBool() {
        expect(BOOL);
        return (Boolean) data;
    }

    private void expect(int wanted) {
        if (typeCode != wanted) {
            throw new IllegalStateException("Expected EValue type " + NAMES[wanted] + ", actual type "
                    + NAMES[typeCode]);
        }
    }
}
