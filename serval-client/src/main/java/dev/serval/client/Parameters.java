package dev.serval.client;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/** Parameter values as the protocol knows them: String, Long, Double or Boolean. */
final class Parameters {
    private Parameters() {
    }

    static Object normalize(String name, Object value) {
        return switch (value) {
            case String text -> text;
            case Boolean flag -> flag;
            case Long number -> number;
            case Integer number -> number.longValue();
            case Short number -> number.longValue();
            case Byte number -> number.longValue();
            case Double number -> number;
            case Float number -> number.doubleValue();
            case null -> throw new IllegalArgumentException("parameter '" + name + "' has no value");
            default -> throw new IllegalArgumentException("parameter '" + name + "' is a " + value.getClass().getSimpleName()
                    + "; expected a String, Boolean, or number");
        };
    }

    static Map<String, Object> freeze(Map<String, Object> parameters) {
        return parameters.isEmpty() ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(parameters));
    }
}
