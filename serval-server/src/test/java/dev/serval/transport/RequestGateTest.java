package dev.serval.transport;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(value = 1, unit = TimeUnit.MINUTES)
class RequestGateTest {
    private final RequestGate gate = new RequestGate();

    @Test
    void admits_untilClosed_thenRefuses() {
        RequestGate.Pass pass = gate.tryEnter();
        assertThat(pass).isNotNull();
        assertThat(gate.isOpen()).isTrue();
        gate.close();
        assertThat(gate.isOpen()).isFalse();
        assertThat(gate.tryEnter()).isNull();
        assertThat(gate.inFlight()).isEqualTo(1);
        pass.close();
        pass.close(); // idempotent
        assertThat(gate.inFlight()).isZero();
    }

    @Test
    void awaitEmpty_returnsWhenTheLastPassCloses() throws Exception {
        RequestGate.Pass first = gate.tryEnter();
        RequestGate.Pass second = gate.tryEnter();
        gate.close();
        CountDownLatch waiting = new CountDownLatch(1);
        CompletableFuture<Boolean> emptied = CompletableFuture.supplyAsync(() -> {
            waiting.countDown();
            try {
                return gate.awaitEmpty(Duration.ofMinutes(1));
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
        waiting.await();
        first.close();
        assertThat(gate.awaitEmpty(Duration.ZERO)).as("one still in flight").isFalse();
        second.close();
        assertThat(emptied.get(1, TimeUnit.MINUTES)).isTrue();
        assertThat(gate.awaitEmpty(Duration.ZERO)).isTrue();
    }

    @Test
    void abandon_interruptsOnlyBoundThreads_andMarksEveryPass() throws Exception {
        RequestGate.Pass waiting = gate.tryEnter();
        RequestGate.Pass unbound = gate.tryEnter();
        CountDownLatch bound = new CountDownLatch(1);
        CompletableFuture<Boolean> interrupted = new CompletableFuture<>();
        Thread handler = Thread.ofVirtual().start(() -> {
            waiting.bind();
            bound.countDown();
            try {
                new CountDownLatch(1).await(); // a wait for a model that never answers
                interrupted.complete(false);
            } catch (InterruptedException e) {
                interrupted.complete(true);
            } finally {
                waiting.unbind();
                waiting.close();
            }
        });
        bound.await();
        gate.close();
        assertThat(gate.abandon()).isEqualTo(1);
        assertThat(interrupted.get(1, TimeUnit.MINUTES)).isTrue();
        handler.join();
        assertThat(unbound.isAbandoned()).isTrue();

        // A pass abandoned before its thread binds interrupts that thread as it binds.
        unbound.bind();
        assertThat(Thread.interrupted()).isTrue();
        unbound.unbind();
        unbound.close();
        assertThat(gate.inFlight()).isZero();
    }

    @Test
    void refusals_sayWhy() {
        assertThat(RequestGate.refusal().getMessage()).isEqualTo(RequestGate.SHUTTING_DOWN);
        assertThat(RequestGate.timedOut().getMessage()).contains("--shutdown-timeout-secs");
    }
}
