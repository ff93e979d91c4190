package dev.serval.bench.load;

/**
 * What one load run does. Immutable and validated as it is built; every error names the option.
 *
 * @param target         where requests go
 * @param request        the pre-built request bytes, sent as they are
 * @param headRequest    the request is HEAD (responses have no body)
 * @param connections    connections, each with its own virtual thread (closed loop: that many
 *                       requests in flight; open loop: at most that many)
 * @param rate           open loop: requests per second, scheduled at start + i / rate; 0 for closed loop
 * @param warmupSeconds  load before measuring (not recorded)
 * @param seconds        measured time, or 0 when {@code requests} bounds the run
 * @param requests       measured requests, or 0 when {@code seconds} bounds the run
 * @param timeoutSeconds a request still unanswered after this long is cut off (a transport error)
 * @param drainSeconds   after the measured time, how long requests already due may still finish
 * @param maxSeconds     hard bound on the whole run, connecting included
 * @param honorRetryAfter closed loop: after an answer with Retry-After (e.g. 429), the connection
 *                       waits that long (at most 60 s) before its next request, as a polite client does
 * @param rotation       more pre-built requests (--bodies): request i sends {@code rotation[i % length]}
 *                       instead of {@code request}, e.g. to spread load over many entity keys; empty
 *                       for {@code request} every time
 */
record Plan(Target target, byte[] request, boolean headRequest, int connections, double rate, double warmupSeconds,
            double seconds, long requests, double timeoutSeconds, double drainSeconds, double maxSeconds,
            boolean honorRetryAfter, byte[][] rotation) {

    /** A plan that sends {@code request} every time. */
    Plan(Target target, byte[] request, boolean headRequest, int connections, double rate, double warmupSeconds,
         double seconds, long requests, double timeoutSeconds, double drainSeconds, double maxSeconds,
         boolean honorRetryAfter) {
        this(target, request, headRequest, connections, rate, warmupSeconds, seconds, requests, timeoutSeconds,
                drainSeconds, maxSeconds, honorRetryAfter, new byte[0][]);
    }

    /** The bytes of request {@code index} (0-based, in sending order). */
    byte[] request(long index) {
        return rotation.length == 0 ? request : rotation[(int) Math.floorMod(index, (long) rotation.length)];
    }

    static final int MAX_CONNECTIONS = 50_000;
    static final double MAX_RATE = 1_000_000;
    static final double MAX_SECONDS = 24 * 3600;

    Plan {
        if (connections < 1 || connections > MAX_CONNECTIONS) {
            throw new IllegalArgumentException("--connections " + connections + " must be in 1.." + MAX_CONNECTIONS);
        }
        if (rate < 0 || rate > MAX_RATE || Double.isNaN(rate)) {
            throw new IllegalArgumentException("--rate " + rate + " must be in (0, " + (long) MAX_RATE + "] requests/s");
        }
        if ((seconds > 0) == (requests > 0)) {
            throw new IllegalArgumentException("give exactly one of --seconds and --requests (got "
                    + seconds + " s and " + requests + " requests)");
        }
        check("--seconds", seconds, 0);
        check("--warmup-seconds", warmupSeconds, 0);
        check("--timeout-seconds", timeoutSeconds, 0.001);
        check("--drain-seconds", drainSeconds, 0);
        check("--max-seconds", maxSeconds, 0.001);
        if (requests < 0 || requests > 1_000_000_000L) {
            throw new IllegalArgumentException("--requests " + requests + " must be in 1..1000000000");
        }
        if (rate > 0 && (warmupSeconds + measuredSeconds(seconds, requests, rate)) * rate > 2e9) {
            throw new IllegalArgumentException("--rate " + rate + " over the warm-up and measured time schedules"
                    + " more than 2e9 requests");
        }
    }

    private static void check(String option, double value, double min) {
        if (!(value >= min) || value > MAX_SECONDS) {
            throw new IllegalArgumentException(option + " " + value + " must be in [" + min + ", " + (long) MAX_SECONDS + "]");
        }
    }

    private static double measuredSeconds(double seconds, long requests, double rate) {
        return seconds > 0 ? seconds : requests / rate;
    }

    boolean openLoop() {
        return rate > 0;
    }

    /** Open loop: the scheduled requests of the warm-up, not recorded. */
    long warmupRequests() {
        return (long) Math.floor(warmupSeconds * rate);
    }

    /** Open loop: the scheduled requests of the measured time. */
    long measuredRequests() {
        return requests > 0 ? requests : Math.max(1, Math.round(seconds * rate));
    }
}
