package dev.serval.runtime;

import static dev.serval.testing.TestTensors.floats;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.serval.api.ErrorCode;
import dev.serval.api.ServalException;
import dev.serval.api.Tensor;
import dev.serval.runtime.onnx.OnnxBackend;
import dev.serval.testing.Examples;
import dev.serval.testing.TestTensors;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(60)
class RunControlTest {

    @Test
    void attach_beforeCancelSucceeds() {
        RunControl control = new RunControl();

        assertThat(control.attach(() -> { })).isTrue();
        assertThat(control.isCancelled()).isFalse();
    }

    @Test
    void attach_afterCancelReturnsFalseAndNeverRunsTheHook() {
        RunControl control = new RunControl();
        AtomicInteger runs = new AtomicInteger();
        control.cancel();

        assertThat(control.attach(runs::incrementAndGet)).isFalse();
        control.cancel();

        assertThat(runs).hasValue(0);
        assertThat(control.isCancelled()).isTrue();
    }

    @Test
    void cancel_runsTheAttachedHookOnce() {
        RunControl control = new RunControl();
        AtomicInteger runs = new AtomicInteger();
        control.attach(runs::incrementAndGet);

        control.cancel();
        control.cancel();
        control.cancel();

        assertThat(runs).hasValue(1);
        assertThat(control.isCancelled()).isTrue();
    }

    @Test
    void detach_preventsLaterHooks() {
        RunControl control = new RunControl();
        AtomicInteger runs = new AtomicInteger();
        control.attach(runs::incrementAndGet);

        control.detach();
        control.cancel();

        assertThat(runs).hasValue(0);
        assertThat(control.isCancelled()).as("a cancel after the run still counts").isTrue();
    }

    @Test
    void detach_withoutAttachIsHarmless() {
        RunControl control = new RunControl();

        control.detach();
        control.cancel();

        assertThat(control.isCancelled()).isTrue();
    }

    @Test
    void attach_replacesAnEarlierHook() {
        RunControl control = new RunControl();
        AtomicInteger first = new AtomicInteger();
        AtomicInteger second = new AtomicInteger();
        control.attach(first::incrementAndGet);
        control.attach(second::incrementAndGet);

        control.cancel();

        assertThat(first).hasValue(0);
        assertThat(second).hasValue(1);
    }

