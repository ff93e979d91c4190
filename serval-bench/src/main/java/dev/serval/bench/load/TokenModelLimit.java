package dev.serval.bench.load;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtLoggingLevel;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.OrtSession.SessionOptions;
import ai.onnxruntime.TensorInfo;
import java.io.IOException;
import java.io.Writer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import dev.serval.bench.InProcessLimit;
import org.HdrHistogram.Histogram;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * The in-process limit for token models such as the benchmark encoder: INT64 (or INT32) inputs
 * of shape [batch, seq], and only the outputs asked for, as a Serval request that names its
 * {@code outputs} runs. Otherwise it is {@code dev.serval.bench.InProcessLimit}: ONNX Runtime's Java
 * API called directly with Serval's session options (intra-op N, inter-op 1, sequential, all
 * optimisations, spinning off), inputs built once in direct native-order buffers, one platform
 * thread running {@code session.run} in a loop, every run timed into an HdrHistogram.
 *
 * <p>Design note: asking for every output would make the limit slower than the server it bounds:
 * the encoder's {@code last_hidden_state} is [batch, 128, 768] floats (201 MB at batch 512), which
 * ORT must allocate and fill even if nobody reads it. {@code --output pooled} runs only what Serval
 * runs for a request whose {@code outputs} name {@code pooled}.
 *
 * <p>Values: integer inputs whose name contains {@code mask} are 1, those containing
 * {@code type} are 0, other integer inputs are token ids {@code (i * 7919) mod vocab}; FP32 inputs
 * get InProcessLimit's values. {@code --write-json FILE} writes the same tensors as a v2 JSON
 * request body (with the outputs asked for), so the served requests carry the same numbers.
 *
 * <p>Prints one JSON line on stdout; progress goes to stderr.
 */
@Command(name = "token-model-limit", mixinStandardHelpOptions = true, sortOptions = false,
        description = "In-process limit for [batch, seq] integer-input models, running only the outputs asked for.")
