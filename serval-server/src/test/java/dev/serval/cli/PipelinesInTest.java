package dev.serval.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.serval.testing.Examples;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Whether serve opens its feature store at start: only for a repository with a pipeline model. */
class PipelinesInTest {
    @Test
    void theBundledExamplesHaveOne_fraud() {
        assertThat(ServeCommand.pipelinesIn(Examples.repository())).isTrue();
    }

    @Test
    void plainModelsAndModelsWithoutConfigHaveNone(@TempDir Path repository) throws Exception {
        Files.createDirectories(repository.resolve("plain/1"));
        Files.writeString(repository.resolve("plain/config.yaml"), "max_batch_size: 8\n");
        Files.createDirectories(repository.resolve("bare/1"));

        assertThat(ServeCommand.pipelinesIn(repository)).isFalse();
    }

    @Test
    void anUnreadableConfigCountsAsOne_soTheStoreStillOpensAtStart(@TempDir Path repository) throws Exception {
        Files.createDirectories(repository.resolve("broken/1"));
        Files.writeString(repository.resolve("broken/config.yaml"), "max_batch_size: [not a number\n");

        assertThat(ServeCommand.pipelinesIn(repository)).isTrue();
    }
}
