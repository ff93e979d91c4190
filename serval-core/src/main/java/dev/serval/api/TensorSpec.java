package dev.serval.api;

/**
 * What a model declares for one input or output: name, element type and shape, where -1 marks a
 * dimension of any size.
 *
 * @param dimensionNames the symbolic name of each variable dimension (null where fixed or
 *                       unnamed); inputs that share a name must agree on its size
 */
public record TensorSpec(String name, DataType type, long[] shape, String[] dimensionNames) {

    public TensorSpec {
        if (dimensionNames.length != shape.length) {
            throw new IllegalArgumentException("one dimension name per dimension");
        }
    }

    public TensorSpec(String name, DataType type, long[] shape) {
        this(name, type, shape, new String[shape.length]);
    }

    /** True when the first dimension is variable, the usual sign of a batch dimension. */
    public boolean hasVariableFirstDimension() {
        return shape.length > 0 && shape[0] < 0;
    }

    /** True when {@code actual} has the same rank and agrees on every fixed dimension. */
    public boolean accepts(long[] actual) {
        if (actual.length != shape.length) {
            return false;
        }
        for (int i = 0; i < shape.length; i++) {
            if (shape[i] >= 0 && shape[i] != actual[i]) {
                return false;
            }
        }
        return true;
    }

    @Override
    public String toString() {
        return name + " " + type + " " + Shapes.format(shape);
    }
}
