package dev.serval.runtime.onnx;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import dev.serval.testing.Examples;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The model cache when the device refuses a write halfway through an entry: the load goes on from
 * the model file itself, and nothing of the entry is left behind. The refusal is the kernel's own:
 * a child JVM runs {@link ModelCache#prepare} under a file-size limit ({@code ulimit -f}, 128 KiB)
 * smaller than the text model's 440 KB of weights, so the write of weights.bin fails with EFBIG
 * (HotSpot ignores SIGXFSZ), as a full disk fails one with ENOSPC.
 */
class ModelCacheFullDiskTest {
    @TempDir
    Path dir;

    @Test
    void aWriteRefusedMidway_leavesNoEntry_andTheModelLoadsFromItsFile() throws Exception {
        assumeThat(Files.isExecutable(Path.of("/bin/sh"))).isTrue();
        Path model = Files.copy(Examples.model("text"), Files.createDirectories(dir.resolve("repo/text/1")).resolve("model.onnx"));
        Path cacheDir = dir.resolve("cache");
        String java = ProcessHandle.current().info().command().orElseThrow();
        Path output = dir.resolve("child.txt");
        Path logging = Files.writeString(dir.resolve("logback.xml"), """
                <configuration>
                  <appender name="OUT" class="ch.qos.logback.core.ConsoleAppender">
                    <encoder><pattern>%-5level %logger{0} - %msg%n</pattern></encoder>
                  </appender>
                  <root level="INFO"><appender-ref ref="OUT"/></root>
                </configuration>
                """);
        Process child = new ProcessBuilder("/bin/sh", "-c", "ulimit -f 128 && exec \"$0\" \"$@\"", java,
                "-XX:-UsePerfData", "-Xshare:off", "-Dlogback.configurationFile=" + logging,
                "-cp", System.getProperty("java.class.path"),
                Child.class.getName(), cacheDir.toString(), model.toString())
                .redirectErrorStream(true).redirectOutput(output.toFile()).start();
        assertThat(child.waitFor(2, TimeUnit.MINUTES)).as("the child JVM ended").isTrue();
        String said = Files.readString(output, StandardCharsets.UTF_8);

        assertThat(child.exitValue()).as(said).isZero();
        assertThat(said).contains("prepared: " + model).contains("cannot use the model cache").contains("File too large");
        assertThat(contents(cacheDir)).as("no entry, no temporary folder").isEmpty();

        // The same cache, with room: the entry is written and the model loads from it.
        Path prepared = new ModelCache(new ModelCacheSettings(cacheDir, 0, 0)).prepare(model);
        assertThat(prepared).isNotEqualTo(model).startsWith(cacheDir);
    }

    private static List<Path> contents(Path folder) throws IOException {
        if (!Files.exists(folder)) {
            return List.of();
        }
        try (Stream<Path> files = Files.list(folder)) {
            return files.toList();
        }
    }

    /** The child: prepares args[1] through a cache in args[0] and prints what to load. */
    public static final class Child {
        public static void main(String[] args) {
            Path prepared = new ModelCache(new ModelCacheSettings(Path.of(args[0]), 0, 0)).prepare(Path.of(args[1]));
            System.out.println("prepared: " + prepared);
        }
    }
}
