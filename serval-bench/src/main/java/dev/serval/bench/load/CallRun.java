package dev.serval.bench.load;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * Load through a blocking call (a client library's infer, e.g. Serval's gRPC client), closed or
 * open loop, with {@link LoadRun}'s schedule and counting rules: N caller threads; closed loop,
 * each calls back to back and latency runs from the call; open loop, call i is due at
 * {@code start + i / rate}, a free caller takes the next one due, and its latency runs from when
 * it was due (no coordinated omission).
 *
 * <p>Design note: {@link LoadRun} owns its raw sockets, so it cannot drive a client library; this
 * class owns only the schedule and the recording, and the call is given. A call is cut off by its
 * own timeout (a client deadline), so the run ends at most one timeout after its hard stop.
 *
 * <p>One run per instance; {@link #run} is called once, from one thread.
 */
final class CallRun {

    /** One request through a client. Called from several threads at once. */
    @FunctionalInterface
    interface Call {
        /**
         * Makes one call and waits for its answer.
         *
         * @return null when it succeeded, else the failure's kind (e.g. {@code grpc_UNAVAILABLE})
         */
        String invoke() throws InterruptedException;
    }

    /**
     * @param callers       caller threads (closed loop: calls in flight; open loop: at most that many)
     * @param rate          open loop: calls per second; 0 for closed loop
     * @param warmupSeconds calls before measuring, not recorded
     * @param seconds       measured time, or 0 when {@code requests} bounds the run
     * @param requests      measured calls, or 0 when {@code seconds} bounds it
     * @param drainSeconds  after the measured time, how long calls already due may still be sent
     * @param maxSeconds    hard bound on the whole run
     */
    static final int MAX_CALLERS = 4096;

    record Settings(int callers, double rate, double warmupSeconds, double seconds, long requests,
                    double drainSeconds, double maxSeconds) {
        Settings {
            if (callers < 1 || callers > MAX_CALLERS) {
                throw new IllegalArgumentException("--clients " + callers + " must be in 1.." + MAX_CALLERS
                        + " for a client library (one thread each)");
            }
            if (!(rate >= 0) || rate > Plan.MAX_RATE) {
                throw new IllegalArgumentException("--rate " + rate + " must be in (0, " + (long) Plan.MAX_RATE + "]");
            }
            if ((seconds > 0) == (requests > 0)) {
                throw new IllegalArgumentException("give exactly one of --seconds and --requests (got "
                        + seconds + " s and " + requests + " requests)");
            }
            if (warmupSeconds < 0 || drainSeconds < 0 || !(maxSeconds > 0)) {
                throw new IllegalArgumentException("warm-up, drain and max seconds must be >= 0 (max > 0)");
            }
        }

        boolean openLoop() {
            return rate > 0;
        }
    }

    /** What the run saw; latencies in microseconds. */
    static final class Outcome {
        String mode;
        int callers;
        double rate;
        double durationSeconds;
        long measureStartNanos;
        long measureEndNanos;
        long completed;
        long ok;
        long unsent;
        double okPerSecond;
        double allPerSecond;
        double achievedRate;
        Histogram okLatency;
        final Map<String, Long> failures = new TreeMap<>();

        long failed() {
            return failures.values().stream().mapToLong(Long::longValue).sum();
        }
    }

    private final Settings settings;
    private final Call call;
    private final PrintStream progress;
    private final Recorder okLatency = new Recorder(3);
    private final Map<String, LongAdder> failures = new ConcurrentHashMap<>();
    private final LongAdder measuredEnded = new LongAdder();
    private final LongAdder measuredOk = new LongAdder();
    private final LongAdder measuredStarted = new LongAdder();
    private final LongAdder windowEnded = new LongAdder();
    private final LongAdder windowOk = new LongAdder();
    private final LongAdder windowSent = new LongAdder();
    private final LongAdder ended = new LongAdder();
    private final LongAdder recentFailed = new LongAdder();
    private final AtomicLong nextIndex = new AtomicLong();
    private final AtomicLong permits;
    private final AtomicLong lastMeasuredEnd = new AtomicLong(Long.MIN_VALUE);

    private long startNanos;
    private long measureStart;
    private long measureEnd;
    private long hardStop;
    private double periodNanos;
    private long warmupCount;
    private long scheduledCount;

    CallRun(Settings settings, Call call, PrintStream progress) {
        this.settings = settings;
        this.call = call;
        this.progress = progress;
        this.permits = new AtomicLong(settings.requests() > 0 ? settings.requests() : Long.MAX_VALUE);
    }

    Outcome run() throws InterruptedException {
        startNanos = System.nanoTime();
        long runLimit = startNanos + seconds(settings.maxSeconds());
        measureStart = startNanos + seconds(settings.warmupSeconds());
        if (settings.openLoop()) {
            periodNanos = 1e9 / settings.rate();
            warmupCount = (long) Math.floor(settings.warmupSeconds() * settings.rate());
            long measured = settings.requests() > 0 ? settings.requests()
                    : Math.max(1, Math.round(settings.seconds() * settings.rate()));
            scheduledCount = warmupCount + measured;
            measureStart = intended(warmupCount);
            measureEnd = intended(scheduledCount);
            hardStop = Math.min(runLimit, measureEnd + seconds(settings.drainSeconds()));
        } else {
            measureEnd = settings.seconds() > 0 ? measureStart + seconds(settings.seconds()) : Long.MAX_VALUE;
            hardStop = settings.seconds() > 0
                    ? Math.min(runLimit, measureEnd + seconds(settings.drainSeconds())) : runLimit;
        }
        List<Thread> callers = new ArrayList<>(settings.callers());
        for (int i = 0; i < settings.callers(); i++) {
            // platform threads: a blocking client library may hold monitors across its waits, which
            // would pin virtual threads to the few carrier threads and serialise the callers
            callers.add(Thread.ofPlatform().name("caller-" + i).start(this::work));
        }
        Thread watcher = Thread.ofPlatform().daemon().name("call-progress").start(this::watch);
        for (Thread caller : callers) {
            caller.join();
        }
        long finished = System.nanoTime();
        watcher.interrupt();
        watcher.join();
        return outcome(finished);
    }

    private long intended(long index) {
        return startNanos + (long) (index * periodNanos);
    }

    private static long seconds(double s) {
        return (long) (s * 1e9);
    }

    private void work() {
        try {
            if (settings.openLoop()) {
                while (true) {
                    long index = nextIndex.getAndIncrement();
                    if (index >= scheduledCount) {
                        return;
                    }
                    long due = intended(index);
                    long now;
                    while ((now = System.nanoTime()) < due) {
                        LockSupport.parkNanos(due - now);
                    }
                    if (now >= hardStop) {
                        return; // the rest of the schedule stays unsent: counted in the outcome
                    }
                    boolean measured = index >= warmupCount;
                    if (measured) {
                        measuredStarted.increment();
                    }
                    once(due, measured);
                }
            }
            while (true) {
                long now = System.nanoTime();
                if (now >= measureEnd || now >= hardStop) {
                    return;
                }
                boolean counted = false;
                if (settings.requests() > 0 && now >= measureStart) {
                    if (permits.getAndDecrement() <= 0) {
                        return;
                    }
                    counted = true;
                    measuredStarted.increment();
                }
                once(-1, counted);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** One call; {@code due} is -1 in closed loop. */
    private void once(long due, boolean counted) throws InterruptedException {
        long sent = System.nanoTime();
        String failure;
        try {
            failure = call.invoke();
        } catch (RuntimeException e) {
            failure = "exception_" + e.getClass().getSimpleName();
        }
        long done = System.nanoTime();
        ended.increment();
        if (failure != null) {
            recentFailed.increment();
        }
        boolean inWindow = done >= measureStart && done < measureEnd;
        boolean measured = due >= 0 || settings.requests() > 0 ? counted : inWindow;
        if (settings.openLoop() && sent >= measureStart && sent < measureEnd) {
            windowSent.increment();
        }
        if (inWindow || (settings.requests() > 0 && !settings.openLoop() && counted)) {
            windowEnded.increment();
            if (failure == null) {
                windowOk.increment();
            }
        }
        if (!measured) {
            return;
        }
        measuredEnded.increment();
        lastMeasuredEnd.accumulateAndGet(done, Math::max);
        if (failure == null) {
            measuredOk.increment();
            okLatency.recordValue(Math.max(1, (done - (due >= 0 ? due : sent)) / 1000));
        } else {
            failures.computeIfAbsent(failure, k -> new LongAdder()).increment();
        }
    }

    private void watch() {
        long last = 0;
        long lastAt = startNanos;
        while (true) {
            try {
                Thread.sleep(1000);
            } catch (InterruptedException e) {
                return; // the run is over
            }
            long now = System.nanoTime();
            long endedNow = ended.sum();
            String phase = now < measureStart ? "warm-up" : now < measureEnd ? "measure" : "drain";
            progress.printf(Locale.ROOT, "load: %5.1fs %-7s ended %d (%.0f/s), failed %d in the last second%n",
                    (now - startNanos) / 1e9, phase, endedNow, (endedNow - last) / ((now - lastAt) / 1e9),
                    recentFailed.sumThenReset());
            last = endedNow;
            lastAt = now;
        }
    }

    private Outcome outcome(long finished) {
        long end = measureEnd;
        if (!settings.openLoop() && settings.requests() > 0) {
            end = lastMeasuredEnd.get() == Long.MIN_VALUE ? finished : lastMeasuredEnd.get();
        }
        double duration = Math.max(1e-9, (end - measureStart) / 1e9);
        Outcome o = new Outcome();
        o.mode = settings.openLoop() ? "open" : "closed";
        o.callers = settings.callers();
        o.rate = settings.rate();
        o.durationSeconds = duration;
        o.measureStartNanos = measureStart;
        o.measureEndNanos = Math.max(measureStart + 1, Math.min(end, finished));
        o.completed = measuredEnded.sum();
        o.ok = measuredOk.sum();
        o.okPerSecond = windowOk.sum() / duration;
        o.allPerSecond = windowEnded.sum() / duration;
        o.okLatency = okLatency.getIntervalHistogram();
        failures.forEach((kind, n) -> o.failures.put(kind, n.sum()));
        if (settings.openLoop()) {
            o.unsent = Math.max(0, (scheduledCount - warmupCount) - measuredStarted.sum());
            o.achievedRate = windowSent.sum() / duration;
        }
        return o;
    }
}
