package dev.serval.testing;

import java.nio.file.Files;
import java.nio.file.Path;

/** Where the project's example models and reference outputs are. */
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

    /** The bundled example repository the README serves. */
    public static Path repository() {
        return root().resolve("examples/repository");
    }

    /** Test-only models: every datatype, no batch dimension, two-input arithmetic. */
    public static Path testRepository() {
        return root().resolve("examples/test-repository");
    }

    /** Reference outputs computed by PyTorch / numpy, one JSON file per model version. */
    public static Path references() {
        return root().resolve("examples/reference");
    }
}
