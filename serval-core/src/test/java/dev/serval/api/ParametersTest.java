package dev.serval.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ParametersTest {

    @Test
    void getLong_returnsIntegerValue() {
        Parameters parameters = Parameters.of(Map.of("priority", 3L));
        assertThat(parameters.getLong("priority")).hasValue(3);
    }

    @Test
    void getLong_isEmptyWhenAbsent() {
        assertThat(Parameters.empty().getLong("priority")).isEmpty();
        assertThat(Parameters.of(Map.of("other", 1L)).getLong("priority")).isEmpty();
    }

    @Test
    void getLong_rejectsStringNamingParameterAndQuotedValue() {
        Parameters parameters = Parameters.of(Map.of("timeout", "10"));
        assertThatThrownBy(() -> parameters.getLong("timeout"))
                .isInstanceOfSatisfying(ServalException.class,
                        e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_ARGUMENT))
                .hasMessageContaining("'timeout'")
                .hasMessageContaining("\"10\"")
                .hasMessageContaining("expected an integer");
    }

    @Test
    void getLong_rejectsDoubleAndBoolean() {
        Parameters parameters = Parameters.of(Map.of("a", 1.5, "b", true));
        assertThatThrownBy(() -> parameters.getLong("a"))
                .isInstanceOf(ServalException.class).hasMessageContaining("1.5");
        assertThatThrownBy(() -> parameters.getLong("b"))
                .isInstanceOf(ServalException.class).hasMessageContaining("true");
    }

    @Test
    void getBoolean_returnsValueOrFallback() {
        Parameters parameters = Parameters.of(Map.of("binary_data", true, "off", false));
        assertThat(parameters.getBoolean("binary_data", false)).isTrue();
        assertThat(parameters.getBoolean("off", true)).isFalse();
        assertThat(parameters.getBoolean("absent", true)).isTrue();
        assertThat(parameters.getBoolean("absent", false)).isFalse();
    }

    @Test
    void getBoolean_rejectsNonBooleanNamingValue() {
        Parameters parameters = Parameters.of(Map.of("binary_data", "yes", "n", 1L));
        assertThatThrownBy(() -> parameters.getBoolean("binary_data", false))
                .isInstanceOfSatisfying(ServalException.class,
                        e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_ARGUMENT))
                .hasMessageContaining("'binary_data'")
                .hasMessageContaining("\"yes\"")
                .hasMessageContaining("true or false");
        assertThatThrownBy(() -> parameters.getBoolean("n", false))
                .isInstanceOf(ServalException.class).hasMessageContaining("1");
    }

    @Test
    void of_rejectsUnsupportedValueTypes() {
        assertThatThrownBy(() -> Parameters.of(Map.of("n", 1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'n'");
        assertThatThrownBy(() -> Parameters.of(Map.of("f", 1.5f)))
                .isInstanceOf(IllegalArgumentException.class);
        Map<String, Object> withNull = new HashMap<>();
        withNull.put("x", null);
        assertThatThrownBy(() -> Parameters.of(withNull)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void of_copiesSoLaterChangesToTheSourceDoNotShow() {
        Map<String, Object> source = new LinkedHashMap<>();
        source.put("a", 1L);
        Parameters parameters = Parameters.of(source);
        source.put("b", 2L);
        source.put("a", "changed");
        assertThat(parameters.asMap()).containsExactly(Map.entry("a", 1L));
    }

    @Test
    void asMap_isUnmodifiable() {
        Parameters parameters = Parameters.of(Map.of("a", 1L));
        assertThatThrownBy(() -> parameters.asMap().put("b", 2L)).isInstanceOf(UnsupportedOperationException.class);
        assertThatThrownBy(() -> parameters.asMap().clear()).isInstanceOf(UnsupportedOperationException.class);
        assertThatThrownBy(() -> Parameters.empty().asMap().put("b", 2L))
                .isInstanceOf(UnsupportedOperationException.class);
    }

    @Test
    void asMap_keepsInsertionOrder() {
        Map<String, Object> source = new LinkedHashMap<>();
        source.put("z", 1L);
        source.put("a", "x");
        source.put("m", true);
        assertThat(Parameters.of(source).asMap().keySet()).containsExactly("z", "a", "m");
    }

    @Test
    void with_returnsCopyAndLeavesOriginalUnchanged() {
        Parameters original = Parameters.of(Map.of("a", 1L));
        Parameters changed = original.with("b", "x").with("a", 2L);
        assertThat(original.asMap()).containsExactly(Map.entry("a", 1L));
        assertThat(changed.asMap()).containsExactly(Map.entry("a", 2L), Map.entry("b", "x"));
        assertThat(Parameters.empty().isEmpty()).isTrue();
        assertThat(Parameters.empty().with("k", true).isEmpty()).isFalse();
        assertThat(Parameters.empty().isEmpty()).isTrue();
    }

    @Test
    void with_rejectsUnsupportedValue() {
        assertThatThrownBy(() -> Parameters.empty().with("n", 3)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void empty_isEmptyAndOfEmptyMapIsEmpty() {
        assertThat(Parameters.empty().isEmpty()).isTrue();
        assertThat(Parameters.of(Map.of()).isEmpty()).isTrue();
        assertThat(Parameters.of(Map.of()).asMap()).isEmpty();
    }
}
