package dev.serval.api;

import java.util.Arrays;

/** Shape arithmetic and formatting shared by codecs and validation. */
public final class Shapes {
    private Shapes() {
    }

    /**
     * The product of the dimensions; 1 for a scalar (rank 0).
     *
     * @throws IllegalArgumentException if a dimension is negative
     * @throws ArithmeticException      if the product overflows a long
     */
    public static long elementCount(long[] shape) {
        long count = 1;
        for (long dim : shape) {
            if (dim < 0) {
                throw new IllegalArgumentException("negative dimension in shape " + format(shape));
            }
            count = Math.multiplyExact(count, dim);
        }
        return count;
    }

    /** Formats as the protocol writes shapes: {@code [1,3,224,224]}. */
    public static String format(long[] shape) {
        return Arrays.toString(shape).replace(" ", "");
    }
}
