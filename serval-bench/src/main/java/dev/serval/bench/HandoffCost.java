package dev.serval.bench;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtLoggingLevel;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.OrtSession.SessionOptions;
import dev.serval.api.Tensor;
import dev.serval.api.TensorSpec;
import dev.serval.runtime.ModelSession;
import dev.serval.runtime.RunControl;
import dev.serval.schedule.Job;
import dev.serval.schedule.ModelScheduler;
import dev.serval.schedule.SchedulerMetrics;
import dev.serval.schedule.SchedulerSettings;
import dev.serval.schedule.ServalThreads;
import dev.serval.schedule.Ticker;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.LongAdder;
import java.util.stream.Stream;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * What Serval's hand-off from request threads to a model's own platform thread costs, with no
 * HTTP in the way: C virtual threads run a small model in a closed loop by calling ORT themselves
 * (inline; the carrier is pinned for the length of the run), or by submitting each run to a
 * {@link ModelScheduler} (batching off) and joining it, with its inline runs off (every run handed to
 * the instance thread) or on (Serval's default: a short run finding the instance free runs in the
 * submitting thread).
 *
 * <p>Design note: this isolates a cost the iris benchmark cannot separate from Helidon and JSON.
 * Run it pinned to one core ({@code taskset -c 0}) to match a server pinned there: the JVM then
 * sees one CPU, and the virtual-thread scheduler, like the server's, has one carrier. Modes
 * alternate (inline, executor, inline ...) for {@code --rounds} rounds; each round prints one
 * JSON line with runs/s, process CPU per run and context switches per run (all threads, from
 * /proc/self/task/{@literal *}/status).
 */
