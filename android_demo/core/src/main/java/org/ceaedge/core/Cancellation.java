package org.ceaedge.core;

/**
 * A cancel flag the UI thread sets and the worker polls after every tile (through
 * {@link #progress}); the worker stops with {@link Cancelled} and deletes what it began.
 */
public final class Cancellation {
    /** Thrown in the worker when the user cancelled. */
    public static final class Cancelled extends RuntimeException {
        private static final long serialVersionUID = 1L;

        public Cancelled() {
            super("cancelled");
        }
    }

    private volatile boolean cancelled;

    public void cancel() {
        cancelled = true;
    }

    public boolean isCancelled() {
        return cancelled;
    }

    /** Throws {@link Cancelled} once {@link #cancel} was called. */
    public void check() {
        if (cancelled) {
            throw new Cancelled();
        }
    }

    /** A progress callback that checks the flag first, then reports to {@code next} (nullable). */
    public Progress progress(final Progress next) {
        return new Progress() {
            @Override
            public void update(int done, int total) {
                check();
                if (next != null) {
                    next.update(done, total);
                }
            }
        };
    }
}
