package dev.serval.features;

import java.util.List;

/** One lookup's progress: the rows still to answer from L2 and from L3 (no boxing: rows are ints). */
final class LookupRows {
    final List<String> entities;
    final long[] atMillis;
    final float[] values;
    int[] l2Rows;
    int l2Count;
    int[] l3Rows;
    int l3Count;
    boolean degraded;

    LookupRows(List<String> entities, long[] atMillis, float[] values) {
        this.entities = entities;
        this.atMillis = atMillis;
        this.values = values;
    }

    void answer(int row, EntityState state) {
        state.features(atMillis[row], values, row * Lookup.WIDTH);
        if (state.unsyncedBase) {
            degraded = true;
        }
    }

    void toL2(int row) {
        if (l2Rows == null) {
            l2Rows = new int[atMillis.length];
        }
        l2Rows[l2Count++] = row;
    }

    void toL3(int row) {
        if (l3Rows == null) {
            l3Rows = new int[atMillis.length];
        }
        l3Rows[l3Count++] = row;
    }
}