@Command(name = "handoff-cost", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Measures Serval's request-thread -> model-thread hand-off against running the model inline.")
public final class HandoffCost implements Callable<Integer> {
    @Option(names = "--model", paramLabel = "FILE", required = true, description = "A model.onnx with one FP32 input whose only variable dimension is the first (the batch).")
    Path model;

    @Option(names = "--clients", paramLabel = "C", defaultValue = "10", description = "Virtual threads in a closed loop. Default: ${DEFAULT-VALUE}.")
    int clients;

    @Option(names = "--seconds", paramLabel = "S", defaultValue = "3", description = "Length of each round. Default: ${DEFAULT-VALUE}.")
    double seconds;

    @Option(names = "--rounds", paramLabel = "N", defaultValue = "3", description = "Rounds per mode. Default: ${DEFAULT-VALUE}.")
    int rounds;

    public static void main(String[] args) {
        System.exit(new CommandLine(new HandoffCost()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        OrtEnvironment environment = OrtEnvironment.getEnvironment(OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR, "handoff");
        try (SessionOptions options = new SessionOptions()) {
            // Serval's options with one intra-op thread (OnnxBackend, --threads 1).
            options.setIntraOpNumThreads(1);
            options.setInterOpNumThreads(1);
            options.setExecutionMode(SessionOptions.ExecutionMode.SEQUENTIAL);
            options.setOptimizationLevel(SessionOptions.OptLevel.ALL_OPT);
            options.addConfigEntry("session.intra_op.allow_spinning", "0");
            options.addConfigEntry("session.inter_op.allow_spinning", "0");
            try (OrtSession session = environment.createSession(model.toString(), options)) {
                String input = session.getInputNames().iterator().next();
                long[] shape = ((ai.onnxruntime.TensorInfo) session.getInputInfo().get(input).getInfo()).getShape();
                shape[0] = 1;
                int n = 1;
                for (long dimension : shape) {
                    n = Math.multiplyExact(n, (int) dimension);
                }
                ByteBuffer bytes = ByteBuffer.allocateDirect(n * Float.BYTES).order(ByteOrder.nativeOrder());
                for (int i = 0; i < n; i++) {
                    bytes.putFloat(i * Float.BYTES, InProcessLimit.floatValue(i));
                }
                try (OnnxTensor tensor = OnnxTensor.createTensor(environment, bytes.asFloatBuffer(), shape)) {
                    Map<String, OnnxTensor> feed = Map.of(input, tensor);
                    Runnable run = () -> {
                        try (OrtSession.Result ignored = session.run(feed)) {
                            // outputs dropped: the hand-off is what is measured
                        } catch (OrtException e) {
                            throw new IllegalStateException(e);
                        }
                    };
                    ScheduledThreadPoolExecutor timer = new ScheduledThreadPoolExecutor(1);
                    try (ModelScheduler executor = scheduler(run, timer, 0);
                         ModelScheduler inlining = scheduler(run, timer, SchedulerSettings.DEFAULT_INLINE_RUN_LIMIT_NANOS)) {
                        timer.shutdown(); // no deadlines here: the timer is never used
                        round("warmup-inline", run, null, 2);
                        round("warmup-executor", run, executor, 2);
                        round("warmup-scheduler-inline", run, inlining, 2);
                        for (int r = 1; r <= rounds; r++) {
                            System.out.println(round("inline", run, null, seconds));
                            System.out.println(round("executor", run, executor, seconds));
                            System.out.println(round("scheduler-inline", run, inlining, seconds));
                        }
                    }
                }
            }
        }
        return 0;
    }

    /**
     * One instance, no batching; with {@code inlineLimitNanos} 0 every run is handed to the instance
     * thread, otherwise the scheduler runs it in the submitting thread whenever the instance is free.
     */
    private static ModelScheduler scheduler(Runnable run, ScheduledThreadPoolExecutor timer, long inlineLimitNanos) {
        return new ModelScheduler("handoff", new RunnableSession(run),
                new SchedulerSettings(1, 0, 0, List.of(), 1024, 1, false, 1, inlineLimitNanos), Ticker.SYSTEM,
                ServalThreads.platform("handoff-model"), timer, SchedulerMetrics.NONE);
    }

    /** A session whose run is the given runnable: the scheduler's hand-off around a real ORT call. */
    private record RunnableSession(Runnable run) implements ModelSession {
        @Override
        public List<TensorSpec> inputs() {
            return List.of();
        }

        @Override
        public List<TensorSpec> outputs() {
            return List.of();
        }

        @Override
        public List<Tensor> run(List<Tensor> inputs, List<String> outputNames, RunControl control) {
            run.run();
            return List.of();
        }

        @Override
        public void close() {
        }
    }

    private String round(String mode, Runnable run, ModelScheduler executor, double length) throws InterruptedException {
        LongAdder runs = new LongAdder();
        CountDownLatch done = new CountDownLatch(clients);
        long cpuBefore = processCpuNanos();
        long switchesBefore = contextSwitches();
        long start = System.nanoTime();
        long deadline = start + (long) (length * 1e9);
        List<Thread> threads = new ArrayList<>();
        for (int c = 0; c < clients; c++) {
            threads.add(Thread.ofVirtual().name("client-" + c).start(() -> {
                try {
                    while (System.nanoTime() < deadline) {
                        if (executor == null) {
                            run.run();
                        } else {
                            executor.submit(null, List.of(), List.of(), 1, 0, Job.NO_DEADLINE).result().join();
                        }
                        runs.increment();
                    }
                } finally {
                    done.countDown();
                }
            }));
        }
        done.await();
        double elapsed = (System.nanoTime() - start) / 1e9;
        long cpu = processCpuNanos() - cpuBefore;
        long switches = contextSwitches() - switchesBefore;
        long total = runs.sum();
        return String.format(Locale.ROOT,
                "{\"mode\":\"%s\",\"clients\":%d,\"runs\":%d,\"runs_per_s\":%.0f,\"cpu_us_per_run\":%.2f,"
                        + "\"context_switches_per_run\":%.2f,\"cpus\":%d}",
                mode, clients, total, total / elapsed, cpu / 1e3 / total, switches / (double) total,
                Runtime.getRuntime().availableProcessors());
    }

    private static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }

    /** Voluntary + involuntary context switches of this process's live threads (Linux). */
    private static long contextSwitches() {
        long sum = 0;
        try (Stream<Path> tasks = Files.list(Path.of("/proc/self/task"))) {
            for (Path task : tasks.toList()) {
                try {
                    for (String line : Files.readAllLines(task.resolve("status"))) {
                        if (line.startsWith("voluntary_ctxt_switches:") || line.startsWith("nonvoluntary_ctxt_switches:")) {
                            sum += Long.parseLong(line.substring(line.indexOf(':') + 1).trim());
                        }
                    }
                } catch (IOException e) {
                    // the thread ended while being read
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return sum;
    }
}
