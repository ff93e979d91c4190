package dev.serval.bench;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtLoggingLevel;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.OrtSession.SessionOptions;
import ai.onnxruntime.TensorInfo;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.HdrHistogram.Histogram;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * The in-process limit: a model run by ONNX Runtime in a loop on one platform thread, with the
 * session options Serval uses, timed run by run. No server can beat this; serving overhead is
 * measured against it (PERFORMANCE.md, "The peers and the limit").
 *
 * <p>Design note: the limit must be honest, so it calls ORT's Java API directly rather than
 * Serval's runtime layer (which would put Serval code on both sides of the comparison), with
 * exactly the options of {@code dev.serval.runtime.onnx.OnnxBackend}: intra-op threads N,
 * inter-op 1, sequential execution, all graph optimisations, spinning off. Inputs are built once
 * from deterministic values in direct native-order buffers that ORT reads in place, so a timed run
 * is {@code session.run} plus closing its result, nothing else. The values are those of
 * {@code bench/make-bodies.py} (FP32 element i = ((i * 7919) mod 20001 - 10000) / 10000), so the
 * limit and the served model compute on the same numbers.
 *
 * <p>Prints one JSON line on stdout; progress goes to stderr.
 */
@Command(name = "in-process-limit", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Runs an ONNX model in-process with Serval's session options and prints its speed as JSON.")
public final class InProcessLimit implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--model", paramLabel = "FILE", required = true, description = "The model.onnx to run.")
    Path model;

    @Option(names = "--threads", paramLabel = "N", defaultValue = "1",
            description = "Intra-op threads (the caller plus N-1 pool threads). Default: ${DEFAULT-VALUE}.")
    int threads;

    @Option(names = "--batch", paramLabel = "B", defaultValue = "1",
            description = "Replaces a dynamic first dimension of every input. Default: ${DEFAULT-VALUE}.")
    int batch;

    @Option(names = "--shape", paramLabel = "NAME=D0,D1,...",
            description = "Full shape for one input (repeatable); needed for dynamic dimensions other than the first.")
    Map<String, String> shapes = new LinkedHashMap<>();

    @Option(names = "--warmup-seconds", paramLabel = "S", defaultValue = "5",
            description = "Untimed runs for this long first (JIT, ORT's first runs). Default: ${DEFAULT-VALUE}.")
    double warmupSeconds;

    @Option(names = "--seconds", paramLabel = "S", defaultValue = "20",
            description = "Timed runs for this long. Default: ${DEFAULT-VALUE}.")
    double seconds;

    @Option(names = "--iterations", paramLabel = "N",
            description = "Timed runs: exactly this many (instead of --seconds).")
    Long iterations;

    @Option(names = "--allow-spinning", description = "Let ORT's idle pool threads spin (Serval's --allow-spinning).")
    boolean allowSpinning;

    @Option(names = "--rate", paramLabel = "R",
            description = "Open loop: start a run every 1/R s and time each from when it was due, so a late run "
                    + "also delays the ones queued behind it (the served open loop's measure, without a server). "
                    + "Default: back to back.")
    Double rate;

    public static void main(String[] args) {
        System.exit(new CommandLine(new InProcessLimit()).execute(args));
    }

    @Override
    public Integer call() throws OrtException {
        if (!Files.isRegularFile(model)) {
            throw new ParameterException(spec.commandLine(), "--model " + model + " is not a file");
        }
        if (threads < 1 || batch < 1) {
            throw new ParameterException(spec.commandLine(), "--threads and --batch must be >= 1");
        }
        if (rate != null && !(rate > 0 && rate <= 1e6)) {
            throw new ParameterException(spec.commandLine(), "--rate must be in (0, 1000000] runs per second, not " + rate);
        }
        try {
            return measure();
        } catch (IllegalArgumentException e) { // a shape that does not fit the model: the user's to fix
            throw new ParameterException(spec.commandLine(), e.getMessage(), e);
        }
    }

    private int measure() throws OrtException {
        OrtEnvironment environment = OrtEnvironment.getEnvironment(OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR, "limit");
        try (SessionOptions options = servalSessionOptions(threads, allowSpinning);
             OrtSession session = environment.createSession(model.toString(), options)) {
            Map<String, OnnxTensor> feed = inputs(environment, session);
            try {
                for (int i = 0; i < 3; i++) { // ORT's first runs allocate; keep them out of the warm-up's clock
                    runOnce(session, feed);
                }
                long period = rate == null ? 0 : Math.max(1, Math.round(1e9 / rate));
                long warmupRuns = loop(session, feed, null, seconds(warmupSeconds), Long.MAX_VALUE, period);
                System.err.printf(Locale.ROOT, "in-process-limit: warmed up with %d runs%n", warmupRuns + 3);
                Histogram histogram = new Histogram(TimeUnit.MINUTES.toNanos(10), 3);
                long started = System.nanoTime();
                long runs = iterations != null
                        ? loop(session, feed, histogram, Long.MAX_VALUE, iterations, period)
                        : loop(session, feed, histogram, seconds(seconds), Long.MAX_VALUE, period);
                double elapsed = (System.nanoTime() - started) / 1e9;
                System.out.println(report(runs, elapsed, histogram));
            } finally {
                feed.values().forEach(OnnxTensor::close);
            }
        }
        return 0;
    }

    /**
     * The options {@code OnnxBackend.open} sets, one for one, written again here on purpose: the
     * limit runs no Serval code. Every in-process tool of this module takes them from here.
     */
    public static SessionOptions servalSessionOptions(int threads, boolean allowSpinning) throws OrtException {
        SessionOptions options = new SessionOptions();
        options.setIntraOpNumThreads(threads);
        options.setInterOpNumThreads(1);
        options.setExecutionMode(SessionOptions.ExecutionMode.SEQUENTIAL);
        options.setOptimizationLevel(SessionOptions.OptLevel.ALL_OPT);
        options.addConfigEntry("session.intra_op.allow_spinning", allowSpinning ? "1" : "0");
        options.addConfigEntry("session.inter_op.allow_spinning", "0");
        return options;
    }

    private static long seconds(double s) {
        return (long) (s * 1e9);
    }

    /**
     * Runs until the time or the count is used up; returns the runs made. With a {@code period}
     * (nanoseconds, 0 for back to back) run i is due at start + i x period: it waits for that time
     * if early, and is timed from it, so the queueing a slow run causes is counted as the served
     * open loop counts it.
     */
    private static long loop(OrtSession session, Map<String, OnnxTensor> feed, Histogram histogram,
                             long nanos, long count, long period) throws OrtException {
        long start = System.nanoTime();
        long deadline = nanos == Long.MAX_VALUE ? Long.MAX_VALUE : start + nanos;
        long runs = 0;
        long now = start;
        while (runs < count && now < deadline) {
            long before = now;
            if (period > 0) {
                before = start + runs * period;
                for (long wait = before - now; wait > 0; wait = before - System.nanoTime()) {
                    LockSupport.parkNanos(wait);
                }
            }
            runOnce(session, feed);
            now = System.nanoTime();
            if (histogram != null) {
                histogram.recordValue(now - before);
            }
            runs++;
        }
        return runs;
    }

    private static void runOnce(OrtSession session, Map<String, OnnxTensor> feed) throws OrtException {
        try (OrtSession.Result result = session.run(feed)) {
            if (result.size() == 0) {
                throw new IllegalStateException("the model returned no outputs");
            }
        }
    }

    private Map<String, OnnxTensor> inputs(OrtEnvironment environment, OrtSession session) throws OrtException {
        Map<String, OnnxTensor> feed = new LinkedHashMap<>();
        try {
            for (NodeInfo node : session.getInputInfo().values()) {
                if (!(node.getInfo() instanceof TensorInfo info)) {
                    throw new IllegalArgumentException("input '" + node.getName() + "' is not a tensor: " + node.getInfo());
                }
                long[] shape = shapeOf(node.getName(), info);
                feed.put(node.getName(), tensor(environment, node.getName(), info.type, shape));
            }
        } catch (OrtException | RuntimeException e) {
            feed.values().forEach(OnnxTensor::close);
            throw e;
        }
        Map<String, String> unknown = new LinkedHashMap<>(shapes);
        unknown.keySet().removeAll(feed.keySet());
        if (!unknown.isEmpty()) {
            feed.values().forEach(OnnxTensor::close);
            throw new IllegalArgumentException("--shape names inputs the model does not have: " + unknown.keySet()
                    + "; its inputs are " + feed.keySet());
        }
        return feed;
    }

    private long[] shapeOf(String name, TensorInfo info) {
        long[] declared = info.getShape();
        String given = shapes.get(name);
        long[] shape;
        if (given != null) {
            shape = Arrays.stream(given.split(",")).map(String::trim).mapToLong(Long::parseLong).toArray();
            if (shape.length != declared.length) {
                throw new IllegalArgumentException("--shape " + name + "=" + given + " has " + shape.length
                        + " dimensions but the model expects " + Arrays.toString(declared));
            }
        } else {
            shape = declared.clone();
            if (shape.length > 0 && shape[0] < 0) {
                shape[0] = batch;
            }
        }
        for (int i = 0; i < shape.length; i++) {
            if (shape[i] < 0) {
                throw new IllegalArgumentException("input '" + name + "' has shape " + Arrays.toString(declared)
                        + " with dynamic dimension " + i + "; give its full shape with --shape " + name + "=...");
            }
            if (declared[i] >= 0 && shape[i] != declared[i]) {
                throw new IllegalArgumentException("--shape for '" + name + "' is " + Arrays.toString(shape)
                        + " but the model expects " + Arrays.toString(declared));
            }
        }
        return shape;
    }

    /** A deterministic tensor in a direct native-order buffer (read by ORT in place, no copy). */
    private static OnnxTensor tensor(OrtEnvironment environment, String name, OnnxJavaType type, long[] shape)
            throws OrtException {
        long count = 1;
        for (long d : shape) {
            count = Math.multiplyExact(count, d);
        }
        int n = Math.toIntExact(count);
        return switch (type) {
            case FLOAT -> {
                ByteBuffer bytes = ByteBuffer.allocateDirect(Math.multiplyExact(n, Float.BYTES)).order(ByteOrder.nativeOrder());
                for (int i = 0; i < n; i++) {
                    bytes.putFloat(i * Float.BYTES, floatValue(i));
                }
                yield OnnxTensor.createTensor(environment, bytes.asFloatBuffer(), shape);
            }
            case INT64 -> { // ids: small non-negative values, valid for any vocabulary of 100 or more
                ByteBuffer bytes = ByteBuffer.allocateDirect(Math.multiplyExact(n, Long.BYTES)).order(ByteOrder.nativeOrder());
                for (int i = 0; i < n; i++) {
                    bytes.putLong(i * Long.BYTES, i % 100);
                }
                yield OnnxTensor.createTensor(environment, bytes.asLongBuffer(), shape);
            }
            case INT32 -> {
                ByteBuffer bytes = ByteBuffer.allocateDirect(Math.multiplyExact(n, Integer.BYTES)).order(ByteOrder.nativeOrder());
                for (int i = 0; i < n; i++) {
                    bytes.putInt(i * Integer.BYTES, i % 100);
                }
                yield OnnxTensor.createTensor(environment, bytes.asIntBuffer(), shape);
            }
            default -> throw new IllegalArgumentException("input '" + name + "' has element type " + type
                    + "; the limit fills FLOAT, INT64 and INT32 inputs");
        };
    }

    /** Element i of every FP32 input; the same formula as bench/make-bodies.py (4 decimals in [-1, 1]). */
    static float floatValue(long i) {
        return (float) ((i * 7919 % 20001 - 10000) / 10000.0);
    }

    private String report(long runs, double elapsed, Histogram h) {
        return String.format(Locale.ROOT,
                "{\"model\":\"%s\",\"threads\":%d,\"batch\":%d,\"rate\":%s,\"runs\":%d,\"seconds\":%.3f,\"runs_per_s\":%.2f,"
                        + "\"items_per_s\":%.2f,\"min_ms\":%.3f,\"mean_ms\":%.3f,\"p50_ms\":%.3f,\"p90_ms\":%.3f,"
                        + "\"p99_ms\":%.3f,\"max_ms\":%.3f,\"p95_ms\":%.3f,\"p99_9_ms\":%.3f,\"ort\":\"%s\",\"jdk\":\"%s\"}",
                jsonEscape(model.toString()), threads, batch, rate == null ? "null" : rate.toString(), runs, elapsed, runs / elapsed, runs * (double) batch / elapsed,
                h.getMinValue() / 1e6, h.getMean() / 1e6, h.getValueAtPercentile(50) / 1e6,
                h.getValueAtPercentile(90) / 1e6, h.getValueAtPercentile(99) / 1e6, h.getMaxValue() / 1e6,
                h.getValueAtPercentile(95) / 1e6, h.getValueAtPercentile(99.9) / 1e6,
                OrtEnvironment.getEnvironment().getVersion(), jsonEscape(Runtime.version().toString()));
    }

    private static String jsonEscape(String s) {
        return s.replace("\\", "\\\\").replace("\"", "\\\"");
    }
}
