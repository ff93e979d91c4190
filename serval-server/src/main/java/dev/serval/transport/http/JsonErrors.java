package dev.serval.transport.http;

import dev.serval.api.ServalException;
import java.nio.charset.StandardCharsets;

/**
 * What is wrong with a JSON text, said the way Jackson said it (the decoder used Jackson's parser
 * before {@link JsonReader}, and clients may match on its words), minus Jackson's advice on its own
 * configuration, and placed at a line and column: "malformed JSON at line 1, column 13: Unexpected
 * close marker '}': expected ']' (for Array starting at line 1, column 12)".
 *
 * <p>Design note: positions are byte offsets until an error is reported; only then is the text
 * scanned for line breaks, so reading pays nothing for them. Lines end at \n, \r or \r\n, columns
 * count bytes from 1, both as Jackson counts.
 *
 * <p>Immutable; one per text, shared by the reader's parts.
 */
final class JsonErrors {
    /** Jackson's list of what may start a value. */
    static final String VALUES = "(JSON String, Number, Array, Object or token 'null', 'true' or 'false')";
    /** Jackson cuts the text of an unrecognized token here. */
    private static final int MAX_TOKEN_LENGTH = 256;

    private final byte[] in;
    private final int start;
    private final int end;

    JsonErrors(byte[] in, int start, int end) {
        this.in = in;
        this.start = start;
        this.end = end;
    }

    /** An INVALID_ARGUMENT naming the line and column of byte {@code p}. */
    ServalException malformed(int p, String format, Object... args) {
        return ServalException.invalidArgument("malformed JSON at %s: %s", where(p), String.format(format, args));
    }

    /** "Unexpected character ('x' (code 120)): ..." for the character that starts at {@code p}. */
    ServalException unexpectedCharacter(int p, String expectation) {
        return malformed(p, "Unexpected character (%s): %s", describeAt(p), expectation);
    }

    /** The same for a byte on its own, which is how Jackson names a byte where it wanted ',' or ':'. */
    ServalException unexpectedByte(int p, String expectation) {
        return malformed(p, "Unexpected character (%s): %s", describe(in[p] & 0xFF), expectation);
    }

    ServalException unquotedControl(int p, int c, String where) {
        return malformed(p, "Illegal unquoted character (%s): has to be escaped using backslash to be included in %s",
                describe(c), where);
    }

    /** "Unrecognized token 'tru'": the {@code matched} ASCII bytes from {@code p} and the letters after them. */
    ServalException unrecognizedToken(int p, int matched) {
        StringBuilder text = new StringBuilder(new String(in, p, matched, StandardCharsets.ISO_8859_1));
        int q = p + matched;
        while (q < end) {
            int codePoint = codePointAt(q);
            if (!Character.isJavaIdentifierPart(codePoint)) {
                break;
            }
            text.appendCodePoint(codePoint);
            q += Utf8.length(codePoint);
            if (text.length() >= MAX_TOKEN_LENGTH) {
                text.append("...");
                break;
            }
        }
        return malformed(p, "Unrecognized token '%s': was expecting %s", text, VALUES);
    }

    /**
     * NaN, Infinity, -Infinity or +Infinity at {@code p} ({@code signLength} 1 for the signed ones):
     * numbers JSON does not have; anything that only starts like one is an unrecognized token.
     */
    ServalException nonStandard(int p, int signLength, String word) {
        int length = word.length();
        int matched = signLength + 1;
        while (matched < length && p + matched < end && in[p + matched] == word.charAt(matched)) {
            matched++;
        }
        if (matched < length || continuesToken(p + length)) {
            return unrecognizedToken(p, matched);
        }
        return malformed(p + length, "Non-standard token '%s': JSON has no such number; send the string \"%s\" instead",
                word, word.charAt(0) == '+' ? word.substring(1) : word);
    }

    /** Jackson's test for a literal running on into more letters ("truex", "NaNa"). */
    boolean continuesToken(int p) {
        if (p >= end) {
            return false;
        }
        int c = in[p] & 0xFF;
        return c >= '0' && c != ']' && c != '}' && Character.isJavaIdentifierPart(codePointAt(p));
    }

    /** The character that starts at {@code p}, described for an error message. */
    String describeAt(int p) {
        return describe(codePointAt(p));
    }

    /** Jackson's description of a character: {@code 'x' (code 120)} or {@code (CTRL-CHAR, code 1)}. */
    static String describe(int c) {
        if (Character.isISOControl(c)) {
            return "(CTRL-CHAR, code " + c + ")";
        }
        String text = "'" + new String(Character.toChars(c)) + "' (code " + c;
        return c > 255 ? text + " / 0x" + Integer.toHexString(c) + ")" : text + ")";
    }

    /** The character at {@code p}, for a message; bytes that are not UTF-8 are themselves the error. */
    private int codePointAt(int p) {
        int c = in[p] & 0xFF;
        if (c < 0x80) {
            return c;
        }
        return Utf8.decode(in, p, Utf8.check(this, in, p, end, "Unexpected end-of-input"));
    }

    /** "line L, column C" of byte {@code p}. */
    String where(int p) {
        int line = 1;
        int lineStart = start;
        int limit = Math.min(p, end);
        for (int i = start; i < limit; i++) {
            byte c = in[i];
            if (c == '\n' || c == '\r') {
                if (c == '\r' && i + 1 < limit && in[i + 1] == '\n') {
                    i++;
                }
                line++;
                lineStart = i + 1;
            }
        }
        return "line " + line + ", column " + (p - lineStart + 1);
    }
}
