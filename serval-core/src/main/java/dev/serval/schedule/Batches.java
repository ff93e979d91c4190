package dev.serval.schedule;

import dev.serval.api.BufferPool;
import dev.serval.api.DataType;
import dev.serval.api.ServalException;
import dev.serval.api.Shapes;
import dev.serval.api.Tensor;
import dev.serval.api.TensorData;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Stacks the inputs of several requests along the batch dimension into one pooled direct buffer
 * per input (the caller releases them after the run), and splits a run's outputs back, row ranges
 * in the same order. Splitting makes views, not copies.
 */
final class Batches {
    private Batches() {
    }

    /** One tensor per input holding every job's rows, in job order. */
    static List<Tensor> concat(List<Job> jobs) {
        Job first = jobs.get(0);
        int rows = 0;
        for (Job job : jobs) {
            rows += job.rows;
        }
        List<Tensor> stacked = new ArrayList<>(first.inputs.size());
        for (int i = 0; i < first.inputs.size(); i++) {
            Tensor model = first.inputs.get(i);
            long[] shape = model.shape().clone();
            shape[0] = rows;
            if (model.type() == DataType.BYTES) {
                byte[][] elements = new byte[Math.toIntExact(Shapes.elementCount(shape))][];
                int at = 0;
                for (Job job : jobs) {
                    byte[][] part = job.inputs.get(i).bytesElements();
                    System.arraycopy(part, 0, elements, at, part.length);
                    at += part.length;
                }
                stacked.add(new Tensor(model.name(), model.type(), shape, new TensorData.Bytes(elements)));
                continue;
            }
            int bytes = 0;
            for (Job job : jobs) {
                bytes += job.inputs.get(i).buffer().limit();
            }
            ByteBuffer buffer = BufferPool.SHARED.acquire(bytes);
            for (Job job : jobs) {
                buffer.put(job.inputs.get(i).buffer().duplicate().position(0));
            }
            stacked.add(new Tensor(model.name(), model.type(), shape, new TensorData.FixedWidth(buffer.flip(), true)));
        }
        return stacked;
    }

    /**
     * Each job's share of the outputs: rows in job order.
     *
     * @throws ServalException INTERNAL if an output's first dimension is not the batch's row count
     */
    static List<List<Tensor>> split(List<Job> jobs, List<Tensor> outputs) {
        int rows = 0;
        for (Job job : jobs) {
            rows += job.rows;
        }
        List<List<Tensor>> shares = new ArrayList<>(jobs.size());
        for (int j = 0; j < jobs.size(); j++) {
            shares.add(new ArrayList<>(outputs.size()));
        }
        for (Tensor output : outputs) {
            long[] shape = output.shape();
            if (shape.length == 0 || shape[0] != rows) {
                throw ServalException.internal("output '" + output.name() + "' has shape " + Shapes.format(shape)
                        + ", which does not start with the batch's " + rows + " rows", null);
            }
            long perRow = rows == 0 ? 0 : output.elementCount() / rows;
            int start = 0;
            for (int j = 0; j < jobs.size(); j++) {
                int count = jobs.get(j).rows;
                long[] part = shape.clone();
                part[0] = count;
                shares.get(j).add(slice(output, part, start * perRow, count * perRow));
                start += count;
            }
        }
        return shares;
    }

    private static Tensor slice(Tensor tensor, long[] shape, long fromElement, long elements) {
        if (tensor.type() == DataType.BYTES) {
            byte[][] part = Arrays.copyOfRange(tensor.bytesElements(), (int) fromElement, (int) (fromElement + elements));
            return new Tensor(tensor.name(), tensor.type(), shape, new TensorData.Bytes(part));
        }
        int size = tensor.type().byteSize();
        ByteBuffer view = tensor.buffer().slice((int) (fromElement * size), (int) (elements * size))
                .order(ByteOrder.LITTLE_ENDIAN);
        return new Tensor(tensor.name(), tensor.type(), shape, new TensorData.FixedWidth(view));
    }
}
