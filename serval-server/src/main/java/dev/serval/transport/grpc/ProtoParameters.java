package dev.serval.transport.grpc;

import dev.serval.api.Parameters;
import dev.serval.api.ServalException;
import dev.serval.protocol.grpc.InferParameter;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Protocol parameters between the {@code InferParameter} oneof and {@link Parameters}: bool, int64,
 * double and string map one to one; uint64 becomes a Long when it fits (the REST path refuses larger
 * integers the same way). Stateless.
 */
final class ProtoParameters {
    private ProtoParameters() {
    }

    /**
     * @param label what the parameters belong to, for error messages ("parameters", "input 'x' parameters")
     * @throws ServalException INVALID_ARGUMENT for a parameter with no value or a uint64 past 2^63-1
     */
    static Parameters fromProto(Map<String, InferParameter> proto, String label) {
        if (proto.isEmpty()) {
            return Parameters.empty();
        }
        Map<String, Object> values = new LinkedHashMap<>(proto.size() * 2);
        for (Map.Entry<String, InferParameter> entry : proto.entrySet()) {
            String name = entry.getKey();
            InferParameter value = entry.getValue();
            Object converted = switch (value.getParameterChoiceCase()) {
                case BOOL_PARAM -> value.getBoolParam();
                case INT64_PARAM -> value.getInt64Param();
                case DOUBLE_PARAM -> value.getDoubleParam();
                case STRING_PARAM -> value.getStringParam();
                case UINT64_PARAM -> {
                    long bits = value.getUint64Param();
                    if (bits < 0) {
                        throw ServalException.invalidArgument("%s '%s' is uint64 %s, too large for a 64-bit integer",
                                label, name, Long.toUnsignedString(bits));
                    }
                    yield bits;
                }
                case PARAMETERCHOICE_NOT_SET -> throw ServalException.invalidArgument(
                        "%s '%s' has no value; expected one of bool_param, int64_param, uint64_param, "
                                + "double_param, string_param", label, name);
            };
            values.put(name, converted);
        }
        return Parameters.of(values);
    }

    static Map<String, InferParameter> toProto(Parameters parameters) {
        Map<String, InferParameter> proto = new LinkedHashMap<>(parameters.asMap().size() * 2);
        for (Map.Entry<String, Object> entry : parameters.asMap().entrySet()) {
            InferParameter.Builder value = InferParameter.newBuilder();
            switch (entry.getValue()) {
                case Boolean flag -> value.setBoolParam(flag);
                case Long number -> value.setInt64Param(number);
                case Double number -> value.setDoubleParam(number);
                case String text -> value.setStringParam(text);
                default -> throw new IllegalStateException("unexpected parameter " + entry);
            }
            proto.put(entry.getKey(), value.build());
        }
        return proto;
    }
}
