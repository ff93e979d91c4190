package dev.serval.features.remote;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.serval.features.RemoteTier;
import dev.serval.features.RemoteTierException;
import dev.serval.features.testing.PostgresServer;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The tier contract and PostgreSQL's faults (hung, locked, down at start, killed) against a real server. */
class PostgresTierTest extends RemoteTierContract {
    private static final Duration SHORT = Duration.ofMillis(300);
    private static final AtomicInteger tables = new AtomicInteger();
    private static PostgresServer postgres;

    private String table;

    @BeforeAll
    static void startPostgres() {
        postgres = new PostgresServer();
        postgres.start();
    }

    @AfterAll
    static void stopPostgres() {
        if (postgres != null) {
            postgres.close();
        }
    }

    @BeforeEach
    void postgresIsUp() {
        if (!postgres.isRunning()) {
            postgres.start(); // a failed fault test may have left it down
        }
    }

    @Override
    RemoteTier newTier() {
        table = "features_" + tables.incrementAndGet();
        return new PostgresTier(PostgresTier.Config.of(postgres.jdbcUrl()).withTable(table));
    }

    @Test
    void firstCall_createsTheTable_withKeyValueAndUpdatedAt() throws SQLException {
        tier.putAll(Map.of("k", new byte[] {1}), TIMEOUT);

        List<String> columns = new ArrayList<>();
        try (Connection c = DriverManager.getConnection(postgres.jdbcUrl());
                Statement s = c.createStatement();
                ResultSet rows = s.executeQuery("SELECT column_name, data_type FROM information_schema.columns"
                        + " WHERE table_name = '" + table + "' ORDER BY ordinal_position")) {
            while (rows.next()) {
                columns.add(rows.getString(1) + " " + rows.getString(2));
            }
        }
        assertThat(columns).containsExactly("key text", "value bytea", "updated_at timestamp with time zone");
    }

    @Test
    void calls_failWithinTheirTimeout_whilePostgresHangs_andSucceedAfter() {
        tier.putAll(Map.of("k", new byte[] {1}), TIMEOUT);
        postgres.pause();
        try {
            assertThatThrownBy(() -> tier.getAll(List.of("k"), SHORT)).isInstanceOf(RemoteTierException.class)
                    .hasMessage("postgres 127.0.0.1:" + postgres.port() + ": SELECT of 1 keys got no answer within 300 ms");
            assertThatThrownBy(() -> tier.putAll(Map.of("k2", new byte[] {2}), SHORT))
                    .isInstanceOf(RemoteTierException.class).hasMessageContaining("upsert of 1 keys got no answer");
        } finally {
            postgres.resume();
        }
        assertThat(eventually(() -> tier.getAll(List.of("k", "absent"), TIMEOUT))).containsExactly(new byte[] {1}, null);
    }

    @Test
    void putAll_failsWithinItsTimeout_whileTheRowIsLocked_andLaterWritesApplyInCallOrder() throws SQLException {
        tier.putAll(Map.of("k", new byte[] {1}), TIMEOUT);
        try (Connection locker = DriverManager.getConnection(postgres.jdbcUrl())) {
            locker.setAutoCommit(false);
            try (Statement s = locker.createStatement()) {
                s.executeQuery("SELECT value FROM " + table + " WHERE key = 'k' FOR UPDATE").close();
            }
            assertThatThrownBy(() -> tier.putAll(Map.of("k", new byte[] {2}), SHORT))
                    .isInstanceOf(RemoteTierException.class).hasMessageContaining("got no answer within 300 ms");
            // readers are not held up by a writer's lock
            assertThat(tier.getAll(List.of("k"), TIMEOUT)).containsExactly(new byte[] {1});
            locker.rollback();
        }
        // the timed-out write ran once the lock was released; the next one runs after it, never before
        tier.putAll(Map.of("k", new byte[] {3}), TIMEOUT);
        assertThat(tier.getAll(List.of("k"), TIMEOUT)).containsExactly(new byte[] {3});
    }

    @Test
    void construction_succeedsWhilePostgresIsDown_andCallsSucceedOnceItIsUp() {
        postgres.stop();
        try (PostgresTier early = new PostgresTier(PostgresTier.Config.of(postgres.jdbcUrl()).withTable("early"))) {
            assertThatThrownBy(() -> early.getAll(List.of("k"), Duration.ofSeconds(1)))
                    .isInstanceOf(RemoteTierException.class)
                    .hasMessageStartingWith("postgres 127.0.0.1:" + postgres.port() + ": ");

            postgres.start();

            eventually(() -> {
                early.putAll(Map.of("k", new byte[] {4}), Duration.ofSeconds(2));
                return null;
            });
            assertThat(early.getAll(List.of("k"), TIMEOUT)).containsExactly(new byte[] {4});
        }
    }

    @Test
    void killAndRestart_failsWhileDown_thenTheSameTierRecovers_withCommittedWritesKept() {
        tier.putAll(Map.of("before", new byte[] {5}), TIMEOUT);

        postgres.kill();
        assertThatThrownBy(() -> tier.getAll(List.of("before"), Duration.ofSeconds(1)))
                .isInstanceOf(RemoteTierException.class);

        postgres.start();
        assertThat(eventually(() -> tier.getAll(List.of("before"), Duration.ofSeconds(2))))
                .containsExactly(new byte[] {5});
    }

    @Test
    void aTableNamedLikeASqlKeyword_works() {
        try (PostgresTier keyword = new PostgresTier(PostgresTier.Config.of(postgres.jdbcUrl()).withTable("user"))) {
            keyword.putAll(Map.of("k", new byte[] {9}), TIMEOUT);
            assertThat(keyword.getAll(List.of("k"), TIMEOUT)).containsExactly(new byte[] {9});
        }
    }

    @Test
    void keysHoldingNul_areRejectedAsBadInput_notAsATierFailure() {
        assertThatThrownBy(() -> tier.getAll(List.of("ok", "card\0x"), TIMEOUT))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'card\\0x' holds U+0000");
        assertThatThrownBy(() -> tier.putAll(Map.of("card\0x", new byte[1]), TIMEOUT))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void config_rejectsBadValues_namingThem() {
        String url = postgres.jdbcUrl();
        assertThatThrownBy(() -> PostgresTier.Config.of("jdbc:mysql://127.0.0.1/x?password=secret"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'jdbc:mysql://127.0.0.1/x'").hasMessageNotContaining("secret");
        assertThatThrownBy(() -> PostgresTier.Config.of(url).withTable("features; DROP TABLE x"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'features; DROP TABLE x'");
        assertThatThrownBy(() -> PostgresTier.Config.of(url).withConnections(1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("is 1 but must be 2 to 64");
    }
}
