package dev.serval.transport.grpc;

import dev.serval.api.ErrorCode;
import dev.serval.api.ServalException;
import dev.serval.transport.BodyBudget;
import io.grpc.Context;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.ToLongFunction;

/**
 * Counts a unary method's request messages (ModelInfer's, RecordEvents') against the server's
 * in-flight body budget ({@link BodyBudget}, {@code --max-inflight-bytes}), the one REST bodies
 * count against: a call holds its message's size from before the message is read until the call
 * ends. One instance per method: each learns its own messages' size.
 *
 * <p>Design note: grpc-java reads a call's message only once the handler asks for it; until then
 * its bytes wait in the transport, at most one HTTP/2 flow-control window per connection
 * (grpc-java's, 1 MB), and flow control holds the sender back, as TCP's does for a REST body left
 * unread in the kernel. So the wait for room happens before the ask, first come first served, and
 * a call that finds none within the budget's wait is refused with RESOURCE_EXHAUSTED, as a REST
 * body is with 429. What the budget cannot know then is the message's size, which grpc-java
 * learns only by reading the message whole: a call reserves the size of the last message parsed
 * (read again while it waits), and once its own is parsed the reservation becomes that size. Until
 * a first message is parsed, calls are read one at a time, each reserving one flow-control window:
 * with no estimate, a thousand callers starting at once were all read at once, and their 600 KB
 * messages filled the 1 GB of direct memory (measured: the model's thread died of it). That first
 * call does not wait for the whole budget, which REST bodies held by a busy model could keep from
 * it for good. With messages of one size, the usual case for one model, the reservation is exact
 * before the message is read; one larger than the last is read past its reservation by the
 * difference, which the budget then grants, holding newcomers back until it is paid back.
 *
 * <p>A call cancelled while it waits stops waiting. The reservation ends when grpc-java reports
 * the call over ({@code onComplete} or {@code onCancel}, exactly one of which it always calls),
 * after the answer: the request's tensors live until then, as a REST request's do.
 *
 * <p>Thread-safe.
 */
final class BudgetedCalls<Q, R> implements ServerCallHandler<Q, R> {
    private final ServerCallHandler<Q, R> next;
    private final BodyBudget budget;
    private final ToLongFunction<Q> sizeOf;
    /** What a call whose message would be the first parsed reserves: one HTTP/2 window, at most the largest message. */
    private final long firstReservation;
    /** The size of the last message parsed, -1 before the first: what a call expects its message to take. */
    private final AtomicLong lastSize = new AtomicLong(-1);
    private final ReentrantLock firstLock = new ReentrantLock();
    private final Condition sized = firstLock.newCondition();
    /** Whether a call is being read to learn the first message size (guarded by {@link #firstLock}). */
    private boolean sizing;

    /**
     * @param window the flow-control window a call's sender may send ahead (see {@link GrpcTransport})
     * @param sizeOf a parsed message's size in bytes, or -1 for one that failed to parse
     */
    BudgetedCalls(ServerCallHandler<Q, R> next, BodyBudget budget, long window, ToLongFunction<Q> sizeOf) {
        this.next = next;
        this.budget = budget;
        this.sizeOf = sizeOf;
        this.firstReservation = Math.min(window, budget.maxRequestBytes());
    }

    @Override
    public ServerCall.Listener<Q> startCall(ServerCall<Q, R> call, Metadata headers) {
        Reservation reservation;
        try {
            reservation = reserveUnlessCancelled();
        } catch (ServalException refused) {
            call.close(GrpcErrors.toStatus(refused).getStatus(), new Metadata());
            return new ServerCall.Listener<>() {
            };
        }
        ServerCall.Listener<Q> listener;
        try {
            listener = next.startCall(call, headers); // asks for the message
        } catch (RuntimeException | Error e) {
            reservation.close();
            throw e;
        }
        return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(listener) {
            @Override
            public void onMessage(Q message) {
                long size = sizeOf.applyAsLong(message);
                if (size >= 0) {
                    lastSize.set(size);
                }
                reservation.resize(Math.max(0, size));
                super.onMessage(message);
            }

            @Override
            public void onComplete() {
                try {
                    super.onComplete();
                } finally {
                    reservation.close();
                }
            }

            @Override
            public void onCancel() {
                try {
                    super.onCancel();
                } finally {
                    reservation.close();
                }
            }
        };
    }

    /**
     * Waits for room for the expected message while the call is not cancelled: its context's
     * cancellation interrupts the wait.
     *
     * @throws ServalException the refusal to answer the call with
     */
    private Reservation reserveUnlessCancelled() {
        Context context = Context.current();
        Thread waiter = Thread.currentThread();
        Context.CancellationListener interrupt = cancelled -> waiter.interrupt();
        context.addListener(interrupt, Runnable::run);
        boolean first = false;
        try {
            first = lastSize.get() < 0 && awaitSizeOrTurn();
            long bytes = first ? budget.reserve(() -> firstReservation) : budget.reserve(lastSize::get);
            return new Reservation(bytes, first);
        } catch (ServalException | InterruptedException e) {
            if (first) {
                sizeKnownOrNot();
            }
            if (context.isCancelled()) {
                // The client went away (no one reads this answer); nothing else is interrupted.
                Thread.interrupted();
                throw ServalException.unavailable("the call was cancelled while it waited for room in the "
                        + "in-flight body budget");
            }
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
                throw ServalException.unavailable("the server is stopping");
            }
            throw (ServalException) e;
        } finally {
            context.removeListener(interrupt);
        }
    }

    /**
     * Waits until a first message size is known (false) or no other call is being read to learn
     * it (true: this call is, and must call {@link #sizeKnownOrNot()} when its message is parsed or
     * the call ends).
     *
     * @throws ServalException RESOURCE_EXHAUSTED when neither came within the budget's wait
     */
    private boolean awaitSizeOrTurn() throws InterruptedException {
        firstLock.lock();
        try {
            long deadline = System.nanoTime() + budget.maxWait().toNanos();
            while (lastSize.get() < 0) {
                if (!sizing) {
                    sizing = true;
                    return true;
                }
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new ServalException(ErrorCode.RESOURCE_EXHAUSTED, "calls of this method are read one at a "
                            + "time until the size of a first message is known, and for "
                            + budget.maxWait().toMillis() + " ms none was; retry later");
                }
                sized.awaitNanos(left);
            }
            return false;
        } finally {
            firstLock.unlock();
        }
    }

    /** The call read to learn the first size has its message parsed, or ended without one. */
    private void sizeKnownOrNot() {
        firstLock.lock();
        try {
            sizing = false;
            sized.signalAll();
        } finally {
            firstLock.unlock();
        }
    }

    /** One call's bytes in the budget. Its callbacks are serialized by grpc-java, close included. */
    private final class Reservation {
        private long bytes;
        private boolean first;
        private boolean closed;

        Reservation(long bytes, boolean first) {
            this.bytes = bytes;
            this.first = first;
        }

        void resize(long size) {
            if (!closed) {
                budget.resize(bytes, size);
                bytes = size;
            }
            endFirst();
        }

        void close() {
            if (!closed) {
                closed = true;
                budget.release(bytes);
            }
            endFirst();
        }

        private void endFirst() {
            if (first) {
                first = false;
                sizeKnownOrNot();
            }
        }
    }
}
