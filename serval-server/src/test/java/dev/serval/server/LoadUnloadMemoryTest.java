package dev.serval.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.serval.model.ModelControl;
import dev.serval.testing.Examples;
import dev.serval.testing.Reply;
import dev.serval.testing.TestServer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Loading and unloading a model fifty times does not grow resident memory: each unload closes the
 * ONNX Runtime session and its scheduler (the leak TF Serving and Triton users report on reload).
 * Every load runs a warm-up, so each cycle also runs the model once.
 */
@Timeout(900)
class LoadUnloadMemoryTest {
    private static final Logger log = LoggerFactory.getLogger(LoadUnloadMemoryTest.class);
    private static final int CYCLES = 50;
    /** Generous: the JVM's heap and code cache settle while the cycles run. */
    private static final long MARGIN_KB = 200 * 1024;
    private static final String TEXT = """
            {"inputs": [{"name": "input_ids", "shape": [1, 4], "datatype": "INT64", "data": [818, 284, 767, 121]},
                        {"name": "attention_mask", "shape": [1, 4], "datatype": "INT64", "data": [1, 1, 1, 1]}]}""";
    private static final String[] ADMIN = {"Authorization", "Bearer a"};

    @TempDir
    Path repository;

    @Test
    void fiftyLoadUnloadCycles_keepResidentMemoryFlat() throws IOException {
        cycles(Examples.repository().resolve("text/1/model.onnx"), TEXT);
    }

    /**
     * The same with a larger model named by {@code -Dserval.memory.model=PATH} (e.g. the benchmark
     * models of {@code export_models.py --bench}); skipped without it.
     */
    @Test
    void fiftyLoadUnloadCycles_ofAGivenModel_keepResidentMemoryFlat() throws IOException {
        String model = System.getProperty("serval.memory.model");
        Assumptions.assumeTrue(model != null && !model.isBlank(), "-Dserval.memory.model not set");
        cycles(Path.of(model), null);
    }

    private void cycles(Path modelFile, String request) throws IOException {
        Path folder = Files.createDirectories(repository.resolve("m/1"));
        Files.copy(modelFile, folder.resolve("model.onnx"));
        Files.writeString(repository.resolve("m/config.yaml"), "warmup: {count: 1}\n");
        try (TestServer server = TestServer.start(ServerOptions.defaults(repository).withGrpcPort(ServerOptions.GRPC_OFF)
                .withTokens(Optional.empty(), Optional.of("a")).withModelControl(ModelControl.explicit(List.of())))) {
            long before = residentKb();
            long first = 0;
            long loaded = 0;
            for (int cycle = 1; cycle <= CYCLES; cycle++) {
                Reply load = server.post("/v2/repository/models/m/load", "", ADMIN);
                assertThat(load.status()).as(load.body()).isEqualTo(200);
                if (request != null) {
                    Reply answer = server.post("/v2/models/m/infer", request);
                    assertThat(answer.status()).as(answer.body()).isEqualTo(200);
                }
                if (cycle == 1) {
                    loaded = residentKb();
                }
                assertThat(server.post("/v2/repository/models/m/unload", "", ADMIN).status()).isEqualTo(200);
                if (cycle == 1) {
                    first = residentKb();
                }
            }
            long last = residentKb();
            log.info("load/unload of {} ({} bytes): VmRSS {} kB before, {} kB with it loaded, {} kB after cycle 1, "
                            + "{} kB after cycle {} ({} kB more than after cycle 1)", modelFile, Files.size(modelFile),
                    before, loaded, first, last, CYCLES, last - first);
            assertThat(last - first).as("VmRSS growth over %d cycles, kB", CYCLES - 1).isLessThan(MARGIN_KB);
        }
    }

    /** This process's resident set, from /proc/self/status (the server runs in this JVM). */
    private static long residentKb() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        throw new IllegalStateException("no VmRSS in /proc/self/status");
    }
}
