package dev.serval.bench.result;

import java.util.Map;
import java.util.TreeMap;

/**
 * One measured load on one system: the unit a results file holds and the report reads. Immutable;
 * written and read by {@link ResultFiles} as JSON with snake_case keys, schema {@link #SCHEMA}.
 *
 * <p>Ratios are only ever taken between results of the same {@code runId} (one invocation of the
 * suite, systems taking turns on the same machine), never across runs.
 *
 * @param schema           always {@link #SCHEMA}
 * @param runId            the invocation this was measured in
 * @param scenario         the suite entry, e.g. {@code mobilenet-10}
 * @param system           what served it, e.g. {@code serval}, {@code python-fastapi}, {@code go}, {@code limit}
 * @param protocol         {@code rest-json}, {@code rest-binary}, {@code grpc}, {@code http} (any other
 *                         HTTP request) or {@code in-process}
 * @param repetition       1-based round of this load point within the run (systems alternate per round)
 * @param target           where the load went (URL or host:port), or the model file in-process
 * @param mode             {@code closed} (N clients back to back) or {@code open} (constant rate)
 * @param clients          clients (closed loop) or the most requests in flight (open loop)
 * @param rate             open loop: requests per second asked for; null in closed loop
 * @param warmupSeconds    load before measuring, not recorded
 * @param durationSeconds  the measured time
 * @param startedAt        when the run started, ISO-8601 UTC
 * @param counts           what happened to the measured requests
 * @param errors           failures by kind: {@code status_429}, {@code timeout}, {@code connect},
 *                         {@code grpc_UNAVAILABLE} ...; empty when there were none
 * @param throughput       answers per second
 * @param latencyMs        of the successful answers; open loop: from each request's intended send time
 * @param latencyHistogram the successful answers' latencies in microseconds, as HdrHistogram's
 *                         compressed encoding in base64 (so percentiles can be recomputed or merged); may be null
 * @param resources        the server's memory and CPU while measured; null when not sampled
 * @param environment      the machine and the generator's JVM
 * @param meta             free-form facts the suite records (versions, configuration, notes)
 * @param metrics          further measured values, e.g. {@code gc_max_pause_ms}; may be empty
 */
public record Result(String schema, String runId, String scenario, String system, String protocol, int repetition,
                     String target, String mode, int clients, Double rate, double warmupSeconds,
                     double durationSeconds, String startedAt, Counts counts, Map<String, Long> errors,
                     Throughput throughput, Latency latencyMs, String latencyHistogram, Resources resources,
                     Environment environment, Map<String, String> meta, Map<String, Double> metrics) {

    /** The schema this code writes and reads; a change that breaks readers gets a new number. */
    public static final String SCHEMA = "serval-bench/result/1";

    public Result {
        if (!SCHEMA.equals(schema)) {
            throw new IllegalArgumentException("schema '" + schema + "' is not " + SCHEMA);
        }
        require("run_id", runId);
        require("scenario", scenario);
        require("system", system);
        require("protocol", protocol);
        if (!"closed".equals(mode) && !"open".equals(mode)) {
            throw new IllegalArgumentException("mode '" + mode + "' must be closed or open");
        }
        errors = errors == null ? Map.of() : new TreeMap<>(errors);
        meta = meta == null ? Map.of() : new TreeMap<>(meta);
        metrics = metrics == null ? Map.of() : new TreeMap<>(metrics);
        if (counts == null || throughput == null || latencyMs == null) {
            throw new IllegalArgumentException("a result needs counts, throughput and latency_ms");
        }
    }

    static void require(String name, String value) {
        if (value == null || value.isBlank()) {
            throw new IllegalArgumentException(name + " is missing or empty");
        }
    }

    /** This result with {@code name = value} added to its metrics. */
    public Result withMetric(String name, double value) {
        Map<String, Double> more = new TreeMap<>(metrics);
        more.put(name, value);
        return new Result(schema, runId, scenario, system, protocol, repetition, target, mode, clients, rate,
                warmupSeconds, durationSeconds, startedAt, counts, errors, throughput, latencyMs, latencyHistogram,
                resources, environment, meta, more);
    }
}
