package dev.serval.features.remote;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.serval.features.RemoteTier;
import dev.serval.features.RemoteTierException;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Pattern;
import org.postgresql.Driver;

/**
 * The L3 tier on PostgreSQL: one table {@code (key text primary key, value bytea, updated_at
 * timestamptz)}, created if absent; a read is one {@code SELECT ... WHERE key = ANY(?)}, a write one
 * {@code INSERT ... ON CONFLICT (key) DO UPDATE} over the unnested batch (one statement: all or
 * nothing, whole-value overwrites).
 *
 * <p>Design: JDBC blocks, and neither HikariCP (a pool-wide connection timeout of at least 250 ms)
 * nor the driver (timeouts in whole seconds) can bound one call by its own, short timeout. So the
 * work runs on the tier's own threads and the caller waits for it at most its timeout; a call that
 * has not started by then is dropped, one that has runs to its end on its thread. Writes have a
 * single thread, so they reach PostgreSQL in call order: a write retried after a timeout can never
 * be overtaken by the original. Reads have the other {@code connections - 1} threads. Each thread
 * set has a bounded queue; a full one fails the call at once.
 *
 * <p>What bounds a hung server: a thread waits at most 1 s for a pooled connection (HikariCP's
 * {@code connectionTimeout}), 2 s to open one ({@code connectTimeout}), and 10 s for any read from
 * the socket ({@code socketTimeout}, after which the connection is dropped); a live server ends a
 * statement after 5 s ({@code statement_timeout}, e.g. a lock wait). So a thread is never held more
 * than about 10 s, and callers are answered within their timeout all along.
 *
 * <p>HikariCP starts without a connection ({@code initializationFailTimeout} negative), so the
 * constructor succeeds while PostgreSQL is down; calls fail until it is up and the pool connects.
 * The table is created by the first call that gets a connection (again if it is found missing).
 *
 * <p>Thread-safe. {@link #close()} stops the threads and the pool; calls after it throw
 * {@link IllegalStateException}.
 */
public final class PostgresTier implements RemoteTier {
    private static final Pattern IDENTIFIER = Pattern.compile("[a-z_][a-z0-9_]{0,62}");
    private static final int QUEUE_BOUND = 1024;
    private static final Duration POOL_WAIT = Duration.ofSeconds(1);
    private static final int CONNECT_TIMEOUT_SECONDS = 2;
    private static final int SOCKET_TIMEOUT_SECONDS = 10;
    private static final int STATEMENT_TIMEOUT_MS = 5000;
    private static final String UNDEFINED_TABLE = "42P01";
    private static final String DUPLICATE_TABLE = "42P07";
    private static final String UNIQUE_VIOLATION = "23505";

    private final Config config;
    private final String where;
    private final HikariDataSource pool;
    private final ThreadPoolExecutor readers;
    private final ThreadPoolExecutor writer;
    private final String create;
    private final String select;
    private final String upsert;
    private volatile boolean tableReady;
    private volatile boolean closed;

    /**
     * Where a PostgreSQL tier connects and which table it keeps.
     *
     * @param jdbcUrl a PostgreSQL JDBC URL, credentials included if needed, e.g.
     *     {@code jdbc:postgresql://127.0.0.1:5432/serval?user=serval&password=secret}
     * @param table the table's name (lower case letters, digits, underscores; created if absent)
     * @param connections the pool's size, 2 to 64: one connection writes, the others read
     */
    public record Config(String jdbcUrl, String table, int connections) {
        public static final String DEFAULT_TABLE = "serval_features";
        public static final int DEFAULT_CONNECTIONS = 4;

        /** Validates at once: a bad value throws {@link IllegalArgumentException} naming it. */
        public Config {
            Objects.requireNonNull(jdbcUrl, "jdbcUrl");
            Objects.requireNonNull(table, "table");
            parse(jdbcUrl);
            if (!IDENTIFIER.matcher(table).matches()) {
                throw new IllegalArgumentException("postgres table '" + table + "' is not valid: expected a lower-case "
                        + "SQL identifier (letters, digits, underscores, at most 63, not starting with a digit)");
            }
            if (connections < 2 || connections > 64) {
                throw new IllegalArgumentException("postgres connections is " + connections
                        + " but must be 2 to 64 (one writes, the others read)");
            }
        }

        /** {@code jdbcUrl} with table {@value #DEFAULT_TABLE} and {@value #DEFAULT_CONNECTIONS} connections. */
        public static Config of(String jdbcUrl) {
            return new Config(jdbcUrl, DEFAULT_TABLE, DEFAULT_CONNECTIONS);
        }

