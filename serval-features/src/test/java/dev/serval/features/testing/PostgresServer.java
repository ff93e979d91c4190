package dev.serval.features.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.UserPrincipal;
import java.nio.file.attribute.UserPrincipalLookupService;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A real PostgreSQL server (the Debian package) on a free port of 127.0.0.1, with a fresh cluster
 * in a temporary directory, for tests of the PostgreSQL tier and of the tiered store over it.
 *
 * <p>PostgreSQL refuses to run as root, and CI runs as root: then initdb and the server run as the
 * {@code postgres} user the Debian package creates, through {@code setpriv}, which execs rather than
 * forks, so the PID this fixture signals is the postmaster's own. The directory is handed to that
 * user. As any other user they run as that user. The cluster trusts every local connection (user
 * {@code postgres}, database {@code postgres}), listens on 127.0.0.1 only, keeps its Unix socket in
 * its own directory, and runs with fsync off: a crash of the process ({@link #kill()}) loses
 * nothing, only a crash of the machine would.
 *
 * <p>Constructing picks the port and the directory but starts nothing, so a test can point a client
 * at a server that is not up yet. Not thread-safe: one test drives it; {@link #close()} it (try
 * with resources or an after-all method) and the server stops and its directory is deleted.
 */
public final class PostgresServer implements LoopbackServer {
    private static final String OS_USER = "postgres";

    private final int port;
    private final Path dir;
    private final Path data;
    private final Path bin;
    private final List<String> runAs;
    private final ServerProcess process;

    /**
     * Picks a free port and a temporary directory; throws if the PostgreSQL server binaries (or, as
     * root, the {@code postgres} user) are missing.
     */
    public PostgresServer() {
        this.bin = binaries();
        this.runAs = runAs();
        this.port = ServerProcess.freePort();
        try {
            this.dir = Files.createTempDirectory("serval-postgres-");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot make a directory for PostgreSQL", e);
        }
        this.data = dir.resolve("data");
        List<String> command = new ArrayList<>(runAs);
        command.addAll(List.of(bin.resolve("postgres").toString(), "-D", data.toString(),
                "-p", Integer.toString(port),
                "-c", "listen_addresses=127.0.0.1",
                "-c", "unix_socket_directories=" + dir,
                "-c", "fsync=off",
                "-c", "full_page_writes=off",
                "-c", "shared_buffers=16MB",
                "-c", "max_connections=40",
                "-c", "logging_collector=off"));
        this.process = new ServerProcess("postgres on 127.0.0.1:" + port, command, dir, dir.resolve("postgres.log"));
    }

    /**
     * Starts the server (the first time after making the cluster; again after {@link #stop()} or
     * {@link #kill()}: same port, same data) and returns when it accepts a connection.
     *
     * @throws IllegalStateException if it is already running, exits, or does not answer within a minute
     */
    @Override
    public PostgresServer start() {
        if (!Files.exists(data)) {
            initdb();
        }
        process.start(this::acceptsConnections);
        return this;
    }

    /** The port it listens on (on 127.0.0.1), fixed for the life of this object. */
    public int port() {
        return port;
    }

    /** A JDBC URL for database {@code postgres} as user {@code postgres} (trusted, no password). */
    public String jdbcUrl() {
        return "jdbc:postgresql://127.0.0.1:" + port + "/postgres?user=postgres";
    }

    @Override
    public boolean isRunning() {
        return process.isRunning();
    }

    /** The postmaster's PID. */
    public long pid() {
        return process.pid();
    }

    /** Fast shutdown (SIGINT: open sessions are ended) and waits for the exit. */
    public void stop() {
        process.stop("INT");
    }

    /**
     * SIGKILL to the postmaster and every backend, as a crash; committed data comes back on
     * {@link #start()} after crash recovery.
     */
    @Override
    public void kill() {
        process.kill();
    }

    /**
     * SIGSTOP to the postmaster and every backend: connections stay open and queries go unanswered
     * until {@link #resume()}; new connections are accepted by the kernel and then hang.
     */
    @Override
    public void pause() {
        process.pause();
    }

    @Override
    public void resume() {
        process.resume();
    }

    /** Stops the server if it runs and deletes its directory. */
    @Override
    public void close() {
        process.close();
    }

    private void initdb() {
        handToServerUser(dir);
        List<String> command = new ArrayList<>(runAs);
        command.addAll(List.of(bin.resolve("initdb").toString(), "-D", data.toString(), "-U", "postgres",
                "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync", "--no-instructions"));
        Path log = dir.resolve("initdb.log");
        try {
            Process initdb = new ProcessBuilder(command).redirectErrorStream(true)
                    .redirectOutput(log.toFile()).start();
            if (!initdb.waitFor(2, TimeUnit.MINUTES)) {
                initdb.destroyForcibly();
                throw new IllegalStateException("initdb did not finish within 2 minutes");
            }
            if (initdb.exitValue() != 0) {
                throw new IllegalStateException("initdb failed with status " + initdb.exitValue() + ":\n"
                        + Files.readString(log));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot run " + command, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while making a PostgreSQL cluster", e);
        }
    }

    private boolean acceptsConnections() {
        try (Connection c = DriverManager.getConnection(
                "jdbc:postgresql://127.0.0.1:" + port + "/postgres?user=postgres&connectTimeout=2&socketTimeout=5")) {
            return c.isValid(2);
        } catch (SQLException notYet) {
            return false; // not listening yet, or "the database system is starting up"
        }
    }

    /** The newest installed server's bin directory, e.g. /usr/lib/postgresql/15/bin. */
    private static Path binaries() {
        Path root = Path.of("/usr/lib/postgresql");
        Path found = null;
        if (Files.isDirectory(root)) {
            try (Stream<Path> versions = Files.list(root)) {
                found = ServerProcess.findExecutable(versions
                        .sorted(Comparator.comparing(PostgresServer::version).reversed())
                        .map(v -> v.resolve("bin/postgres")));
            } catch (IOException e) {
                throw new UncheckedIOException("cannot list " + root, e);
            }
        }
        if (found == null) {
            throw new IllegalStateException("no PostgreSQL server under /usr/lib/postgresql/*/bin: install the "
                    + "Debian package postgresql (.ci/run does) to run the tests that need a real PostgreSQL");
        }
        return found.getParent();
    }

    private static int version(Path dir) {
        try {
            return Integer.parseInt(dir.getFileName().toString());
        } catch (NumberFormatException notAVersion) {
            return -1;
        }
    }

    /** The command prefix that runs a program as the server's user: none unless we are root. */
    private static List<String> runAs() {
        if (!"root".equals(System.getProperty("user.name"))) {
            return List.of();
        }
        Path setpriv = ServerProcess.onPath("setpriv");
        if (setpriv == null) {
            throw new IllegalStateException("PostgreSQL will not run as root and setpriv (util-linux) is not "
                    + "on the PATH to run it as user " + OS_USER);
        }
        serverUser(); // fails early, with the reason, if the user is missing
        return List.of(setpriv.toString(), "--reuid=" + OS_USER, "--regid=" + OS_USER, "--init-groups", "--");
    }

    private void handToServerUser(Path root) {
        if (runAs.isEmpty()) {
            return;
        }
        UserPrincipal user = serverUser();
        try {
            GroupPrincipal group = FileSystems.getDefault().getUserPrincipalLookupService()
                    .lookupPrincipalByGroupName(OS_USER);
            PosixFileAttributeView view = Files.getFileAttributeView(root, PosixFileAttributeView.class);
            view.setOwner(user);
            view.setGroup(group);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot hand " + root + " to user " + OS_USER, e);
        }
    }

    private static UserPrincipal serverUser() {
        UserPrincipalLookupService users = FileSystems.getDefault().getUserPrincipalLookupService();
        try {
            return users.lookupPrincipalByName(OS_USER);
        } catch (IOException e) {
            throw new IllegalStateException("PostgreSQL will not run as root and there is no user " + OS_USER
                    + " to run it as (the Debian package postgresql creates it)", e);
        }
    }
}
