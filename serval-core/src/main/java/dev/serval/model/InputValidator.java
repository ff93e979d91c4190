package dev.serval.model;

import dev.serval.api.ServalException;
import dev.serval.api.Shapes;
import dev.serval.api.Tensor;
import dev.serval.api.TensorSpec;
import java.util.Arrays;
import java.util.List;

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
        // Each input goes straight to its spec's place: no map by name (a model has a few inputs).
        Tensor[] ordered = new Tensor[specs.size()];
        for (Tensor input : inputs) {
            int at = indexOf(specs, input.name());
            if (at < 0) {
                throw ServalException.invalidArgument("unknown input '%s'; model '%s' expects inputs %s",
                        input.name(), model, describe(specs));
            }
            if (ordered[at] != null) {
                throw ServalException.invalidArgument("input '%s' is given more than once", input.name());
            }
            TensorSpec spec = specs.get(at);
            if (input.type() != spec.type()) {
                throw ServalException.invalidArgument("input '%s' has datatype %s but model '%s' expects %s",
                        input.name(), input.type(), model, spec.type());
            }
            if (!spec.accepts(input.shape())) {
                throw ServalException.invalidArgument("input '%s' has shape %s but model '%s' expects %s",
                        input.name(), Shapes.format(input.shape()), model, Shapes.format(spec.shape()));
            }
            ordered[at] = input;
        }
        // Symbolic dimensions seen so far: name, size, and the input that set it (a few, searched in turn).
        String[] symbols = null;
        long[] sizes = null;
        String[] setBy = null;
        int symbolCount = 0;
        for (int i = 0; i < specs.size(); i++) {
            TensorSpec spec = specs.get(i);
            Tensor input = ordered[i];
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
                int known = symbolCount - 1;
                while (known >= 0 && !symbols[known].equals(names[d])) {
                    known--;
                }
                if (known < 0) {
                    if (symbols == null || symbolCount == symbols.length) {
                        int capacity = symbols == null ? 4 : symbolCount * 2;
                        symbols = symbols == null ? new String[capacity] : Arrays.copyOf(symbols, capacity);
                        sizes = sizes == null ? new long[capacity] : Arrays.copyOf(sizes, capacity);
                        setBy = setBy == null ? new String[capacity] : Arrays.copyOf(setBy, capacity);
                    }
                    symbols[symbolCount] = names[d];
                    sizes[symbolCount] = size;
                    setBy[symbolCount] = spec.name();
                    symbolCount++;
                } else if (sizes[known] != size) {
                    throw ServalException.invalidArgument(
                            "input '%s' has %d for dimension '%s' (axis %d) but input '%s' has %d; they must agree",
                            spec.name(), size, names[d], d, setBy[known], sizes[known]);
                }
            }
        }
        return List.of(ordered);
    }

    private static int indexOf(List<TensorSpec> specs, String name) {
        for (int i = 0; i < specs.size(); i++) {
            if (specs.get(i).name().equals(name)) {
                return i;
            }
        }
        return -1;
    }

    static TensorSpec find(List<TensorSpec> specs, String name) {
        int at = indexOf(specs, name);
        return at < 0 ? null : specs.get(at);
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
