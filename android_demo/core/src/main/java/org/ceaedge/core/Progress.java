package org.ceaedge.core;

/** Called after every tile: tiles done, tiles in all. */
public interface Progress {
    void update(int done, int total);
}
