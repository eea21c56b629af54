package org.ceaedge.core;

import java.io.IOException;

/**
 * Where the app's restored rows go: into the streaming PNG (the result file) and into the
 * preview for the before/after view, each band once. An I/O error surfaces as
 * {@link WriteFailed} (the row interfaces carry no checked exceptions).
 */
public final class ResultSink extends ArgbRowSink {
    /** The result file could not be written (disk full, storage removed). */
    public static final class WriteFailed extends RuntimeException {
        private static final long serialVersionUID = 1L;

        public WriteFailed(IOException cause) {
            super(cause.getMessage(), cause);
        }
    }

    private final PngWriter png;
    private final Preview preview;

    /** Either may be null. */
    public ResultSink(int width, PngWriter png, Preview preview) {
        super(width);
        this.png = png;
        this.preview = preview;
    }

    @Override
    protected void writeArgb(int firstRow, int rowCount, int[] argb) {
        if (png != null) {
            try {
                png.writeRows(firstRow, rowCount, argb);
            } catch (IOException error) {
                throw new WriteFailed(error);
            }
        }
        if (preview != null) {
            preview.addRows(firstRow, rowCount, argb);
        }
    }
}
