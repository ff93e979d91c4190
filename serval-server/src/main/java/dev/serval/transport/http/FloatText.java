package dev.serval.transport.http;

import java.math.BigInteger;

/**
 * A float as text without allocating: exactly the characters of {@link Float#toString(float)} as
 * specified since JDK 19 (the shortest decimal that rounds back to the float, at least two digits,
 * the closer one on a tie between lengths), written into a caller's {@code char[]}.
 *
 * <p>Design note: JSON answers write every FP32, FP16 and BF16 element as text, and
 * {@code Float.toString} (which Jackson's {@code writeNumber(float)} calls) makes a {@code String}
 * per element: 9.5 MB of garbage for one answer of 99,072 floats (serval-bench's
 * FloatAnswerBenchmark). This class implements R. Giulietti's Schubfach ("The Schubfach way to
 * render doubles", 2020) for binary32. A positive float is
 * {@code v = c 2^q}; the decimals that round to it fill the interval {@code R = [u, w]} around it
 * (open when {@code c} is odd, narrower below when {@code v} is a power of two). With {@code k} the
 * largest integer such that {@code 10^k} is at most the width of {@code R}, {@code R} holds at
 * least one and at most ten multiples of {@code 10^k}, and at most one of {@code 10^(k+1)}; so the
 * shortest decimal in {@code R} is that multiple of {@code 10^(k+1)} if there is one, else one of
 * the two multiples of {@code 10^k} around {@code v}, the closer one. Comparing them with {@code u}
 * and {@code w} needs only {@code floor(4x 10^-k)} for {@code x} in {@code u, v, w}, and whether it
 * is exact: that integer "rounded to odd", {@link #roundToOdd}.
 *
 * <p>The paper gets by with a 64-bit approximation of {@code 10^-k} for floats, which it justifies
 * by a finer analysis; this class keeps 128 bits, so that the short argument at {@link #roundToOdd}
 * shows both the floor and its exactness right. It costs one more multiplication.
 * The 77 approximations are computed at class initialisation with {@link BigInteger}. Every one of
 * the 2^32 floats was checked against {@code Float.toString} on JDK 25.
 *
 * <p>Stateless and thread-safe.
 */
final class FloatText {
    /** The longest text: a sign, nine digits, a point and an exponent such as {@code E-38}. */
    static final int MAX_CHARS = 15;
    /** Smallest and largest {@code k}: {@code 10^k} at most the width of R, for q = -149 and 104. */
    private static final int K_MIN = -45;
    private static final int K_MAX = 31;
    private static final int Q_MIN = -149;
    private static final int Q_MAX = 104;
    /** Below this subnormal significand, {@code floor(v 10^-k)} has one digit; see {@link #write}. */
    private static final int C_TINY = 8;
    /**
     * {@code 10^-k = (G_HI[i] 2^64 + G_LO[i]) 2^G_EXP[i]} for {@code i = k - K_MIN}, the 128-bit
     * significand in {@code [2^127, 2^128)}: exact for {@code k <= 0}, rounded up for {@code k > 0}.
     */
    private static final long[] G_HI = new long[K_MAX - K_MIN + 1];
    private static final long[] G_LO = new long[K_MAX - K_MIN + 1];
    private static final int[] G_EXP = new int[K_MAX - K_MIN + 1];
    /** {@code k} for {@code q = Q_MIN + i}: largest with {@code 10^k <= 2^q}, and {@code <= 3 2^(q-2)}. */
    private static final byte[] K_REGULAR = new byte[Q_MAX - Q_MIN + 1];
    private static final byte[] K_POWER_OF_TWO = new byte[Q_MAX - Q_MIN + 1];
    /** "00", "01", ... "99". */
    private static final char[] DIGIT_PAIRS = new char[200];

    static {
        for (int k = K_MIN; k <= K_MAX; k++) {
            BigInteger g;
            int exponent;
            if (k <= 0) {
                BigInteger power = BigInteger.TEN.pow(-k);
                exponent = power.bitLength() - 128;
                g = power.shiftLeft(-exponent);
            } else {
                BigInteger power = BigInteger.TEN.pow(k);
                exponent = -127 - power.bitLength();
                g = BigInteger.ONE.shiftLeft(-exponent).divide(power).add(BigInteger.ONE);
            }
            G_HI[k - K_MIN] = g.shiftRight(64).longValue();
            G_LO[k - K_MIN] = g.longValue();
            G_EXP[k - K_MIN] = exponent;
        }
        for (int i = 0; i < 100; i++) {
            DIGIT_PAIRS[2 * i] = (char) ('0' + i / 10);
            DIGIT_PAIRS[2 * i + 1] = (char) ('0' + i % 10);
        }
        for (int q = Q_MIN; q <= Q_MAX; q++) {
            K_REGULAR[q - Q_MIN] = (byte) largestPowerOfTen(BigInteger.ONE, q);
            K_POWER_OF_TWO[q - Q_MIN] = (byte) largestPowerOfTen(BigInteger.valueOf(3), q - 2);
        }
    }

