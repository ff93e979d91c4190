package dev.serval.features.remote;

import dev.serval.features.RemoteTier;
import dev.serval.features.RemoteTierException;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.KeyValue;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.RedisURI;
import io.lettuce.core.SocketOptions;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.async.RedisAsyncCommands;
import io.lettuce.core.codec.ByteArrayCodec;
import io.lettuce.core.codec.RedisCodec;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.Delay;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;

/**
 * The L3 tier on Redis: values are Redis strings under {@code keyPrefix + key}; a read is one MGET,
 * a write one MSET (atomic, whole-value overwrites).
 *
 * <p>Design: one Lettuce connection serves every caller. Lettuce pipelines commands from many
 * threads over its socket, so concurrent batches overlap without a pool, and the commands of one
 * tier reach Redis in call order: a write retried after a timeout can never be overtaken by the
 * original. Each call waits for its reply at most its timeout, then cancels the command (its late
 * reply is discarded). While Redis is unreachable, commands are rejected at once rather than
 * buffered (Lettuce's default buffers without bound until it reconnects), so a down Redis fails
 * calls fast and the tiered store's breaker sees it.
 *
 * <p>What bounds a hung server (one that keeps the connection open and answers nothing): each call
 * its own timeout. The commands it abandoned stay on the connection until Redis answers them or the
 * connection drops, because replies are matched to commands by their order; at most 10,000 commands
 * wait so, after which calls fail at once until Redis answers again.
 *
 * <p>Lettuce reconnects a connection that has once been up (backing off from 10 ms to at most 1 s,
 * so a restarted Redis is used again within about a second), but not one whose first connect
 * failed. So the first connect runs in the background from the constructor, which never waits for
 * Redis; until one succeeds, a call whose previous attempt failed starts another and waits for it
 * within its own timeout. A server can therefore start with Redis down and use it once it is up.
 *
 * <p>Thread-safe. {@link #close()} releases the connection and Lettuce's threads; calls after it
 * throw {@link IllegalStateException}.
 */
public final class RedisTier implements RemoteTier {
    private static final RedisCodec<String, byte[]> CODEC = RedisCodec.of(StringCodec.UTF8, ByteArrayCodec.INSTANCE);
    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(2);
    /** Commands awaiting replies on the connection, abandoned ones included; past it calls fail at once. */
    private static final int MAX_IN_FLIGHT = 10_000;

    private final Config config;
    private final RedisURI uri;
    private final String where;
    private final ClientResources resources;
    private final RedisClient client;
    private final Object connecting = new Object();
    /** The current connect attempt, or the connection once one succeeded (Lettuce keeps it up from then on). */
    private volatile CompletableFuture<StatefulRedisConnection<String, byte[]>> connection;
    private volatile boolean closed;

    /**
     * Where a Redis tier connects and how it names keys.
     *
     * @param uri a Lettuce URI, e.g. {@code redis://127.0.0.1:6379/0} (also {@code rediss://} and
     *     {@code redis://:password@host:port/db})
     * @param keyPrefix put before every key, e.g. {@code serval:}; may be empty
     */
    public record Config(String uri, String keyPrefix) {
        public static final String DEFAULT_KEY_PREFIX = "serval:";

        /** Validates the URI at once: a bad one throws {@link IllegalArgumentException} naming it. */
        public Config {
            Objects.requireNonNull(uri, "uri");
            Objects.requireNonNull(keyPrefix, "keyPrefix");
            parse(uri);
        }

        /** {@code uri} with keys under {@value #DEFAULT_KEY_PREFIX}. */
        public static Config of(String uri) {
            return new Config(uri, DEFAULT_KEY_PREFIX);
        }

        public Config withKeyPrefix(String keyPrefix) {
            return new Config(uri, keyPrefix);
        }
    }

