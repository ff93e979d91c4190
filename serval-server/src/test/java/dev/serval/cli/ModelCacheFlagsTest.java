package dev.serval.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.serval.runtime.onnx.ModelCacheSettings;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** {@code serve}'s --model-cache and --model-cache-min-size flags. */
class ModelCacheFlagsTest {
    private static final Path HOME = Path.of("/srv/serval");

    private static ServeCommand parse(String... flags) {
        ServeCommand serve = new ServeCommand();
        new CommandLine(serve).parseArgs(flags);
        return serve;
    }

    @Test
    void default_isUnderTheHome_forFilesOf64MiB() {
        assertThat(parse().modelCacheSettings(HOME)).contains(
                new ModelCacheSettings(HOME.resolve("serval-data/model-cache"), 64L << 20, 1L << 20));
    }

    @Test
    void aFolderAndASize_areTaken() {
        assertThat(parse("--model-cache", "/var/cache/serval", "--model-cache-min-size", "100m").modelCacheSettings(HOME))
                .contains(new ModelCacheSettings(Path.of("/var/cache/serval"), 100L << 20, 1L << 20));
    }

    @Test
    void off_turnsTheCacheOff() {
        assertThat(parse("--model-cache", "off").modelCacheSettings(HOME)).isEmpty();
        assertThat(parse("--model-cache", "OFF").modelCacheSettings(HOME)).isEmpty();
    }

    @Test
    void aSizeThatIsNotOne_isRefusedWithTheValue() {
        assertThatThrownBy(() -> parse("--model-cache-min-size", "big"))
                .isInstanceOf(CommandLine.ParameterException.class)
                .hasMessageContaining("'big' is not a size");
    }
}
