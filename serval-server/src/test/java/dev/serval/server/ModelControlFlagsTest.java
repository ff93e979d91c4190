package dev.serval.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.serval.cli.ServalCommand;
import dev.serval.testing.Examples;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** {@code serve}'s model control flags: each bad value stops the start with a message that names it. */
class ModelControlFlagsTest {

    /** Runs the command line; returns its exit code and what it wrote to stderr. */
    private static String[] serve(String... flags) {
        PrintStream err = System.err;
        ByteArrayOutputStream stderr = new ByteArrayOutputStream();
        try {
            System.setErr(new PrintStream(stderr, true, StandardCharsets.UTF_8));
            String[] args = new String[flags.length + 7];
            args[0] = "serve";
            args[1] = "--model-repository";
            args[2] = Examples.repository().toString();
            args[3] = "--http-port";
            args[4] = "0";
            args[5] = "--grpc-port";
            args[6] = "-1";
            System.arraycopy(flags, 0, args, 7, flags.length);
            int exit = new CommandLine(new ServalCommand()).execute(args);
            return new String[] {String.valueOf(exit), stderr.toString(StandardCharsets.UTF_8)};
        } finally {
            System.setErr(err);
        }
    }

    @Test
    void unknownMode_isRefused() {
        String[] run = serve("--model-control-mode", "watch");
        assertThat(run[0]).isNotEqualTo("0");
        assertThat(run[1]).contains("--model-control-mode is 'watch'; expected none, poll or explicit");
    }

    @Test
    void pollInterval_mustBePositive() {
        String[] run = serve("--model-control-mode", "poll", "--repository-poll-secs", "0");
        assertThat(run[0]).isNotEqualTo("0");
        assertThat(run[1]).contains("--repository-poll-secs must be 1 to 86400, was 0");
    }

    @Test
    void loadModel_needsExplicitMode() {
        String[] run = serve("--load-model", "iris");
        assertThat(run[0]).isNotEqualTo("0");
        assertThat(run[1]).contains("--load-model needs --model-control-mode explicit");
    }

    @Test
    void loadModel_mustNameAFolderOfTheRepository() {
        String[] run = serve("--model-control-mode", "explicit", "--load-model", "iris", "--load-model", "nothere");
        assertThat(run[0]).isNotEqualTo("0");
        assertThat(run[1]).contains("--load-model nothere").contains("has no folder 'nothere'");
    }

    @Test
    void loadModel_refusesPaths() {
        String[] run = serve("--model-control-mode", "explicit", "--load-model", "../iris");
        assertThat(run[0]).isNotEqualTo("0");
        assertThat(run[1]).contains("--load-model '../iris' is not a valid model name");
    }
}
