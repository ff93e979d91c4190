package dev.serval.model;

import dev.serval.api.ServalException;
import dev.serval.api.Shapes;
import dev.serval.api.Tensor;
import dev.serval.api.TensorSpec;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Checks a request's inputs against what the model declares, before anything reaches the runtime,
 * so that a client's mistake is a 400 that says what to fix rather than a runtime failure.
 */
final class InputValidator {
    private InputValidator() {
    }

    /**
     * @return the inputs in the model's declared order
     * @throws ServalException INVALID_ARGUMENT naming the input, the value and what was expected
     */
    static List<Tensor> validate(String model, List<TensorSpec> specs, List<Tensor> inputs) {
        Map<String, Tensor> byName = new HashMap<>(inputs.size() * 2);
        for (Tensor input : inputs) {
            TensorSpec spec = find(specs, input.name());
            if (spec == null) {
                throw ServalException.invalidArgument("unknown input '%s'; model '%s' expects inputs %s",
                        input.name(), model, describe(specs));
            }
            if (byName.put(input.name(), input) != null) {
                throw ServalException.invalidArgument("input '%s' is given more than once", input.name());
            }
            if (input.type() != spec.type()) {
                throw ServalException.invalidArgument("input '%s' has datatype %s but model '%s' expects %s",
                        input.name(), input.type(), model, spec.type());
            }
            if (!spec.accepts(input.shape())) {
                throw ServalException.invalidArgument("input '%s' has shape %s but model '%s' expects %s",
                        input.name(), Shapes.format(input.shape()), model, Shapes.format(spec.shape()));
            }
        }
        Tensor[] ordered = new Tensor[specs.size()];
        Map<String, Long> symbols = new HashMap<>();
        Map<String, String> symbolSetBy = new HashMap<>();
        for (int i = 0; i < specs.size(); i++) {
            TensorSpec spec = specs.get(i);
            Tensor input = byName.get(spec.name());
            if (input == null) {
                throw ServalException.invalidArgument("missing input '%s'; model '%s' expects inputs %s",
                        spec.name(), model, describe(specs));
            }
            String[] names = spec.dimensionNames();
            for (int d = 0; d < names.length; d++) {
                if (names[d] == null || spec.shape()[d] >= 0) {
                    continue;
                }
                long size = input.shape()[d];
                Long earlier = symbols.putIfAbsent(names[d], size);
                if (earlier == null) {
                    symbolSetBy.put(names[d], spec.name());
                } else if (earlier != size) {
                    throw ServalException.invalidArgument(
                            "input '%s' has %d for dimension '%s' (axis %d) but input '%s' has %d; they must agree",
                            spec.name(), size, names[d], d, symbolSetBy.get(names[d]), earlier);
                }
            }
            ordered[i] = input;
        }
        return List.of(ordered);
    }

    static TensorSpec find(List<TensorSpec> specs, String name) {
        for (TensorSpec spec : specs) {
            if (spec.name().equals(name)) {
                return spec;
            }
        }
        return null;
    }

    static String describe(List<TensorSpec> specs) {
        StringBuilder text = new StringBuilder("[");
        for (TensorSpec spec : specs) {
            if (text.length() > 1) {
                text.append(", ");
            }
            text.append(spec.name()).append(' ').append(spec.type()).append(' ').append(Shapes.format(spec.shape()));
        }
        return text.append(']').toString();
    }
}
