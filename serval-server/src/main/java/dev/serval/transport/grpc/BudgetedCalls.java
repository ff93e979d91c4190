package dev.serval.transport.grpc;

import dev.serval.api.ServalException;
import dev.serval.protocol.grpc.ModelInferResponse;
import dev.serval.transport.BodyBudget;
import io.grpc.Context;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Counts ModelInfer messages against the server's in-flight body budget ({@link BodyBudget},
 * {@code --max-inflight-bytes}), the one REST bodies count against: a call holds its message's
 * size from before the message is read until the call ends.
 *
 * <p>Design note: grpc-java reads a call's message only once the handler asks for it; until then
 * its bytes wait in the transport, at most one HTTP/2 flow-control window per connection
 * (grpc-java's, 1 MB), and flow control holds the sender back, as TCP's does for a REST body left
 * unread in the kernel. So the wait for room happens before the ask, first come first served, and
 * a call that finds none within the budget's wait is refused with RESOURCE_EXHAUSTED, as a REST
 * body is with 429. What the budget cannot know then is the message's size, which grpc-java
 * learns only by reading the message whole: a call reserves the size of the last message parsed
 * (read again while it waits), and once its own is parsed the reservation becomes that size. Until
 * a first message is parsed the estimate is the largest message allowed, so the first call is read
 * alone: with no estimate, a thousand callers starting at once were all read at once, and their
 * 600 KB messages filled the 1 GB of direct memory (measured: the model's thread died of it). With
 * messages of one size, the usual case for one model, the reservation is exact before the message
 * is read; one larger than the last is read past its reservation by the difference, which the
 * budget then grants, holding newcomers back until it is paid back.
 *
 * <p>A call cancelled while it waits stops waiting. The reservation ends when grpc-java reports
 * the call over ({@code onComplete} or {@code onCancel}, exactly one of which it always calls),
 * after the answer: the request's tensors live until then, as a REST request's do.
 *
 * <p>Thread-safe.
 */
final class BudgetedCalls implements ServerCallHandler<AliasingMarshaller.Parsed, ModelInferResponse> {
    private final ServerCallHandler<AliasingMarshaller.Parsed, ModelInferResponse> next;
    private final BodyBudget budget;
    /** The size of the last message parsed, -1 before the first: what a call expects its message to take. */
    private final AtomicLong lastSize = new AtomicLong(-1);

    BudgetedCalls(ServerCallHandler<AliasingMarshaller.Parsed, ModelInferResponse> next, BodyBudget budget) {
        this.next = next;
        this.budget = budget;
    }

    private long expectedSize() {
        long size = lastSize.get();
        return size >= 0 ? size : budget.maxRequestBytes();
    }

    @Override
    public ServerCall.Listener<AliasingMarshaller.Parsed> startCall(
            ServerCall<AliasingMarshaller.Parsed, ModelInferResponse> call, Metadata headers) {
        long reserved;
        try {
            reserved = reserveUnlessCancelled();
        } catch (ServalException refused) {
            call.close(GrpcErrors.toStatus(refused).getStatus(), new Metadata());
            return new ServerCall.Listener<>() {
            };
        }
        Reservation reservation = new Reservation(reserved);
        ServerCall.Listener<AliasingMarshaller.Parsed> listener;
        try {
            listener = next.startCall(call, headers); // asks for the message
        } catch (RuntimeException | Error e) {
            reservation.close();
            throw e;
        }
        return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(listener) {
            @Override
            public void onMessage(AliasingMarshaller.Parsed message) {
                if (message.error() == null) {
                    lastSize.set(message.size());
                }
                reservation.resize(message.size());
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
     * @return the bytes reserved
     * @throws ServalException the refusal to answer the call with
     */
    private long reserveUnlessCancelled() {
        Context context = Context.current();
        Thread waiter = Thread.currentThread();
        Context.CancellationListener interrupt = cancelled -> waiter.interrupt();
        context.addListener(interrupt, Runnable::run);
        try {
            return budget.reserve(this::expectedSize);
        } catch (ServalException e) {
            if (context.isCancelled()) {
                // The client went away (no one reads this answer); nothing else is interrupted.
                Thread.interrupted();
                throw ServalException.unavailable("the call was cancelled while it waited for room in the "
                        + "in-flight body budget");
            }
            throw e;
        } finally {
            context.removeListener(interrupt);
        }
    }

    /** One call's bytes in the budget. Its callbacks are serialized by grpc-java, close included. */
    private final class Reservation {
        private long bytes;
        private boolean closed;

        Reservation(long bytes) {
            this.bytes = bytes;
        }

        void resize(long size) {
            if (!closed) {
                budget.resize(bytes, size);
                bytes = size;
            }
        }

        void close() {
            if (!closed) {
                closed = true;
                budget.release(bytes);
            }
        }
    }
}