        public Config withTable(String table) {
            return new Config(jdbcUrl, table, connections);
        }

        public Config withConnections(int connections) {
            return new Config(jdbcUrl, table, connections);
        }
    }

    /** Makes the pool and threads and returns at once, whether or not PostgreSQL is up. */
    public PostgresTier(Config config) {
        this.config = Objects.requireNonNull(config, "config");
        Properties url = parse(config.jdbcUrl());
        this.where = "postgres " + url.getProperty("PGHOST") + ":" + url.getProperty("PGPORT");
        String table = '"' + config.table() + '"'; // quoted: a valid name may still be a keyword, e.g. user
        this.create = "CREATE TABLE IF NOT EXISTS " + table
                + " (key text PRIMARY KEY, value bytea NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())";
        this.select = "SELECT key, value FROM " + table + " WHERE key = ANY(?)";
        this.upsert = "INSERT INTO " + table + " (key, value, updated_at)"
                + " SELECT k, v, now() FROM unnest(?::text[], ?::bytea[]) AS u(k, v)"
                + " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at";

        HikariConfig hikari = new HikariConfig();
        hikari.setPoolName("serval-postgres");
        hikari.setJdbcUrl(config.jdbcUrl());
        hikari.setMaximumPoolSize(config.connections());
        hikari.setConnectionTimeout(POOL_WAIT.toMillis());
        hikari.setValidationTimeout(POOL_WAIT.toMillis());
        hikari.setInitializationFailTimeout(-1);
        hikari.addDataSourceProperty("connectTimeout", CONNECT_TIMEOUT_SECONDS);
        hikari.addDataSourceProperty("socketTimeout", SOCKET_TIMEOUT_SECONDS);
        hikari.addDataSourceProperty("tcpKeepAlive", true);
        hikari.addDataSourceProperty("ApplicationName", "serval");
        hikari.addDataSourceProperty("options", "-c statement_timeout=" + STATEMENT_TIMEOUT_MS);
        this.pool = new HikariDataSource(hikari);
        this.readers = threads("serval-postgres-read-", config.connections() - 1);
        this.writer = threads("serval-postgres-write-", 1);
    }

    @Override
    public String name() {
        return "postgres";
    }

    /**
     * {@inheritDoc}
     *
     * @throws NullPointerException if {@code keys} or one of them is null
     * @throws IllegalArgumentException if a key holds U+0000, which PostgreSQL text cannot store
     *     (thrown before any I/O: it is the caller's input, not the tier, that is at fault)
     */
    @Override
    public List<byte[]> getAll(List<String> keys, Duration timeout) {
        checkOpen();
        if (keys.isEmpty()) {
            return List.of();
        }
        String[] wanted = keys.toArray(String[]::new);
        for (String key : wanted) {
            checkKey(key);
        }
        Map<String, byte[]> found = call(readers, "SELECT of " + wanted.length + " keys", timeout, c -> select(c, wanted));
        byte[][] values = new byte[wanted.length][];
        for (int i = 0; i < wanted.length; i++) {
            values[i] = found.get(wanted[i]);
        }
        return Arrays.asList(values);
    }

    /**
     * {@inheritDoc} One statement: PostgreSQL applies it atomically.
     *
     * @throws NullPointerException if {@code entries} holds a null key or value
     * @throws IllegalArgumentException if a key holds U+0000, which PostgreSQL text cannot store
     */
    @Override
    public void putAll(Map<String, byte[]> entries, Duration timeout) {
        checkOpen();
        if (entries.isEmpty()) {
            return;
        }
        String[] keys = new String[entries.size()];
        byte[][] values = new byte[entries.size()][];
        int i = 0;
        for (Map.Entry<String, byte[]> e : entries.entrySet()) {
            keys[i] = checkKey(e.getKey());
            values[i++] = Objects.requireNonNull(e.getValue(), () -> "value of key '" + e.getKey() + "'");
        }
        call(writer, "upsert of " + keys.length + " keys", timeout, c -> upsert(c, keys, values));
    }

