package dev.serval.features.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The process handling the server fixtures share, on plain shell processes. */
class ServerProcessTest {

    /** A "server" with one child process, like a postmaster with a backend; ready at once. */
    private static ServerProcess parentWithChild(Path dir) {
        return new ServerProcess("test server", List.of("sh", "-c", "sleep 600 & wait"), dir, dir.resolve("out.log"));
    }

    @Test
    void kill_endsTheServerAndItsChildren_andCloseDeletesTheDirectory() throws IOException {
        Path dir = Files.createTempDirectory("serval-process-test");
        ServerProcess server = parentWithChild(dir);
        try {
            server.start(() -> true);
            ProcessHandle parent = ProcessHandle.of(server.pid()).orElseThrow();
            List<ProcessHandle> children = awaitChildren(parent);

            server.kill();

            assertThat(server.isRunning()).isFalse();
            assertThat(parent.isAlive()).isFalse();
            assertThat(children).allSatisfy(child -> assertThat(ServerProcess.isGone(child)).isTrue()); // or a zombie
        } finally {
            server.close();
        }
        assertThat(dir).doesNotExist();
    }

    @Test
    void start_afterKill_runsTheSameCommandAgain() throws IOException {
        Path dir = Files.createTempDirectory("serval-process-test");
        ServerProcess server = parentWithChild(dir);
        try {
            server.start(() -> true);
            long first = server.pid();
            server.kill();
            server.start(() -> true);

            assertThat(server.isRunning()).isTrue();
            assertThat(server.pid()).isNotEqualTo(first);
        } finally {
            server.close();
        }
    }

    @Test
    void start_reportsAServerThatExits_withItsStatusAndLog() throws IOException {
        Path dir = Files.createTempDirectory("serval-process-test");
        ServerProcess server = new ServerProcess("broken server", List.of("sh", "-c", "echo 'port in use'; exit 3"),
                dir, dir.resolve("out.log"));
        try {
            assertThatThrownBy(() -> server.start(() -> false)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("broken server exited with status 3").hasMessageContaining("port in use");
            assertThat(server.isRunning()).isFalse();
        } finally {
            server.close();
        }
    }

    @Test
    void pause_ofAServerThatIsNotRunning_isAnError() throws IOException {
        Path dir = Files.createTempDirectory("serval-process-test");
        ServerProcess server = parentWithChild(dir);
        try {
            assertThatThrownBy(server::pause).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("test server is not running");
        } finally {
            server.close();
        }
    }

    private static List<ProcessHandle> awaitChildren(ProcessHandle parent) {
        for (int i = 0; i < 500; i++) {
            List<ProcessHandle> children = parent.children().toList();
            if (!children.isEmpty()) {
                return children;
            }
            ServerProcess.pause(Duration.ofMillis(10));
        }
        throw new AssertionError("the shell started no child");
    }
}
