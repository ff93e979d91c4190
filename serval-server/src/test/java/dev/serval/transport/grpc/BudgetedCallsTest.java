package dev.serval.transport.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.serval.api.ErrorCode;
import dev.serval.api.ServalException;
import dev.serval.protocol.grpc.ModelInferRequest;
import dev.serval.protocol.grpc.ModelInferResponse;
import dev.serval.transport.BodyBudget;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.Status;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/**
 * {@link BudgetedCalls} on a call without a socket: what it reserves when, what it answers when
 * the budget has no room, and that every end of a call gives its bytes back. The transport-level
 * behaviour (a call waiting, unread, behind a REST body) is in {@link GrpcBodyBudgetTest}.
 */
class BudgetedCallsTest {
    private static final Duration WAIT = Duration.ofMillis(50);
    private static final java.util.function.ToLongFunction<AliasingMarshaller.Parsed> SIZE =
            parsed -> parsed.error() == null ? parsed.size() : -1;

    /** The handler behind the budget: records whether it started and what reached it. */
    private static final class Recorder implements ServerCallHandler<AliasingMarshaller.Parsed, ModelInferResponse> {
        int started;
        final List<AliasingMarshaller.Parsed> messages = new ArrayList<>();

        @Override
        public ServerCall.Listener<AliasingMarshaller.Parsed> startCall(
                ServerCall<AliasingMarshaller.Parsed, ModelInferResponse> call, Metadata headers) {
            started++;
            call.request(1);
            return new ServerCall.Listener<>() {
                @Override
                public void onMessage(AliasingMarshaller.Parsed message) {
                    messages.add(message);
                }
            };
        }
    }

    /** A call that records what the server side asked of it. */
    private static final class Call extends ServerCall<AliasingMarshaller.Parsed, ModelInferResponse> {
        int requested;
        Status closed;

        @Override
        public void request(int count) {
            requested += count;
        }

        @Override
        public void sendHeaders(Metadata headers) {
        }

        @Override
        public void sendMessage(ModelInferResponse message) {
        }

        @Override
        public void close(Status status, Metadata trailers) {
            closed = status;
        }

        @Override
        public boolean isCancelled() {
            return false;
        }

        @Override
        public MethodDescriptor<AliasingMarshaller.Parsed, ModelInferResponse> getMethodDescriptor() {
            return null; // not asked for
        }
    }

    private static AliasingMarshaller.Parsed message(int size) {
        return new AliasingMarshaller.Parsed(ModelInferRequest.getDefaultInstance(), null, null, size, null,
                new AtomicBoolean());
    }

    /** Fails (after the wait) unless the budget's {@code bytes} are all free. */
    private static void assertAllFree(BodyBudget budget, long bytes) {
        budget.reserve(bytes);
        budget.release(bytes);
    }

    private static void assertNoRoomFor(BodyBudget budget, long bytes) {
        assertThatThrownBy(() -> budget.reserve(bytes)).isInstanceOf(ServalException.class)
                .satisfies(e -> assertThat(((ServalException) e).code()).isEqualTo(ErrorCode.RESOURCE_EXHAUSTED));
    }

    @Test
    void theFirstCall_reservesAWindow_thenEachReservesTheLastMessagesSize_beforeItAsks() {
        BodyBudget budget = new BodyBudget(1 << 20, 8 * 1024, WAIT);
        Recorder next = new Recorder();
        var calls = new BudgetedCalls<AliasingMarshaller.Parsed, ModelInferResponse>(next, budget, 2 * 1024, SIZE);

        ServerCall.Listener<AliasingMarshaller.Parsed> first = calls.startCall(new Call(), new Metadata());
        assertNoRoomFor(budget, 7 * 1024); // no size known yet: one window, 2 KB
        first.onMessage(message(3 * 1024));
        assertNoRoomFor(budget, 6 * 1024); // now its own 3 KB
        first.onComplete();
        assertAllFree(budget, 8 * 1024);

        Call call = new Call();
        ServerCall.Listener<AliasingMarshaller.Parsed> second = calls.startCall(call, new Metadata());
        assertThat(call.requested).as("the message is asked for once room is reserved").isEqualTo(1);
        assertNoRoomFor(budget, 6 * 1024); // the last message's 3 KB, before its own is read
        second.onMessage(message(1024));
        budget.reserve(7 * 1024); // its own is 1 KB: the rest came back
        budget.release(7 * 1024);
        second.onCancel();
        assertAllFree(budget, 8 * 1024);
        assertThat(next.messages).hasSize(2).allSatisfy(parsed -> assertThat(parsed.error()).isNull());
    }

