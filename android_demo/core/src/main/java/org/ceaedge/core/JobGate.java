package org.ceaedge.core;

/**
 * The one model the app holds is used by one job at a time: an ExecuTorch {@code Module} reuses
 * its planned memory between calls, and loading a program at another thread count resets the
 * runtime's process-wide thread pool under any program still running. A job (a photo, a
 * benchmark) enters before it touches the model and leaves when it is done; a second request
 * while one is inside is refused ({@link #tryEnter} returns false), never run beside it.
 */
public final class JobGate {
    private String holder;

    /** Enter as {@code job} (a short description, shown to whoever is refused); false when another job is inside. */
    public synchronized boolean tryEnter(String job) {
        if (job == null) {
            throw new IllegalArgumentException("a job needs a name");
        }
        if (holder != null) {
            return false;
        }
        holder = job;
        return true;
    }

    /**
     * Enter as {@code job}, waiting up to {@code millis} for the job inside to leave (a request
     * queued behind a short one, such as loading the model at start); false when it is still inside.
     */
    public synchronized boolean enterWithin(String job, long millis) throws InterruptedException {
        long deadline = System.nanoTime() + millis * 1000000L;
        while (holder != null) {
            long left = (deadline - System.nanoTime()) / 1000000L;
            if (left <= 0) {
                return false;
            }
            wait(left);
        }
        return tryEnter(job);
    }

    /** Leave; only the job inside may (a stale leave from an earlier job must not free a later one). */
    public synchronized void leave(String job) {
        if (holder == null || !holder.equals(job)) {
            throw new IllegalStateException("job \"" + job + "\" is not the one using the model (" + holder + ")");
        }
        holder = null;
        notifyAll();
    }

    /** The job inside, or null when the model is free. */
    public synchronized String holder() {
        return holder;
    }
}
