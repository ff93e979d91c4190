package dev.serval.testing;

import dev.serval.api.DataType;
import dev.serval.api.Tensor;
import dev.serval.api.TensorSpec;
import dev.serval.runtime.ModelLoadException;
import dev.serval.runtime.ModelRuntime;
import dev.serval.runtime.ModelSession;
import dev.serval.runtime.RunControl;
import dev.serval.runtime.SessionSettings;
import dev.serval.runtime.onnx.OnnxBackend;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * ONNX Runtime with a gate in front of each model's runs: while a model's gate is closed its runs
 * wait (so its requests pile up in the queue exactly as under load), and every run is recorded.
 * Tests pace the server with this instead of sleeping.
 */
public final class GatedRuntime implements ModelRuntime {
    /**
     * One run as the runtime saw it.
     *
     * @param model      the model's folder name
     * @param rows       the first dimension of the first input
     * @param firstValue the first element of the first input, when FP32 (tests tag requests with it)
     */
    public record Run(String model, long rows, double firstValue) {
    }

    private record Gate(CountDownLatch open, CountDownLatch blocked) {
    }

    private final OnnxBackend onnx = new OnnxBackend();
    private final Map<String, Gate> gates = new ConcurrentHashMap<>();
    private final ConcurrentLinkedQueue<Run> runs = new ConcurrentLinkedQueue<>();
    private final AtomicInteger opened = new AtomicInteger();

    /** Runs of {@code model} from now on wait until {@link #open(String)}. */
    public void close(String model) {
        gates.put(model, new Gate(new CountDownLatch(1), new CountDownLatch(1)));
    }

    /** Lets the model's waiting and future runs through. */
    public void open(String model) {
        Gate gate = gates.remove(model);
        if (gate != null) {
            gate.open().countDown();
        }
    }

    /** Waits until a run of {@code model} is held at its closed gate. */
    public void awaitBlocked(String model) throws InterruptedException {
        Gate gate = gates.get(model);
        if (gate == null || !gate.blocked().await(30, TimeUnit.SECONDS)) {
            throw new AssertionError("no run of " + model + " reached its gate");
        }
    }

    /** Sessions opened so far, of every model. */
    public int opened() {
        return opened.get();
    }

    /** The runs of {@code model} so far, in the order they started. */
    public List<Run> runs(String model) {
        return runs.stream().filter(run -> run.model().equals(model)).toList();
    }

    @Override
    public String platform() {
        return onnx.platform();
    }

    @Override
    public ModelSession open(Path modelFile, SessionSettings settings) throws ModelLoadException {
        ModelSession session = onnx.open(modelFile, settings);
        opened.incrementAndGet();
        String model = modelFile.getParent().getParent().getFileName().toString();
        return new ModelSession() {
            @Override
            public List<TensorSpec> inputs() {
                return session.inputs();
            }

            @Override
            public List<TensorSpec> outputs() {
                return session.outputs();
            }

            @Override
            public List<Tensor> run(List<Tensor> inputs, List<String> outputNames, RunControl control) {
                Tensor first = inputs.get(0);
                long rows = first.shape().length == 0 ? 1 : first.shape()[0];
                double tag = first.type() == DataType.FP32 && first.elementCount() > 0 ? first.buffer().getFloat(0) : Double.NaN;
                runs.add(new Run(model, rows, tag));
                Gate gate = gates.get(model);
                if (gate != null) {
                    gate.blocked().countDown();
                    try {
                        gate.open().await();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new IllegalStateException(e);
                    }
                }
                return session.run(inputs, outputNames, control);
            }

            @Override
            public void close() {
                session.close();
            }
        };
    }

    @Override
    public void close() {
        gates.keySet().forEach(this::open);
        onnx.close();
    }
}
