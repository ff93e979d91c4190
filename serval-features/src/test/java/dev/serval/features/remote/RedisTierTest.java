package dev.serval.features.remote;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.serval.features.RemoteTier;
import dev.serval.features.RemoteTierException;
import dev.serval.features.testing.RedisServer;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The tier contract and Redis's faults (hung, down at start, killed and restarted) against a real redis-server. */
class RedisTierTest extends RemoteTierContract {
    private static final Duration SHORT = Duration.ofMillis(300);
    private static final AtomicInteger prefixes = new AtomicInteger();
    private static RedisServer redis;

    @BeforeAll
    static void startRedis() {
        redis = new RedisServer();
        redis.start();
    }

    @AfterAll
    static void stopRedis() {
        if (redis != null) {
            redis.close();
        }
    }

    @BeforeEach
    void redisIsUp() {
        if (!redis.isRunning()) {
            redis.start(); // a failed fault test may have left it down
        }
    }

    @Override
    RemoteTier newTier() {
        return new RedisTier(RedisTier.Config.of(redis.uri()).withKeyPrefix("test" + prefixes.incrementAndGet() + ":"));
    }

    @Test
    void calls_failWithinTheirTimeout_whileRedisHangs_andSucceedAfter() {
        tier.putAll(Map.of("k", new byte[] {1}), TIMEOUT);
        redis.pause();
        try {
            assertThatThrownBy(() -> tier.getAll(List.of("k"), SHORT)).isInstanceOf(RemoteTierException.class)
                    .hasMessage("redis 127.0.0.1:" + redis.port() + ": MGET of 1 keys got no answer within 300 ms");
            assertThatThrownBy(() -> tier.putAll(Map.of("k2", new byte[] {2}), SHORT))
                    .isInstanceOf(RemoteTierException.class).hasMessageContaining("MSET of 1 keys got no answer");
        } finally {
            redis.resume();
        }
        // the late replies of the abandoned commands must not be taken for the answers to new ones
        assertThat(tier.getAll(List.of("k", "absent"), TIMEOUT)).containsExactly(new byte[] {1}, null);
    }

    @Test
    void construction_succeedsWhileRedisIsDown_andCallsSucceedOnceItIsUp() {
        try (RedisServer later = new RedisServer();
                RedisTier early = new RedisTier(RedisTier.Config.of(later.uri()))) {
            assertThatThrownBy(() -> early.getAll(List.of("k"), Duration.ofSeconds(1)))
                    .isInstanceOf(RemoteTierException.class)
                    .hasMessageStartingWith("redis 127.0.0.1:" + later.port() + ": ");

            later.start();

            eventually(() -> {
                early.putAll(Map.of("k", new byte[] {4}), Duration.ofSeconds(1));
                return null;
            });
            assertThat(early.getAll(List.of("k"), TIMEOUT)).containsExactly(new byte[] {4});
        }
    }

    @Test
    void killAndRestart_failsWhileDown_thenTheSameTierRecovers_withAcknowledgedWritesKept() {
        tier.putAll(Map.of("before", new byte[] {5}), TIMEOUT);

        redis.kill();
        assertThatThrownBy(() -> tier.getAll(List.of("before"), Duration.ofSeconds(1)))
                .isInstanceOf(RemoteTierException.class);
        assertThatThrownBy(() -> tier.putAll(Map.of("during", new byte[] {6}), Duration.ofSeconds(1)))
                .isInstanceOf(RemoteTierException.class);

        redis.start();
        // the append-only file kept the write Redis acknowledged before it was killed
        assertThat(eventually(() -> tier.getAll(List.of("before"), Duration.ofSeconds(1))))
                .containsExactly(new byte[] {5});
        tier.putAll(Map.of("after", new byte[] {7}), TIMEOUT);
        assertThat(tier.getAll(List.of("after"), TIMEOUT)).containsExactly(new byte[] {7});
    }

    /**
     * Callers keep writing and reading while Redis is killed and restarted: every answer is either a
     * {@link RemoteTierException} or right (never another caller's reply, never a value older than
     * the caller's last acknowledged write), and every caller is answered again after the restart.
     */
    @Test
    void killAndRestart_underConcurrentLoad_neverGivesAWrongAnswer() throws Exception {
        int callers = 3;
        AtomicBoolean stop = new AtomicBoolean();
        AtomicInteger failures = new AtomicInteger();
        AtomicLongArray successes = new AtomicLongArray(callers);
        ExecutorService threads = Executors.newFixedThreadPool(callers);
        try {
            List<Future<?>> running = new ArrayList<>();
            for (int c = 0; c < callers; c++) {
                int caller = c;
                running.add(threads.submit(() -> {
                    long acknowledged = -1;
                    long attempted = -1;
                    while (!stop.get()) {
                        try {
                            attempted++;
                            tier.putAll(Map.of("caller-" + caller, stamp(caller, attempted)), Duration.ofSeconds(1));
                            acknowledged = attempted;
                            byte[] value = tier.getAll(List.of("caller-" + caller), Duration.ofSeconds(1)).getFirst();
                            assertThat(value).as("the last acknowledged write, kept across the kill").isNotNull();
                            ByteBuffer read = ByteBuffer.wrap(value);
                            assertThat(read.getInt()).as("the caller whose value came back").isEqualTo(caller);
                            assertThat(read.getLong()).as("the write read back").isBetween(acknowledged, attempted);
                            successes.incrementAndGet(caller);
                        } catch (RemoteTierException expectedWhileDown) {
                            failures.incrementAndGet();
                        }
                    }
                    return null;
                }));
            }
            awaitWhileRunning(running, () -> each(successes, new long[callers], 20));
            redis.kill();
            int failedBefore = failures.get();
            awaitWhileRunning(running, () -> failures.get() >= failedBefore + callers);
            redis.start();
            long[] atRestart = snapshot(successes);
            awaitWhileRunning(running, () -> each(successes, atRestart, 20)); // every caller recovers
            stop.set(true);
            for (Future<?> f : running) {
                f.get(); // rethrows a wrong answer
            }
        } finally {
            stop.set(true);
            threads.shutdownNow();
        }
    }

    private static byte[] stamp(int caller, long write) {
        return ByteBuffer.allocate(12).putInt(caller).putLong(write).array();
    }

    /** True when every count has grown by {@code more} since {@code from}. */
    private static boolean each(AtomicLongArray counts, long[] from, long more) {
        for (int i = 0; i < counts.length(); i++) {
            if (counts.get(i) < from[i] + more) {
                return false;
            }
        }
        return true;
    }

    /** Waits for {@code condition}; a caller that stopped (a wrong answer) fails the test at once. */
    private static void awaitWhileRunning(List<Future<?>> callers, BooleanSupplier condition) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!condition.getAsBoolean()) {
            for (Future<?> caller : callers) {
                if (caller.isDone()) {
                    caller.get(); // rethrows its failure
                    throw new AssertionError("a caller stopped early");
                }
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("still waiting after 60 s");
            }
            Thread.sleep(10);
        }
    }

    private static long[] snapshot(AtomicLongArray counts) {
        long[] copy = new long[counts.length()];
        for (int i = 0; i < copy.length; i++) {
            copy[i] = counts.get(i);
        }
        return copy;
    }

    @Test
    void config_rejectsAnInvalidUri_namingIt() {
        assertThatThrownBy(() -> RedisTier.Config.of("http://127.0.0.1:6379"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'http://127.0.0.1:6379'").hasMessageContaining("redis://");
    }
}
