package dev.serval.transport.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.serval.api.ErrorCode;
import dev.serval.api.ServalException;
import dev.serval.transport.BodyBudget;
import java.io.ByteArrayInputStream;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * {@link UnsizedBodies}: a chunked body reserves room before it reads, step by step, and ends with
 * its own size reserved, or nothing on a failure. (Over a socket: {@code SchedulingTest}.)
 */
class UnsizedBodiesTest {
    private static final Duration WAIT = Duration.ofMillis(50);

    /** A stream that counts what was read from it. */
    private static final class Counted extends ByteArrayInputStream {
        Counted(int length) {
            super(body(length));
        }

        int consumed() {
            return pos;
        }
    }

    private static byte[] body(int length) {
        byte[] bytes = new byte[length];
        for (int i = 0; i < length; i++) {
            bytes[i] = (byte) (i * 31);
        }
        return bytes;
    }

    private static ServalException tooLarge(String size) {
        return new ServalException(ErrorCode.PAYLOAD_TOO_LARGE, "the body is " + size);
    }

    private static void assertNoRoomFor(BodyBudget budget, long bytes) {
        assertThatThrownBy(() -> budget.reserve(bytes)).isInstanceOf(ServalException.class);
    }

    @Test
    void aBody_isReadWhole_andHoldsExactlyItsSize() throws Exception {
        BodyBudget budget = new BodyBudget(1 << 20, 1 << 20, WAIT);
        UnsizedBodies.Body body = UnsizedBodies.read(new Counted(200_000), budget, 1 << 20, UnsizedBodiesTest::tooLarge);

        assertThat(body.length()).isEqualTo(200_000);
        assertThat(java.util.Arrays.copyOf(body.bytes(), body.length())).isEqualTo(body(200_000));
        budget.reserve((1 << 20) - 200_704); // the rest of the budget: 200,000 bytes hold 196 units of 1 KB
        assertNoRoomFor(budget, 1024);
    }

    @Test
    void noRoom_refusesBeforeAByteIsRead() {
        BodyBudget budget = new BodyBudget(1 << 20, 1 << 20, WAIT);
        budget.reserve(1 << 20);
        Counted in = new Counted(10_000);

        assertThatThrownBy(() -> UnsizedBodies.read(in, budget, 1 << 20, UnsizedBodiesTest::tooLarge))
                .isInstanceOf(ServalException.class)
                .satisfies(e -> assertThat(((ServalException) e).code()).isEqualTo(ErrorCode.RESOURCE_EXHAUSTED));
        assertThat(in.consumed()).isZero();
    }

    @Test
    void aBodyPastTheLimit_isTooLarge_andHoldsNothing() {
        BodyBudget budget = new BodyBudget(100_000, 1 << 20, WAIT);
        Counted in = new Counted(300_000);

        assertThatThrownBy(() -> UnsizedBodies.read(in, budget, 100_000, UnsizedBodiesTest::tooLarge))
                .satisfies(e -> assertThat(((ServalException) e).code()).isEqualTo(ErrorCode.PAYLOAD_TOO_LARGE))
                .hasMessageContaining("more than 100000 bytes");
        assertThat(in.consumed()).as("one byte past the limit, no more").isEqualTo(100_001);
        budget.reserve(1 << 20);
    }

    @Test
    void aBodyWaits_partlyRead_whileTheBudgetIsFull() {
        BodyBudget budget = new BodyBudget(1 << 20, 128 * 1024, WAIT);
        budget.reserve(64 * 1024);
        Counted in = new Counted(100_000);

        assertThatThrownBy(() -> UnsizedBodies.read(in, budget, 1 << 20, UnsizedBodiesTest::tooLarge))
                .satisfies(e -> assertThat(((ServalException) e).code()).isEqualTo(ErrorCode.RESOURCE_EXHAUSTED));
        assertThat(in.consumed()).as("the first 64 KB fit, the next step did not").isEqualTo(UnsizedBodies.STEP);
        budget.reserve(64 * 1024); // and what it held came back
    }
}
