package dev.serval.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

class DataTypeTest {

    @ParameterizedTest
    @EnumSource(DataType.class)
    void parse_acceptsEveryProtocolName(DataType type) {
        assertThat(DataType.parse("x", type.name())).isSameAs(type);
    }

    @ParameterizedTest
    @ValueSource(strings = {"fp32", "Fp32", "fP32"})
    void parse_ignoresCase(String name) {
        assertThat(DataType.parse("x", name)).isEqualTo(DataType.FP32);
    }

    @Test
    void parse_ignoresCaseUnderTurkishLocaleToo() {
        java.util.Locale saved = java.util.Locale.getDefault();
        java.util.Locale.setDefault(java.util.Locale.forLanguageTag("tr-TR"));
        try {
            assertThat(DataType.parse("x", "uint8")).isEqualTo(DataType.UINT8);
            assertThat(DataType.parse("x", "bytes")).isEqualTo(DataType.BYTES);
        } finally {
            java.util.Locale.setDefault(saved);
        }
    }

    @Test
    void parse_rejectsUnknownNamingValueFieldAndAcceptedList() {
        assertThatThrownBy(() -> DataType.parse("input 'input'", "FLOAT32"))
                .isInstanceOfSatisfying(ServalException.class,
                        e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_ARGUMENT))
                .hasMessageContaining("input 'input'")
                .hasMessageContaining("'FLOAT32'")
                .hasMessageContaining("BOOL, UINT8, UINT16, UINT32, UINT64, INT8, INT16, INT32, INT64, "
                        + "FP16, FP32, FP64, BF16, BYTES");
    }

    @ParameterizedTest
    @ValueSource(strings = {"", " FP32", "FP32 ", "FP 32", "float"})
    void parse_rejectsNearMisses(String name) {
        assertThatThrownBy(() -> DataType.parse("x", name))
                .isInstanceOf(ServalException.class)
                .hasMessageContaining("'" + name + "'");
    }

    @Test
    void parse_rejectsNullWithInvalidArgument() {
        assertThatThrownBy(() -> DataType.parse("inputs[0] datatype", null))
                .isInstanceOfSatisfying(ServalException.class,
                        e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_ARGUMENT))
                .hasMessageContaining("inputs[0] datatype");
    }

    @Test
    void byteSize_matchesProtocolWidths() {
        assertThat(DataType.BOOL.byteSize()).isEqualTo(1);
        assertThat(DataType.UINT16.byteSize()).isEqualTo(2);
        assertThat(DataType.FP16.byteSize()).isEqualTo(2);
        assertThat(DataType.BF16.byteSize()).isEqualTo(2);
        assertThat(DataType.UINT32.byteSize()).isEqualTo(4);
        assertThat(DataType.FP64.byteSize()).isEqualTo(8);
        assertThat(DataType.UINT64.byteSize()).isEqualTo(8);
        assertThat(DataType.BYTES.byteSize()).isEqualTo(-1);
        assertThat(DataType.BYTES.isFixedWidth()).isFalse();
        assertThat(DataType.BOOL.isFixedWidth()).isTrue();
    }

    @Test
    void categories_areDisjointAndComplete() {
        for (DataType type : DataType.values()) {
            int categories = (type.isFloatingPoint() ? 1 : 0) + (type.isInteger() ? 1 : 0)
                    + (type == DataType.BOOL || type == DataType.BYTES ? 1 : 0);
            assertThat(categories).as(type.name()).isEqualTo(1);
        }
        assertThat(DataType.BF16.isFloatingPoint()).isTrue();
        assertThat(DataType.UINT64.isInteger()).isTrue();
        assertThat(DataType.BOOL.isInteger()).isFalse();
    }
}
