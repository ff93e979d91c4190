package dev.serval.transport.http;

/**
 * Well-formed UTF-8 (RFC 3629; the Unicode standard's table 3-7) for {@link JsonReader}: no overlong
 * forms, no surrogates, nothing above U+10FFFF. Raw bytes that pass are copied as they are into
 * BYTES tensors, so they must be exactly what encoding the decoded text would give back. (Jackson
 * let overlong forms and code points above U+10FFFF through, and garbled them.)
 *
 * <p>Stateless.
 */
final class Utf8 {
    private Utf8() {
    }

    /**
     * The length of the well-formed sequence whose lead byte (0x80 or above) is at {@code p}.
     *
     * @param endOfInput what to say when the input ends inside the sequence
     * @throws dev.serval.api.ServalException INVALID_ARGUMENT when the bytes are not UTF-8
     */
    static int check(JsonErrors errors, byte[] b, int p, int end, String endOfInput) {
        int lead = b[p] & 0xFF;
        if (lead < 0xC2 || lead > 0xF4) {
            throw errors.malformed(p + 1, "Invalid UTF-8 start byte 0x%x", lead);
        }
        int length = lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
        // The second byte's range also rules out overlong forms, surrogates and code points past U+10FFFF.
        int low = lead == 0xE0 ? 0xA0 : lead == 0xF0 ? 0x90 : 0x80;
        int high = lead == 0xED ? 0x9F : lead == 0xF4 ? 0x8F : 0xBF;
        for (int i = 1; i < length; i++) {
            if (p + i >= end) {
                throw errors.malformed(end, endOfInput);
            }
            int c = b[p + i] & 0xFF;
            if (c < low || c > high) {
                throw errors.malformed(p + i + 1, "Invalid UTF-8 middle byte 0x%x", c);
            }
            low = 0x80;
            high = 0xBF;
        }
        return length;
    }

    /** The code point of a sequence {@link #check} accepted. */
    static int decode(byte[] b, int p, int length) {
        int codePoint = b[p] & (0xFF >> (length + 1));
        for (int i = 1; i < length; i++) {
            codePoint = codePoint << 6 | (b[p + i] & 0x3F);
        }
        return codePoint;
    }

    /** How many bytes encode {@code codePoint}. */
    static int length(int codePoint) {
        return codePoint < 0x80 ? 1 : codePoint < 0x800 ? 2 : codePoint < 0x10000 ? 3 : 4;
    }
}