public final class TokenModelLimit implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--model", paramLabel = "FILE", required = true, description = "The model.onnx to run.")
    Path model;

    @Option(names = "--threads", paramLabel = "N", defaultValue = "1", description = "Intra-op threads. Default: ${DEFAULT-VALUE}.")
    int threads;

    @Option(names = "--batch", paramLabel = "B", defaultValue = "1", description = "Rows. Default: ${DEFAULT-VALUE}.")
    int batch;

    @Option(names = "--seq", paramLabel = "L", defaultValue = "128",
            description = "Sequence length: every dynamic dimension after the first. Default: ${DEFAULT-VALUE}.")
    int seq;

    @Option(names = "--vocab", paramLabel = "V", defaultValue = "30522",
            description = "Token ids are taken modulo this. Default: ${DEFAULT-VALUE}.")
    int vocab;

    @Option(names = "--output", paramLabel = "NAME",
            description = "An output to compute (repeatable). Default: all of them.")
    List<String> outputs = new ArrayList<>();

    @Option(names = "--warmup-runs", paramLabel = "N", defaultValue = "2", description = "Untimed runs first. Default: ${DEFAULT-VALUE}.")
    int warmupRuns;

    @Option(names = "--runs", paramLabel = "N", description = "Timed runs: exactly this many.")
    Integer runs;

    @Option(names = "--seconds", paramLabel = "S", defaultValue = "10",
            description = "Timed runs for this long, at least one (when --runs is not given). Default: ${DEFAULT-VALUE}.")
    double seconds;

    @Option(names = "--write-json", paramLabel = "FILE",
            description = "Write the inputs as a v2 JSON request body to FILE and exit without running.")
    Path writeJson;

    @Option(names = "--allow-spinning", description = "Let ORT's idle pool threads spin (Serval's --allow-spinning).")
    boolean allowSpinning;

    public static void main(String[] args) {
        System.exit(new CommandLine(new TokenModelLimit()).execute(args));
    }

    @Override
    public Integer call() throws OrtException, IOException {
        if (!Files.isRegularFile(model)) {
            throw new ParameterException(spec.commandLine(), "--model " + model + " is not a file");
        }
        if (threads < 1 || batch < 1 || seq < 1 || vocab < 1 || warmupRuns < 0 || (runs != null && runs < 1)) {
            throw new ParameterException(spec.commandLine(),
                    "--threads, --batch, --seq, --vocab and --runs must be >= 1, --warmup-runs >= 0");
        }
        OrtEnvironment environment = OrtEnvironment.getEnvironment(OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR, "limit");
        try (SessionOptions options = InProcessLimit.servalSessionOptions(threads, allowSpinning);
             OrtSession session = environment.createSession(model.toString(), options)) {
            Set<String> wanted = new LinkedHashSet<>(outputs.isEmpty() ? session.getOutputNames() : outputs);
            if (!session.getOutputNames().containsAll(wanted)) {
                throw new ParameterException(spec.commandLine(), "--output " + outputs + ": the model's outputs are "
                        + session.getOutputNames());
            }
            Map<String, long[]> shapes = shapes(session);
            if (writeJson != null) {
                writeBody(session, shapes, wanted);
                System.err.printf(Locale.ROOT, "token-model-limit: wrote %s (%d bytes)%n", writeJson, Files.size(writeJson));
                return 0;
            }
            return measure(environment, session, shapes, wanted);
        }
    }

    private Map<String, long[]> shapes(OrtSession session) throws OrtException {
        Map<String, long[]> shapes = new LinkedHashMap<>();
        for (NodeInfo node : session.getInputInfo().values()) {
            if (!(node.getInfo() instanceof TensorInfo info)) {
                throw new ParameterException(spec.commandLine(), "input '" + node.getName() + "' is not a tensor");
            }
            long[] shape = info.getShape().clone();
            for (int d = 0; d < shape.length; d++) {
                if (shape[d] < 0) {
                    shape[d] = d == 0 ? batch : seq;
                }
            }
            shapes.put(node.getName(), shape);
        }
        return shapes;
    }

    private static long count(long[] shape) {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    /** Element i of integer input {@code name}. */
    private long intValue(String name, long i) {
        String lower = name.toLowerCase(Locale.ROOT);
        if (lower.contains("mask")) {
            return 1;
        }
        if (lower.contains("type")) {
            return 0;
        }
        return i * 7919 % vocab;
    }

    private static float floatValue(long i) { // as InProcessLimit and bench/make-bodies.py
        return (float) ((i * 7919 % 20001 - 10000) / 10000.0);
    }

    private int measure(OrtEnvironment environment, OrtSession session, Map<String, long[]> shapes, Set<String> wanted)
            throws OrtException {
        Map<String, OnnxTensor> feed = new LinkedHashMap<>();
        try {
            for (NodeInfo node : session.getInputInfo().values()) {
                feed.put(node.getName(), tensor(environment, node.getName(), ((TensorInfo) node.getInfo()).type,
                        shapes.get(node.getName())));
            }
            for (int i = 0; i < warmupRuns; i++) {
                runOnce(session, feed, wanted);
            }
            System.err.printf(Locale.ROOT, "token-model-limit: batch %d, %d warm-up runs done%n", batch, warmupRuns);
            Histogram histogram = new Histogram(TimeUnit.HOURS.toNanos(1), 3);
            long started = System.nanoTime();
            long deadline = started + (long) (seconds * 1e9);
            long done = 0;
            while (runs != null ? done < runs : done == 0 || System.nanoTime() < deadline) {
                long before = System.nanoTime();
                runOnce(session, feed, wanted);
                histogram.recordValue(System.nanoTime() - before);
                done++;
            }
            double elapsed = (System.nanoTime() - started) / 1e9;
            System.out.println(String.format(Locale.ROOT,
                    "{\"model\":\"%s\",\"threads\":%d,\"batch\":%d,\"seq\":%d,\"outputs\":\"%s\",\"runs\":%d,"
                            + "\"seconds\":%.3f,\"runs_per_s\":%.4f,\"items_per_s\":%.3f,\"ms_per_item_p50\":%.4f,"
                            + "\"ms_per_item_mean\":%.4f,\"min_ms\":%.3f,\"mean_ms\":%.3f,\"p50_ms\":%.3f,\"p90_ms\":%.3f,"
                            + "\"p99_ms\":%.3f,\"max_ms\":%.3f,\"p95_ms\":%.3f,\"p99_9_ms\":%.3f,\"ort\":\"%s\",\"jdk\":\"%s\"}",
                    model.toString().replace("\\", "\\\\").replace("\"", "\\\""), threads, batch, seq,
                    String.join(",", wanted), done, elapsed, done / elapsed, done * (double) batch / elapsed,
                    histogram.getValueAtPercentile(50) / 1e6 / batch, histogram.getMean() / 1e6 / batch,
                    histogram.getMinValue() / 1e6, histogram.getMean() / 1e6, histogram.getValueAtPercentile(50) / 1e6,
                    histogram.getValueAtPercentile(90) / 1e6, histogram.getValueAtPercentile(99) / 1e6,
                    histogram.getMaxValue() / 1e6, histogram.getValueAtPercentile(95) / 1e6,
                    histogram.getValueAtPercentile(99.9) / 1e6, environment.getVersion(), Runtime.version()));
        } finally {
            feed.values().forEach(OnnxTensor::close);
        }
        return 0;
    }

    private static void runOnce(OrtSession session, Map<String, OnnxTensor> feed, Set<String> wanted)
            throws OrtException {
        try (OrtSession.Result result = session.run(feed, wanted)) {
            if (result.size() != wanted.size()) {
                throw new IllegalStateException("the model returned " + result.size() + " outputs, not " + wanted.size());
            }
        }
    }

    private OnnxTensor tensor(OrtEnvironment environment, String name, OnnxJavaType type, long[] shape)
            throws OrtException {
        int n = Math.toIntExact(count(shape));
        return switch (type) {
            case INT64 -> {
                ByteBuffer bytes = ByteBuffer.allocateDirect(Math.multiplyExact(n, Long.BYTES)).order(ByteOrder.nativeOrder());
                for (int i = 0; i < n; i++) {
                    bytes.putLong(i * Long.BYTES, intValue(name, i));
                }
                yield OnnxTensor.createTensor(environment, bytes.asLongBuffer(), shape);
            }
            case INT32 -> {
                ByteBuffer bytes = ByteBuffer.allocateDirect(Math.multiplyExact(n, Integer.BYTES)).order(ByteOrder.nativeOrder());
                for (int i = 0; i < n; i++) {
                    bytes.putInt(i * Integer.BYTES, (int) intValue(name, i));
                }
                yield OnnxTensor.createTensor(environment, bytes.asIntBuffer(), shape);
            }
            case FLOAT -> {
                ByteBuffer bytes = ByteBuffer.allocateDirect(Math.multiplyExact(n, Float.BYTES)).order(ByteOrder.nativeOrder());
                for (int i = 0; i < n; i++) {
                    bytes.putFloat(i * Float.BYTES, floatValue(i));
                }
                yield OnnxTensor.createTensor(environment, bytes.asFloatBuffer(), shape);
            }
            default -> throw new ParameterException(spec.commandLine(), "input '" + name + "' has element type " + type
                    + "; this limit fills INT64, INT32 and FLOAT inputs");
        };
    }

    /** The v2 JSON body of the same tensors: {"inputs":[...],"outputs":[{"name":...}]}. */
    private void writeBody(OrtSession session, Map<String, long[]> shapes, Set<String> wanted)
            throws OrtException, IOException {
        try (Writer out = Files.newBufferedWriter(writeJson, StandardCharsets.US_ASCII)) {
            out.write("{\"inputs\":[");
            boolean firstInput = true;
            for (NodeInfo node : session.getInputInfo().values()) {
                String name = node.getName();
                OnnxJavaType type = ((TensorInfo) node.getInfo()).type;
                long[] shape = shapes.get(name);
                String datatype = switch (type) {
                    case INT64 -> "INT64";
                    case INT32 -> "INT32";
                    case FLOAT -> "FP32";
                    default -> throw new ParameterException(spec.commandLine(), "input '" + name + "' has type " + type);
                };
                out.write(firstInput ? "" : ",");
                firstInput = false;
                out.write("{\"name\":\"" + name + "\",\"shape\":[");
                for (int d = 0; d < shape.length; d++) {
                    out.write((d == 0 ? "" : ",") + shape[d]);
                }
                out.write("],\"datatype\":\"" + datatype + "\",\"data\":[");
                long n = count(shape);
                for (long i = 0; i < n; i++) {
                    if (i > 0) {
                        out.write(',');
                    }
                    out.write(type == OnnxJavaType.FLOAT ? String.format(Locale.ROOT, "%.4f", floatValue(i))
                            : Long.toString(intValue(name, i)));
                }
                out.write("]}");
            }
            out.write("],\"outputs\":[");
            boolean firstOutput = true;
            for (String name : wanted) {
                out.write((firstOutput ? "" : ",") + "{\"name\":\"" + name + "\"}");
                firstOutput = false;
            }
            out.write("]}");
        }
    }
}
