package dev.serval.features;

import dev.serval.features.remote.PostgresTier;
import dev.serval.features.testing.LoopbackServer;
import dev.serval.features.testing.PostgresServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;

/** {@link RealTierComposition} with L3 on a real PostgreSQL. */
class PostgresCompositionTest extends RealTierComposition {
    private static PostgresServer postgres;

    @BeforeAll
    static void startPostgres() {
        postgres = new PostgresServer().start();
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
    RemoteTier newTier(String namespace) {
        return new PostgresTier(PostgresTier.Config.of(postgres.jdbcUrl()).withTable(namespace));
    }

    @Override
    LoopbackServer server() {
        return postgres;
    }
}
