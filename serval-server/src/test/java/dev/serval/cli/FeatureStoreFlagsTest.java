package dev.serval.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.serval.features.FeatureStoreConfig;
import dev.serval.features.TieredFeatureStore;
import dev.serval.testing.Examples;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code serve}'s feature store flags: what each composition opens, and each bad value or
 * contradiction stopping the start with one line that names the flag and the value (no stack trace).
 */
class FeatureStoreFlagsTest {
    @TempDir
    Path home;

    /** The flags parsed as {@code serve} parses them. */
    private static FeatureStoreOptions parse(String... flags) {
        ServeCommand serve = new ServeCommand();
        new CommandLine(serve).parseArgs(flags);
        return serve.features;
    }

    private record Run(int exit, String err) {
    }

    /** Runs {@code serve} as main does; returns its exit code and what it wrote to stderr. */
    private static Run serve(String... flags) {
        List<String> args = new ArrayList<>(List.of("serve", "--model-repository", Examples.repository().toString(),
                "--http-port", "0", "--grpc-port", "-1"));
        args.addAll(List.of(flags));
        StringWriter err = new StringWriter();
        CommandLine command = ServalCommand.commandLine().setErr(new PrintWriter(err, true));
        int exit = command.execute(args.toArray(String[]::new));
        return new Run(exit, err.toString());
    }

    private static void assertRefused(Run run, String message) {
        assertThat(run.exit()).as(run.err()).isNotZero();
        assertThat(run.err()).contains(message).doesNotContain("\tat dev.serval").doesNotContain("Exception in");
    }

    @Test
    void defaults_areTiered_l1AndRocksDbUnderTheHome_noL3() {
        FeatureStoreConfig config = parse().config(home).orElseThrow().build();
        assertThat(config.l1Enabled()).isTrue();
        assertThat(config.l1MaxEntities()).isEqualTo(50_000);
        assertThat(config.l2Path()).isEqualTo(home.resolve("serval-data/features"));
        assertThat(config.remote()).isNull();
        assertThat(config.remoteReadTimeout()).isEqualTo(Duration.ofMillis(20));
        assertThat(config.remoteWriteTimeout()).isEqualTo(Duration.ofMillis(2000));
    }

    @Test
    void sizesTimeoutsAndDir_areTaken() {
        Path dir = home.resolve("elsewhere");
        FeatureStoreConfig config = parse("--features-dir", dir.toString(), "--features-l1-size", "1000",
                "--features-read-timeout-ms", "5", "--features-write-timeout-ms", "300").config(home).orElseThrow().build();
        assertThat(config.l2Path()).isEqualTo(dir);
        assertThat(config.l1MaxEntities()).isEqualTo(1000);
        assertThat(config.remoteReadTimeout()).isEqualTo(Duration.ofMillis(5));
        assertThat(config.remoteWriteTimeout()).isEqualTo(Duration.ofMillis(300));
    }

    @Test
    void none_opensNoStore() {
        assertThat(parse("--features-mode", "none").open(home)).isEmpty();
        assertThat(parse("--features-mode", "NONE").config(home)).isEmpty();
    }

    @Test
    void remoteOnly_isTheL3Alone_andOpensWhileTheL3IsDown() throws Exception {
        int closedPort;
        try (java.net.ServerSocket socket = new java.net.ServerSocket(0)) {
            closedPort = socket.getLocalPort();
        }
        Optional<TieredFeatureStore> store = parse("--features-mode", "remote-only",
                "--features-redis", "redis://127.0.0.1:" + closedPort).open(home);
        try (TieredFeatureStore opened = store.orElseThrow()) {
            assertThat(opened.config().l1Enabled()).isFalse();
            assertThat(opened.config().l2Path()).isNull();
            assertThat(opened.config().remote().name()).isEqualTo("redis");
        }
        assertThat(home.resolve("serval-data")).doesNotExist();
    }