    private FloatText() {
    }

    /** The largest {@code k} with {@code 10^k <= m 2^e}: estimated in double, then settled exactly. */
    private static int largestPowerOfTen(BigInteger m, int e) {
        int k = (int) Math.floor(Math.log10(m.doubleValue()) + e * Math.log10(2));
        while (compare(k, m, e) > 0) {
            k--;
        }
        while (compare(k + 1, m, e) <= 0) {
            k++;
        }
        if (k < K_MIN || k > K_MAX) {
            throw new IllegalStateException("k = " + k + " for " + m + " 2^" + e);
        }
        return k;
    }

    /** The sign of {@code 10^k - m 2^e}, exactly. */
    private static int compare(int k, BigInteger m, int e) {
        BigInteger left = k >= 0 ? BigInteger.TEN.pow(k) : BigInteger.ONE;
        BigInteger right = k >= 0 ? m : m.multiply(BigInteger.TEN.pow(-k));
        return e >= 0 ? left.compareTo(right.shiftLeft(e)) : left.shiftLeft(-e).compareTo(right);
    }

    /**
     * Writes {@code Float.toString(value)} into {@code out} from {@code at}, including "NaN",
     * "Infinity" and "-Infinity".
     *
     * @param out has at least {@link #MAX_CHARS} chars from {@code at}
     * @return the index just past the last char written
     * @throws ArrayIndexOutOfBoundsException when {@code out} is too short (part may be written)
     */
    static int write(float value, char[] out, int at) {
        int bits = Float.floatToRawIntBits(value);
        int biased = (bits >>> 23) & 0xFF;
        int t = bits & 0x7F_FFFF;
        if (biased == 0xFF) {
            return t != 0 ? put("NaN", out, at) : put(bits < 0 ? "-Infinity" : "Infinity", out, at);
        }
        if (bits < 0) {
            out[at++] = '-';
        }
        if (biased != 0) {
            int q = biased - 150;
            return t == 0 && biased > 1
                    ? decimal(q, 1 << 23, 1, K_POWER_OF_TWO[q - Q_MIN], 0, out, at)
                    : decimal(q, t | 1 << 23, 2, K_REGULAR[q - Q_MIN], 0, out, at);
        }
        if (t == 0) {
            return put("0.0", out, at);
        }
        // A subnormal with c < 8 has v 10^-k below 10, one digit, where the shortest-or-two-digits rule
        // asks for the closer of two-digit decimals: 10c with the exponent one lower gives two digits.
        // Its interval is then 10 times too narrow, but it still holds the closer of s and s + 1.
        return t < C_TINY
                ? decimal(Q_MIN, 10 * t, 2, K_REGULAR[0], -1, out, at)
                : decimal(Q_MIN, t, 2, K_REGULAR[0], 0, out, at);
    }

    /**
     * Chooses the decimal for {@code v = c 2^q} and formats it.
     *
     * @param below {@code 4(v - u) / 2^q}: 2, or 1 when {@code v} is a power of two with a closer
     *        predecessor
     * @param dk added to the decimal exponent (see the tiny subnormals in {@link #write})
     */
    private static int decimal(int q, int c, int below, int k, int dk, char[] out, int at) {
        int index = k - K_MIN;
        int shift = -(q + G_EXP[index]);
        boolean exact = k <= 0;
        long cb = (long) c << 2;
        long vb = roundToOdd(index, cb, shift, exact);
        long vbl = roundToOdd(index, cb - below, shift, exact);
        long vbr = roundToOdd(index, cb + 2, shift, exact);
        int open = c & 1; // ties round to even: the ends of R round to v only when c is even
        long s = vb >> 2;
        if (s >= 100) {
            // The one multiple of 10^(k+1) in R, if any; from s >= 100 on it still has two digits.
            long sp10 = s / 10 * 10;
            long tp10 = sp10 + 10;
            boolean upIn = vbl + open <= sp10 << 2;
            boolean wpIn = (tp10 << 2) + open <= vbr;
            if (upIn != wpIn) {
                return format(upIn ? sp10 : tp10, k + dk, out, at);
            }
        }
        long t = s + 1;
        boolean uIn = vbl + open <= s << 2;
        boolean wIn = (t << 2) + open <= vbr;
        if (uIn != wIn) {
            return format(uIn ? s : t, k + dk, out, at);
        }
        long toMiddle = vb - ((s + t) << 1); // 4v 10^-k against 4 (s + t) / 2
        return format(toMiddle < 0 || toMiddle == 0 && (s & 1) == 0 ? s : t, k + dk, out, at);
    }

