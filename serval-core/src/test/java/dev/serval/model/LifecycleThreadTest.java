package dev.serval.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.serval.api.ErrorCode;
import dev.serval.api.ServalException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The registry's single writer: one thread, one change at a time, failures passed through as thrown. */
@Timeout(60)
class LifecycleThreadTest {

    @Test
    void call_runsEveryCallersWorkOnTheOneNamedThread_oneAtATime() throws Exception {
        try (LifecycleThread lifecycle = new LifecycleThread("test-lifecycle")) {
            Set<Thread> runners = ConcurrentHashMap.newKeySet();
            List<Integer> order = Collections.synchronizedList(new ArrayList<>());
            CountDownLatch inside = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            Thread first = Thread.ofVirtual().start(() -> call(lifecycle, () -> {
                runners.add(Thread.currentThread());
                inside.countDown();
                release.await();
                order.add(1);
                return null;
            }));
            inside.await();
            Thread second = Thread.ofVirtual().start(() -> call(lifecycle, () -> {
                runners.add(Thread.currentThread());
                order.add(2);
                return null;
            }));
            assertThat(order).as("the second change waits for the first").isEmpty();
            release.countDown();
            first.join();
            second.join();
            assertThat(order).containsExactly(1, 2);
            assertThat(runners).hasSize(1);
            Thread runner = runners.iterator().next();
            assertThat(runner.getName()).startsWith("test-lifecycle");
            assertThat(runner.isVirtual()).isFalse();
            assertThat(lifecycle.call(() -> "answer")).isEqualTo("answer");
        }
    }

    private static void call(LifecycleThread lifecycle, Callable<Void> work) {
        try {
            lifecycle.call(work);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Test
    void call_rethrowsWhatTheWorkThrew_andCallUncheckedTurnsIoIntoUnavailable() {
        try (LifecycleThread lifecycle = new LifecycleThread("test-lifecycle")) {
            IOException io = new IOException("disk gone");
            assertThatThrownBy(() -> lifecycle.call(() -> {
                throw io;
            })).isSameAs(io);
            ServalException refused = ServalException.notFound("no folder 'x'");
            assertThatThrownBy(() -> lifecycle.call(() -> {
                throw refused;
            })).isSameAs(refused);
            assertThatThrownBy(() -> lifecycle.callUnchecked(() -> {
                throw io;
            })).isInstanceOfSatisfying(ServalException.class, e -> {
                assertThat(e.code()).isEqualTo(ErrorCode.UNAVAILABLE);
                assertThat(e.getMessage()).isEqualTo("cannot read the model repository: disk gone");
            });
        }
    }

    @Test
    void call_interruptedWhileWaiting_isUnavailable_andKeepsTheInterrupt() throws Exception {
        try (LifecycleThread lifecycle = new LifecycleThread("test-lifecycle")) {
            CountDownLatch release = new CountDownLatch(1);
            AtomicReference<Throwable> thrown = new AtomicReference<>();
            AtomicReference<Boolean> interrupted = new AtomicReference<>();
            Thread caller = Thread.ofPlatform().start(() -> {
                try {
                    lifecycle.call(() -> release.await(30, TimeUnit.SECONDS));
                } catch (Throwable e) {
                    thrown.set(e);
                }
                interrupted.set(Thread.currentThread().isInterrupted());
            });
            caller.interrupt();
            caller.join();
            release.countDown();
            assertThat(thrown.get()).isInstanceOfSatisfying(ServalException.class, e -> {
                assertThat(e.code()).isEqualTo(ErrorCode.UNAVAILABLE);
                assertThat(e.getMessage()).contains("interrupted");
            });
            assertThat(interrupted.get()).isTrue();
        }
    }

    @Test
    void afterClose_callsAreRefusedWithUnavailable_andScheduledWorkStops() throws Exception {
        LifecycleThread lifecycle = new LifecycleThread("test-lifecycle");
        lifecycle.every(Duration.ofDays(1), () -> {
            throw new AssertionError("a scheduled task ran after close");
        });
        lifecycle.close();
        lifecycle.close(); // idempotent
        assertThatThrownBy(() -> lifecycle.call(() -> "late")).isInstanceOfSatisfying(ServalException.class, e -> {
            assertThat(e.code()).isEqualTo(ErrorCode.UNAVAILABLE);
            assertThat(e.getMessage()).contains("shutting down");
        });
    }
}