    /** Starts connecting in the background and returns at once, whether or not Redis is up. */
    public RedisTier(Config config) {
        this.config = Objects.requireNonNull(config, "config");
        this.uri = parse(config.uri());
        this.where = "redis " + (uri.getSocket() != null ? uri.getSocket() : uri.getHost() + ":" + uri.getPort());
        this.resources = ClientResources.builder()
                .reconnectDelay(Delay.exponential(Duration.ofMillis(10), Duration.ofSeconds(1), 2, TimeUnit.MILLISECONDS))
                .build();
        this.client = RedisClient.create(resources, uri);
        client.setOptions(ClientOptions.builder()
                .autoReconnect(true)
                .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS)
                .requestQueueSize(MAX_IN_FLIGHT)
                .socketOptions(SocketOptions.builder().connectTimeout(CONNECT_TIMEOUT).keepAlive(true).build())
                .build());
        this.connection = connect();
    }

    @Override
    public String name() {
        return "redis";
    }

    /**
     * {@inheritDoc}
     *
     * @throws NullPointerException if {@code keys} or one of them is null
     */
    @Override
    public List<byte[]> getAll(List<String> keys, Duration timeout) {
        checkOpen();
        if (keys.isEmpty()) {
            return List.of();
        }
        String[] prefixed = new String[keys.size()];
        for (int i = 0; i < prefixed.length; i++) {
            prefixed[i] = config.keyPrefix() + Objects.requireNonNull(keys.get(i), "key");
        }
        List<KeyValue<String, byte[]>> found =
                call("MGET of " + keys.size() + " keys", timeout, redis -> redis.mget(prefixed));
        byte[][] values = new byte[found.size()][];
        for (int i = 0; i < values.length; i++) {
            values[i] = found.get(i).getValueOrElse(null);
        }
        return Arrays.asList(values);
    }

    /**
     * {@inheritDoc} One MSET: Redis applies it atomically.
     *
     * @throws NullPointerException if {@code entries} holds a null key or value
     */
    @Override
    public void putAll(Map<String, byte[]> entries, Duration timeout) {
        checkOpen();
        if (entries.isEmpty()) {
            return;
        }
        Map<String, byte[]> prefixed = LinkedHashMap.newLinkedHashMap(entries.size());
        entries.forEach((key, value) -> prefixed.put(config.keyPrefix() + Objects.requireNonNull(key, "key"),
                Objects.requireNonNull(value, () -> "value of key '" + key + "'")));
        call("MSET of " + entries.size() + " keys", timeout, redis -> redis.mset(prefixed));
    }

    /** Closes the connection and shuts Lettuce's threads down; idempotent. */
    @Override
    public void close() {
        synchronized (connecting) {
            if (closed) {
                return;
            }
            closed = true;
        }
        try {
            client.shutdown(Duration.ZERO, CONNECT_TIMEOUT); // closes the connection or attempt too
        } finally {
            resources.shutdown(0, CONNECT_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS).awaitUninterruptibly();
        }
    }

    @Override
    public String toString() {
        return "RedisTier[" + where + ", prefix '" + config.keyPrefix() + "']";
    }

    private <T> T call(String what, Duration timeout, Function<RedisAsyncCommands<String, byte[]>, RedisFuture<T>> command) {
        long deadline = System.nanoTime() + timeout.toNanos();
        StatefulRedisConnection<String, byte[]> redis = connection(deadline, timeout);
        CompletableFuture<T> reply;
        try {
            reply = command.apply(redis.async()).toCompletableFuture();
        } catch (RuntimeException e) { // Lettuce rejects some commands before sending, e.g. a full queue
            throw failure(what + " failed: " + e.getMessage(), e);
        }
        try {
            return reply.get(deadline - System.nanoTime(), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            reply.cancel(false);
            throw failure(what + " got no answer within " + timeout.toMillis() + " ms", e);
        } catch (ExecutionException e) {
            throw failure(what + " failed: " + e.getCause().getMessage(), e.getCause());
        } catch (InterruptedException e) {
            reply.cancel(false);
            Thread.currentThread().interrupt();
            throw failure(what + " was interrupted", e);
        }
    }

    /** The connection, once up; else waits for the current attempt, starting one if the last failed. */
    private StatefulRedisConnection<String, byte[]> connection(long deadline, Duration timeout) {
        CompletableFuture<StatefulRedisConnection<String, byte[]>> attempt = connection;
        if (attempt.isCompletedExceptionally()) {
            synchronized (connecting) {
                checkOpen();
                if (connection == attempt) {
                    connection = connect();
                }
                attempt = connection;
            }
        }
        try {
            return attempt.get(deadline - System.nanoTime(), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            throw failure("not connected: connecting took over " + timeout.toMillis() + " ms", e);
        } catch (ExecutionException e) {
            throw failure("cannot connect: " + e.getCause().getMessage(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw failure("interrupted while connecting", e);
        }
    }

    private CompletableFuture<StatefulRedisConnection<String, byte[]>> connect() {
        return client.connectAsync(CODEC, uri).toCompletableFuture();
    }

    private RemoteTierException failure(String what, Throwable cause) {
        return new RemoteTierException(where + ": " + what, cause);
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException(this + " is closed");
        }
    }

    private static RedisURI parse(String uri) {
        try {
            return RedisURI.create(uri);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("redis uri '" + uri + "' is not valid (" + e.getMessage()
                    + "): expected e.g. redis://127.0.0.1:6379/0", e);
        }
    }
}
