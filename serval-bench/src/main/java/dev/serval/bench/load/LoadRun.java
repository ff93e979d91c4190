package dev.serval.bench.load;

import java.io.IOException;
import java.io.PrintStream;
import java.net.ConnectException;
import java.net.SocketException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * Runs one load {@link Plan}: one virtual thread per connection, closed or open loop, and a
 * watchdog thread that prints progress each second and cuts off requests past their timeout.
 *
 * <p>Design note, open loop: request i is due at {@code start + i / rate}. The connections share
 * one schedule: a free connection takes the next request due, waits for its time if it is early,
 * and sends it. When every connection is busy, due requests wait in the generator, and their
 * latency is measured from the time they were due, not from when they could be sent; so a server
 * that falls behind shows it in the percentiles instead of slowing the generator down (no
 * coordinated omission). Closed loop: each connection sends its next request as soon as the
 * previous answer is read, and latency runs from the send.
 *
 * <p>What counts: closed loop, the requests that end inside the measured time (or the first
 * {@code requests} sent after the warm-up); open loop, the requests due inside the measured time,
 * however late they end (until the drain time runs out). Throughput is responses that ended
 * inside the measured time, divided by it.
 *
 * <p>One run per instance; {@link #run} is called once, from one thread.
 */
final class LoadRun {
    private static final long TICK_NANOS = TimeUnit.MILLISECONDS.toNanos(100);
    private static final int ABORT_TIMEOUT = 1;
    private static final int ABORT_STOP = 2;

    private final Plan plan;
    private final ResultListener listener;
    private final PrintStream progress;
    private final Connection[] connections;
    private final int[] abortReasons;

    // recorded by the connections' threads, read by the watchdog and at the end
    private final Recorder okLatency = new Recorder(3);
    private final Recorder otherLatency = new Recorder(3);
    private final Map<Integer, Recorder> latencyByStatus = new ConcurrentHashMap<>();
    private final Recorder sendLag = new Recorder(3);
    private final Recorder recentLatency = new Recorder(3);
    private final AtomicLongArray statuses = new AtomicLongArray(600);
    private final Map<String, LongAdder> errors = new ConcurrentHashMap<>();
    private final Map<String, String> errorSamples = new ConcurrentHashMap<>();
    private final LongAdder ended = new LongAdder();
    private final LongAdder recentOk = new LongAdder();
    private final LongAdder recentOther = new LongAdder();
    private final LongAdder recentErrors = new LongAdder();
    private final LongAdder measuredEnded = new LongAdder();
    private final LongAdder measuredStarted = new LongAdder();
    private final LongAdder windowEnded = new LongAdder();
    private final LongAdder windowOk = new LongAdder();
    private final LongAdder windowSent = new LongAdder();
    private final LongAdder reconnects = new LongAdder();
    private final LongAdder retries = new LongAdder();
    private final LongAdder retryWaits = new LongAdder();
    private final LongAdder unfinished = new LongAdder();
    private final AtomicLong nextIndex = new AtomicLong();
    private final AtomicLong permits;
    private final AtomicLong lastMeasuredEnd = new AtomicLong(Long.MIN_VALUE);

    private long startNanos;
    private long measureStart;
    private volatile long measureEnd;
    private long hardStop;
    private double periodNanos;
    private long warmupCount;
    private long scheduledCount;

    LoadRun(Plan plan, ResultListener listener, PrintStream progress) {
        this.plan = plan;
        this.listener = listener;
        this.progress = progress;
        this.connections = new Connection[plan.connections()];
        this.abortReasons = new int[plan.connections()];
        for (int i = 0; i < connections.length; i++) {
            connections[i] = new Connection(plan.target().address(), (int) Math.min(10_000, plan.timeoutSeconds() * 1000),
                    16 * 1024);
        }
        this.permits = new AtomicLong(plan.requests() > 0 ? plan.requests() : Long.MAX_VALUE);
    }

    /** Connects, runs the warm-up and the measured load, drains, and reports. */
    LoadReport run() throws InterruptedException {
        long connectStart = System.nanoTime();
        long connectDeadline = connectStart + seconds(Math.min(plan.maxSeconds(), 60));
        connectAll(connectDeadline);
        progress.printf(Locale.ROOT, "load: %d of %d connections open in %.1f s%n", openConnections(),
                connections.length, (System.nanoTime() - connectStart) / 1e9);

        startNanos = System.nanoTime();
        long runLimit = connectStart + seconds(plan.maxSeconds());
        measureStart = startNanos + seconds(plan.warmupSeconds());
        if (plan.openLoop()) {
            periodNanos = 1e9 / plan.rate();
            warmupCount = plan.warmupRequests();
            scheduledCount = warmupCount + plan.measuredRequests();
            measureStart = intended(warmupCount);
            measureEnd = intended(scheduledCount);
            hardStop = Math.min(runLimit, measureEnd + seconds(plan.drainSeconds()));
        } else {
            measureEnd = plan.seconds() > 0 ? measureStart + seconds(plan.seconds()) : Long.MAX_VALUE;
            hardStop = plan.seconds() > 0 ? Math.min(runLimit, measureEnd + seconds(plan.drainSeconds())) : runLimit;
        }

        List<Thread> workers = new ArrayList<>(connections.length);
        for (int i = 0; i < connections.length; i++) {
            int c = i;
            workers.add(Thread.ofVirtual().name("load-" + i).start(() -> work(c)));
        }
        Thread watchdog = Thread.ofPlatform().daemon().name("load-watchdog").start(this::watch);
        for (Thread worker : workers) {
            worker.join();
        }
        long finished = System.nanoTime();
        watchdog.interrupt();
        watchdog.join();
        for (Connection connection : connections) {
            connection.close();
        }
        return report(finished);
    }

    private void connectAll(long deadline) throws InterruptedException {
        List<Thread> threads = new ArrayList<>(connections.length);
        for (Connection connection : connections) {
            threads.add(Thread.ofVirtual().start(() -> {
                for (int attempt = 0; attempt < 5 && System.nanoTime() < deadline; attempt++) {
                    try {
                        connection.connect();
                        return;
                    } catch (IOException e) {
                        error("connect-at-start", e);
                        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(50L << attempt));
                    }
                }
            }));
        }
        for (Thread thread : threads) {
            thread.join();
        }
    }

    private int openConnections() {
        int open = 0;
        for (Connection connection : connections) {
            open += connection.isOpen() ? 1 : 0;
        }
        return open;
    }

    private long intended(long index) {
        return startNanos + (long) (index * periodNanos);
    }

    private static long seconds(double s) {
        return (long) (s * 1e9);
    }

    private void work(int c) {
        Connection connection = connections[c];
        if (plan.openLoop()) {
            while (true) {
                long index = nextIndex.getAndIncrement();
                if (index >= scheduledCount) {
                    return;
                }
                long due = intended(index);
                if (!sleepUntil(due) || System.nanoTime() >= hardStop) {
                    return; // the rest of the schedule stays unsent: counted in the report
                }
                boolean measured = index >= warmupCount;
                if (measured) {
                    measuredStarted.increment();
                }
                execute(c, connection, index, due, measured);
            }
        }
        while (true) {
            long now = System.nanoTime();
            if (now >= measureEnd || now >= hardStop) {
                return;
            }
            boolean counted = false;
            if (plan.requests() > 0 && now >= measureStart) {
                if (permits.getAndDecrement() <= 0) {
                    return;
                }
                counted = true;
                measuredStarted.increment();
            }
            int status = execute(c, connection, nextIndex.getAndIncrement(), -1, counted);
            long wait = connection.retryAfterSeconds();
            if (plan.honorRetryAfter() && (status == 429 || status == 503) && wait > 0) {
                retryWaits.increment();
                long until = Math.min(System.nanoTime() + TimeUnit.SECONDS.toNanos(Math.min(wait, 60)),
                        Math.min(measureEnd, hardStop));
                while (System.nanoTime() < until) {
                    LockSupport.parkNanos(Math.min(until - System.nanoTime(), TICK_NANOS));
                }
            }
        }
    }

    /** Parks until {@code due}; false if the run's hard stop comes first. */
    private boolean sleepUntil(long due) {
        long now;
        while ((now = System.nanoTime()) < due) {
            if (now >= hardStop) {
                return false;
            }
            LockSupport.parkNanos(Math.min(due - now, TICK_NANOS));
        }
        return true;
    }

    /**
     * Sends one request and records it. {@code due} is -1 in closed loop; {@code counted} says, in
     * open loop or in a closed loop bounded by requests, that the request is measured.
     *
     * @return the status, or -1 for a transport error or a request cut off by the end of the run
     */
    private int execute(int c, Connection connection, long index, long due, boolean counted) {
        int status = -1;
        String failure = null;
        IOException cause = null;
        long sentAt = System.nanoTime();
        boolean stopped = false;
        abortReasons[c] = 0;
        connection.aborted = false;
        try {
            status = attempt(connection, index, sentAt);
        } catch (IOException first) {
            if (!connection.aborted && connection.reusedBeforeFailure) {
                // A keep-alive connection the server closed while idle: the request never reached
                // it. Retry once on a new connection (the clock keeps running from the first try).
                retries.increment();
                try {
                    status = attempt(connection, index, sentAt);
                } catch (IOException second) {
                    cause = second;
                }
            } else {
                cause = first;
            }
            if (cause != null) {
                if (connection.aborted && abortReasons[c] == ABORT_STOP) {
                    stopped = true;
                } else if (connection.aborted) {
                    failure = "timeout";
                } else {
                    failure = classify(cause);
                }
            }
        } finally {
            connection.busySince = 0;
        }
        long done = System.nanoTime();
        ended.increment();
        if (stopped) {
            if (counted) {
                unfinished.increment(); // measured, but cut off by the end of the run: reported apart
            }
            return -1;
        }
        if (failure != null) {
            recentErrors.increment();
            if (failure.equals("connect")) { // the server is not accepting: do not spin on it
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
            }
        } else if (status >= 200 && status < 300) {
            recentOk.increment();
        } else {
            recentOther.increment();
        }
        boolean inWindow = done >= measureStart && done < measureEnd;
        boolean measured = due >= 0 || plan.requests() > 0 ? counted : inWindow;
        if (plan.openLoop() && sentAt >= measureStart && sentAt < measureEnd) {
            windowSent.increment();
        }
        if (inWindow || (plan.requests() > 0 && !plan.openLoop() && counted)) {
            windowEnded.increment();
            if (failure == null && status >= 200 && status < 300) {
                windowOk.increment();
            }
        }
        long start = due >= 0 ? due : sentAt;
        long micros = Math.max(1, (done - start) / 1000);
        if (failure == null) {
            recentLatency.recordValue(micros);
        }
        if (measured) {
            measuredEnded.increment();
            lastMeasuredEnd.accumulateAndGet(done, Math::max);
            if (due >= 0) {
                sendLag.recordValue(Math.max(0, sentAt - due) / 1000);
            }
            if (failure != null) {
                error(failure, cause);
            } else {
                statuses.incrementAndGet(status);
                if (status >= 200 && status < 300) {
                    okLatency.recordValue(micros);
                } else {
                    otherLatency.recordValue(micros);
                    latencyByStatus.computeIfAbsent(status, k -> new Recorder(3)).recordValue(micros);
                }
            }
        }
        listener.ended(index, due >= 0 ? due : sentAt, sentAt, done, failure == null ? status : -1, measured);
        return failure == null ? status : -1;
    }

    private int attempt(Connection connection, long index, long sentAt) throws IOException {
        connection.reusedBeforeFailure = false;
        if (!connection.isOpen()) {
            try {
                connection.connect();
            } catch (IOException e) {
                throw new ConnectFailed(e);
            }
            reconnects.increment();
        }
        connection.busySince = sentAt;
        connection.reusedBeforeFailure = connection.exchangesOnSocket() > 0;
        return connection.exchange(plan.request(index), plan.headRequest());
    }

    /** A failure to open the connection (not a failure of the request on it). */
    private static final class ConnectFailed extends IOException {
        private static final long serialVersionUID = 1L;

        ConnectFailed(IOException cause) {
            super(cause.getMessage(), cause);
        }
    }

    private static String classify(IOException e) {
        if (e instanceof ConnectFailed || e instanceof ConnectException) {
            return "connect";
        }
        if (e instanceof ResponseReader.ClosedBeforeResponse || e instanceof java.io.EOFException) {
            return "closed";
        }
        if (e instanceof SocketException) {
            String message = String.valueOf(e.getMessage()).toLowerCase(Locale.ROOT);
            if (message.contains("reset") || message.contains("broken pipe")) {
                return "reset";
            }
            return "socket";
        }
        String message = String.valueOf(e.getMessage());
        if (message.startsWith("malformed") || message.contains("chunk") || message.contains("header line")) {
            return "protocol";
        }
        return "io";
    }

    private void error(String kind, Throwable cause) {
        errors.computeIfAbsent(kind, k -> new LongAdder()).increment();
        if (cause != null) {
            errorSamples.putIfAbsent(kind, cause.getClass().getSimpleName() + ": " + cause.getMessage());
        }
    }

    /** Every tick: cut off requests past their timeout, or all at the hard stop; each second: progress. */
    private void watch() {
        long timeoutNanos = seconds(plan.timeoutSeconds());
        long nextPrint = startNanos + TimeUnit.SECONDS.toNanos(1);
        long lastEnded = 0;
        long lastPrint = startNanos;
        Histogram recent = null;
        while (!Thread.currentThread().isInterrupted()) {
            long now = System.nanoTime();
            boolean stop = now >= hardStop;
            for (int i = 0; i < connections.length; i++) {
                Connection connection = connections[i];
                long busy = connection.busySince;
                if (busy != 0 && (stop || now - busy > timeoutNanos) && connection.busySince == busy) {
                    abortReasons[i] = stop ? ABORT_STOP : ABORT_TIMEOUT;
                    connection.abort();
                }
            }
            if (now >= nextPrint) {
                recent = recentLatency.getIntervalHistogram(recent);
                long endedNow = ended.sum();
                double rate = (endedNow - lastEnded) / ((now - lastPrint) / 1e9);
                progress.printf(Locale.ROOT,
                        "load: %5.1fs %-7s sent %d, ended %d (%.0f/s): 2xx %d, other %d, errors %d; in flight %d;"
                                + " last second p50 %s p99 %s max %s ms%n",
                        (now - startNanos) / 1e9, phase(now), endedNow + inFlight(), endedNow, rate,
                        recentOk.sumThenReset(), recentOther.sumThenReset(), recentErrors.sumThenReset(), inFlight(),
                        LoadReport.ms(recent.getValueAtPercentile(50) / 1000.0),
                        LoadReport.ms(recent.getValueAtPercentile(99) / 1000.0),
                        LoadReport.ms(recent.getMaxValue() / 1000.0));
                lastEnded = endedNow;
                lastPrint = now;
                nextPrint += TimeUnit.SECONDS.toNanos(1);
            }
            try {
                Thread.sleep(TimeUnit.NANOSECONDS.toMillis(TICK_NANOS));
            } catch (InterruptedException e) {
                return; // the run is over
            }
        }
    }

    private long inFlight() {
        long busy = 0;
        for (Connection connection : connections) {
            busy += connection.busySince != 0 ? 1 : 0;
        }
        return busy;
    }

    private String phase(long now) {
        if (now < measureStart) {
            return "warm-up";
        }
        return now < measureEnd ? "measure" : "drain";
    }

    private LoadReport report(long finished) {
        long end = measureEnd;
        if (!plan.openLoop() && plan.requests() > 0) {
            end = lastMeasuredEnd.get() == Long.MIN_VALUE ? finished : lastMeasuredEnd.get();
        }
        double duration = Math.max(1e-9, (end - measureStart) / 1e9);
        LoadReport r = new LoadReport();
        r.mode = plan.openLoop() ? "open" : "closed";
        r.target = plan.target();
        r.connections = plan.connections();
        r.rate = plan.rate();
        r.warmupSeconds = plan.warmupSeconds();
        r.durationSeconds = duration;
        r.measureStartNanos = measureStart;
        r.measureEndNanos = Math.max(measureStart + 1, Math.min(end, finished));
        r.completed = measuredEnded.sum();
        r.throughput = windowEnded.sum() / duration;
        r.okThroughput = windowOk.sum() / duration;
        r.okLatency = okLatency.getIntervalHistogram();
        r.otherLatency = otherLatency.getIntervalHistogram();
        latencyByStatus.forEach((status, recorder) -> r.latencyByStatus.put(status, recorder.getIntervalHistogram()));
        for (int status = 0; status < statuses.length(); status++) {
            if (statuses.get(status) > 0) {
                r.statuses.put(status, statuses.get(status));
            }
        }
        errors.forEach((kind, count) -> r.errors.put(kind, count.sum()));
        r.errorSamples.putAll(errorSamples);
        r.reconnects = reconnects.sum();
        r.retries = retries.sum();
        r.retryAfterWaits = retryWaits.sum();
        r.unfinished = unfinished.sum();
        if (plan.openLoop()) {
            r.scheduled = scheduledCount - warmupCount;
            r.unsent = Math.max(0, r.scheduled - measuredStarted.sum());
            r.achievedRate = windowSent.sum() / duration;
            r.sendLag = sendLag.getIntervalHistogram();
        }
        return r;
    }
}
