package dev.serval.model;

import dev.serval.api.DataType;
import dev.serval.api.ServalException;
import dev.serval.api.Tensor;
import dev.serval.api.TensorData;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Triton's classification extension: an output asked for with {@code "classification": k} comes
 * back as the top k classes along its last dimension, each a BYTES element
 * {@code "score:index:label"} (the label only when the model has a labels file), best first.
 */
final class Classification {
    /** The requested-output parameter that asks for top-k classes. */
    static final String PARAMETER = "classification";

    private Classification() {
    }

    /** Checks the parameter's value before the model runs. */
    static int topK(String output, long requested) {
        if (requested < 1 || requested > 1_000_000) {
            throw ServalException.invalidArgument(
                    "output '%s' has classification %d; expected a class count from 1 to 1000000", output, requested);
        }
        return (int) requested;
    }

    static Tensor apply(Tensor scores, int k, List<String> labels) {
        if (scores.type() != DataType.FP32 && scores.type() != DataType.FP64) {
            throw ServalException.invalidArgument(
                    "output '%s' is %s; classification needs FP32 or FP64 scores", scores.name(), scores.type());
        }
        long[] shape = scores.shape();
        if (shape.length == 0) {
            throw ServalException.invalidArgument("output '%s' is a scalar; classification needs a class dimension",
                    scores.name());
        }
        int classes = (int) shape[shape.length - 1];
        int top = Math.min(k, classes);
        int rows = classes == 0 ? 0 : (int) (scores.elementCount() / classes);
        ByteBuffer buffer = scores.buffer();
        boolean doubles = scores.type() == DataType.FP64;
        byte[][] out = new byte[rows * top][];
        int[] order = new int[classes];
        for (int row = 0; row < rows; row++) {
            int base = row * classes;
            for (int c = 0; c < classes; c++) {
                order[c] = c;
            }
            // Partial selection sort: k is small, classes are usually few.
            for (int i = 0; i < top; i++) {
                int best = i;
                for (int j = i + 1; j < classes; j++) {
                    if (ranksBefore(buffer, doubles, base, order[j], order[best])) {
                        best = j;
                    }
                }
                int swap = order[i];
                order[i] = order[best];
                order[best] = swap;
                double value = score(buffer, doubles, base + order[i]);
                String text = (doubles ? Double.toString(value) : Float.toString((float) value)) + ":" + order[i];
                if (order[i] < labels.size()) {
                    text += ":" + labels.get(order[i]);
                }
                out[row * top + i] = text.getBytes(StandardCharsets.UTF_8);
            }
        }
        long[] outShape = shape.clone();
        outShape[outShape.length - 1] = top;
        return new Tensor(scores.name(), DataType.BYTES, outShape, new TensorData.Bytes(out));
    }

    /**
     * Higher scores first; equal scores by lower class index; NaN after every number, so where a
     * NaN sits never changes the answer.
     */
    private static boolean ranksBefore(ByteBuffer buffer, boolean doubles, int base, int a, int b) {
        double x = score(buffer, doubles, base + a);
        double y = score(buffer, doubles, base + b);
        if (Double.isNaN(x) || Double.isNaN(y)) {
            return Double.isNaN(x) == Double.isNaN(y) ? a < b : !Double.isNaN(x);
        }
        return x > y || (x == y && a < b);
    }

    private static double score(ByteBuffer buffer, boolean doubles, int index) {
        return doubles ? buffer.getDouble(index * 8) : buffer.getFloat(index * 4);
    }
}
