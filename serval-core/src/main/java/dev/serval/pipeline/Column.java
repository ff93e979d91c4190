package dev.serval.pipeline;

import dev.serval.api.DataType;
import dev.serval.features.Feature;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * One column of an assembled model input: an expression over one row's request inputs and looked
 * up features, evaluated in double precision and stored as FP32.
 *
 * <pre>
 * column   := name | function '(' column (',' column)* ')'
 * name     := a pipeline input holding a number per row (FP32, FP64, INT32, INT64), or a feature
 *             ({@link Feature#wireName()}, e.g. count_1m)
 * log1p(x)          ln(1 + x), with x below 0 taken as 0 (amounts and counts are never negative)
 * hour_of_day(ms)   the UTC hour, 0..23, of an epoch-millisecond time
 * ratio(a, b)       a / b, or 0 when b is 0 (a mean over nothing is 0)
 * </pre>
 *
 * <p>Design note: evaluation walks a tiny tree per element rather than compiling anything: a
 * model input has a dozen columns and a batch some tens of rows, so the walk costs well under a
 * microsecond a request, allocates nothing, and stays obvious. Immutable and thread-safe.
 */
sealed interface Column {

    /** This column's value for one row. */
    double value(Frame frame, int row);

    /** The text it was parsed from, normalised (single spaces after commas). */
    String text();

    /** A request input's value: the row's only element, as a double. */
    record Input(String name, int index, DataType type) implements Column {
        @Override
        public double value(Frame frame, int row) {
            return frame.input(index, type, row);
        }

        @Override
        public String text() {
            return name;
        }
    }

    /** A looked-up feature of the row's entity. */
    record FeatureValue(Feature feature) implements Column {
        @Override
        public double value(Frame frame, int row) {
            return frame.feature(row, feature);
        }

        @Override
        public String text() {
            return feature.wireName();
        }
    }

    /** {@code log1p(x)}. */
    record Log1p(Column argument) implements Column {
        @Override
        public double value(Frame frame, int row) {
            return Math.log1p(Math.max(0.0, argument.value(frame, row)));
        }

        @Override
        public String text() {
            return "log1p(" + argument.text() + ")";
        }
    }

    /** {@code hour_of_day(ms)}. */
    record HourOfDay(Column argument) implements Column {
        private static final long DAY = 86_400_000L;
        private static final long HOUR = 3_600_000L;

        @Override
        public double value(Frame frame, int row) {
            return Math.floorMod((long) argument.value(frame, row), DAY) / HOUR;
        }

        @Override
        public String text() {
            return "hour_of_day(" + argument.text() + ")";
        }
    }

    /** {@code ratio(a, b)}. */
    record Ratio(Column numerator, Column denominator) implements Column {
        @Override
        public double value(Frame frame, int row) {
            double divisor = denominator.value(frame, row);
            return divisor == 0.0 ? 0.0 : numerator.value(frame, row) / divisor;
        }

        @Override
        public String text() {
            return "ratio(" + numerator.text() + ", " + denominator.text() + ")";
        }
    }

    /** What a column may name. */
    String GRAMMAR = "a number input, a feature " + featureNames()
            + ", log1p(x), hour_of_day(ms) or ratio(a, b)";

    private static List<String> featureNames() {
        List<String> names = new ArrayList<>();
        for (Feature feature : Feature.values()) {
            names.add(feature.wireName());
        }
        return names;
    }

    /**
     * Parses one column.
     *
     * @param inputs the pipeline's number inputs by name, each with its index and type
     * @throws IllegalArgumentException saying what is wrong with the text
     */
    static Column parse(String text, Map<String, Input> inputs) {
        Parser parser = new Parser(text, inputs);
        Column column = parser.column();
        parser.skipSpaces();
        if (parser.position != text.length()) {
            throw new IllegalArgumentException("unexpected '" + text.substring(parser.position) + "'");
        }
        return column;
    }

    /** Recursive descent over {@code name | function(column, ...)}. */
    final class Parser {
        private final String text;
        private final Map<String, Input> inputs;
        private int position;

        private Parser(String text, Map<String, Input> inputs) {
            this.text = text;
            this.inputs = inputs;
        }

        Column column() {
            String name = identifier();
            skipSpaces();
            if (position < text.length() && text.charAt(position) == '(') {
                position++;
                List<Column> arguments = new ArrayList<>();
                arguments.add(column());
                skipSpaces();
                while (position < text.length() && text.charAt(position) == ',') {
                    position++;
                    arguments.add(column());
                    skipSpaces();
                }
                expect(')');
                return function(name, arguments);
            }
            Input input = inputs.get(name);
            if (input != null) {
                return input;
            }
            Feature feature = Feature.byWireName(name);
            if (feature != null) {
                return new FeatureValue(feature);
            }
            throw new IllegalArgumentException("'" + name + "' is neither a number input of the pipeline "
                    + inputs.keySet() + " nor a feature " + featureNames());
        }

        private Column function(String name, List<Column> arguments) {
            int expected = switch (name) {
                case "log1p", "hour_of_day" -> 1;
                case "ratio" -> 2;
                default -> throw new IllegalArgumentException("unknown function '" + name
                        + "'; the functions are log1p(x), hour_of_day(ms) and ratio(a, b)");
            };
            if (arguments.size() != expected) {
                throw new IllegalArgumentException(name + " takes " + expected + " argument(s), not "
                        + arguments.size());
            }
            return switch (name) {
                case "log1p" -> new Log1p(arguments.get(0));
                case "hour_of_day" -> new HourOfDay(arguments.get(0));
                default -> new Ratio(arguments.get(0), arguments.get(1));
            };
        }

        private String identifier() {
            skipSpaces();
            int start = position;
            while (position < text.length()
                    && (Character.isLetterOrDigit(text.charAt(position)) || text.charAt(position) == '_')) {
                position++;
            }
            if (start == position) {
                throw new IllegalArgumentException(position < text.length()
                        ? "unexpected '" + text.charAt(position) + "' at character " + (position + 1)
                        : "a name is missing at the end");
            }
            return text.substring(start, position);
        }

        private void expect(char wanted) {
            skipSpaces();
            if (position >= text.length() || text.charAt(position) != wanted) {
                throw new IllegalArgumentException("expected '" + wanted + "' at character " + (position + 1));
            }
            position++;
        }

        void skipSpaces() {
            while (position < text.length() && text.charAt(position) == ' ') {
                position++;
            }
        }
    }
}
