package dev.serval.bench.load;

/**
 * Sees every request of a run as it ends (warm-up included), for tests and diagnostics. Called
 * from the connections' threads at once; implementations must be thread-safe and quick.
 */
@FunctionalInterface
interface ResultListener {
    ResultListener NONE = (index, intendedNanos, sentNanos, doneNanos, status, measured) -> { };

    /**
     * @param index         open loop: the request's place in the schedule; closed loop: its order of sending
     * @param intendedNanos open loop: when it was due (System.nanoTime); closed loop: equal to {@code sentNanos}
     * @param sentNanos     when its first byte was written
     * @param doneNanos     when its response was read or it failed
     * @param status        the HTTP status, or -1 for a transport error
     * @param measured      whether it counts in the report (not warm-up)
     */
    void ended(long index, long intendedNanos, long sentNanos, long doneNanos, int status, boolean measured);
}
