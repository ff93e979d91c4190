package dev.serval.schedule;

import static org.assertj.core.api.Assertions.fail;

import dev.serval.api.DataType;
import dev.serval.api.Tensor;
import dev.serval.api.TensorData;
import dev.serval.api.TensorSpec;
import dev.serval.runtime.ModelSession;
import dev.serval.runtime.RunControl;
import dev.serval.testing.TestTensors;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * A model session for scheduler tests: input {@code x} FP32 [-1,3]; outputs {@code y = x + 1}
 * ([-1,3]) and {@code s} = the sum of each row ([-1]), so that every request can check its own
 * answer after its rows went through a shared run.
 *
 * <p>Records every run (inputs, outputs asked for, the run control, the thread). A closed gate
 * holds every run that starts until it is opened; {@link #awaitRuns} waits until runs have started.
 */
public final class FakeSession implements ModelSession {
    /** One call of {@link #run}. */
    public record Run(List<Tensor> inputs, float[] x, List<String> outputs, RunControl control, Thread thread) {
        /** Rows in the batch dimension of the first input. */
        public int rows() {
            return (int) inputs.get(0).shape()[0];
        }
    }

    /** What a run does once it is let through the gate. */
    @FunctionalInterface
    public interface Behaviour {
        List<Tensor> run(List<Tensor> inputs, List<String> outputs, RunControl control) throws Exception;
    }

    private final List<TensorSpec> inputs;
    private final List<TensorSpec> outputs;
    private final List<Run> runs = new CopyOnWriteArrayList<>();
    private final Semaphore started = new Semaphore(0);
    private volatile CountDownLatch gate;
    private volatile Behaviour behaviour = FakeSession::addOne;
    private volatile boolean closed;

    public FakeSession() {
        this(List.of(new TensorSpec("x", DataType.FP32, new long[] {-1, 3})),
                List.of(new TensorSpec("y", DataType.FP32, new long[] {-1, 3}),
                        new TensorSpec("s", DataType.FP32, new long[] {-1})));
    }

    public FakeSession(List<TensorSpec> inputs, List<TensorSpec> outputs) {
        this.inputs = inputs;
        this.outputs = outputs;
    }

    @Override
    public List<TensorSpec> inputs() {
        return inputs;
    }

    @Override
    public List<TensorSpec> outputs() {
        return outputs;
    }

    /**
     * Runs that start from now on wait until {@link #openGate()}; {@link #awaitRuns} counts from
     * here. Call it while no run is in progress.
     */
    public void closeGate() {
        gate = new CountDownLatch(1);
        started.drainPermits();
    }

    /** Lets every held run (and every later one) through. */
    public void openGate() {
        CountDownLatch held = gate;
        gate = null;
        if (held != null) {
            held.countDown();
        }
    }

    /** What runs that start from now on do (runs already held at the gate keep theirs). */
    public void behaviour(Behaviour behaviour) {
        this.behaviour = behaviour;
    }

    /** Waits until {@code count} more runs have started (since the last {@link #closeGate()}). */
    public void awaitRuns(int count) {
        try {
            if (!started.tryAcquire(count, 30, TimeUnit.SECONDS)) {
                fail("expected " + count + " more run(s) to start; runs so far: " + runs.size());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    public List<Run> runs() {
        return List.copyOf(runs);
    }

    public boolean isClosed() {
        return closed;
    }

    @Override
    public List<Tensor> run(List<Tensor> in, List<String> outputNames, RunControl control) {
        float[] x = in.get(0).type() == DataType.FP32 ? TestTensors.floats(in.get(0)) : new float[0];
        Behaviour chosen = behaviour; // the behaviour when the run starts, even if it is held
        runs.add(new Run(List.copyOf(in), x, List.copyOf(outputNames), control, Thread.currentThread()));
        started.release();
        CountDownLatch held = gate;
        if (held != null) {
            try {
                if (!held.await(60, TimeUnit.SECONDS)) {
                    throw new IllegalStateException("the test never opened the gate");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }
        try {
            return chosen.run(in, outputNames, control);
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** y = x + 1 and s = row sums, for whichever of them are asked for, in the order asked. */
    public static List<Tensor> addOne(List<Tensor> in, List<String> outputNames, RunControl control) {
        Tensor x = in.get(0);
        int rows = (int) x.shape()[0];
        int width = rows == 0 ? 0 : (int) (x.elementCount() / rows);
        float[] values = TestTensors.floats(x);
        List<Tensor> out = new ArrayList<>(outputNames.size());
        for (String name : outputNames) {
            if (name.equals("y")) {
                ByteBuffer y = TestTensors.littleHeap(values.length * 4);
                for (int i = 0; i < values.length; i++) {
                    y.putFloat(i * 4, values[i] + 1);
                }
                out.add(new Tensor("y", DataType.FP32, x.shape().clone(), new TensorData.FixedWidth(y)));
            } else if (name.equals("s")) {
                ByteBuffer s = TestTensors.littleHeap(rows * 4);
                for (int r = 0; r < rows; r++) {
                    float sum = 0;
                    for (int c = 0; c < width; c++) {
                        sum += values[r * width + c];
                    }
                    s.putFloat(r * 4, sum);
                }
                out.add(new Tensor("s", DataType.FP32, new long[] {rows}, new TensorData.FixedWidth(s)));
            } else {
                throw new IllegalArgumentException("unknown output " + name);
            }
        }
        return out;
    }

    /** An x input of {@code values.length / 3} rows. */
    public static Tensor x(float... values) {
        return TestTensors.fp32("x", new long[] {values.length / 3, 3}, values);
    }

    /** Rows of x, each row {@code base + row*10 + column}, so every request's values are its own. */
    public static Tensor rows(float base, int rows) {
        float[] values = new float[rows * 3];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < 3; c++) {
                values[r * 3 + c] = base + r * 10 + c;
            }
        }
        return x(values);
    }

    @Override
    public void close() {
        closed = true;
    }
}
