package dev.serval.client;

/**
 * The Open Inference Protocol's tensor element types, by their protocol names.
 *
 * <p>On the binary wires (REST's binary tensor extension and gRPC's raw contents) every element is
 * little-endian in its native size, BOOL is one byte (0 or 1), and each BYTES element is a 4-byte
 * little-endian length followed by that many bytes.
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
    BF16(2),
    FP32(4),
    FP64(8),
    /** Variable-length byte strings (text travels as UTF-8). */
    BYTES(0);

    private final int byteSize;

    DataType(int byteSize) {
        this.byteSize = byteSize;
    }

    /** Bytes per element on the binary wires; 0 for {@link #BYTES}, whose elements vary in size. */
    public int byteSize() {
        return byteSize;
    }

    /**
     * The type with this protocol name.
     *
     * @throws IllegalArgumentException if {@code name} is not a protocol datatype
     */
    public static DataType of(String name) {
        for (DataType type : values()) {
            if (type.name().equals(name)) {
                return type;
            }
        }
        throw new IllegalArgumentException("unknown datatype '" + name + "', expected one of "
                + java.util.Arrays.toString(values()));
    }
}
