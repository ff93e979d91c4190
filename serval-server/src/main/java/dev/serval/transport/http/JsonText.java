package dev.serval.transport.http;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * The content of JSON strings and field names: escapes (\" \\ \/ \b \f \n \r \t \\uXXXX), surrogate
 * pairs, raw control characters refused, UTF-8 checked, and Jackson's limits (names of 50,000 bytes,
 * strings of 20,000,000 chars).
 *
 * <p>Design note: most strings in a request are short ASCII names and values, so each method first
 * looks for the closing quote with nothing to decode on the way, and only then builds text. A BYTES
 * element without escapes is copied byte for byte: checked UTF-8 is already its own encoding. As in
 * Jackson, a string value may hold half a surrogate pair (it becomes '?' in UTF-8, as
 * {@link String#getBytes} makes it), a field name may not.
 *
 * <p>Not thread-safe: belongs to one {@link JsonReader}.
 */
final class JsonText {
    static final int MAX_NAME_LENGTH = 50_000;
    static final int MAX_STRING_LENGTH = 20_000_000;
    static final String NAME_END = "Unexpected end-of-input in field name";
    static final String STRING_END = "Unexpected end-of-input in a string value";
    /** Field names every request has, shared rather than made anew for each request. */
    private static final String[] KNOWN_NAMES = {"id", "parameters", "inputs", "outputs", "name", "shape", "datatype", "data"};
    private static final byte[][] KNOWN_NAME_BYTES = new byte[KNOWN_NAMES.length][];

    static {
        for (int i = 0; i < KNOWN_NAMES.length; i++) {
            KNOWN_NAME_BYTES[i] = KNOWN_NAMES[i].getBytes(StandardCharsets.US_ASCII);
        }
    }

    private final byte[] in;
    private final int end;
    private final JsonErrors errors;
    /** Just past the closing quote of the string last read. */
    private int after;

    JsonText(byte[] in, int end, JsonErrors errors) {
        this.in = in;
        this.end = end;
        this.errors = errors;
    }

    /** Where the string last read ended: just past its closing quote. */
    int after() {
        return after;
    }

    /** The field name whose content starts at {@code from}. */
    String name(int from) {
        final byte[] b = in;
        int p = from;
        while (p < end) {
            int c = b[p];
            if (c == '"') {
                after = p + 1;
                int length = p - from;
                for (int i = 0; i < KNOWN_NAMES.length; i++) {
                    byte[] known = KNOWN_NAME_BYTES[i];
                    if (known.length == length && Arrays.equals(b, from, p, known, 0, length)) {
                        return KNOWN_NAMES[i];
                    }
                }
                return checkedLength(new String(b, from, length, StandardCharsets.ISO_8859_1), from, true);
            }
            if (c < 0x20 || c == '\\') {
                break;
            }
            p++;
        }
        if (p == from && p >= end) {
            throw errors.malformed(p, "Unexpected end-of-input: was expecting closing '\"' for name");
        }
        return decode(from, true);
    }

    /** The string value whose content starts at {@code from}. */
    String string(int from) {
        return decode(from, false);
    }

    /** The string value whose content starts at {@code from}, as UTF-8. */
    byte[] utf8(int from) {
        final byte[] b = in;
        int p = from;
        while (true) {
            if (p >= end) {
                throw errors.malformed(p, STRING_END);
            }
            int c = b[p];
            if (c == '"') {
                break;
            }
            if (c == '\\') {
                return decode(from, false).getBytes(StandardCharsets.UTF_8);
            }
            if (c >= 0x20) {
                p++;
            } else if (c >= 0) {
                throw errors.unquotedControl(p, c, "string value");
            } else {
                p += Utf8.check(errors, b, p, end, STRING_END);
            }
        }
        checkLength(from, p);
        after = p + 1;
        return Arrays.copyOfRange(b, from, p);
    }

    /** Checks the string value whose content starts at {@code from} without decoding it. */
    void skip(int from) {
        final byte[] b = in;
        int p = from;
        while (true) {
            if (p >= end) {
                throw errors.malformed(p, STRING_END);
            }
            int c = b[p];
            if (c == '"') {
                break;
            }
            if (c >= 0x20 && c != '\\') {
                p++;
            } else if (c == '\\') {
                p = escape(p, null);
            } else if (c >= 0) {
                throw errors.unquotedControl(p, c, "string value");
            } else {
                p += Utf8.check(errors, b, p, end, STRING_END);
            }
        }
        checkLength(from, p);
        after = p + 1;
    }

    /** A string's length in chars is checked by decoding it, which only a long enough one needs. */
    private void checkLength(int from, int closingQuote) {
        // A char takes at least one byte.
        if (closingQuote - from > MAX_STRING_LENGTH) {
            decode(from, false);
        }
    }

    private String decode(int from, boolean isName) {
        final byte[] b = in;
        int p = from;
        while (p < end) {
            int c = b[p];
            if (c == '"') {
                after = p + 1;
                return checkedLength(new String(b, from, p - from, StandardCharsets.ISO_8859_1), from, isName);
            }
            if (c < 0x20 || c == '\\') {
                break;
            }
            p++;
        }
        StringBuilder text = new StringBuilder(Math.min(end - from, 64) + 16);
        text.append(new String(b, from, p - from, StandardCharsets.ISO_8859_1));
        String endOfInput = isName ? NAME_END : STRING_END;
        while (true) {
            if (p >= end) {
                throw errors.malformed(p, endOfInput);
            }
            int c = b[p];
            if (c == '"') {
                after = p + 1;
                return checkedLength(text.toString(), from, isName);
            }
            if (c == '\\') {
                p = escape(p, text);
                if (isName) {
                    p = pairedInName(p, text);
                }
            } else if (c >= 0x20) {
                text.append((char) c);
                p++;
            } else if (c >= 0) {
                throw errors.unquotedControl(p, c, isName ? "name" : "string value");
            } else {
                int length = Utf8.check(errors, b, p, end, endOfInput);
                text.appendCodePoint(Utf8.decode(b, p, length));
                p += length;
            }
        }
    }

    /**
     * Reads the escape whose backslash is at {@code p}, appending its char to {@code text} when
     * given; returns the position after it.
     */
    private int escape(int p, StringBuilder text) {
        final byte[] b = in;
        p++;
        if (p >= end) {
            throw errors.malformed(p, "Unexpected end-of-input in character escape sequence");
        }
        char decoded;
        switch (b[p]) {
            case '"' -> decoded = '"';
            case '\\' -> decoded = '\\';
            case '/' -> decoded = '/';
            case 'b' -> decoded = '\b';
            case 'f' -> decoded = '\f';
            case 'n' -> decoded = '\n';
            case 'r' -> decoded = '\r';
            case 't' -> decoded = '\t';
            case 'u' -> {
                int value = 0;
                for (int i = 1; i <= 4; i++) {
                    if (p + i >= end) {
                        throw errors.malformed(p + i, "Unexpected end-of-input in character escape sequence");
                    }
                    int digit = hexDigit(b[p + i]);
                    if (digit < 0) {
                        throw errors.unexpectedCharacter(p + i, "expected a hex-digit for character escape sequence");
                    }
                    value = value << 4 | digit;
                }
                decoded = (char) value;
                p += 4;
            }
            default -> throw errors.malformed(p, "Unrecognized character escape %s", errors.describeAt(p));
        }
        if (text != null) {
            text.append(decoded);
        }
        return p + 1;
    }

    private static int hexDigit(byte c) {
        if (c >= '0' && c <= '9') {
            return c - '0';
        }
        int lower = c | 0x20;
        return lower >= 'a' && lower <= 'f' ? lower - 'a' + 10 : -1;
    }

    /**
     * After the escape in a name that ended at {@code p}: half a surrogate pair is an error, and a
     * high half must be followed by the escape of a low half, which is read here.
     */
    private int pairedInName(int p, StringBuilder text) {
        char last = text.charAt(text.length() - 1);
        if (Character.isLowSurrogate(last)) {
            throw errors.malformed(p, "Unexpected low surrogate in field name: 0x%x", (int) last);
        }
        if (!Character.isHighSurrogate(last)) {
            return p;
        }
        if (p >= end) {
            throw errors.malformed(p, NAME_END);
        }
        if (in[p] != '\\') {
            throw errors.malformed(p, "Broken surrogate pair in field name: expected '\\' to start low surrogate, got 0x%x",
                    in[p] & 0xFF);
        }
        p = escape(p, text);
        char low = text.charAt(text.length() - 1);
        if (!Character.isLowSurrogate(low)) {
            throw errors.malformed(p, "Broken surrogate pair in field name: expected low surrogate, got 0x%X", (int) low);
        }
        return p;
    }

    /** Jackson measures a name in UTF-8 bytes, a string value in chars. */
    private String checkedLength(String text, int from, boolean isName) {
        if (isName) {
            // A char is at most three bytes: only a longer name can be too long.
            int bytes = text.length() > MAX_NAME_LENGTH / 3 ? text.getBytes(StandardCharsets.UTF_8).length : 0;
            if (bytes > MAX_NAME_LENGTH) {
                throw errors.malformed(from - 1, "Name length (%d) exceeds the maximum allowed (%d)",
                        bytes, MAX_NAME_LENGTH);
            }
        } else if (text.length() > MAX_STRING_LENGTH) {
            throw errors.malformed(from - 1, "String value length (%d) exceeds the maximum allowed (%d)",
                    text.length(), MAX_STRING_LENGTH);
        }
        return text;
    }
}
