package dev.serval.client;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.serval.testing.Examples;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;

/** The reference cases in examples/reference, as client requests and expected outputs. */
final class References {
    private static final ObjectMapper JSON = new ObjectMapper();

    private References() {
    }

    /** One reference case. */
    record Case(String name, String model, String version, double absolute, double relative, JsonNode request,
                JsonNode outputs) {
        @Override
        public String toString() {
            return model + ": " + name;
        }

        InferRequest inferRequest() {
            InferRequest.Builder builder = InferRequest.builder(model).version(version);
            for (JsonNode input : request.get("inputs")) {
                builder.input(input(input));
            }
            return builder.build();
        }
    }

    static List<Case> cases(String model) {
        try {
            JsonNode reference = JSON.readTree(Examples.references().resolve(model + ".json").toFile());
            List<Case> cases = new ArrayList<>();
            for (JsonNode c : reference.get("cases")) {
                cases.add(new Case(c.get("name").asText(), reference.get("model").asText(), reference.get("version").asText(),
                        reference.get("tolerance").get("absolute").asDouble(), reference.get("tolerance").get("relative").asDouble(),
                        c.get("request"), c.get("response").get("outputs")));
            }
            assertThat(cases).as(model + " reference cases").isNotEmpty();
            return cases;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A reference input as the client's typed input. */
    static InferInput input(JsonNode input) {
        String name = input.get("name").asText();
        long[] shape = new long[input.get("shape").size()];
        for (int i = 0; i < shape.length; i++) {
            shape[i] = input.get("shape").get(i).asLong();
        }
        JsonNode data = input.get("data");
        int n = data.size();
        return switch (DataType.of(input.get("datatype").asText())) {
            case FP32 -> {
                float[] values = new float[n];
                for (int i = 0; i < n; i++) {
                    values[i] = (float) data.get(i).asDouble();
                }
                yield InferInput.fp32(name, shape, values);
            }
            case FP64 -> {
                double[] values = new double[n];
                for (int i = 0; i < n; i++) {
                    values[i] = data.get(i).asDouble();
                }
                yield InferInput.fp64(name, shape, values);
            }
            case INT8, UINT8 -> {
                byte[] values = new byte[n];
                for (int i = 0; i < n; i++) {
                    values[i] = (byte) data.get(i).asInt();
                }
                yield "INT8".equals(input.get("datatype").asText()) ? InferInput.int8(name, shape, values)
                        : InferInput.uint8(name, shape, values);
            }
            case INT16 -> {
                short[] values = new short[n];
                for (int i = 0; i < n; i++) {
                    values[i] = (short) data.get(i).asInt();
                }
                yield InferInput.int16(name, shape, values);
            }
            case INT32 -> {
                int[] values = new int[n];
                for (int i = 0; i < n; i++) {
                    values[i] = data.get(i).asInt();
                }
                yield InferInput.int32(name, shape, values);
            }
            case INT64 -> {
                long[] values = new long[n];
                for (int i = 0; i < n; i++) {
                    values[i] = data.get(i).asLong();
                }
                yield InferInput.int64(name, shape, values);
            }
            case BOOL -> {
                boolean[] values = new boolean[n];
                for (int i = 0; i < n; i++) {
                    values[i] = data.get(i).asBoolean();
                }
                yield InferInput.bool(name, shape, values);
            }
            case BYTES -> {
                String[] values = new String[n];
                for (int i = 0; i < n; i++) {
                    values[i] = data.get(i).asText();
                }
                yield InferInput.bytes(name, shape, values);
            }
            default -> throw new IllegalArgumentException("no reference inputs of type " + input.get("datatype"));
        };
    }

    /** Checks every expected output, within the case's tolerance (exactly, bit for bit, when it is 0). */
    static void assertMatches(Case reference, InferResult result) {
        assertThat(result.modelName()).isEqualTo(reference.model());
        assertThat(result.modelVersion()).isEqualTo(reference.version());
        assertThat(result.outputs()).hasSize(reference.outputs().size());
        for (JsonNode want : reference.outputs()) {
            String name = want.get("name").asText();
            InferOutput got = result.output(name);
            assertThat(got.datatype().name()).as(name).isEqualTo(want.get("datatype").asText());
            long[] shape = new long[want.get("shape").size()];
            for (int i = 0; i < shape.length; i++) {
                shape[i] = want.get("shape").get(i).asLong();
            }
            assertThat(got.shape()).as(name).containsExactly(shape);
            JsonNode data = want.get("data");
            assertThat(got.elementCount()).as(name).isEqualTo(data.size());
            switch (got.datatype()) {
                case FP32 -> {
                    float[] values = got.toFloatArray();
                    for (int i = 0; i < values.length; i++) {
                        float expected = (float) data.get(i).asDouble();
                        if (reference.absolute() == 0 && reference.relative() == 0) {
                            assertThat(Float.floatToIntBits(values[i])).as("%s[%d]: %s vs %s", name, i, values[i], expected)
                                    .isEqualTo(Float.floatToIntBits(expected));
                        } else {
                            assertThat((double) Math.abs(values[i] - expected)).as("%s[%d]", name, i)
                                    .isLessThanOrEqualTo(reference.absolute() + reference.relative() * Math.abs(expected));
                        }
                    }
                }
                case FP64 -> {
                    double[] values = got.toDoubleArray();
                    for (int i = 0; i < values.length; i++) {
                        assertThat(Double.doubleToLongBits(values[i])).as("%s[%d]", name, i)
                                .isEqualTo(Double.doubleToLongBits(data.get(i).asDouble()));
                    }
                }
                case INT8, INT16, INT32, INT64, UINT8 -> {
                    long[] values = got.toLongArray();
                    for (int i = 0; i < values.length; i++) {
                        assertThat(values[i]).as("%s[%d]", name, i).isEqualTo(data.get(i).asLong());
                    }
                }
                case BOOL -> {
                    boolean[] values = got.toBooleanArray();
                    for (int i = 0; i < values.length; i++) {
                        assertThat(values[i]).as("%s[%d]", name, i).isEqualTo(data.get(i).asBoolean());
                    }
                }
                case BYTES -> {
                    String[] values = got.toStringArray();
                    for (int i = 0; i < values.length; i++) {
                        assertThat(values[i]).as("%s[%d]", name, i).isEqualTo(data.get(i).asText());
                    }
                }
                default -> throw new AssertionError("no reference outputs of type " + got.datatype());
            }
        }
    }

    /** The same outputs, bit for bit: names and order, datatypes, shapes, parameters and every byte. */
    static void assertIdentical(InferResult actual, InferResult expected) {
        assertThat(actual.modelName()).isEqualTo(expected.modelName());
        assertThat(actual.modelVersion()).isEqualTo(expected.modelVersion());
        assertThat(actual.parameters()).isEqualTo(expected.parameters());
        assertThat(actual.outputs()).extracting(InferOutput::name)
                .containsExactlyElementsOf(expected.outputs().stream().map(InferOutput::name).toList());
        for (InferOutput want : expected.outputs()) {
            InferOutput got = actual.output(want.name());
            assertThat(got.datatype()).as(want.name()).isEqualTo(want.datatype());
            assertThat(got.shape()).as(want.name()).containsExactly(want.shape());
            assertThat(got.parameters()).as(want.name()).isEqualTo(want.parameters());
            assertThat(got.buffer()).as(want.name() + " bytes").isEqualTo(want.buffer());
        }
    }
}
