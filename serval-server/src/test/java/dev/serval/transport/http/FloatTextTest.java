package dev.serval.transport.http;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.CharBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * {@link FloatText} writes exactly {@code Float.toString}'s characters. The whole range of 2^32 bit
 * patterns was checked once by hand (see BENCHMARKS.md); these tests keep the boundaries and a few
 * million random patterns under watch.
 */
class FloatTextTest {
    /** The first mismatch, or null: one string per float, compared without AssertJ in the loop. */
    private static String firstMismatch(Iterable<Float> values) {
        char[] out = new char[FloatText.MAX_CHARS];
        for (float value : values) {
            String mismatch = mismatch(value, out);
            if (mismatch != null) {
                return mismatch;
            }
        }
        return null;
    }

    private static String mismatch(float value, char[] out) {
        String expected = Float.toString(value);
        int end = FloatText.write(value, out, 0);
        if (end == expected.length() && expected.contentEquals(CharBuffer.wrap(out, 0, end))) {
            return null;
        }
        return "bits 0x" + Integer.toHexString(Float.floatToRawIntBits(value)) + ": expected " + expected
                + ", wrote " + new String(out, 0, end);
    }

    private static List<Float> withNeighbours(float... values) {
        List<Float> all = new ArrayList<>();
        for (float value : values) {
            for (float f : new float[] {value, Math.nextUp(value), Math.nextDown(value)}) {
                all.add(f);
                all.add(-f);
            }
        }
        return all;
    }

    @Test
    void write_matchesFloatToStringForSpecialValues() {
        assertThat(firstMismatch(withNeighbours(0f, Float.MIN_VALUE, 2 * Float.MIN_VALUE, 7 * Float.MIN_VALUE,
                8 * Float.MIN_VALUE, 100 * Float.MIN_VALUE, Float.intBitsToFloat(0x7F_FFFF), Float.MIN_NORMAL,
                Float.MAX_VALUE, 1f, 0.1f, 0.2f, 0.3f, 1f / 3, 2f / 3, 16777216f, 3.4e38f))).isNull();
        assertThat(firstMismatch(List.of(Float.NaN, Float.intBitsToFloat(0xFFC0_0001), Float.POSITIVE_INFINITY,
                Float.NEGATIVE_INFINITY))).isNull();
    }

    @Test
    void write_matchesFloatToStringForPowersOfTwoAndTen() {
        List<Float> values = new ArrayList<>();
        for (int e = -149; e <= 127; e++) {
            values.addAll(withNeighbours(Math.scalb(1f, e), 3 * Math.scalb(1f, e - 2)));
        }
        for (int e = -45; e <= 38; e++) {
            values.addAll(withNeighbours(Float.parseFloat("1e" + e), Float.parseFloat("9.999999e" + e)));
        }
        assertThat(firstMismatch(values)).isNull();
    }

    @Test
    void write_switchesFormatAtOneThousandthAndTenMillion() {
        char[] out = new char[FloatText.MAX_CHARS];
        assertThat(text(0.001f, out)).isEqualTo("0.001");
        assertThat(text(Math.nextDown(0.001f), out)).isEqualTo("9.999999E-4");
        assertThat(text(9999999f, out)).isEqualTo("9999999.0");
        assertThat(text(1e7f, out)).isEqualTo("1.0E7");
        assertThat(text(-123456.79f, out)).isEqualTo("-123456.79");
        assertThat(text(100f, out)).isEqualTo("100.0");
    }

    @Test
    void write_keepsNineDigitsWhereEightDoNotRoundTrip() {
        char[] out = new char[FloatText.MAX_CHARS];
        assertThat(text(Float.intBitsToFloat(0x3DD9_DCAE), out)).isEqualTo("0.106377944");
        assertThat(text(Float.intBitsToFloat(0xC7C5_D755), out)).isEqualTo("-101294.664");
        assertThat(text(Float.intBitsToFloat(0x465F_5695), out)).isEqualTo("14293.6455");
        assertThat(text(Float.MIN_VALUE, out)).isEqualTo("1.4E-45");
    }

    @Test
    void write_matchesFloatToStringForIntegersUpTo2To24AndBeyond() {
        char[] out = new char[FloatText.MAX_CHARS];
        String mismatch = null;
        for (int i = 0; i <= 1 << 24 && mismatch == null; i++) {
            mismatch = mismatch(i, out);
        }
        for (long i = (1 << 24) + 1; i < 1L << 34 && mismatch == null; i += 1 + (i >>> 12)) {
            mismatch = mismatch(i, out);
        }
        assertThat(mismatch).isNull();
    }

    @Test
    void write_matchesFloatToStringForRandomBitPatterns() {
        char[] out = new char[FloatText.MAX_CHARS];
        Random random = new Random(20261207);
        String mismatch = null;
        for (int i = 0; i < 4_000_000 && mismatch == null; i++) {
            mismatch = mismatch(Float.intBitsToFloat(random.nextInt()), out);
        }
        for (int i = 0; i < 1_000_000 && mismatch == null; i++) {
            mismatch = mismatch((float) random.nextGaussian(), out);
        }
        assertThat(mismatch).isNull();
    }

    @Test
    void write_writesFromTheOffsetAndReturnsTheEnd() {
        char[] out = "[xxxxxxxxxxxxxxxxxxxx".toCharArray();
        int end = FloatText.write(-1.5f, out, 1);
        assertThat(new String(out, 0, end)).isEqualTo("[-1.5");
        assertThat(end).isEqualTo(5);
        assertThat(out[end]).isEqualTo('x');
    }

    @Test
    void write_fitsTheLongestTextInMaxChars() {
        char[] out = new char[FloatText.MAX_CHARS];
        float longest = -Float.intBitsToFloat(0x0A52_0672); // -1.01123444E-32
        assertThat(text(longest, out)).hasSize(FloatText.MAX_CHARS).isEqualTo(Float.toString(longest));
    }

    private static String text(float value, char[] out) {
        return new String(out, 0, FloatText.write(value, out, 0));
    }
}
