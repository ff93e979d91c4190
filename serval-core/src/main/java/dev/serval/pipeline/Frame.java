package dev.serval.pipeline;

import dev.serval.api.DataType;
import dev.serval.api.Tensor;
import dev.serval.features.Feature;
import dev.serval.features.Lookup;
import java.nio.ByteBuffer;
import java.util.List;

/**
 * What the columns of one request read: its inputs (one element per row) and its looked-up
 * features. Reads the buffers by absolute index, so nothing is copied or boxed. Confined to the
 * request's thread.
 */
final class Frame {
    private final ByteBuffer[] buffers;
    private final float[] features;

    /**
     * @param inputs  the request's inputs in the pipeline's order; BYTES ones are never read here
     * @param lookup  the features of each row's entity, or null when the pipeline looks none up
     */
    Frame(List<Tensor> inputs, Lookup lookup) {
        this.buffers = new ByteBuffer[inputs.size()];
        for (int i = 0; i < buffers.length; i++) {
            Tensor input = inputs.get(i);
            buffers[i] = input.type() == DataType.BYTES ? null : input.buffer();
        }
        this.features = lookup == null ? null : lookup.values();
    }

    double input(int index, DataType type, int row) {
        ByteBuffer buffer = buffers[index];
        return switch (type) {
            case FP32 -> buffer.getFloat(row * Float.BYTES);
            case FP64 -> buffer.getDouble(row * Double.BYTES);
            case INT32 -> buffer.getInt(row * Integer.BYTES);
            case INT64 -> buffer.getLong(row * Long.BYTES);
            default -> throw new IllegalStateException("column input of type " + type);
        };
    }

    double feature(int row, Feature feature) {
        return features[row * Lookup.WIDTH + feature.ordinal()];
    }
}