    @Test
    void cancel_racingAttachAndDetachRunsTheHookAtMostOnceAndOnlyWhileAttached() throws Exception {
        int rounds = 2_000;
        int cancellers = 3;
        ExecutorService pool = Executors.newFixedThreadPool(cancellers + 1);
        try {
            for (int round = 0; round < rounds; round++) {
                RunControl control = new RunControl();
                AtomicInteger hookRuns = new AtomicInteger();
                AtomicInteger afterDetach = new AtomicInteger();
                boolean[] detached = new boolean[1];
                CyclicBarrier start = new CyclicBarrier(cancellers + 1);
                List<Future<?>> done = new ArrayList<>();
                Future<Boolean> runner = pool.submit(() -> {
                    start.await();
                    boolean attached = control.attach(() -> {
                        hookRuns.incrementAndGet();
                        // The hook runs under the control's lock, so detach cannot have happened yet.
                        if (detached[0]) {
                            afterDetach.incrementAndGet();
                        }
                    });
                    control.detach();
                    synchronized (control) {
                        detached[0] = true;
                    }
                    return attached;
                });
                for (int c = 0; c < cancellers; c++) {
                    done.add(pool.submit(() -> {
                        start.await();
                        control.cancel();
                        return null;
                    }));
                }
                boolean attached = runner.get(30, TimeUnit.SECONDS);
                for (Future<?> future : done) {
                    future.get(30, TimeUnit.SECONDS);
                }

                assertThat(control.isCancelled()).isTrue();
                assertThat(hookRuns.get()).as("round %d", round).isLessThanOrEqualTo(1);
                assertThat(afterDetach).hasValue(0);
                if (!attached) {
                    assertThat(hookRuns).as("a refused attach never runs its hook").hasValue(0);
                }
                control.cancel();
                assertThat(hookRuns.get()).isLessThanOrEqualTo(1);
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void cancel_fromManyThreadsRunsTheHookExactlyOnce() throws Exception {
        int threads = 8;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            for (int round = 0; round < 500; round++) {
                RunControl control = new RunControl();
                AtomicInteger runs = new AtomicInteger();
                assertThat(control.attach(runs::incrementAndGet)).isTrue();
                CyclicBarrier start = new CyclicBarrier(threads);
                List<Future<?>> done = new ArrayList<>();
                for (int t = 0; t < threads; t++) {
                    done.add(pool.submit(() -> {
                        start.await();
                        control.cancel();
                        return null;
                    }));
                }
                for (Future<?> future : done) {
                    future.get(30, TimeUnit.SECONDS);
                }
                assertThat(runs).as("round %d", round).hasValue(1);
            }
        } finally {
            pool.shutdownNow();
        }
    }

    /** The ONNX Runtime session honours a control. */
    @Nested
    class OnnxSessionWithControl {
        private static final float[] FLOWER = {5.1f, 3.5f, 1.4f, 0.2f};
        private static final float[] LOGITS = {12.476593971252441f, -10.206747055053711f, -1.6352198123931885f};

        private static OnnxBackend backend;
        private static ModelSession iris;

        @BeforeAll
        static void open() throws ModelLoadException {
            backend = new OnnxBackend();
            iris = backend.open(Examples.model("iris"), new SessionSettings(1, false));
        }

        @AfterAll
        static void close() {
            iris.close();
            backend.close();
        }

        private static List<Tensor> flower() {
            return List.of(TestTensors.fp32("input", new long[] {1, 4}, FLOWER));
        }

        @Test
        void run_cancelledBeforeItStartsFailsWithDeadlineExceeded() {
            RunControl control = new RunControl();
            control.cancel();

            assertThatThrownBy(() -> iris.run(flower(), List.of("logits"), control))
                    .isInstanceOfSatisfying(ServalException.class,
                            e -> assertThat(e.code()).isEqualTo(ErrorCode.DEADLINE_EXCEEDED))
                    .hasMessageContaining("deadline");
        }

        @Test
        void run_withAControlThatNeverCancelsAnswers() {
            RunControl control = new RunControl();

            List<Tensor> out = iris.run(flower(), List.of("logits", "probabilities"), control);

            assertThat(out).extracting(Tensor::name).containsExactly("logits", "probabilities");
            float[] logits = floats(out.get(0));
            for (int i = 0; i < LOGITS.length; i++) {
                assertThat(logits[i]).isCloseTo(LOGITS[i], within(1e-4f));
            }
            assertThat(control.isCancelled()).isFalse();
        }

        @Test
        void run_detachesSoALateCancelDoesNotTouchTheFinishedRun() {
            RunControl control = new RunControl();
            iris.run(flower(), List.of("logits"), control);

            control.cancel(); // the run's native options are closed: the hook must be gone

            assertThat(control.isCancelled()).isTrue();
            assertThat(control.attach(() -> { })).isFalse();
        }

        @Test
        void run_afterACancelledRunTheSessionStillServes() {
            RunControl cancelled = new RunControl();
            cancelled.cancel();
            assertThatThrownBy(() -> iris.run(flower(), List.of("logits"), cancelled))
                    .isInstanceOf(ServalException.class);

            List<Tensor> out = iris.run(flower(), List.of("logits"), new RunControl());
            assertThat(floats(out.get(0))[0]).isCloseTo(LOGITS[0], within(1e-4f));
            assertThat(floats(iris.run(flower(), List.of("logits")).get(0))[0]).isCloseTo(LOGITS[0], within(1e-4f));
        }

        @Test
        void run_withControlFromManyThreadsEachAnswers() throws Exception {
            ExecutorService pool = Executors.newFixedThreadPool(4);
            try {
                List<Future<Float>> results = new ArrayList<>();
                for (int i = 0; i < 64; i++) {
                    boolean cancel = i % 4 == 0;
                    results.add(pool.submit(() -> {
                        RunControl control = new RunControl();
                        if (cancel) {
                            control.cancel();
                            try {
                                iris.run(flower(), List.of("logits"), control);
                                return Float.NaN;
                            } catch (ServalException e) {
                                return e.code() == ErrorCode.DEADLINE_EXCEEDED ? -1f : Float.NaN;
                            }
                        }
                        return floats(iris.run(flower(), List.of("logits"), control).get(0))[0];
                    }));
                }
                for (int i = 0; i < results.size(); i++) {
                    float value = results.get(i).get(30, TimeUnit.SECONDS);
                    if (i % 4 == 0) {
                        assertThat(value).isEqualTo(-1f);
                    } else {
                        assertThat(value).isCloseTo(LOGITS[0], within(1e-4f));
                    }
                }
            } finally {
                pool.shutdownNow();
            }
        }
    }
}
