package org.ceaedge.demo;

import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/** The stream chores the app does in several places: copy, read a head, close. */
final class Streams {
    private Streams() {
    }

    /** Copy all of {@code in} to {@code out} and flush; closes neither. */
    static void copy(InputStream in, OutputStream out) throws IOException {
        byte[] buffer = new byte[1 << 16];
        for (int count = in.read(buffer); count >= 0; count = in.read(buffer)) {
            out.write(buffer, 0, count);
        }
        out.flush();
    }

    /** The first {@code limit} bytes of {@code in} (fewer when it ends first); closes it. */
    static byte[] head(InputStream in, int limit) throws IOException {
        try {
            byte[] buffer = new byte[limit];
            int total = 0;
            while (total < limit) {
                int count = in.read(buffer, total, limit - total);
                if (count < 0) {
                    break;
                }
                total += count;
            }
            if (total == limit) {
                return buffer;
            }
            byte[] head = new byte[total];
            System.arraycopy(buffer, 0, head, 0, total);
            return head;
        } finally {
            closeQuietly(in);
        }
    }

    static void closeQuietly(Closeable closeable) {
        if (closeable != null) {
            try {
                closeable.close();
            } catch (IOException ignored) {
                // nothing left to do with a stream that failed to close
            }
        }
    }
}
