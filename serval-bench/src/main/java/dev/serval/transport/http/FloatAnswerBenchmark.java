package dev.serval.transport.http;

import dev.serval.api.DataType;
import dev.serval.api.InferenceResponse;
import dev.serval.api.Parameters;
import dev.serval.api.Tensor;
import dev.serval.api.TensorData;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * One JSON answer of {@value #FLOATS} FP32 elements (as many as the 200 MB encoder bench model
 * answers: {@code last_hidden_state} [1, 128, 768] and {@code pooled} [1, 768]), written through the
 * server's own Jackson factory and buffer pool
 * ({@link JsonResponseEncoder#write}):
 * <ul>
 *   <li>{@code writeNumber}: Jackson's {@code writeNumber(float)} per element, as the encoder did
 *       before {@link FloatText} (a {@code String} per element);</li>
 *   <li>{@code floatText}: {@link FloatText} into one scratch array, then {@code writeRawValue};</li>
 *   <li>{@code inference}: the encoder's whole answer, {@link JsonResponseEncoder#inference};</li>
 *   <li>{@code toStringOnly} and {@code floatTextOnly}: the text alone, without Jackson.</li>
 * </ul>
 * One operation is one answer: divide by {@value #FLOATS} for ns per float; with {@code -prof gc},
 * {@code gc.alloc.rate.norm} is the bytes allocated per answer (the answer's own bytes included).
 * The values are seeded Gaussians with a few larger outliers, as activations are.
 *
 * <p>It lives in the encoder's package, in this module, because both classes are package-private:
 * benchmarking them here keeps the server's public surface unchanged.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class FloatAnswerBenchmark {
    static final int FLOATS = 99_072;
    private static final int SIZE_HINT = 256 + FLOATS * 12;

    private float[] values;
    private InferenceResponse response;

    @Setup
    public void prepare() {
        SplittableRandom random = new SplittableRandom(20261207);
        values = new float[FLOATS];
        ByteBuffer buffer = ByteBuffer.allocate(FLOATS * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < FLOATS; i++) {
            double gaussian = nextGaussian(random);
            values[i] = (float) (random.nextInt(100) == 0 ? 8 * gaussian : 0.6 * gaussian);
            buffer.putFloat(values[i]);
        }
        Tensor output = new Tensor("last_hidden_state", DataType.FP32, new long[] {1, 129, 768},
                new TensorData.FixedWidth(buffer.clear()));
        response = new InferenceResponse("encoder", "1", null, Parameters.empty(), List.of(output));
    }

    private static double nextGaussian(SplittableRandom random) {
        double u = random.nextDouble();
        double v = random.nextDouble();
        return Math.sqrt(-2 * Math.log1p(-u)) * Math.cos(2 * Math.PI * v);
    }

    @Benchmark
    public byte[] writeNumber() {
        return JsonResponseEncoder.write(SIZE_HINT, json -> {
            json.writeStartArray();
            for (float value : values) {
                json.writeNumber(value);
            }
            json.writeEndArray();
        });
    }

    @Benchmark
    public byte[] floatText() {
        return JsonResponseEncoder.write(SIZE_HINT, json -> {
            char[] scratch = new char[FloatText.MAX_CHARS];
            json.writeStartArray();
            for (float value : values) {
                json.writeRawValue(scratch, 0, FloatText.write(value, scratch, 0));
            }
            json.writeEndArray();
        });
    }

    /** {@code Float.toString} alone over the answer's floats (what {@code writeNumber} formats with). */
    @Benchmark
    public int toStringOnly() {
        int sum = 0;
        for (float value : values) {
            String text = Float.toString(value);
            sum += text.length() + text.charAt(text.length() - 1);
        }
        return sum;
    }

    /** {@link FloatText} alone over the answer's floats. */
    @Benchmark
    public int floatTextOnly() {
        char[] scratch = new char[FloatText.MAX_CHARS];
        int sum = 0;
        for (float value : values) {
            int end = FloatText.write(value, scratch, 0);
            sum += end + scratch[end - 1];
        }
        return sum;
    }

    @Benchmark
    public byte[] inference() {
        return JsonResponseEncoder.inference(response);
    }
}
