package dev.serval.bench.result;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ResultFilesTest {
    @TempDir
    Path dir;

    static Result sample() {
        return new Result(Result.SCHEMA, "20261123-190000", "mobilenet-10", "serval", "rest-binary", 2,
                "http://127.0.0.1:18001/v2/models/mobilenet_v2/infer", "open", 64, 120.5, 5, 30.001,
                "2026-11-23T19:00:00Z", new Counts(3615, 3610, 5, 0, 0), Map.of("status_429", 4L, "timeout", 1L),
                new Throughput(120.33, 120.5, 120.5, 120.4), new Latency(3610, 5.1, 6.2, 6.01, 7.5, 8.1, 12.3, 40.2, 55.0),
                "SGlzdG9ncmFt", new Resources(4242, List.of("java", "-XX:+UseZGC", "-jar", "serval.jar"), "0", 1, 140,
                        0.25, 301.5, 290.2, 288.0, 28.4, 7.87),
                new Environment(2, "Intel(R) Xeon(R) Processor", 23.5, "Linux 6.18", "Eclipse Adoptium 25.0.3",
                        List.of("-XX:+UseZGC"), "1"),
                Map.of("onnxruntime", "1.23.2"), Map.of("gc_max_pause_ms", 0.38));
    }

    @Test
    void result_roundTripsThroughItsJsonFile() throws Exception {
        Result written = sample();
        Path file = dir.resolve("a/b/result.json");
        ResultFiles.write(file, written);

        assertThat(ResultFiles.readResult(file)).isEqualTo(written);
        String json = Files.readString(file);
        assertThat(json).contains("\"schema\" : \"serval-bench/result/1\"", "\"run_id\" : \"20261123-190000\"",
                "\"p99_9\" : 40.2", "\"rss_mb_peak\" : 301.5",
                "\"ok_per_second\" : 120.33");
    }

    @Test
    void load_readsResultsAndSkipsFromAFolder_passingOverOtherJson() throws Exception {
        ResultFiles.write(dir.resolve("r1.json"), sample());
        ResultFiles.write(dir.resolve("sub/skip.json"), new Skip(Skip.SCHEMA, "run", "encoder", "*", "no model"));
        Files.writeString(dir.resolve("limit-raw.json"), "{\"runs\":3}");

        ResultFiles.Loaded loaded = ResultFiles.load(List.of(dir));

        assertThat(loaded.results()).containsExactly(sample());
        assertThat(loaded.skips()).extracting(Skip::reason).containsExactly("no model");
    }

    @Test
    void parse_refusesAnUnknownSchemaOrAMissingField_namingTheSource() {
        assertThatThrownBy(() -> ResultFiles.parse("{\"schema\":\"serval-bench/result/99\"}", "x.json"))
                .hasMessageContaining("x.json").hasMessageContaining("serval-bench/result/99");
        String noSystem = ResultFiles.toJson(sample()).replace("\"system\" : \"serval\",", "");
        assertThatThrownBy(() -> ResultFiles.parse(noSystem, "y.json"))
                .hasMessageContaining("y.json").hasMessageContaining("system is missing");
    }
}
