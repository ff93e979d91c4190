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
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/**
 * {@link BudgetedCalls} on a call without a socket: what it reserves when, what it answers when
 * the budget has no room, and that every end of a call gives its bytes back. The transport-level
 * behaviour (a call waiting, unread, behind a REST body) is in {@link GrpcBodyBudgetTest}.
 */
class BudgetedCallsTest {
    private static final Duration WAIT = Duration.ofMillis(50);

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

    @Test
    void aCall_reservesTheLastMessagesSize_beforeItAsks_andItsOwnOnceParsed_untilItEnds() {
        BodyBudget budget = new BodyBudget(1 << 20, 8 * 1024, WAIT);
        Recorder next = new Recorder();
        BudgetedCalls calls = new BudgetedCalls(next, budget);

        ServerCall.Listener<AliasingMarshaller.Parsed> first = calls.startCall(new Call(), new Metadata());
        first.onMessage(message(3 * 1024));
        assertThatThrownBy(() -> budget.reserve(6 * 1024)).as("the first call holds its message's 3 KB")
                .isInstanceOf(ServalException.class);
        first.onComplete();
        assertAllFree(budget, 8 * 1024);

        Call call = new Call();
        ServerCall.Listener<AliasingMarshaller.Parsed> second = calls.startCall(call, new Metadata());
        assertThat(call.requested).as("the message is asked for once room is reserved").isEqualTo(1);
        assertThatThrownBy(() -> budget.reserve(6 * 1024)).as("the second holds the last message's 3 KB before it is read")
                .isInstanceOf(ServalException.class);
        second.onMessage(message(1024));
        budget.reserve(7 * 1024); // its own message is 1 KB: the rest came back
        budget.release(7 * 1024);
        second.onCancel();
        assertAllFree(budget, 8 * 1024);
        assertThat(next.messages).hasSize(2).allSatisfy(parsed -> assertThat(parsed.error()).isNull());
    }

    @Test
    void noRoom_beforeTheMessage_closesTheCallResourceExhausted_unread() {
        BodyBudget budget = new BodyBudget(1 << 20, 4 * 1024, WAIT);
        Recorder next = new Recorder();
        BudgetedCalls calls = new BudgetedCalls(next, budget);
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
    void noRoom_forALargerMessage_reachesTheHandlerAsResourceExhausted_andGivesItsBytesBack() {
        BodyBudget budget = new BodyBudget(1 << 20, 4 * 1024, WAIT);
        Recorder next = new Recorder();
        BudgetedCalls calls = new BudgetedCalls(next, budget);
        ServerCall.Listener<AliasingMarshaller.Parsed> call = calls.startCall(new Call(), new Metadata());
        budget.reserve(2 * 1024);

        call.onMessage(message(3 * 1024));

        assertThat(next.messages).singleElement().satisfies(parsed -> {
            assertThat(parsed.error()).isNotNull();
            assertThat(parsed.error().code()).isEqualTo(ErrorCode.RESOURCE_EXHAUSTED);
            assertThat(parsed.error().getMessage()).contains("3072 bytes");
        });
        call.onComplete();
        budget.release(2 * 1024);
        assertAllFree(budget, 4 * 1024);
    }
}
