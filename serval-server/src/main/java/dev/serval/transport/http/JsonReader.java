package dev.serval.transport.http;

import dev.serval.api.DataType;
import dev.serval.api.ServalException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * A pull reader for one JSON text (RFC 8259) held whole in a byte array, UTF-8 only: the request
 * decoder's tokenizer.
 *
 * <p>Design note: a request body is in memory before it is decoded, and most of its bytes are
 * numbers on their way into a tensor. So the reader works on the array in place (no copy into a
 * char buffer, no {@code String} per number, no per-request buffers to recycle); while it checks a
 * number's grammar it gathers its digits ({@link DecimalConversion}), so converting the number seldom
 * looks at them again; and {@link #readFloats} reads a run of numbers straight into a tensor without
 * making a token of each.
 *
 * <p>It replaces Jackson's streaming parser and behaves as that did, as far as a client can see:
 * the same tokens in the same order, {@code null} at the end; the value after a field name read
 * together with the name; a string's content read only when asked for, or checked when stepped over;
 * at the top level, values without commas and numbers followed by white space; the same limits
 * (nesting 1000 deep, numbers of 1000 digits, names of 50,000 bytes, strings of 20,000,000 chars);
 * a UTF-8 byte-order mark skipped; and the same errors in the same places ({@link JsonErrors}). JSON
 * is strict and so is the reader: no leading zeros or '+', no NaN or Infinity, no comments, no
 * trailing commas, control characters escaped, UTF-8 well formed ({@link JsonText}, {@link Utf8}).
 * Nesting is counted, not recursed into, so no depth can overflow the stack.
 *
 * <p>Not thread-safe: one per body, or per range of a body, being read.
 */
final class JsonReader {
    /** What {@link #nextToken()} found; {@code null} stands for the end of the input. */
    enum Token { START_OBJECT, END_OBJECT, START_ARRAY, END_ARRAY, FIELD_NAME, STRING, NUMBER_INT, NUMBER_FLOAT, TRUE, FALSE, NULL }

    static final int MAX_DEPTH = 1000;
    static final int MAX_NUMBER_LENGTH = 1000;

    private final byte[] in;
    private final int end;
    private final JsonErrors errors;
    private final JsonText text;
    private final DecimalConversion.Number number = new DecimalConversion.Number();
    private int pos;

    private Token token;
    private int tokenStart;
    /** The value read together with a field name, returned by the next call. */
    private Token pending;
    private int pendingStart;
    private String name;

    /** The current string's content has not been read yet (it is checked when stepped over). */
    private boolean stringOpen;
    private int stringStart;
    private String stringText;

    /** Open containers; index 0 is the top level, which never expects a comma. */
    private int depth;
    private boolean[] inObject = new boolean[8];
    private boolean[] hasEntry = new boolean[8];
    private int[] openedAt = new int[8];

    /** Reads the {@code length} bytes from {@code offset}. */
    JsonReader(byte[] in, int offset, int length) {
        this.in = in;
        this.end = offset + length;
        this.errors = new JsonErrors(in, offset, end);
        this.text = new JsonText(in, end, errors);
        // Jackson looks for a byte-order mark only when there are four bytes or more.
        boolean bom = length >= 4 && in[offset] == (byte) 0xEF && in[offset + 1] == (byte) 0xBB
                && in[offset + 2] == (byte) 0xBF;
        this.pos = bom ? offset + 3 : offset;
    }

    // ---------------------------------------------------------------- tokens

    /**
     * Moves to the next token and returns it, or {@code null} at the end of the input.
     *
     * @throws ServalException INVALID_ARGUMENT, "malformed JSON at line L, column C: ...", when the
     *                         input is not JSON
     */
    Token nextToken() {
        // The common case, and the one that must be fast: the next number in an array.
        int d = depth;
        if (hasEntry[d] && !inObject[d] && pending == null && !stringOpen) {
            final byte[] b = in;
            int p = pos;
            if (p + 1 < end && b[p] == ',') {
                p++;
                if (b[p] == ' ' && p + 1 < end) {
                    p++;
                }
                int c = b[p];
                // '-' or a digit, tested so that each branch goes the same way for every number.
                if (c >= '-' && c <= '9' && c != '.' && c != '/') {
                    tokenStart = p;
                    int after = number.scanCommon(b, p, end);
                    pos = after >= 0 ? after : number.scanAny(errors, b, p, end);
                    return token = number.isInteger() ? Token.NUMBER_INT : Token.NUMBER_FLOAT;
                }
            }
        }
        return anyToken();
    }

    private Token anyToken() {
        if (pending != null) {
            return takePending();
        }
        if (stringOpen) {
            skipString();
        }
        final byte[] b = in;
        int p = skipWhitespace(pos);
        if (p >= end) {
            return endOfInput(p);
        }
        int c = b[p];
        if (c == ']' || c == '}') {
            return close(p, c);
        }
        int d = depth;
        if (d > 0) {
            if (hasEntry[d]) {
                if (c != ',') {
                    throw errors.unexpectedByte(p, "was expecting comma to separate " + kind(d) + " entries");
                }
                p = skipWhitespace(p + 1);
                if (p >= end) {
                    throw errors.malformed(p, "Unexpected end-of-input within/between %s entries", kind(d));
                }
                c = b[p];
            } else {
                hasEntry[d] = true;
            }
            if (inObject[d]) {
                return fieldName(p, c);
            }
        }
        tokenStart = p;
        Token value = value(p, c);
        token = value;
        if (value == Token.START_ARRAY || value == Token.START_OBJECT) {
            open(value == Token.START_OBJECT, p);
        }
        return value;
    }

    /**
     * The fast path for the bulk of a tensor: reads the numbers that follow in the current array
     * straight into {@code out} as elements of {@code type} (FP32, FP64, FP16 or BF16), counting
     * each, and stops before anything else (a bracket, a string, the end, white space before a
     * comma), which {@link #nextToken()} then reads as usual. It reads what nextToken would, in the
     * same way and with the same errors, only without making a token of each number.
     *
     * <p>Where the next number starts depends only on scanning this one; converting it is off that
     * chain and overlaps the next scan. (Returning the position and the value together, say packed
     * in a long, makes every scan wait for the previous conversion: measured 50% slower.)
     */
    void readFloats(ElementBuffer out, DataType type) {
        if (type != DataType.FP32 && type != DataType.FP64 && type != DataType.FP16 && type != DataType.BF16) {
            throw new IllegalArgumentException("not a floating-point type: " + type);
        }
        int d = depth;
        if (d == 0 || inObject[d] || pending != null || stringOpen) {
            return;
        }
        final byte[] b = in;
        final int end = this.end;
        final DecimalConversion.Number n = number;
        boolean entry = hasEntry[d];
        int p = pos;
        int last = -1;
        while (true) {
            int q = p;
            if (entry) {
                if (q >= end || b[q] != ',') {
                    break;
                }
                q++;
            }
            if (q >= end) {
                break;
            }
            int c = b[q];
            if (c <= ' ') {
                while (q < end && isWhitespace(b[q])) {
                    q++;
                }
                if (q >= end) {
                    break;
                }
                c = b[q];
            }
            if (c < '-' || c > '9' || c == '.' || c == '/') {
                break;
            }
            p = n.scanCommon(b, q, end);
            if (p < 0) {
                p = n.scanAny(errors, b, q, end);
            }
            last = q;
            entry = true;
            int at = out.next();
            if (at >= 0) {
                if (type == DataType.FP32) {
                    out.putFloat(at, DecimalConversion.toFloat(n, b));
                } else if (type == DataType.FP64) {
                    out.putDouble(at, DecimalConversion.toDouble(n, b));
                } else if (type == DataType.FP16) {
                    out.putFloat16(at, DecimalConversion.toFloat(n, b));
                } else {
                    out.putBfloat16(at, DecimalConversion.toFloat(n, b));
                }
            }
        }
        if (last >= 0) {
            hasEntry[d] = true;
            pos = p;
            tokenStart = last;
            token = n.isInteger() ? Token.NUMBER_INT : Token.NUMBER_FLOAT;
        }
    }

    Token currentToken() {
        return token;
    }

    /** Where the current token starts in the array. */
    int tokenStart() {
        return tokenStart;
    }

    /** Just past the current token, in the array. */
    int position() {
        if (stringOpen && pending == null) {
            skipString();
        }
        return pos;
    }

    /** The field name, while on a FIELD_NAME. */
    String currentName() {
        return name;
    }

    /** Steps over the array or object the reader is on, checking it: afterwards it is on its end. */
    void skipChildren() {
        if (token != Token.START_ARRAY && token != Token.START_OBJECT) {
            return;
        }
        int open = 1;
        while (open > 0) {
            Token next = nextToken();
            if (next == null) {
                return;
            }
            if (next == Token.START_ARRAY || next == Token.START_OBJECT) {
                open++;
            } else if (next == Token.END_ARRAY || next == Token.END_OBJECT) {
                open--;
            }
        }
    }

    /** The current token as written (strings decoded), as Jackson's {@code getText()} gave it. */
    String getText() {
        Token t = token;
        if (t == null) {
            return null;
        }
        return switch (t) {
            case STRING -> stringText();
            case FIELD_NAME -> name;
            case NUMBER_INT, NUMBER_FLOAT -> number.text(in);
            case START_OBJECT -> "{";
            case END_OBJECT -> "}";
            case START_ARRAY -> "[";
            case END_ARRAY -> "]";
            case TRUE -> "true";
            case FALSE -> "false";
            case NULL -> "null";
        };
    }

    // ---------------------------------------------------------------- on a number

    /** The integer fits a {@code long} (on NUMBER_INT). */
    boolean fitsLong() {
        return number.fitsLong(in);
    }

    /** The integer's value (on NUMBER_INT, when {@link #fitsLong()}). */
    long longValue() {
        return number.longValue(in);
    }

    BigInteger bigIntegerValue() {
        return new BigInteger(number.text(in));
    }

    /** The number rounded once, to nearest even, to a float; an integer's -0 is +0.0, as in Jackson. */
    float floatValue() {
        return DecimalConversion.toFloat(number, in);
    }

    /** The number rounded once, to nearest even, to a double; an integer's -0 is +0.0, as in Jackson. */
    double doubleValue() {
        return DecimalConversion.toDouble(number, in);
    }

    // ---------------------------------------------------------------- on a string

    /** The string's content in UTF-8; half a surrogate pair becomes '?', as String.getBytes makes it. */
    byte[] stringUtf8() {
        if (!stringOpen) {
            return stringText().getBytes(StandardCharsets.UTF_8);
        }
        byte[] bytes = text.utf8(stringStart);
        pos = text.after();
        stringOpen = false;
        return bytes;
    }

    /**
     * Whether the current string is exactly {@code candidate} as written, with no escapes: a match
     * costs no new {@code String}, the caller's is used. False for anything else, a string that only
     * decodes to the candidate included. Does not move the reader; a string stepped over is still
     * checked whole by the next token, as always.
     */
    boolean stringIs(String candidate) {
        if (token != Token.STRING) {
            return false;
        }
        final byte[] b = in;
        int p = stringStart;
        int n = candidate.length();
        if (n >= end - p || b[p + n] != '"') {
            return false;
        }
        for (int i = 0; i < n; i++) {
            int c = b[p + i];
            if (c != candidate.charAt(i) || c < 0x20 || c == '"' || c == '\\') {
                return false;
            }
        }
        return true;
    }

    private String stringText() {
        if (stringText == null) {
            stringText = text.string(stringStart);
            pos = text.after();
            stringOpen = false;
        }
        return stringText;
    }

    private void skipString() {
        text.skip(stringStart);
        pos = text.after();
        stringOpen = false;
    }

    // ---------------------------------------------------------------- structure

    private Token takePending() {
        Token value = pending;
        pending = null;
        token = value;
        tokenStart = pendingStart;
        if (value == Token.START_ARRAY || value == Token.START_OBJECT) {
            open(value == Token.START_OBJECT, pendingStart);
        }
        return value;
    }

    /** A name, its colon and the start of its value, which is read now and returned next, as Jackson does. */
    private Token fieldName(int p, int c) {
        if (c != '"') {
            throw errors.unexpectedCharacter(p, "was expecting double-quote to start field name");
        }
        tokenStart = p;
        name = text.name(p + 1);
        final byte[] b = in;
        p = skipWhitespace(text.after());
        if (p >= end) {
            throw errors.malformed(p, "Unexpected end-of-input within/between Object entries");
        }
        if (b[p] != ':') {
            throw errors.unexpectedByte(p, "was expecting a colon to separate field name and value");
        }
        p = skipWhitespace(p + 1);
        if (p >= end) {
            throw errors.malformed(p, "Unexpected end-of-input within/between Object entries");
        }
        token = Token.FIELD_NAME;
        pendingStart = p;
        pending = value(p, b[p]);
        return Token.FIELD_NAME;
    }

    /** Reads the value starting at {@code p} (its first byte {@code c}); containers are opened by the caller. */
    private Token value(int p, int c) {
        switch (c) {
            case '"' -> {
                stringOpen = true;
                stringStart = p + 1;
                stringText = null;
                pos = p + 1;
                return Token.STRING;
            }
            case '[' -> {
                pos = p + 1;
                return Token.START_ARRAY;
            }
            case '{' -> {
                pos = p + 1;
                return Token.START_OBJECT;
            }
            case 't' -> {
                return literal(p, "true", Token.TRUE);
            }
            case 'f' -> {
                return literal(p, "false", Token.FALSE);
            }
            case 'n' -> {
                return literal(p, "null", Token.NULL);
            }
            default -> {
                if (c == '-' || (c >= '0' && c <= '9')) {
                    return number(p);
                }
                throw unexpectedValue(p, c);
            }
        }
    }

    private Token number(int p) {
        int after = number.scan(errors, in, p, end);
        if (depth == 0 && after < end && !isWhitespace(in[after])) {
            throw errors.unexpectedCharacter(after, "Expected space separating root-level values");
        }
        pos = after;
        return number.isInteger() ? Token.NUMBER_INT : Token.NUMBER_FLOAT;
    }

    private Token literal(int p, String word, Token literal) {
        int length = word.length();
        int matched = 1;
        while (matched < length && p + matched < end && in[p + matched] == word.charAt(matched)) {
            matched++;
        }
        if (matched < length || errors.continuesToken(p + length)) {
            throw errors.unrecognizedToken(p, matched);
        }
        pos = p + length;
        return literal;
    }

    /** Jackson's reading of a byte that cannot start a value. */
    private ServalException unexpectedValue(int p, int c) {
        switch (c) {
            case ']':
                if (depth == 0 || inObject[depth]) {
                    break;
                }
                return errors.unexpectedCharacter(p, "expected a value");
            case ',', '}':
                return errors.unexpectedCharacter(p, "expected a value");
            case 'N':
                return errors.nonStandard(p, 0, "NaN");
            case 'I':
                return errors.nonStandard(p, 0, "Infinity");
            case '+':
                if (p + 1 >= end) {
                    return errors.malformed(p + 1, "Unexpected end-of-input in a Number value");
                }
                if (in[p + 1] == 'I') {
                    return errors.nonStandard(p, 1, "+Infinity");
                }
                return errors.malformed(p + 1, "Unexpected character (%s) in numeric value: "
                        + "JSON does not allow numbers to have plus signs", JsonErrors.describe('+'));
            default:
                break;
        }
        if (c >= 0 && Character.isJavaIdentifierStart(c)) {
            return errors.unrecognizedToken(p, 1);
        }
        if (c < 0 && Character.isJavaIdentifierStart(codePoint(p))) {
            return errors.unrecognizedToken(p, 0);
        }
        return errors.unexpectedCharacter(p, "expected a valid value " + JsonErrors.VALUES);
    }

    /** The non-ASCII character at {@code p} (the error, if its bytes are not UTF-8). */
    private int codePoint(int p) {
        return Utf8.decode(in, p, Utf8.check(errors, in, p, end, "Unexpected end-of-input"));
    }

    private void open(boolean object, int at) {
        int d = depth + 1;
        if (d > MAX_DEPTH) {
            throw errors.malformed(at, "Document nesting depth (%d) exceeds the maximum allowed (%d)", d, MAX_DEPTH);
        }
        if (d == inObject.length) {
            int size = Math.min(d * 2, MAX_DEPTH + 1);
            inObject = Arrays.copyOf(inObject, size);
            hasEntry = Arrays.copyOf(hasEntry, size);
            openedAt = Arrays.copyOf(openedAt, size);
        }
        inObject[d] = object;
        hasEntry[d] = false;
        openedAt[d] = at;
        depth = d;
    }

    private Token close(int p, int c) {
        int d = depth;
        String kind = c == ']' ? "Array" : "Object";
        if (d == 0) {
            throw errors.malformed(p, "Unexpected close marker '%c': no open %s to close", (char) c, kind);
        }
        boolean object = inObject[d];
        if (object != (c == '}')) {
            throw errors.malformed(p, "Unexpected close marker '%c': expected '%c' (for %s starting at %s)",
                    (char) c, object ? '}' : ']', kind(d), errors.where(openedAt[d]));
        }
        depth = d - 1;
        pos = p + 1;
        tokenStart = p;
        token = object ? Token.END_OBJECT : Token.END_ARRAY;
        return token;
    }

    private Token endOfInput(int p) {
        pos = p;
        if (depth > 0) {
            throw errors.malformed(p, "Unexpected end-of-input: expected close marker for %s (start marker at %s)",
                    kind(depth), errors.where(openedAt[depth]));
        }
        token = null;
        tokenStart = p;
        return null;
    }

    private String kind(int d) {
        return inObject[d] ? "Object" : "Array";
    }

    private int skipWhitespace(int p) {
        final byte[] b = in;
        while (p < end) {
            int c = b[p];
            if (c > ' ' || c < 0) {
                if (c == '/') {
                    throw errors.unexpectedCharacter(p, "maybe a (non-standard) comment? JSON has no comments");
                }
                return p;
            }
            if (c != ' ' && c != '\n' && c != '\r' && c != '\t') {
                throw errors.malformed(p + 1, "Illegal character (%s): only regular white space (\\r, \\n, \\t) "
                        + "is allowed between tokens", JsonErrors.describe(c));
            }
            p++;
        }
        return p;
    }

    private static boolean isWhitespace(byte c) {
        return c == ' ' || c == '\n' || c == '\r' || c == '\t';
    }
}