    @Test
    void tiered_withRedis_hasAllThreeTiers() {
        try (TieredFeatureStore store = parse("--features-dir", home.resolve("l2").toString(),
                "--features-redis", "redis://127.0.0.1:1/0").open(home).orElseThrow()) {
            assertThat(store.config().l1Enabled()).isTrue();
            assertThat(store.config().l2Path()).isEqualTo(home.resolve("l2"));
            assertThat(store.config().remote().name()).isEqualTo("redis");
        }
    }

    @Test
    void postgresCredentials_areAddedToTheUrl_encoded() {
        FeatureStoreOptions options = parse("--features-postgres", "jdbc:postgresql://127.0.0.1:5432/serval",
                "--features-postgres-user", "serval", "--features-postgres-password", "p&ss word");
        assertThat(options.postgresUrl())
                .isEqualTo("jdbc:postgresql://127.0.0.1:5432/serval?user=serval&password=p%26ss+word");
        assertThat(parse("--features-postgres", "jdbc:postgresql://h/db?ssl=true", "--features-postgres-user", "u")
                .postgresUrl()).isEqualTo("jdbc:postgresql://h/db?ssl=true&user=u");
        assertThat(FeatureStoreOptions.redactPassword("jdbc:postgresql://h/db?user=u&password=secret&x=1"))
                .isEqualTo("jdbc:postgresql://h/db?user=u&password=***&x=1");
        assertThat(FeatureStoreOptions.redactPassword("redis://:secret@h:6379/0")).isEqualTo("redis://:***@h:6379/0");
    }

    @Test
    void unknownMode_isRefused() {
        assertRefused(serve("--features-mode", "cached"), "--features-mode is 'cached'; expected tiered, remote-only or none");
    }

    @Test
    void remoteOnly_withoutAnL3_isRefused() {
        assertRefused(serve("--features-mode", "remote-only"),
                "--features-mode remote-only needs an L3: give --features-redis or --features-postgres");
    }

    @Test
    void remoteOnly_withADir_isRefused() {
        assertRefused(serve("--features-mode", "remote-only", "--features-redis", "redis://127.0.0.1:1",
                "--features-dir", "/tmp/x"), "--features-dir /tmp/x is unused with --features-mode remote-only");
    }

    @Test
    void none_withAnL3_isRefused() {
        assertRefused(serve("--features-mode", "none", "--features-redis", "redis://127.0.0.1:1"),
                "--features-redis redis://127.0.0.1:1 needs a feature store, but --features-mode is none");
    }

    @Test
    void twoL3s_areRefused() {
        assertRefused(serve("--features-redis", "redis://127.0.0.1:1", "--features-postgres", "jdbc:postgresql://h/db"),
                "--features-redis and --features-postgres both given");
    }

    @Test
    void badNumbers_areRefused_namingTheFlag() {
        assertRefused(serve("--features-l1-size", "0"), "--features-l1-size is 0; expected 1 to 100000000");
        assertRefused(serve("--features-read-timeout-ms", "0"), "--features-read-timeout-ms is 0; expected 1 to 60000");
        assertRefused(serve("--features-write-timeout-ms", "-1"), "--features-write-timeout-ms is -1; expected 1 to 600000");
    }

    @Test
    void badL3Addresses_areRefused_withoutThePassword() {
        assertRefused(serve("--features-redis", "http://127.0.0.1:6379"), "--features-redis 'http://127.0.0.1:6379' is not usable");
        Run postgres = serve("--features-postgres", "postgres://h/db?password=secret");
        assertRefused(postgres, "--features-postgres 'postgres://h/db?password=***' is not usable");
        assertThat(postgres.err()).doesNotContain("secret");
        assertRefused(serve("--features-postgres-user", "u"), "--features-postgres-user/-password need --features-postgres");
    }

    @Test
    void unwritableDir_stopsTheStart_withOneLineNamingIt() throws Exception {
        Path file = Files.writeString(home.resolve("a-file"), "not a directory");
        Path dir = file.resolve("features");
        assertRefused(serve("--features-dir", dir.toString()), "serval: --features-dir " + dir + ": the L2 (RocksDB) directory "
                + dir + " cannot be created");
    }
}