    /**
     * {@code floor(x 2^q 10^-k)}, with its lowest bit set when that was not exact, for {@code x} below
     * {@code 2^27}. With {@code g} the table's 128-bit significand, the product {@code P = x g} has
     * {@code x 2^q 10^-k = P / 2^shift}, {@code shift} in [124, 127] (as {@code 2^q 10^-k} is in
     * [1, 40/3)). For {@code k <= 0} {@code g} is exact, so is {@code P}. For {@code k > 0}, {@code g}
     * is at most 1 above the true value, so {@code P} is at most {@code x < 2^27} above; while the
     * true quotient, {@code x 2^(q-k) / 5^k} with {@code q > k} and {@code 5^k < 2^72}, is an integer
     * or at least {@code 2^shift / 5^k > 2^52} units of {@code P} from every integer. So the floor of
     * the computed quotient is right, and the quotient was exact iff its fraction is below
     * {@code 2^40} units of {@code P}.
     */
    private static long roundToOdd(int index, long x, int shift, boolean exact) {
        long gHi = G_HI[index];
        long gLo = G_LO[index];
        long low = x * gLo;
        long highLow = x * gHi;
        long middle = highLow + Math.unsignedMultiplyHigh(x, gLo);
        long top = Math.unsignedMultiplyHigh(x, gHi) + (Long.compareUnsigned(middle, highLow) < 0 ? 1 : 0);
        int s = shift - 64;
        long floor = top << (64 - s) | middle >>> s;
        long fraction = middle << (64 - s) | (exact ? low : low >>> 40);
        return floor | (fraction != 0 ? 1 : 0);
    }

    /** Writes {@code f 10^e} as {@code Float.toString} does. */
    private static int format(long f, int e, char[] out, int at) {
        int digits = (int) f;
        while (digits % 10 == 0) {
            digits /= 10;
            e++;
        }
        int length = length(digits);
        int exponent = e + length - 1; // of the first digit
        if (exponent >= -3 && exponent < 7) {
            if (exponent < 0) {
                out[at++] = '0';
                out[at++] = '.';
                for (int i = -1; i > exponent; i--) {
                    out[at++] = '0';
                }
                return putDigits(digits, length, out, at);
            }
            if (length <= exponent + 1) {
                at = putDigits(digits, length, out, at);
                for (int i = length; i <= exponent; i++) {
                    out[at++] = '0';
                }
                out[at++] = '.';
                out[at++] = '0';
                return at;
            }
            return putDigitsWithPoint(digits, length, exponent + 1, out, at);
        }
        if (length == 1) {
            out[at++] = (char) ('0' + digits);
            out[at++] = '.';
            out[at++] = '0';
        } else {
            at = putDigitsWithPoint(digits, length, 1, out, at);
        }
        out[at++] = 'E';
        if (exponent < 0) {
            out[at++] = '-';
            exponent = -exponent;
        }
        if (exponent >= 10) {
            out[at++] = (char) ('0' + exponent / 10);
        }
        out[at++] = (char) ('0' + exponent % 10);
        return at;
    }

    /** The number of decimal digits of {@code digits}, in [1, 999,999,999]. */
    private static int length(int digits) {
        if (digits < 100_000) {
            return digits < 100 ? (digits < 10 ? 1 : 2) : digits < 1_000 ? 3 : digits < 10_000 ? 4 : 5;
        }
        return digits < 10_000_000 ? (digits < 1_000_000 ? 6 : 7) : digits < 100_000_000 ? 8 : 9;
    }

    /** The {@code length} digits of {@code digits}, two at a time from the right. */
    private static int putDigits(int digits, int length, char[] out, int at) {
        int i = at + length;
        while (i - at >= 2) {
            int pair = (digits % 100) << 1;
            digits /= 100;
            out[--i] = DIGIT_PAIRS[pair + 1];
            out[--i] = DIGIT_PAIRS[pair];
        }
        if (i > at) {
            out[at] = (char) ('0' + digits);
        }
        return at + length;
    }

    /** The digits with a '.' after the first {@code whole} of them (fewer than {@code length}). */
    private static int putDigitsWithPoint(int digits, int length, int whole, char[] out, int at) {
        int end = putDigits(digits, length, out, at + 1);
        System.arraycopy(out, at + 1, out, at, whole);
        out[at + whole] = '.';
        return end;
    }

    private static int put(String text, char[] out, int at) {
        text.getChars(0, text.length(), out, at);
        return at + text.length();
    }
}
