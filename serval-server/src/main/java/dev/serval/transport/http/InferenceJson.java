package dev.serval.transport.http;

import dev.serval.api.DataType;
import dev.serval.api.InferenceResponse;
import dev.serval.api.Parameters;
import dev.serval.api.Tensor;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * An inference response's v2 JSON written straight into a byte array: the same bytes as
 * {@link JsonResponseEncoder}'s Jackson generator writes, for the responses whose every string
 * (model name and version, id, output names, parameter names and text values) is printable ASCII
 * without {@code "} or {@code \}, and whose outputs are all fixed-width. Any other response is
 * left to Jackson ({@link #write} returns null), whose escaping is then the one rule.
 *
 * <p>Design note: for a small answer the generator costs more than the numbers. Per response it
 * took a buffer from Jackson's bounded recycler pool (an {@code ArrayBlockingQueue}, whose lock the
 * request threads contended for and parked on), made a generator and its write context, and went
 * through the context's checks for every value. Iris over JSON spent 9% of the server's Java samples
 * in it, with 10 clients on one core (JFR, 2026-12-07). Here the structure is fixed, so the writer
 * only needs the separators. Numbers are written as Jackson writes them: {@code Float.toString}
 * ({@link FloatText}) and {@code Double.toString} for finite floats, quoted {@code "NaN"},
 * {@code "Infinity"} and {@code "-Infinity"} otherwise, integers in decimal, UINT64 unsigned.
 * JsonResponseEncoderTest compares the two writers on random responses of every datatype.
 *
 * <p>Stateless and thread-safe.
 */
final class InferenceJson {
    private static final byte[] MODEL_NAME = ascii("{\"model_name\":\"");
    private static final byte[] MODEL_VERSION = ascii("\",\"model_version\":\"");
    private static final byte[] ID = ascii(",\"id\":\"");
    private static final byte[] PARAMETERS = ascii(",\"parameters\":{");
    private static final byte[] OUTPUTS = ascii(",\"outputs\":[");
    private static final byte[] NAME = ascii("{\"name\":\"");
    private static final byte[] DATATYPE = ascii("\",\"datatype\":\"");
    private static final byte[] SHAPE = ascii("\",\"shape\":[");
    private static final byte[] BINARY_SIZE = ascii("],\"parameters\":{\"" + JsonRequestDecoder.BINARY_DATA_SIZE + "\":");
    private static final byte[] DATA = ascii("],\"data\":[");
    private static final byte[] TRUE = ascii("true");
    private static final byte[] FALSE = ascii("false");
    /**
     * Room for a comma and the longest value written: a double such as
     * {@code -2.2250738585072014E-308} (24 chars), a long (20), or a quoted {@code "-Infinity"}.
     */
    private static final int MAX_NUMBER = 32;

    private byte[] out;
    private int at;
    private final char[] scratch = new char[FloatText.MAX_CHARS];

    private InferenceJson(int capacity) {
        this.out = new byte[capacity];
    }

    /**
     * The response's JSON, as {@link JsonResponseEncoder#inference(InferenceResponse, boolean[])}
     * describes it; null when the response has a string that is not plain ASCII or a BYTES output
     * that goes as JSON (Jackson writes those).
     *
     * @param binary per output, whether it goes as binary data; null when none does
     */
    static byte[] write(InferenceResponse response, boolean[] binary) {
        List<Tensor> outputs = response.outputs();
        if (!plain(response.modelName()) || !plain(response.modelVersion())
                || (response.id() != null && !plain(response.id())) || !plain(response.parameters())) {
            return null;
        }
        long elements = 0;
        for (int i = 0; i < outputs.size(); i++) {
            Tensor output = outputs.get(i);
            boolean asJson = binary == null || !binary[i];
            if (!plain(output.name()) || (asJson && output.type() == DataType.BYTES)) {
                return null;
            }
            if (asJson) {
                elements += output.elementCount();
            }
        }
        InferenceJson json = new InferenceJson((int) Math.min(Integer.MAX_VALUE - 8, 192 + elements * 12));
        json.envelope(response, binary);
        return json.out.length == json.at ? json.out : Arrays.copyOf(json.out, json.at);
    }

    private void envelope(InferenceResponse response, boolean[] binary) {
        put(MODEL_NAME);
        putAscii(response.modelName());
        put(MODEL_VERSION);
        putAscii(response.modelVersion());
        putByte('"');
        if (response.id() != null) {
            put(ID);
            putAscii(response.id());
            putByte('"');
        }
        if (!response.parameters().isEmpty()) {
            put(PARAMETERS);
            parameters(response.parameters());
            putByte('}');
        }
        put(OUTPUTS);
        List<Tensor> outputs = response.outputs();
        for (int i = 0; i < outputs.size(); i++) {
            Tensor output = outputs.get(i);
            if (i > 0) {
                putByte(',');
            }
            put(NAME);
            putAscii(output.name());
            put(DATATYPE);
            putAscii(output.type().name());
            put(SHAPE);
            long[] shape = output.shape();
            for (int d = 0; d < shape.length; d++) {
                ensure(MAX_NUMBER);
                if (d > 0) {
                    out[at++] = ',';
                }
                putLong(shape[d]);
            }
            if (binary != null && binary[i]) {
                put(BINARY_SIZE);
                ensure(MAX_NUMBER);
                putLong(BinaryResponse.byteSize(output));
                putByte('}');
            } else {
                put(DATA);
                data(output);
                putByte(']');
            }
            putByte('}');
        }
        putByte(']');
        putByte('}');
    }

    private void parameters(Parameters parameters) {
        boolean first = true;
        for (Map.Entry<String, Object> entry : parameters.asMap().entrySet()) {
            if (!first) {
                putByte(',');
            }
            first = false;
            putByte('"');
            putAscii(entry.getKey());
            putByte('"');
            putByte(':');
            ensure(MAX_NUMBER);
            switch (entry.getValue()) {
                case String text -> {
                    putByte('"');
                    putAscii(text);
                    putByte('"');
                }
                case Long number -> putLong(number);
                case Double number -> putDouble(number);
                case Boolean flag -> put(flag ? TRUE : FALSE);
                default -> throw new IllegalStateException("unexpected parameter " + entry);
            }
        }
    }

    /** The elements, comma-separated (the brackets are the caller's). */
    private void data(Tensor tensor) {
        ByteBuffer in = tensor.buffer();
        int count = (int) tensor.elementCount();
        DataType type = tensor.type();
        for (int i = 0; i < count; i++) {
            ensure(MAX_NUMBER);
            if (i > 0) {
                out[at++] = ',';
            }
            switch (type) {
                case FP32 -> putFloat(in.getFloat(i << 2));
                case FP64 -> putDouble(in.getDouble(i << 3));
                case FP16 -> putFloat(Float.float16ToFloat(in.getShort(i << 1)));
                case BF16 -> putFloat(Float.intBitsToFloat((in.getShort(i << 1) & 0xFFFF) << 16));
                case INT8 -> putLong(in.get(i));
                case INT16 -> putLong(in.getShort(i << 1));
                case INT32 -> putLong(in.getInt(i << 2));
                case INT64 -> putLong(in.getLong(i << 3));
                case UINT8 -> putLong(in.get(i) & 0xFF);
                case UINT16 -> putLong(in.getShort(i << 1) & 0xFFFF);
                case UINT32 -> putLong(in.getInt(i << 2) & 0xFFFF_FFFFL);
                case UINT64 -> putUnsigned(in.getLong(i << 3));
                case BOOL -> putBoolean(in.get(i) != 0);
                case BYTES -> throw new IllegalStateException("BYTES outputs are Jackson's");
            }
        }
    }

    // ---------------------------------------------------------------- values (room ensured by the caller)

    private void putFloat(float value) {
        boolean finite = Float.isFinite(value);
        if (!finite) {
            out[at++] = '"';
        }
        int length = FloatText.write(value, scratch, 0);
        for (int i = 0; i < length; i++) {
            out[at++] = (byte) scratch[i];
        }
        if (!finite) {
            out[at++] = '"';
        }
    }

    private void putDouble(double value) {
        boolean finite = Double.isFinite(value);
        if (!finite) {
            out[at++] = '"';
        }
        copy(Double.toString(value));
        if (!finite) {
            out[at++] = '"';
        }
    }

    private void putBoolean(boolean value) {
        byte[] text = value ? TRUE : FALSE;
        System.arraycopy(text, 0, out, at, text.length);
        at += text.length;
    }

    private void putUnsigned(long value) {
        if (value >= 0) {
            putLong(value);
        } else {
            copy(Long.toUnsignedString(value));
        }
    }

    /** A long in decimal, from the last digit backwards into its place. */
    private void putLong(long value) {
        if (value == Long.MIN_VALUE) {
            copy(Long.toString(value));
            return;
        }
        if (value < 0) {
            out[at++] = '-';
            value = -value;
        }
        int digits = 1;
        for (long rest = value / 10; rest != 0; rest /= 10) {
            digits++;
        }
        int p = at + digits;
        at = p;
        do {
            out[--p] = (byte) ('0' + (int) (value % 10));
            value /= 10;
        } while (value != 0);
    }

    // ---------------------------------------------------------------- bytes

    private void put(byte[] bytes) {
        ensure(bytes.length);
        System.arraycopy(bytes, 0, out, at, bytes.length);
        at += bytes.length;
    }

    private void putByte(char c) {
        ensure(1);
        out[at++] = (byte) c;
    }

    /** A string {@link #plain} said needs no escape. */
    private void putAscii(String text) {
        ensure(text.length());
        copy(text);
    }

    /** Copies an ASCII string whose room is ensured. */
    @SuppressWarnings("deprecation") // String.getBytes(int, int, byte[], int): exactly the ASCII copy wanted
    private void copy(String text) {
        text.getBytes(0, text.length(), out, at);
        at += text.length();
    }

    private void ensure(int room) {
        if (out.length - at < room) {
            long wanted = Math.max((long) out.length * 2, (long) at + room);
            out = Arrays.copyOf(out, (int) Math.min(Integer.MAX_VALUE - 8, wanted));
        }
    }

    /** Whether JSON (and Jackson) writes the string's chars as they are: printable ASCII, no quote, no backslash. */
    static boolean plain(String text) {
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c < 0x20 || c > 0x7E || c == '"' || c == '\\') {
                return false;
            }
        }
        return true;
    }

    private static boolean plain(Parameters parameters) {
        for (Map.Entry<String, Object> entry : parameters.asMap().entrySet()) {
            if (!plain(entry.getKey()) || (entry.getValue() instanceof String text && !plain(text))) {
                return false;
            }
        }
        return true;
    }

    private static byte[] ascii(String text) {
        return text.getBytes(StandardCharsets.US_ASCII);
    }
}
