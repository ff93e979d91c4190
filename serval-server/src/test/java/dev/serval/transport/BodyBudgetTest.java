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

    @Test
    void reserve_isFirstComeFirstServed_aSmallBodyWaitsBehindALargerOne() throws Exception {
        BodyBudget budget = new BodyBudget(1 << 20, 4096, Duration.ofSeconds(30));
        budget.reserve(3072);
        CompletableFuture<Void> large = CompletableFuture.runAsync(() -> budget.reserve(4096));
        Thread.sleep(50);
        CompletableFuture<Void> small = CompletableFuture.runAsync(() -> budget.reserve(1024));
        Thread.sleep(100);
        assertThat(small).as("1 KB is free, but the larger body came first").isNotDone();

        budget.release(3072);
        large.get(10, TimeUnit.SECONDS);
        Thread.sleep(50);
        assertThat(small).isNotDone();
        budget.release(4096);
        small.get(10, TimeUnit.SECONDS);
    }

    @Test
    void resize_grantsMoreAtOnce_evenPastTheBudget_andNewcomersWaitUntilItIsBack() {
        BodyBudget budget = new BodyBudget(1 << 20, 4096, Duration.ofMillis(20));
        budget.reserve(3072);
        budget.resize(3072, 5000); // 5 units of 4: granted, the bytes are already read
        budget.resize(5000, 2048);
        budget.reserve(2048); // back within the budget: room for 2 KB, not more
        assertThatThrownBy(() -> budget.reserve(1)).isInstanceOf(ServalException.class);
    }

    @Test
    void reserve_withAnEstimate_readsItAgainWhileWaiting() throws Exception {
        BodyBudget budget = new BodyBudget(1 << 20, 4096, Duration.ofSeconds(30));
        budget.reserve(4096);
        java.util.concurrent.atomic.AtomicLong estimate = new java.util.concurrent.atomic.AtomicLong(4096);
        CompletableFuture<Long> waiter = CompletableFuture.supplyAsync(() -> budget.reserve(estimate::get));
        Thread.sleep(50);
        estimate.set(1024);
        budget.release(1024);
        assertThat(waiter.get(10, TimeUnit.SECONDS)).as("admitted for the estimate it found room for").isEqualTo(1024);
    }

    @Test
    void underContention_everyReservationIsAdmitted_andEveryUnitComesBack() throws Exception {
        BodyBudget budget = new BodyBudget(1 << 20, 8 * 1024, Duration.ofSeconds(30));
        java.util.List<Thread> threads = new java.util.ArrayList<>();
        java.util.concurrent.atomic.AtomicInteger admitted = new java.util.concurrent.atomic.AtomicInteger();
        for (int t = 0; t < 16; t++) {
            int seed = t;
            threads.add(Thread.ofVirtual().start(() -> {
                java.util.Random random = new java.util.Random(seed);
                for (int i = 0; i < 2000; i++) {
                    long bytes = 1 + random.nextInt(3 * 1024);
                    if (random.nextBoolean()) {
                        budget.reserve(bytes);
                        budget.release(bytes);
                    } else {
                        long held = budget.reserve(() -> bytes);
                        long actual = 1 + random.nextInt(4 * 1024);
                        budget.resize(held, actual);
                        budget.release(actual);
                    }
                    admitted.incrementAndGet();
                }
            }));
        }
        for (Thread thread : threads) {
            thread.join(TimeUnit.SECONDS.toMillis(60));
        }
        assertThat(admitted.get()).as("no reservation was refused or left waiting").isEqualTo(16 * 2000);
        CompletableFuture<Void> whole = CompletableFuture.runAsync(() -> budget.reserve(8 * 1024));
        whole.get(5, TimeUnit.SECONDS); // all 8 KB are free again: no unit lost, none waits in vain
    }
}
