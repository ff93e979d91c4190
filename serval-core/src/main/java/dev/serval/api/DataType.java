package dev.serval.api;

import java.util.Locale;

/**
 * The tensor element types of the Open Inference Protocol, under their protocol names.
 *
 * <p>Fixed-width types travel as little-endian bytes, {@link #byteSize()} bytes per element
 * (BOOL is one byte). {@link #BYTES} elements are byte strings of any length.
 */
public enum DataType {
    BOOL(1),
    UINT8(1),
    UINT16(2),
    UINT32(4),
    UINT64(8),
    INT8(1),
    INT16(2),
    INT32(4),
    INT64(8),
    FP16(2),
    FP32(4),
    FP64(8),
    BF16(2),
    BYTES(-1);

    private static final DataType[] VALUES = values();

    private final int byteSize;

    DataType(int byteSize) {
        this.byteSize = byteSize;
    }

    /** Bytes per element, or -1 for {@link #BYTES}, whose elements vary in length. */
    public int byteSize() {
        return byteSize;
    }

    /** True for every type but {@link #BYTES}. */
    public boolean isFixedWidth() {
        return byteSize > 0;
    }

    /** True for FP16, FP32, FP64 and BF16. */
    public boolean isFloatingPoint() {
        return this == FP16 || this == FP32 || this == FP64 || this == BF16;
    }

    /** True for the signed and unsigned integer types. */
    public boolean isInteger() {
        return switch (this) {
            case UINT8, UINT16, UINT32, UINT64, INT8, INT16, INT32, INT64 -> true;
            default -> false;
        };
    }

    /**
     * Parses a protocol name such as {@code "FP32"}; case is ignored.
     *
     * @throws ServalException INVALID_ARGUMENT naming the value and the accepted names
     */
    public static DataType parse(String field, String name) {
        if (name != null) {
            for (DataType type : VALUES) {
                if (type.name().equals(name)) {
                    return type; // as the protocol spells it, without a copy in upper case
                }
            }
            String upper = name.toUpperCase(Locale.ROOT);
            for (DataType type : VALUES) {
                if (type.name().equals(upper)) {
                    return type;
                }
            }
        }
        throw ServalException.invalidArgument(
                "%s has unknown datatype '%s'; expected one of BOOL, UINT8, UINT16, UINT32, UINT64, "
                        + "INT8, INT16, INT32, INT64, FP16, FP32, FP64, BF16, BYTES",
                field, name);
    }
}
