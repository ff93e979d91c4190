package dev.serval.transport.http;

import ch.randelshofer.fastdoubleparser.JavaDoubleParser;
import ch.randelshofer.fastdoubleparser.JavaFloatParser;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * JSON numbers: their grammar, checked while their digits are gathered, and their conversion to
 * float and double, rounded once to nearest even: exactly what {@code Float.parseFloat} and
 * {@code Double.parseDouble} give for the same text, never a float rounded from a rounded double.
 *
 * <p>Design note: scanning keeps up to 18 significant digits as a {@code long} significand {@code w}
 * and the power of ten {@code q} that scales it ({@code x = w * 10^q}), so that most numbers are
 * converted without reading their text again:
 * <ul>
 *   <li>Double: Clinger's fast path. When {@code w < 2^53} and {@code |q| <= 22}, both {@code w} and
 *       {@code 10^|q|} are exact doubles, so one multiplication or division rounds once: the result
 *       is correctly rounded.</li>
 *   <li>Float: a guarded path through double, for every {@code w} of up to 18 digits with
 *       {@code |q| <= 22}, which takes in PyTorch's 17-digit floats. {@code d = (double) w * 10^q}
 *       rounds at most three times ({@code w}, a negative power of ten, the product), so it is within
 *       3 ulps of {@code x}. Rounding {@code d} to float gives the float nearest {@code x} unless a
 *       float rounding boundary lies within those 3 ulps: a point halfway between two floats, exact
 *       in double, whose low 29 mantissa bits are {@code 1 << 28}. Otherwise {@code d} and {@code x}
 *       are on the same side of every boundary and round alike. So when the low 29 bits of {@code d}
 *       are within 4 of {@code 1 << 28}, the path steps aside (about one number in 60 million). A
 *       plain float-via-double conversion goes wrong exactly there: the double lands on the boundary
 *       and ties to even. Results stay in float's normal range ({@code 10^-22 > 2^-126}), and
 *       overflow rounds right because the largest float plus half an ulp is such a boundary too.
 *       Float's own Clinger path ({@code w < 2^24}, {@code |q| <= 10}) would need a division; one
 *       multiplication is faster and covers it.</li>
 *   <li>Everything else (more digits, larger exponents, a double's significand above 2^53) goes to
 *       FastDoubleParser on the number's bytes, which is exact.</li>
 * </ul>
 * An integer token keeps Jackson's reading, integer first: {@code -0} is +0.0.
 *
 * <p>Stateless; a {@link Number} belongs to one reader.
 */
final class DecimalConversion {
    private static final double[] DOUBLE_POWERS = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
            1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    /** 10^-22 to 10^22 as doubles, the negative powers rounded: {@code SCALES[q + 22]} is 10^q. */
    private static final double[] SCALES = new double[45];
    /** Significands of up to 18 digits are exact in a long. */
    private static final int EXACT_DIGITS = 18;
    private static final int FLOAT_BOUNDARY = 1 << 28;
    private static final int FLOAT_DROPPED_BITS = (1 << 29) - 1;
    /** More than the 3 ulps the double may be off by. */
    private static final int FLOAT_MARGIN = 4;
    /** Eight bytes that are all '0' (x ^ ZEROS turns digits into their values). */
    private static final long ZEROS = 0x3030303030303030L;
    private static final VarHandle LONG = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    static {
        for (int q = -22; q <= 22; q++) {
            SCALES[q + 22] = q < 0 ? Double.parseDouble("1e" + q) : DOUBLE_POWERS[q];
        }
    }

    private DecimalConversion() {
    }

    /** Nonzero unless all eight bytes of {@code x} (bytes XORed with '0') were digits. */
    static long nonDigits(long x) {
        return ((x + 0x7676767676767676L) | x) & 0x8080808080808080L;
    }

    /** The value of eight decimal digits, one per byte (0 to 9), the first in the lowest byte. */
    static long eightDigits(long x) {
        x = (x * 2561) >>> 8;
        x = ((x & 0x00FF00FF00FF00FFL) * 6553601) >>> 16;
        return ((x & 0x0000FFFF0000FFFFL) * 42949672960001L) >>> 32;
    }

    /** The current number token of a reader: where it is written and what its digits are. */
    static final class Number {
        private int start;
        private int end;
        /** 1 for a minus sign, else 0: arithmetic rather than branches, since signs are as good as random. */
        private int sign;
        private boolean integer;
        /** The digits without the point, exact when {@code digits <= 18}. */
        private long significand;
        private int digits;
        private int integerDigits;
        /** The power of ten the significand is scaled by. */
        private int exponent;

        /**
         * Checks the number starting at {@code p} ('-' or a digit) against JSON's grammar and records
         * it; returns the position after it.
         */
        int scan(JsonErrors errors, byte[] b, int p, int end) {
            int after = scanCommon(b, p, end);
            return after >= 0 ? after : scanAny(errors, b, p, end);
        }

        /**
         * The numbers tensors are made of, fast: {@code -?(0|[1-9][0-9]*)(\.[0-9]+)?} with at most 18
         * digits. Returns -1, recording nothing, for anything else: {@link #scanAny} then reads it.
         * (Kept small enough for the JIT to inline into the loops that call it.)
         */
        int scanCommon(byte[] b, int p, int end) {
            int first = p;
            // 1 for '-', else 0, without a branch (a minus sign is as likely as not).
            int minus = (((b[p] & 0xFF) ^ '-') - 1) >>> 31;
            p += minus;
            int integerStart = p;
            long w = 0;
            for (int digit; p < end && (digit = b[p] - '0') >= 0 && digit <= 9; p++) {
                w = w * 10 + digit;
            }
            int intDigits = p - integerStart;
            if (intDigits == 0 || (intDigits > 1 && b[integerStart] == '0')) {
                return -1;
            }
            boolean point = p < end && b[p] == '.';
            int fractionDigits = 0;
            if (point) {
                int fractionStart = ++p;
                // Long fractions (PyTorch's 17 digits) eight at a time, the rest byte by byte.
                for (long x; p <= end - 8 && nonDigits(x = (long) LONG.get(b, p) ^ ZEROS) == 0; p += 8) {
                    w = w * 100_000_000 + eightDigits(x);
                }
                for (int digit; p < end && (digit = b[p] - '0') >= 0 && digit <= 9; p++) {
                    w = w * 10 + digit;
                }
                fractionDigits = p - fractionStart;
                if (fractionDigits == 0) {
                    return -1;
                }
            }
            if (intDigits + fractionDigits > EXACT_DIGITS || (p < end && (b[p] | 0x20) == 'e')) {
                return -1;
            }
            record(first, p, minus, !point, w, intDigits, fractionDigits);
            return p;
        }

        private void record(int first, int after, int minus, boolean isInteger, long w, int intDigits,
                            int fractionDigits) {
            this.start = first;
            this.end = after;
            this.sign = minus;
            this.integer = isInteger;
            this.significand = w;
            this.digits = intDigits + fractionDigits;
            this.integerDigits = intDigits;
            this.exponent = -fractionDigits;
        }

        /** Every number, and every way of not being one, in Jackson's words. */
        int scanAny(JsonErrors errors, byte[] b, int p, int end) {
            int first = p;
            boolean minus = b[p] == '-';
            if (minus) {
                p++;
                if (p >= end) {
                    throw errors.malformed(p, "Unexpected end-of-input in a Number value");
                }
                int c = b[p];
                if (c < '0' || c > '9') {
                    if (c == 'I') {
                        throw errors.nonStandard(first, 1, "-Infinity");
                    }
                    throw errors.malformed(p, "Unexpected character (%s) in numeric value: expected digit (0-9) "
                            + "to follow minus sign, for valid numeric value", errors.describeAt(p));
                }
            }
            int integerStart = p;
            significand = 0;
            if (b[p] == '0') {
                p++;
                if (p < end && b[p] >= '0' && b[p] <= '9') {
                    throw errors.malformed(p, "Invalid numeric value: Leading zeroes not allowed");
                }
            } else {
                p = digits(b, p, end);
            }
            int intDigits = p - integerStart;
            int fractionDigits = 0;
            int exponentDigits = 0;
            int power = 0;
            boolean isInteger = true;
            if (p < end && b[p] == '.') {
                isInteger = false;
                int fractionStart = ++p;
                p = digits(b, p, end);
                fractionDigits = p - fractionStart;
                if (fractionDigits == 0) {
                    int at = p < end ? p : p - 1;
                    throw errors.malformed(at, "Unexpected character (%s) in numeric value: "
                            + "Decimal point not followed by a digit", errors.describeAt(at));
                }
            }
            if (p < end && (b[p] | 0x20) == 'e') {
                isInteger = false;
                p++;
                boolean negativePower = false;
                if (p < end && (b[p] == '-' || b[p] == '+')) {
                    negativePower = b[p] == '-';
                    p++;
                }
                int exponentStart = p;
                while (p < end) {
                    int digit = b[p] - '0';
                    if (digit < 0 || digit > 9) {
                        break;
                    }
                    if (power < 100_000_000) {
                        power = power * 10 + digit;
                    }
                    p++;
                }
                exponentDigits = p - exponentStart;
                if (exponentDigits == 0) {
                    if (p >= end) {
                        throw errors.malformed(p, "Unexpected end-of-input in a Number value");
                    }
                    throw errors.malformed(p, "Unexpected character (%s) in numeric value: "
                            + "Exponent indicator not followed by a digit", errors.describeAt(p));
                }
                if (negativePower) {
                    power = -power;
                }
            }
            int length = isInteger ? intDigits : intDigits + fractionDigits + exponentDigits;
            if (length > JsonReader.MAX_NUMBER_LENGTH) {
                throw errors.malformed(first, "Number value length (%d) exceeds the maximum allowed (%d)",
                        length, JsonReader.MAX_NUMBER_LENGTH);
            }
            this.start = first;
            this.end = p;
            this.sign = minus ? 1 : 0;
            this.integer = isInteger;
            this.digits = intDigits + fractionDigits;
            this.integerDigits = intDigits;
            this.exponent = power - fractionDigits;
            return p;
        }

        /**
         * Appends the run of digits at {@code p} to the significand and returns the position after
         * it: eight at a time while there are eight (a few operations on a long, SWAR), then byte by
         * byte. (Finding where a run ends within eight bytes would make each position wait on
         * arithmetic on the bytes; a byte loop's well-predicted branches let the CPU run ahead.)
         */
        private int digits(byte[] b, int p, int end) {
            long w = significand;
            while (p <= end - 8) {
                long x = (long) LONG.get(b, p) ^ ZEROS;
                if (nonDigits(x) != 0) {
                    break;
                }
                w = w * 100_000_000 + eightDigits(x);
                p += 8;
            }
            while (p < end) {
                int digit = b[p] - '0';
                if (digit < 0 || digit > 9) {
                    break;
                }
                w = w * 10 + digit;
                p++;
            }
            significand = w;
            return p;
        }

        boolean isInteger() {
            return integer;
        }

        String text(byte[] b) {
            return new String(b, start, end - start, StandardCharsets.ISO_8859_1);
        }

        /** An integer within [Long.MIN_VALUE, Long.MAX_VALUE]. */
        boolean fitsLong(byte[] b) {
            if (integerDigits <= EXACT_DIGITS) {
                return true;
            }
            if (integerDigits > 19) {
                return false;
            }
            String limit = sign == 1 ? "9223372036854775808" : "9223372036854775807";
            int from = start + sign;
            for (int i = 0; i < 19; i++) {
                int difference = b[from + i] - limit.charAt(i);
                if (difference != 0) {
                    return difference < 0;
                }
            }
            return true;
        }

        long longValue(byte[] b) {
            if (integerDigits <= EXACT_DIGITS) {
                return (significand ^ -sign) + sign;
            }
            return Long.parseLong(text(b));
        }
    }

    static float toFloat(Number n, byte[] b) {
        if (n.digits <= EXACT_DIGITS) {
            long w = n.significand;
            if (n.integer) {
                // Jackson reads an integer as a long first, so -0 is +0.0.
                return (float) ((w ^ -n.sign) + n.sign);
            }
            int q = n.exponent;
            if (q >= -22 && q <= 22) {
                double value = (double) w * SCALES[q + 22];
                int dropped = (int) Double.doubleToRawLongBits(value) & FLOAT_DROPPED_BITS;
                if (Math.abs(dropped - FLOAT_BOUNDARY) > FLOAT_MARGIN) {
                    return Float.intBitsToFloat(Float.floatToRawIntBits((float) value) | n.sign << 31);
                }
            }
        }
        return JavaFloatParser.parseFloat(b, n.start, n.end - n.start);
    }

    static double toDouble(Number n, byte[] b) {
        if (n.digits <= EXACT_DIGITS) {
            long w = n.significand;
            if (n.integer) {
                return (double) ((w ^ -n.sign) + n.sign);
            }
            int q = n.exponent;
            if (w < 1L << 53 && q >= -22 && q <= 22) {
                double value = q < 0 ? (double) w / DOUBLE_POWERS[-q] : (double) w * DOUBLE_POWERS[q];
                return Double.longBitsToDouble(Double.doubleToRawLongBits(value) | (long) n.sign << 63);
            }
        }
        return JavaDoubleParser.parseDouble(b, n.start, n.end - n.start);
    }
}
