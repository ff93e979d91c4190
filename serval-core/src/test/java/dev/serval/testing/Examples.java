package dev.serval.testing;

import java.nio.file.Files;
import java.nio.file.Path;

/** Where the project's example models and reference outputs are; shared by every module's tests. */
public final class Examples {
    private Examples() {
    }

    /** The project root: the {@code serval.root} property Maven sets, or the nearest folder with examples/. */
    public static Path root() {
        String property = System.getProperty("serval.root");
        if (property != null && Files.isDirectory(Path.of(property, "examples"))) {
            return Path.of(property);
        }
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            if (Files.isDirectory(dir.resolve("examples").resolve("repository"))) {
                return dir;
            }
        }
        throw new IllegalStateException("cannot find the project's examples/ folder");
    }

    /** The bundled example repository: iris, iris_small, cnn, text, fraud (its pipeline needs a feature store). */
    public static Path repository() {
        return root().resolve("examples/repository");
    }

    /** Test-only models: datatypes, fixed, scalar_add. */
    public static Path testRepository() {
        return root().resolve("examples/test-repository");
    }

    /** Reference outputs computed by PyTorch / numpy, one JSON file per model version. */
    public static Path references() {
        return root().resolve("examples/reference");
    }

    /** The model file of version 1 of a model in the example repository. */
    public static Path model(String name) {
        return repository().resolve(name).resolve("1").resolve("model.onnx");
    }

    /** The model file of version 1 of a model in the test repository. */
    public static Path testModel(String name) {
        return testRepository().resolve(name).resolve("1").resolve("model.onnx");
    }
}
