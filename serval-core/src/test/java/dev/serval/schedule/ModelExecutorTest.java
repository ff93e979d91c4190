package dev.serval.schedule;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.serval.api.ErrorCode;
import dev.serval.api.ServalException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(value = 30, unit = TimeUnit.SECONDS)
class ModelExecutorTest {
    private final List<ModelExecutor> executors = new ArrayList<>();
    private final CountDownLatch release = new CountDownLatch(1);

    @AfterEach
    void closeAll() {
        release.countDown();
        executors.forEach(ModelExecutor::close);
    }

    private ModelExecutor executor(String name, int instances, int queue) {
        ModelExecutor executor = new ModelExecutor(name, instances, queue, ServalThreads.platform("test-" + name));
        executors.add(executor);
        return executor;
    }

    /** Occupies one instance until {@link #release} opens; returns once the task is running. */
    private CompletableFuture<String> block(ModelExecutor executor) throws InterruptedException {
        CountDownLatch started = new CountDownLatch(1);
        CompletableFuture<String> future = executor.submit(() -> {
            started.countDown();
            awaitUninterruptibly(release);
            return "blocker";
        });
        assertThat(started.await(10, TimeUnit.SECONDS)).as("blocking task started").isTrue();
        return future;
    }

    private static void awaitUninterruptibly(CountDownLatch latch) {
        try {
            latch.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static ServalException servalCause(CompletableFuture<?> future) {
        try {
            future.get(10, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            assertThat(e.getCause()).isInstanceOf(ServalException.class);
            return (ServalException) e.getCause();
        } catch (Exception e) {
            throw new AssertionError(e);
        }
        throw new AssertionError("future completed normally");
    }

    @Test
    void submit_runsTaskOnNamedPlatformThread() throws Exception {
        ModelExecutor executor = executor("iris:1", 1, 4);
        Thread thread = executor.submit(Thread::currentThread).get(10, TimeUnit.SECONDS);
        assertThat(thread.isVirtual()).isFalse();
        assertThat(thread.getName()).startsWith("test-iris:1-");
        assertThat(thread.isDaemon()).isTrue();
        assertThat(thread).isNotSameAs(Thread.currentThread());
    }

    @Test
    void submit_runsFromVirtualCallerOnPlatformThread() throws Exception {
        ModelExecutor executor = executor("v", 1, 4);
        AtomicInteger virtualRuns = new AtomicInteger();
        Thread caller = Thread.ofVirtual().start(() -> {
            try {
                boolean virtual = executor.submit(() -> Thread.currentThread().isVirtual()).get();
                if (virtual) {
                    virtualRuns.incrementAndGet();
                }
            } catch (Exception e) {
                virtualRuns.addAndGet(100);
            }
        });
        caller.join(10_000);
        assertThat(caller.isAlive()).isFalse();
        assertThat(virtualRuns).hasValue(0);
    }

    @Test
    void submit_usesOneThreadPerInstance() throws Exception {
        ModelExecutor executor = executor("multi", 3, 8);
        Set<String> names = ConcurrentHashMap.newKeySet();
        CountDownLatch allRunning = new CountDownLatch(3);
        List<CompletableFuture<Boolean>> futures = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            futures.add(executor.submit(() -> {
                names.add(Thread.currentThread().getName());
                allRunning.countDown();
                try {
                    return allRunning.await(10, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return false;
                }
            }));
        }
        for (CompletableFuture<Boolean> future : futures) {
            assertThat(future.get(10, TimeUnit.SECONDS)).as("three tasks ran at once").isTrue();
        }
        assertThat(names).containsExactlyInAnyOrder("test-multi-1", "test-multi-2", "test-multi-3");
    }

    @Test
    void submit_completesFutureWithResult() throws Exception {
        ModelExecutor executor = executor("r", 1, 1);
        assertThat(executor.submit(() -> 42).get(10, TimeUnit.SECONDS)).isEqualTo(42);
    }

    @Test
    void submit_propagatesServalExceptionThroughFuture() {
        ModelExecutor executor = executor("e", 1, 1);
        ServalException thrown = ServalException.invalidArgument("bad input");
        CompletableFuture<Object> future = executor.submit(() -> {
            throw thrown;
        });
        assertThat(servalCause(future)).isSameAs(thrown);
    }

    @Test
    void submit_propagatesRuntimeAndErrorThroughFutureAndKeepsServing() throws Exception {
        ModelExecutor executor = executor("e2", 1, 1);
        CompletableFuture<Object> runtime = executor.submit(() -> {
            throw new IllegalStateException("boom");
        });
        assertThatThrownBy(() -> runtime.get(10, TimeUnit.SECONDS))
                .isInstanceOf(ExecutionException.class)
                .cause().isInstanceOf(IllegalStateException.class).hasMessage("boom");
        CompletableFuture<Object> error = executor.submit(() -> {
            throw new StackOverflowError("deep");
        });
        assertThatThrownBy(() -> error.get(10, TimeUnit.SECONDS))
                .isInstanceOf(ExecutionException.class)
                .cause().isInstanceOf(StackOverflowError.class);
        assertThat(executor.submit(() -> "still alive").get(10, TimeUnit.SECONDS)).isEqualTo("still alive");
    }

    @Test
    void submit_runsQueuedTasksInOrderOnOneInstance() throws Exception {
        ModelExecutor executor = executor("order", 1, 8);
        CompletableFuture<String> blocker = block(executor);
        List<Integer> order = new ArrayList<>();
        List<CompletableFuture<Boolean>> futures = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            int n = i;
            futures.add(executor.submit(() -> order.add(n)));
        }
        release.countDown();
        assertThat(blocker.get(10, TimeUnit.SECONDS)).isEqualTo("blocker");
        for (CompletableFuture<Boolean> future : futures) {
            future.get(10, TimeUnit.SECONDS);
        }
        assertThat(order).containsExactly(0, 1, 2, 3, 4);
    }

    @Test
    void submit_acceptsExactlyQueueCapacityWhileTheInstanceIsBusy() throws Exception {
        ModelExecutor executor = executor("full", 1, 2);
        block(executor);
        assertThat(executor.queueDepth()).isZero();
        executor.submit(() -> "waits 1");
        executor.submit(() -> "waits 2");
        assertThat(executor.queueDepth()).isEqualTo(2);
        assertThatThrownBy(() -> executor.submit(() -> "one too many"))
                .as("queueCapacity 2 bounds the work waiting behind the busy instance")
                .isInstanceOfSatisfying(ServalException.class,
                        e -> assertThat(e.code()).isEqualTo(ErrorCode.RESOURCE_EXHAUSTED))
                .hasMessageContaining("'full'")
                .hasMessageContaining("retry later");
    }

    @Test
    void submit_rejectsWithResourceExhaustedWhenQueueIsFull() throws Exception {
        ModelExecutor executor = executor("bounded", 2, 3);
        block(executor);
        block(executor);
        int accepted = 0;
        ServalException rejected = null;
        for (int i = 0; i < 100 && rejected == null; i++) {
            try {
                executor.submit(() -> "queued");
                accepted++;
            } catch (ServalException e) {
                rejected = e;
            }
        }
        assertThat(rejected).as("a bounded queue eventually refuses").isNotNull();
        assertThat(rejected.code()).isEqualTo(ErrorCode.RESOURCE_EXHAUSTED);
        assertThat(rejected.getMessage()).contains("'bounded'").contains(accepted + " requests waiting");
        assertThat(executor.queueDepth()).isEqualTo(accepted);
        // Rejection leaves queued work intact: everything accepted still runs once released.
        release.countDown();
        executor.close();
        assertThat(executor.queueDepth()).isZero();
    }

    @Test
    void submit_acceptsAgainOnceQueueDrains() throws Exception {
        ModelExecutor executor = executor("drain", 1, 1);
        CountDownLatch gate = new CountDownLatch(1);
        CountDownLatch started = new CountDownLatch(1);
        CompletableFuture<String> first = executor.submit(() -> {
            started.countDown();
            awaitUninterruptibly(gate);
            return "first";
        });
        assertThat(started.await(10, TimeUnit.SECONDS)).isTrue();
        List<CompletableFuture<String>> queued = new ArrayList<>();
        while (true) {
            try {
                queued.add(executor.submit(() -> "queued"));
            } catch (ServalException e) {
                assertThat(e.code()).isEqualTo(ErrorCode.RESOURCE_EXHAUSTED);
                break;
            }
            assertThat(queued).hasSizeLessThan(100);
        }
        gate.countDown();
        assertThat(first.get(10, TimeUnit.SECONDS)).isEqualTo("first");
        for (CompletableFuture<String> future : queued) {
            assertThat(future.get(10, TimeUnit.SECONDS)).isEqualTo("queued");
        }
        assertThat(executor.submit(() -> "again").get(10, TimeUnit.SECONDS)).isEqualTo("again");
    }

    @Test
    void close_letsQueuedWorkFinish() throws Exception {
        ModelExecutor executor = executor("closing", 1, 4);
        CompletableFuture<String> blocker = block(executor);
        List<CompletableFuture<Integer>> queued = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            int n = i;
            queued.add(executor.submit(() -> n));
        }
        Thread closer = Thread.ofPlatform().start(executor::close);
        // close() waits for the running task, so it cannot have returned while the blocker holds the instance.
        assertThat(closer.isAlive()).isTrue();
        assertThat(queued).noneMatch(CompletableFuture::isDone);
        release.countDown();
        closer.join(10_000);
        assertThat(closer.isAlive()).as("close returned").isFalse();
        assertThat(blocker).isCompletedWithValue("blocker");
        for (int i = 0; i < 4; i++) {
            assertThat(queued.get(i)).isCompletedWithValue(i);
        }
    }

    @Test
    void close_stopsTheInstanceThreads() throws Exception {
        ModelExecutor executor = executor("threads", 2, 1);
        Thread a = executor.submit(Thread::currentThread).get(10, TimeUnit.SECONDS);
        executor.close();
        a.join(10_000);
        assertThat(a.isAlive()).isFalse();
    }

    @Test
    void submit_afterCloseIsUnavailable() {
        ModelExecutor executor = executor("gone", 1, 1);
        executor.close();
        assertThatThrownBy(() -> executor.submit(() -> "late"))
                .isInstanceOfSatisfying(ServalException.class,
                        e -> assertThat(e.code()).isEqualTo(ErrorCode.UNAVAILABLE))
                .hasMessageContaining("'gone'")
                .hasMessageContaining("shutting down");
    }

    @Test
    void close_isIdempotent() {
        ModelExecutor executor = executor("twice", 1, 1);
        executor.close();
        executor.close();
        assertThatThrownBy(() -> executor.submit(() -> 1)).isInstanceOf(ServalException.class);
    }

    @Test
    void constructor_rejectsNonPositiveSizes() {
        assertThatThrownBy(() -> new ModelExecutor("x", 0, 1, ServalThreads.platform("x")))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new ModelExecutor("x", 1, 0, ServalThreads.platform("x")))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void platformThreads_areNamedDaemonsNumberedFromOne() {
        var factory = ServalThreads.platform("serval-iris-v1");
        Thread first = factory.newThread(() -> { });
        Thread second = factory.newThread(() -> { });
        assertThat(first.getName()).isEqualTo("serval-iris-v1-1");
        assertThat(second.getName()).isEqualTo("serval-iris-v1-2");
        assertThat(first.isDaemon()).isTrue();
        assertThat(first.isVirtual()).isFalse();
    }

    @Test
    void virtualThreads_areNamedVirtualThreads() {
        Thread thread = ServalThreads.virtual("http").newThread(() -> { });
        assertThat(thread.isVirtual()).isTrue();
        assertThat(thread.getName()).isEqualTo("http-1");
    }
}
