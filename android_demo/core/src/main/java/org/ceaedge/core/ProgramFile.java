package org.ceaedge.core;

/**
 * The check {@code cea_edge.runtime.backends} makes before the native runtime opens a .pte:
 * at least 64 bytes and the ExecuTorch flatbuffer identifier "ET12" at bytes 4-8
 * (executorch/schema/program.fbs). The runtime aborts the process on some malformed files,
 * so a wrong or damaged model file must be refused here, with a message, first.
 */
public final class ProgramFile {
    public static final int MIN_BYTES = 64;
    private static final byte[] IDENTIFIER = {'E', 'T', '1', '2'};

    private ProgramFile() {
    }

    /** The message for a file that is not an ExecuTorch program; null when the header fits. */
    public static String problem(String name, long size, byte[] head) {
        if (size < MIN_BYTES || head.length < 8) {
            return name + " is not an ExecuTorch program (a file of " + size + " bytes)";
        }
        if (!Exif.startsWith(head, 4, IDENTIFIER)) {
            return name + " is not an ExecuTorch program (identifier '" + Exif.ascii(head, 4, 4).replaceAll("[^ -~]", "?")
                    + "', expected 'ET12'): export it with `python -m cea_edge.export --target executorch`";
        }
        return null;
    }
}
