package dev.serval.cli;

import dev.serval.api.Shapes;
import dev.serval.api.TensorSpec;
import dev.serval.runtime.ModelLoadException;
import dev.serval.runtime.ModelSession;
import dev.serval.runtime.SessionSettings;
import dev.serval.runtime.onnx.OnnxBackend;
import dev.serval.runtime.onnx.OnnxModelFile;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code serval inspect model.onnx}: what a model takes and gives, as Serval will serve it. */
@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = "Print an ONNX model's inputs, outputs, types, shapes, opset and size.")
final class InspectCommand implements Callable<Integer> {

    @Parameters(paramLabel = "MODEL", description = "An .onnx file.")
    Path model;

    @Override
    public Integer call() {
        PrintStream out = System.out;
        OnnxModelFile file;
        try {
            file = OnnxModelFile.read(model);
        } catch (IOException e) {
            System.err.println("serval inspect: " + e.getMessage());
            return 2;
        }
        try (OnnxBackend backend = new OnnxBackend();
             ModelSession session = backend.open(model, new SessionSettings(1, false))) {
            long files = file.externalData().stream().map(OnnxModelFile.ExternalTensor::location).distinct().count();
            out.printf(Locale.ROOT, "%s (%s%s)%n", model, size(file.sizeBytes()), files == 0 ? ""
                    : String.format(Locale.ROOT, " + %s of external data in %d file(s), %d tensor(s)",
                            size(file.externalDataBytes(model)), files, file.externalData().size()));
            out.printf(Locale.ROOT, "  format   ONNX IR %d, opset %s%s%n", file.irVersion(),
                    String.join(", ", file.opsets().stream().map(Object::toString).toList()),
                    file.producerName().isEmpty() ? "" : ", produced by " + file.producerName() + " " + file.producerVersion());
            print(out, "inputs", session.inputs());
            print(out, "outputs", session.outputs());
            out.printf(Locale.ROOT, "  runtime  ONNX Runtime %s, platform %s%n", backend.version(), backend.platform());
            return 0;
        } catch (ModelLoadException e) {
            System.err.println("serval inspect: " + e.getMessage());
            return 2;
        }
    }

    private static void print(PrintStream out, String title, List<TensorSpec> specs) {
        int width = specs.stream().mapToInt(s -> s.name().length()).max().orElse(0);
        for (int i = 0; i < specs.size(); i++) {
            TensorSpec spec = specs.get(i);
            out.printf(Locale.ROOT, "  %-8s %-" + width + "s  %-5s %s%s%n", i == 0 ? title : "", spec.name(),
                    spec.type(), Shapes.format(spec.shape()), symbols(spec));
        }
    }

    private static String symbols(TensorSpec spec) {
        StringBuilder names = new StringBuilder();
        for (String name : spec.dimensionNames()) {
            if (name != null) {
                names.append(names.length() == 0 ? "  (" : ", ").append(name);
            }
        }
        return names.length() == 0 ? "" : names.append(')').toString();
    }

    private static String size(long bytes) {
        if (bytes < 1024) {
            return bytes + " B";
        }
        if (bytes < 1 << 20) {
            return String.format(Locale.ROOT, "%.1f KB", bytes / 1024.0);
        }
        if (bytes < 1L << 30) {
            return String.format(Locale.ROOT, "%.1f MB", bytes / (1024.0 * 1024));
        }
        return String.format(Locale.ROOT, "%.2f GB", bytes / (1024.0 * 1024 * 1024));
    }
}