    /** Stops the threads (a call still running ends with its connection) and closes the pool; idempotent. */
    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        for (ThreadPoolExecutor threads : List.of(readers, writer)) {
            for (Runnable waiting : threads.shutdownNow()) {
                ((Future<?>) waiting).cancel(false); // its caller is told at once, not at its timeout
            }
        }
        pool.close();
    }

    @Override
    public String toString() {
        return "PostgresTier[" + where + ", table " + config.table() + "]";
    }

    private Map<String, byte[]> select(Connection c, String[] keys) throws SQLException {
        Map<String, byte[]> found = HashMap.newHashMap(keys.length);
        try (PreparedStatement s = c.prepareStatement(select)) {
            Array array = c.createArrayOf("text", keys);
            s.setArray(1, array);
            try (ResultSet rows = s.executeQuery()) {
                while (rows.next()) {
                    found.put(rows.getString(1), rows.getBytes(2));
                }
            }
            array.free();
        }
        return found;
    }

    private Void upsert(Connection c, String[] keys, byte[][] values) throws SQLException {
        try (PreparedStatement s = c.prepareStatement(upsert)) {
            Array keyArray = c.createArrayOf("text", keys);
            Array valueArray = c.createArrayOf("bytea", values);
            s.setArray(1, keyArray);
            s.setArray(2, valueArray);
            s.executeUpdate();
            keyArray.free();
            valueArray.free();
        }
        return null;
    }

    /** What runs on a tier thread with a pooled connection. */
    private interface Work<T> {
        T run(Connection connection) throws SQLException;
    }

    private <T> T call(ThreadPoolExecutor threads, String what, Duration timeout, Work<T> work) {
        Future<T> result;
        try {
            result = threads.submit(() -> withConnection(work));
        } catch (RejectedExecutionException e) {
            checkOpen();
            throw failure(what + " rejected: " + QUEUE_BOUND + " calls are already waiting", e);
        }
        try {
            return result.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            abandon(threads, result);
            throw failure(what + " got no answer within " + timeout.toMillis() + " ms", e);
        } catch (CancellationException e) {
            throw failure(what + " was abandoned: the tier was closed", e);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            throw failure(what + " failed: " + cause.getMessage(), cause);
        } catch (InterruptedException e) {
            abandon(threads, result);
            Thread.currentThread().interrupt();
            throw failure(what + " was interrupted", e);
        }
    }

    /** Creates the table unless it exists; another thread (or server) creating it at the same moment is fine. */
    private void createTable(Connection c) throws SQLException {
        try (Statement s = c.createStatement()) {
            s.execute(create);
        } catch (SQLException e) {
            // IF NOT EXISTS does not cover a concurrent CREATE: the loser gets one of these
            if (!UNIQUE_VIOLATION.equals(e.getSQLState()) && !DUPLICATE_TABLE.equals(e.getSQLState())) {
                throw e;
            }
        }
        tableReady = true;
    }

    /**
     * Drops a call from its queue if it has not started, freeing the slot; one that has started runs
     * to its end (JDBC cannot be interrupted mid-statement) and its result is ignored.
     */
    private static void abandon(ThreadPoolExecutor threads, Future<?> call) {
        call.cancel(false);
        threads.remove((Runnable) call);
    }

    private <T> T withConnection(Work<T> work) throws SQLException {
        try (Connection c = pool.getConnection()) {
            if (!tableReady) {
                createTable(c);
            }
            try {
                return work.run(c);
            } catch (SQLException e) {
                if (UNDEFINED_TABLE.equals(e.getSQLState())) {
                    tableReady = false; // dropped behind our back (or a new database): make it again next call
                }
                throw e;
            }
        }
    }

    private static String checkKey(String key) {
        Objects.requireNonNull(key, "key");
        if (key.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("postgres key '" + key.replace("\0", "\\0")
                    + "' holds U+0000, which PostgreSQL text cannot store");
        }
        return key;
    }

    private RemoteTierException failure(String what, Throwable cause) {
        return new RemoteTierException(where + ": " + what, cause);
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException(this + " is closed");
        }
    }

    private static ThreadPoolExecutor threads(String prefix, int count) {
        AtomicInteger n = new AtomicInteger();
        ThreadFactory factory = r -> {
            Thread t = new Thread(r, prefix + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
        return new ThreadPoolExecutor(count, count, 0, TimeUnit.MILLISECONDS,
                new ArrayBlockingQueue<>(QUEUE_BOUND), factory);
    }

    private static Properties parse(String jdbcUrl) {
        Properties parsed = jdbcUrl.startsWith("jdbc:postgresql:") ? Driver.parseURL(jdbcUrl, null) : null;
        if (parsed == null) {
            int query = jdbcUrl.indexOf('?'); // may hold a password
            throw new IllegalArgumentException("postgres url '" + (query < 0 ? jdbcUrl : jdbcUrl.substring(0, query))
                    + "' is not valid: expected e.g. jdbc:postgresql://127.0.0.1:5432/serval?user=serval");
        }
        return parsed;
    }
}
