package dev.serval.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.serval.api.ErrorCode;
import dev.serval.api.ServalException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class BodyBudgetTest {

    @Test
    void reserve_refusesWith429_afterWaitingInVain() {
        BodyBudget budget = new BodyBudget(1 << 20, 4096, Duration.ofMillis(20));
        budget.reserve(4096);
        assertThatThrownBy(() -> budget.reserve(1))
                .isInstanceOf(ServalException.class)
                .satisfies(e -> assertThat(((ServalException) e).code()).isEqualTo(ErrorCode.RESOURCE_EXHAUSTED))
                .hasMessageContaining("--max-inflight-bytes").hasMessageContaining("4096");
    }

    @Test
    void reserve_waitsForRoom_thenProceeds() throws Exception {
        BodyBudget budget = new BodyBudget(1 << 20, 4096, Duration.ofSeconds(30));
        budget.reserve(4096);
        CompletableFuture<Void> waiter = CompletableFuture.runAsync(() -> budget.reserve(2048));
        Thread.sleep(50);
        assertThat(waiter).isNotDone();
        budget.release(4096);
        waiter.get(10, TimeUnit.SECONDS);
    }

    @Test
    void reserve_admitsABodyLargerThanTheBudget_whenAlone() {
        BodyBudget budget = new BodyBudget(1 << 30, 4096, Duration.ofMillis(20));
        budget.reserve(1 << 20);
        budget.release(1 << 20);
        budget.reserve(4096);
    }
}