    @Test
    void untilAFirstSizeIsKnown_callsAreReadOneAtATime() throws Exception {
        BodyBudget budget = new BodyBudget(1 << 20, 8 * 1024, Duration.ofSeconds(2)); // the waiter waits ~0.1 s
        var calls = new BudgetedCalls<AliasingMarshaller.Parsed, ModelInferResponse>(new Recorder(), budget, 1024, SIZE);
        ServerCall.Listener<AliasingMarshaller.Parsed> first = calls.startCall(new Call(), new Metadata());
        Call waiting = new Call();
        Thread second = Thread.ofVirtual().start(() -> calls.startCall(waiting, new Metadata()));
        Thread.sleep(100);
        assertThat(waiting.requested).as("7 KB are free, but the first call's size is not known yet").isZero();

        first.onMessage(message(2 * 1024));

        second.join(TimeUnit.SECONDS.toMillis(10));
        assertThat(waiting.requested).as("read once a size is known, while the first call is still open").isEqualTo(1);
        assertNoRoomFor(budget, 5 * 1024); // 2 KB each
    }

    @Test
    void noRoom_beforeTheMessage_closesTheCallResourceExhausted_unread() {
        BodyBudget budget = new BodyBudget(1 << 20, 4 * 1024, WAIT);
        Recorder next = new Recorder();
        var calls = new BudgetedCalls<AliasingMarshaller.Parsed, ModelInferResponse>(next, budget, 1024, SIZE);
        calls.startCall(new Call(), new Metadata()).onMessage(message(2 * 1024));

        budget.reserve(2 * 1024); // with the open first call, the budget is full
        Call refused = new Call();
        calls.startCall(refused, new Metadata());

        assertThat(refused.closed.getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
        assertThat(refused.closed.getDescription()).contains("--max-inflight-bytes").contains("2048 bytes");
        assertThat(refused.requested).as("its message is never asked for").isZero();
        assertThat(next.started).as("only the first call reached the handler").isEqualTo(1);
    }

    @Test
    void aMessageLargerThanItsReservation_isGrantedAtOnce_andNewcomersWaitUntilItIsPaidBack() {
        BodyBudget budget = new BodyBudget(1 << 20, 4 * 1024, WAIT);
        Recorder next = new Recorder();
        var calls = new BudgetedCalls<AliasingMarshaller.Parsed, ModelInferResponse>(next, budget, 1024, SIZE);
        calls.startCall(new Call(), new Metadata()).onComplete(); // no message: the estimate stays unknown
        ServerCall.Listener<AliasingMarshaller.Parsed> sizing = calls.startCall(new Call(), new Metadata());
        sizing.onMessage(message(1024));
        sizing.onComplete();

        ServerCall.Listener<AliasingMarshaller.Parsed> call = calls.startCall(new Call(), new Metadata()); // 1 KB
        budget.reserve(3 * 1024); // the budget is full
        call.onMessage(message(2 * 1024)); // 1 KB over

        assertThat(next.messages).last().satisfies(parsed -> assertThat(parsed.error()).isNull());
        budget.release(3 * 1024);
        assertNoRoomFor(budget, 3 * 1024); // 2 KB of 4 are still held
        call.onComplete();
        assertAllFree(budget, 4 * 1024);
    }
}
