package dev.serval.model;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * A folder of models in Triton's layout:
 *
 * <pre>
 * &lt;root&gt;/&lt;model&gt;/config.yaml          optional (or config.yml / config.json)
 * &lt;root&gt;/&lt;model&gt;/&lt;version&gt;/model.onnx   version: a positive integer
 * </pre>
 *
 * <p>Nothing outside the root is read: entries whose real path leaves the root (symbolic links
 * pointing elsewhere) are reported as problems, not followed. Hidden entries are ignored.
 */
public final class ModelRepository {
    /** The file name a version folder must hold. */
    public static final String MODEL_FILE = "model.onnx";

    private static final Pattern MODEL_NAME = Pattern.compile("[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}");
    private static final Pattern VERSION = Pattern.compile("[1-9][0-9]{0,17}");
    private static final List<String> CONFIG_FILES = List.of("config.yaml", "config.yml", "config.json");

    private final Path root;

    /**
     * @throws IllegalArgumentException if {@code root} is not a readable directory
     */
    public ModelRepository(Path root) {
        try {
            this.root = root.toRealPath();
        } catch (IOException e) {
            throw new IllegalArgumentException("model repository " + root + " does not exist");
        }
        if (!Files.isDirectory(this.root)) {
            throw new IllegalArgumentException("model repository " + root + " is not a directory");
        }
    }

    public Path root() {
        return root;
    }

    /** True when {@code name} may name a model: letters, digits, '_', '.', '-', no leading dot. */
    public static boolean isValidModelName(String name) {
        return name != null && MODEL_NAME.matcher(name).matches() && !name.contains("..");
    }

    /**
     * A model found in the repository.
     *
     * @param name       the folder's name
     * @param directory  the model's folder
     * @param configFile its configuration file, if any
     * @param versions   version number to model file (which may be missing: the load says so)
     * @param problem    why the model cannot be used at all, if so
     */
    public record Source(String name, Path directory, Optional<Path> configFile,
                         SortedMap<Long, Path> versions, Optional<String> problem) {
    }

    /**
     * The model called {@code name}, read afresh from disk.
     *
     * @return empty when the repository has no folder of that name
     * @throws IllegalArgumentException when {@code name} is not a valid model name (it could
     *                                  otherwise name a path: separators, {@code ..})
     */
    public Optional<Source> find(String name) throws IOException {
        if (!isValidModelName(name)) {
            throw new IllegalArgumentException("'" + name + "' is not a valid model name: letters, digits, '_', '.' "
                    + "and '-', not starting with '.', at most 128 characters");
        }
        Path directory = root.resolve(name);
        if (!Files.exists(directory, LinkOption.NOFOLLOW_LINKS)) {
            return Optional.empty();
        }
        if (!insideRoot(directory)) {
            return Optional.of(new Source(name, directory, Optional.empty(), new TreeMap<>(),
                    Optional.of("model folder '" + name + "' leads outside the model repository")));
        }
        if (!Files.isDirectory(directory)) {
            return Optional.empty();
        }
        return Optional.of(source(name, directory));
    }

    /**
     * What a model's files looked like when stamped: sizes, modification times and file keys of
     * the files in the model's folder and in each version folder. Two equal stamps mean nothing
     * the load reads has changed (a file rewritten in place within the file system's time
     * resolution and at the same size is the blind spot, as for make).
     *
     * @param model    the model folder's own files (config, labels)
     * @param versions each version folder's files
     */
    public record Stamp(String model, SortedMap<Long, String> versions) {
        public Stamp {
            versions = Collections.unmodifiableSortedMap(new TreeMap<>(versions));
        }
    }

    /** Stamps a model found by {@link #scan()} or {@link #find}; nothing outside the root is looked at. */
    public Stamp stamp(Source source) {
        SortedMap<Long, String> versions = new TreeMap<>();
        source.versions().forEach((version, file) -> versions.put(version, stampFiles(file.getParent())));
        return new Stamp(source.problem().isPresent() ? source.problem().get() : stampFiles(source.directory()), versions);
    }

    private String stampFiles(Path directory) {
        if (!insideRoot(directory)) {
            return "outside";
        }
        List<String> stamps = new ArrayList<>();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(directory)) {
            for (Path entry : entries) {
                if (!insideRoot(entry)) {
                    stamps.add(entry.getFileName() + ":outside");
                    continue;
                }
                BasicFileAttributes attributes = Files.readAttributes(entry, BasicFileAttributes.class);
                if (attributes.isRegularFile()) {
                    stamps.add(entry.getFileName() + ":" + attributes.size() + ":"
                            + attributes.lastModifiedTime() + ":" + attributes.fileKey());
                }
            }
        } catch (IOException e) {
            return "unreadable: " + e.getMessage();
        }
        Collections.sort(stamps);
        return String.join(";", stamps);
    }

    /** Lists the models, sorted by name. */
    public List<Source> scan() throws IOException {
        List<Source> sources = new ArrayList<>();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(root)) {
            for (Path entry : entries) {
                String name = entry.getFileName().toString();
                if (name.startsWith(".") || !Files.isDirectory(entry)) {
                    continue;
                }
                sources.add(source(name, entry));
            }
        }
        sources.sort((a, b) -> a.name().compareTo(b.name()));
        return Collections.unmodifiableList(sources);
    }

    private Source source(String name, Path directory) throws IOException {
        SortedMap<Long, Path> versions = new TreeMap<>();
        if (!isValidModelName(name)) {
            return new Source(name, directory, Optional.empty(), versions,
                    Optional.of("'" + name + "' is not a valid model name (letters, digits, '_', '.', '-')"));
        }
        if (!insideRoot(directory)) {
            return new Source(name, directory, Optional.empty(), versions,
                    Optional.of("model folder '" + name + "' leads outside the model repository"));
        }
        Optional<Path> config = Optional.empty();
        for (String file : CONFIG_FILES) {
            Path candidate = directory.resolve(file);
            if (Files.exists(candidate, LinkOption.NOFOLLOW_LINKS)) {
                if (!insideRoot(candidate)) {
                    return new Source(name, directory, Optional.empty(), versions,
                            Optional.of(file + " of model '" + name + "' leads outside the model repository"));
                }
                config = Optional.of(candidate);
                break;
            }
        }
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(directory)) {
            for (Path entry : entries) {
                String version = entry.getFileName().toString();
                if (VERSION.matcher(version).matches() && Files.isDirectory(entry)) {
                    versions.put(Long.parseLong(version), entry.resolve(MODEL_FILE));
                }
            }
        }
        Optional<String> problem = versions.isEmpty()
                ? Optional.of("model '" + name + "' has no version folders (expected " + name + "/1/" + MODEL_FILE + ")")
                : Optional.empty();
        return new Source(name, directory, config, versions, problem);
    }

    /**
     * True when {@code path}, with every link resolved, stays under the root. A path that does not
     * exist counts as inside (the load will report it missing).
     */
    public boolean insideRoot(Path path) {
        try {
            return path.toRealPath().startsWith(root);
        } catch (IOException e) {
            return path.toAbsolutePath().normalize().startsWith(root);
        }
    }
}
