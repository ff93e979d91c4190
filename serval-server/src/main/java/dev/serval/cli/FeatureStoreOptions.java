package dev.serval.cli;

import dev.serval.features.FeatureStoreConfig;
import dev.serval.features.FeatureStoreException;
import dev.serval.features.RemoteTier;
import dev.serval.features.TieredFeatureStore;
import dev.serval.features.remote.PostgresTier;
import dev.serval.features.remote.RedisTier;
import java.io.IOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.Optional;
import java.util.function.Supplier;
import picocli.CommandLine.Option;

/**
 * {@code serve}'s feature store flags (a picocli mixin): which tiers, where they live, and their
 * sizes and timeouts. {@link #open()} validates them and opens the store; every error names the
 * flag and its value.
 *
 * <p>Modes: {@code tiered} (the default) is L1 in process memory and L2 RocksDB in
 * {@code --features-dir}, plus an L3 when {@code --features-redis} or {@code --features-postgres}
 * names one; {@code remote-only} is the L3 alone (no L1, no L2: every lookup and every recording goes
 * over the network, the baseline the tiers are measured against); {@code none} opens no store, so
 * models whose pipelines look features up fail to load, saying why, and the event calls answer 501.
 */
final class FeatureStoreOptions {

    /** Where RocksDB lives by default, under {@code serval.home} or the working directory. */
    static final Path DEFAULT_DIR = Path.of("serval-data", "features");

    /** The closed set of compositions {@code --features-mode} names. */
    enum Mode {
        TIERED, REMOTE_ONLY, NONE;

        static Mode parse(String value) {
            return switch (value.toLowerCase(Locale.ROOT)) {
                case "tiered" -> TIERED;
                case "remote-only" -> REMOTE_ONLY;
                case "none" -> NONE;
                default -> throw new IllegalArgumentException("--features-mode is '" + value
                        + "'; expected tiered, remote-only or none");
            };
        }
    }

    @Option(names = "--features-mode", paramLabel = "MODE", defaultValue = "tiered",
            description = "tiered: L1 memory + L2 RocksDB (+ L3 if --features-redis/--features-postgres); remote-only: "
                    + "the L3 alone, no L1/L2; none: no feature store (pipelines needing one fail to load). "
                    + "Default: ${DEFAULT-VALUE}.")
    String mode;

    @Option(names = "--features-dir", paramLabel = "DIR",
            description = "The L2 (RocksDB) directory, created if missing. Default: serval-data/features under "
                    + "the Serval home (or the working directory).")
    Path dir;

    @Option(names = "--features-redis", paramLabel = "URI",
            description = "L3 on Redis, e.g. redis://127.0.0.1:6379/0 (redis://:password@host:port/db for a password).")
    String redis;

    @Option(names = "--features-postgres", paramLabel = "JDBC_URL",
            description = "L3 on PostgreSQL, e.g. jdbc:postgresql://127.0.0.1:5432/serval (credentials in the URL "
                    + "or --features-postgres-user/-password).")
    String postgres;

    @Option(names = "--features-postgres-user", paramLabel = "USER",
            description = "PostgreSQL user. Default: $SERVAL_FEATURES_POSTGRES_USER, else the URL's.")
    String postgresUser;

    @Option(names = "--features-postgres-password", paramLabel = "PASSWORD",
            description = "PostgreSQL password. Default: $SERVAL_FEATURES_POSTGRES_PASSWORD, else the URL's.")
    String postgresPassword;

    @Option(names = "--features-l1-size", paramLabel = "N", defaultValue = "50000",
            description = "Most entities L1 keeps in memory (about 1.4 KB each, up to about 2.5 KB with 64 counterparties). Default: ${DEFAULT-VALUE}.")
    long l1Size;

    @Option(names = "--features-read-timeout-ms", paramLabel = "MS", defaultValue = "20",
            description = "Longest a lookup waits for L3 before answering degraded from L1/L2. Default: ${DEFAULT-VALUE}.")
    long readTimeoutMs;

    @Option(names = "--features-write-timeout-ms", paramLabel = "MS", defaultValue = "2000",
            description = "Longest a write-behind batch waits for L3. Default: ${DEFAULT-VALUE}.")
    long writeTimeoutMs;

    /**
     * The store these flags describe, configured but not opened: empty for {@code none}.
     *
     * @throws IllegalArgumentException naming the flag and value that are wrong or contradict each other
     */
    Optional<FeatureStoreConfig.Builder> config(Path home) {
        Mode m = Mode.parse(mode);
        if (m == Mode.NONE) {
            for (String[] flag : new String[][] {{"--features-redis", redis}, {"--features-postgres", postgres},
                    {"--features-dir", dir == null ? null : dir.toString()}}) {
                if (flag[1] != null) {
                    throw new IllegalArgumentException(flag[0] + " " + redactPassword(flag[1]) + " needs a feature store, but "
                            + "--features-mode is none");
                }
            }
            return Optional.empty();
        }
        if (redis != null && postgres != null) {
            throw new IllegalArgumentException("--features-redis and --features-postgres both given: the store has "
                    + "one L3, give at most one");
        }
        if (m == Mode.REMOTE_ONLY && redis == null && postgres == null) {
            throw new IllegalArgumentException("--features-mode remote-only needs an L3: give --features-redis "
                    + "or --features-postgres");
        }
        if (m == Mode.REMOTE_ONLY && dir != null) {
            throw new IllegalArgumentException("--features-dir " + dir + " is unused with --features-mode remote-only "
                    + "(no L2); drop it or use tiered");
        }
        if (postgres == null && (postgresUser != null || postgresPassword != null)) {
            throw new IllegalArgumentException("--features-postgres-user/-password need --features-postgres");
        }
        if (l1Size < 1 || l1Size > 100_000_000) {
            throw new IllegalArgumentException("--features-l1-size is " + l1Size + "; expected 1 to 100000000");
        }
        if (readTimeoutMs < 1 || readTimeoutMs > 60_000) {
            throw new IllegalArgumentException("--features-read-timeout-ms is " + readTimeoutMs + "; expected 1 to 60000");
        }
        if (writeTimeoutMs < 1 || writeTimeoutMs > 600_000) {
            throw new IllegalArgumentException("--features-write-timeout-ms is " + writeTimeoutMs
                    + "; expected 1 to 600000");
        }
        // Validate the L3 address now (it is only connected to when the store opens).
        if (redis != null) {
            checked("--features-redis", redis, () -> RedisTier.Config.of(redis));
        }
        if (postgres != null) {
            checked("--features-postgres", postgres, () -> PostgresTier.Config.of(postgresUrl()));
        }
        FeatureStoreConfig.Builder builder = FeatureStoreConfig.builder()
                .l1(m == Mode.TIERED)
                .l1MaxEntities(l1Size)
                .l2Path(m == Mode.TIERED ? l2Dir(home) : null)
                .remoteTimeouts(Duration.ofMillis(readTimeoutMs), Duration.ofMillis(writeTimeoutMs));
        return Optional.of(builder);
    }

