package dev.serval.features.remote;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.serval.features.RemoteTier;
import dev.serval.features.RemoteTierException;
import dev.serval.features.testing.RedisServer;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
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

    @Test
    void config_rejectsAnInvalidUri_namingIt() {
        assertThatThrownBy(() -> RedisTier.Config.of("http://127.0.0.1:6379"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'http://127.0.0.1:6379'").hasMessageContaining("redis://");
    }
}
