package dev.serval.features;

import dev.serval.features.remote.RedisTier;
import dev.serval.features.testing.LoopbackServer;
import dev.serval.features.testing.RedisServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;

/** {@link RealTierComposition} with L3 on a real redis-server. */
class RedisCompositionTest extends RealTierComposition {
    private static RedisServer redis;

    @BeforeAll
    static void startRedis() {
        redis = new RedisServer().start();
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
    RemoteTier newTier(String namespace) {
        return new RedisTier(RedisTier.Config.of(redis.uri()).withKeyPrefix(namespace + ":"));
    }

    @Override
    LoopbackServer server() {
        return redis;
    }
}
