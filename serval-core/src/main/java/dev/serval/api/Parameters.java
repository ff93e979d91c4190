package dev.serval.api;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.OptionalLong;

/**
 * Protocol {@code parameters}: names mapped to a {@link String}, {@link Long}, {@link Double} or
 * {@link Boolean}. Immutable and thread-safe.
 */
public final class Parameters {
    private static final Parameters EMPTY = new Parameters(Map.of());

    private final Map<String, Object> values;

    private Parameters(Map<String, Object> values) {
        this.values = values;
    }

    public static Parameters empty() {
        return EMPTY;
    }

    /**
     * Copies the map, keeping its order.
     *
     * @throws IllegalArgumentException if a value is not a String, Long, Double or Boolean
     */
    public static Parameters of(Map<String, ?> values) {
        if (values.isEmpty()) {
            return EMPTY;
        }
        Map<String, Object> copy = new LinkedHashMap<>();
        values.forEach((name, value) -> {
            if (!(value instanceof String || value instanceof Long || value instanceof Double
                    || value instanceof Boolean)) {
                throw new IllegalArgumentException("parameter '" + name + "' has unsupported value " + value);
            }
            copy.put(name, value);
        });
        return new Parameters(Collections.unmodifiableMap(copy));
    }

    public boolean isEmpty() {
        return values.isEmpty();
    }

    /** The values in their original order; unmodifiable. */
    public Map<String, Object> asMap() {
        return values;
    }

    /** Returns a copy with {@code name} set to {@code value}. */
    public Parameters with(String name, Object value) {
        Map<String, Object> copy = new LinkedHashMap<>(values);
        copy.put(name, value);
        return of(copy);
    }

    /**
     * The named integer parameter, if present.
     *
     * @throws ServalException INVALID_ARGUMENT if present with a non-integer value
     */
    public OptionalLong getLong(String name) {
        Object value = values.get(name);
        if (value == null) {
            return OptionalLong.empty();
        }
        if (value instanceof Long number) {
            return OptionalLong.of(number);
        }
        throw ServalException.invalidArgument("parameter '%s' has value %s; expected an integer",
                name, describe(value));
    }

    /**
     * The named boolean parameter, or {@code fallback} when absent.
     *
     * @throws ServalException INVALID_ARGUMENT if present with a non-boolean value
     */
    public boolean getBoolean(String name, boolean fallback) {
        Object value = values.get(name);
        if (value == null) {
            return fallback;
        }
        if (value instanceof Boolean flag) {
            return flag;
        }
        throw ServalException.invalidArgument("parameter '%s' has value %s; expected true or false",
                name, describe(value));
    }

    private static String describe(Object value) {
        return value instanceof String text ? "\"" + text + "\"" : String.valueOf(value);
    }

    @Override
    public String toString() {
        return values.toString();
    }
}
