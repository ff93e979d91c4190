package dev.serval.transport;

import dev.serval.api.ServalException;
import java.time.Duration;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Admits requests that do work (inference, repository changes) until the server begins to shut
 * down, counts those in flight, and lets the shutdown wait for them.
 *
 * <p>Design note: graceful shutdown needs one fact the transports' own shutdowns do not give: when
 * has every request that was let in been answered? Helidon's stop waits a fixed grace period and
 * grpc-java's counts calls, including health probes, but neither refuses new requests while the
 * listener still accepts connections, which is what a load balancer needs to see (503, not a
 * refused connection, while it notices readiness going false). So both transports pass their
 * requests through this gate: {@link #close()} refuses new ones with 503 / UNAVAILABLE at once,
 * {@link #awaitEmpty} waits for the admitted ones, and only then are the listeners stopped. A pass
 * is closed after its answer was handed to the transport, so stopping the listener never cuts an
 * admitted request's answer.
 *
 * <p>When the shutdown's time is up, {@link #abandon()} interrupts the threads of the requests
 * still waiting for a model: each stops waiting and is answered 503 (the model drops its queued
 * job), so the process can exit on time. A thread is interrupted only while it is bound to its pass,
 * under the gate's lock, so an interrupt never leaks into the next request a pooled thread handles.
 *
 * <p>Thread-safe.
 */
public final class RequestGate {
    /** The message of a request refused because the server is shutting down. */
    public static final String SHUTTING_DOWN = "the server is shutting down; send the request to another replica";

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition emptied = lock.newCondition();
    /** Guarded by {@link #lock}. */
    private final Set<Pass> inFlight = new HashSet<>();
    /** Written under {@link #lock}; read without it by readiness probes. */
    private volatile boolean closed;

    /**
     * Admits a request.
     *
     * @return the request's pass, to close once its answer is handed to the transport; null when
     *         the gate is closed (the caller refuses the request with {@link #refusal()})
     */
    public Pass tryEnter() {
        lock.lock();
        try {
            if (closed) {
                return null;
            }
            Pass pass = new Pass();
            inFlight.add(pass);
            return pass;
        } finally {
            lock.unlock();
        }
    }

    /** The failure a refused request is answered with: UNAVAILABLE (503). */
    public static ServalException refusal() {
        return ServalException.unavailable(SHUTTING_DOWN);
    }

    /** The failure a request abandoned by {@link #abandon()} is answered with: UNAVAILABLE (503). */
    public static ServalException timedOut() {
        return ServalException.unavailable("the server is shutting down and the request did not finish within "
                + "the shutdown timeout (--shutdown-timeout-secs); it may or may not have run");
    }

    /** False once {@link #close()} was called: readiness reports false from then on. */
    public boolean isOpen() {
        return !closed;
    }

    /** Refuses every request from now on; those admitted carry on. Idempotent. */
    public void close() {
        lock.lock();
        try {
            closed = true;
        } finally {
            lock.unlock();
        }
    }

    /** Requests admitted and not yet answered. */
    public int inFlight() {
        lock.lock();
        try {
            return inFlight.size();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Waits until every admitted request has been answered, or {@code timeout} passed.
     *
     * @return true when none is in flight
     * @throws InterruptedException if the waiting thread is interrupted
     */
    public boolean awaitEmpty(Duration timeout) throws InterruptedException {
        long remaining = Math.max(0, timeout.toNanos());
        lock.lock();
        try {
            while (!inFlight.isEmpty()) {
                if (remaining <= 0) {
                    return false;
                }
                remaining = emptied.awaitNanos(remaining);
            }
            return true;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Interrupts the threads of the requests in flight that are bound to their pass (waiting for a
     * model), so they give up and answer 503. Passes stay counted until their requests close them.
     *
     * @return how many threads were interrupted
     */
    public int abandon() {
        int interrupted = 0;
        lock.lock();
        try {
            for (Pass pass : inFlight) {
                pass.abandoned = true;
                if (pass.thread != null) {
                    pass.thread.interrupt();
                    interrupted++;
                }
            }
        } finally {
            lock.unlock();
        }
        return interrupted;
    }

    /**
     * One admitted request. {@link #bind} names the thread that handles it while it may wait for a
     * model, so {@link RequestGate#abandon()} can interrupt that wait; {@link #close()} ends it.
     */
    public final class Pass implements AutoCloseable {
        /** Guarded by the gate's lock. */
        private Thread thread;
        /** Guarded by the gate's lock. */
        private boolean abandoned;
        /** Guarded by the gate's lock. */
        private boolean done;

        private Pass() {
        }

        /**
         * The current thread handles the request until {@link #unbind()}. A request whose pass was
         * abandoned before this is interrupted at once.
         */
        public void bind() {
            lock.lock();
            try {
                if (done) {
                    return;
                }
                thread = Thread.currentThread();
                if (abandoned) {
                    thread.interrupt();
                }
            } finally {
                lock.unlock();
            }
        }

        /** The current thread no longer handles the request; an interrupt can no longer reach it from here. */
        public void unbind() {
            lock.lock();
            try {
                thread = null;
            } finally {
                lock.unlock();
            }
        }

        /** True once {@link RequestGate#abandon()} gave up on the request: answer it {@link #timedOut()}. */
        public boolean isAbandoned() {
            lock.lock();
            try {
                return abandoned;
            } finally {
                lock.unlock();
            }
        }

        /** The request was answered (or failed). Idempotent. */
        @Override
        public void close() {
            lock.lock();
            try {
                if (done) {
                    return;
                }
                done = true;
                thread = null;
                inFlight.remove(this);
                if (inFlight.isEmpty()) {
                    emptied.signalAll();
                }
            } finally {
                lock.unlock();
            }
        }
    }
}
