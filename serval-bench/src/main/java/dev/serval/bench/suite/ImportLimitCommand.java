package dev.serval.bench.suite;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.serval.bench.result.Counts;
import dev.serval.bench.result.Environment;
import dev.serval.bench.result.Latency;
import dev.serval.bench.result.Result;
import dev.serval.bench.result.ResultFiles;
import dev.serval.bench.result.Throughput;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code serval bench import-limit}: the JSON line of {@code InProcessLimit} or
 * {@code TokenModelLimit} as a {@link Result} of system {@code limit}, protocol {@code in-process},
 * so the report can set Serval against it.
 *
 * <p>Its answers per second are the limit's items per second divided by the items one served
 * request carries ({@code --items-per-request}): the limit at batch 8 and Serval answering single
 * images then compare as images per second. Its latencies are per run of the model.
 */
@Command(name = "import-limit", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Converts the in-process limit's JSON line into a results file.")
public final class ImportLimitCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--in", required = true, paramLabel = "FILE", description = "The limit's output (its last JSON line is read).")
    Path in;

    @Option(names = "--items-per-request", paramLabel = "N", defaultValue = "1",
            description = "Items one served request of the scenario carries. Default: ${DEFAULT-VALUE}.")
    int itemsPerRequest;

    @Option(names = "--run-id", required = true, paramLabel = "ID")
    String runId;

    @Option(names = "--scenario", required = true, paramLabel = "NAME")
    String scenario;

    @Option(names = "--system", defaultValue = "limit", paramLabel = "NAME")
    String system;

    @Option(names = "--repetition", defaultValue = "1", paramLabel = "N")
    int repetition;

    @Option(names = "--meta", paramLabel = "KEY=VALUE")
    Map<String, String> meta = new LinkedHashMap<>();

    @Option(names = "--out", required = true, paramLabel = "FILE")
    Path out;

    @Override
    public Integer call() throws IOException {
        if (itemsPerRequest < 1) {
            throw new ParameterException(spec.commandLine(), "--items-per-request " + itemsPerRequest + " must be >= 1");
        }
        List<String> lines = Files.readAllLines(in).stream().filter(l -> l.startsWith("{")).toList();
        if (lines.isEmpty()) {
            throw new ParameterException(spec.commandLine(), "--in " + in + " holds no JSON line");
        }
        JsonNode j = new ObjectMapper().readTree(lines.get(lines.size() - 1));
        for (String key : List.of("runs", "seconds", "items_per_s", "p50_ms", "p90_ms", "p99_ms", "max_ms")) {
            if (!j.path(key).isNumber()) {
                throw new ParameterException(spec.commandLine(), "--in " + in + ": '" + key + "' is missing or not a number");
            }
        }
        long runs = j.path("runs").asLong();
        Latency latency = new Latency(runs, j.path("min_ms").asDouble(), j.path("mean_ms").asDouble(),
                j.path("p50_ms").asDouble(), j.path("p90_ms").asDouble(), j.path("p95_ms").asDouble(j.path("p90_ms").asDouble()),
                j.path("p99_ms").asDouble(), j.path("p99_9_ms").asDouble(j.path("p99_ms").asDouble()),
                j.path("max_ms").asDouble());
        double perSecond = Math.round(j.path("items_per_s").asDouble() / itemsPerRequest * 100) / 100.0;
        Map<String, String> facts = new LinkedHashMap<>(meta);
        facts.put("limit_batch", j.path("batch").asText("?"));
        facts.put("limit_threads", j.path("threads").asText("?"));
        facts.put("onnxruntime", j.path("ort").asText("?"));
        Instant modified = Files.getLastModifiedTime(in).toInstant().truncatedTo(ChronoUnit.SECONDS);
        Result result = new Result(Result.SCHEMA, runId, scenario, system, "in-process", repetition,
                j.path("model").asText("?"), "closed", 1, null, 0, j.path("seconds").asDouble(), modified.toString(),
                new Counts(runs, runs, 0, 0, 0), Map.of(), new Throughput(perSecond, perSecond, null, null), latency,
                null, null, Environment.current(), facts, Map.of());
        ResultFiles.write(out, result);
        return 0;
    }
}
