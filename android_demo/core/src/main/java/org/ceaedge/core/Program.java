package org.ceaedge.core;

import java.util.Map;

/**
 * A loaded cea-edge program (on Android: an ExecuTorch {@code Module} over a .pte) with what the
 * app reads from it: the settings its constant methods report and the time each method takes
 * to load. Not thread-safe: one job uses it at a time ({@link JobGate}).
 */
public interface Program extends TileModel {
    String FORWARD = "forward";
    String CONTEXT = "context";
    String FORWARD_GLOBAL = "forward_global";

    int tileSize();

    int tileOverlap();

    /** Side of the context method's input; 0: the program has tile mode only. */
    int contextSize();

    String precision();

    String preset();

    /**
     * Load every method the app runs ({@code forward}; with context graphs also {@code context}
     * and {@code forward_global}) so that the first photo does not pay for it; returns the
     * milliseconds each took, in that order.
     */
    Map<String, Double> loadMethods();

    /** Free the native program; unusable afterwards. */
    void destroy();

    /** Opens a program file at a thread count (on Android: {@code Module.load(path, mode, threads)}). */
    interface Opener {
        Program open(String path, int threads);
    }
}