    /**
     * Opens the store these flags describe, or none for {@code --features-mode none}. The L3 is
     * connected in the background: an L3 that is down at start leaves the store up, its breaker
     * opening on the first failed calls (lookups then answer degraded from L1/L2).
     *
     * @throws IllegalArgumentException for a wrong flag (named with its value)
     * @throws IllegalStateException    when L2 cannot be opened (the message names --features-dir)
     */
    Optional<TieredFeatureStore> open(Path home) {
        return opener(home).map(Supplier::get);
    }

    private Path l2Dir(Path home) {
        return dir != null ? dir : home.resolve(DEFAULT_DIR);
    }

    /**
     * Validates the flags now, and that the L2 directory can be created and written, and returns
     * what opens the store they describe (each call opens a new one), or none for
     * {@code --features-mode none}; the opener throws as {@link #open} does.
     *
     * @throws IllegalArgumentException for a wrong flag (named with its value)
     * @throws IllegalStateException    when the L2 directory cannot be created or written
     */
    Optional<Supplier<TieredFeatureStore>> opener(Path home) {
        Optional<FeatureStoreConfig.Builder> builder = config(home);
        if (builder.isEmpty()) {
            return Optional.empty();
        }
        if (Mode.parse(mode) == Mode.TIERED) {
            Path l2 = l2Dir(home);
            try {
                Files.createDirectories(l2);
            } catch (IOException | RuntimeException e) {
                throw new IllegalStateException("--features-dir " + l2 + ": the L2 (RocksDB) directory " + l2
                        + " cannot be created: " + e.getMessage(), e);
            }
            if (!Files.isWritable(l2)) {
                throw new IllegalStateException("--features-dir " + l2 + ": the L2 (RocksDB) directory " + l2
                        + " is not writable");
            }
        }
        return Optional.of(() -> {
            RemoteTier remote = redis != null ? new RedisTier(RedisTier.Config.of(redis))
                    : postgres != null ? new PostgresTier(PostgresTier.Config.of(postgresUrl()))
                    : null;
            FeatureStoreConfig config = builder.get().remote(remote).build();
            try {
                return TieredFeatureStore.open(config); // closes the remote tier if it fails
            } catch (FeatureStoreException e) {
                throw new IllegalStateException(config.l2Path() == null ? "cannot open the feature store: " + e.getMessage()
                        : "--features-dir " + config.l2Path() + ": " + e.getMessage(), e);
            }
        });
    }

    /** The one line that says what the store is made of, for the start-up log. */
    String describe(FeatureStoreConfig config) {
        StringBuilder tiers = new StringBuilder();
        if (config.l1Enabled()) {
            tiers.append("L1 memory (").append(config.l1MaxEntities()).append(" entities)");
        }
        if (config.l2Path() != null) {
            tiers.append(tiers.isEmpty() ? "" : " + ").append("L2 RocksDB ").append(config.l2Path());
        }
        if (config.remote() != null) {
            tiers.append(tiers.isEmpty() ? "" : " + ").append("L3 ").append(config.remote());
        }
        return tiers.toString();
    }

    /** The JDBC URL with the user and password flags added as parameters (flags win over the URL's). */
    String postgresUrl() {
        StringBuilder url = new StringBuilder(postgres);
        appendParameter(url, "user", postgresUser != null ? postgresUser : System.getenv("SERVAL_FEATURES_POSTGRES_USER"));
        appendParameter(url, "password",
                postgresPassword != null ? postgresPassword : System.getenv("SERVAL_FEATURES_POSTGRES_PASSWORD"));
        return url.toString();
    }

    private static void appendParameter(StringBuilder url, String name, String value) {
        if (value == null || value.isBlank()) {
            return;
        }
        url.append(url.indexOf("?") < 0 ? '?' : '&').append(name).append('=')
                .append(URLEncoder.encode(value, StandardCharsets.UTF_8));
    }

    private static void checked(String flag, String value, Runnable validate) {
        try {
            validate.run();
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(flag + " '" + redactPassword(value) + "' is not usable: " + e.getMessage(), e);
        }
    }

    /** The value with a password in it replaced, so that it can be logged or printed. */
    static String redactPassword(String value) {
        return value.replaceAll("(password=)[^&]*", "$1***").replaceAll("(://[^/@]*:)[^/@]*@", "$1***@");
    }
}
