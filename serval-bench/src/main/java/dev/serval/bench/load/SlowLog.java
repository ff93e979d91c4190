package dev.serval.bench.load;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Keeps the measured requests slower than a threshold, with the wall-clock time each was due, so a
 * latency tail can be laid beside the server's own logs (GC, JIT) to find what held them.
 *
 * <p>Bounded: past {@link #MAX_ENTRIES} slow requests only the count grows.
 */
final class SlowLog implements ResultListener {
    static final int MAX_ENTRIES = 100_000;

    private final long thresholdNanos;
    /** System.currentTimeMillis() - System.nanoTime() / 1e6 at construction, to turn due times into wall-clock time. */
    private final double wallOffsetMillis;
    private final List<long[]> entries = new ArrayList<>();
    private long dropped;

    SlowLog(double thresholdMillis) {
        this.thresholdNanos = (long) (thresholdMillis * 1e6);
        this.wallOffsetMillis = System.currentTimeMillis() - System.nanoTime() / 1e6;
    }

    @Override
    public synchronized void ended(long index, long intendedNanos, long sentNanos, long doneNanos, int status,
            boolean measured) {
        if (!measured || doneNanos - intendedNanos < thresholdNanos) {
            return;
        }
        if (entries.size() < MAX_ENTRIES) {
            entries.add(new long[] {index, intendedNanos, sentNanos, doneNanos, status});
        } else {
            dropped++;
        }
    }

    /** Writes one line per slow request: due wall-clock ms, latency ms, send lag ms, status, index. */
    synchronized void write(Path file) throws IOException {
        try (PrintWriter out = new PrintWriter(Files.newBufferedWriter(file))) {
            out.println("# due_epoch_ms latency_ms send_lag_ms status index (dropped past the bound: " + dropped + ")");
            for (long[] e : entries) {
                out.printf("%.3f %.3f %.3f %d %d%n", wallOffsetMillis + e[1] / 1e6, (e[3] - e[1]) / 1e6,
                        (e[2] - e[1]) / 1e6, e[4], e[0]);
            }
        }
    }
}
