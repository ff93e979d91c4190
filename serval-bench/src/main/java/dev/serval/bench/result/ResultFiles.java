package dev.serval.bench.result;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * Reads and writes results files: one JSON document per file, a {@link Result} or a {@link Skip},
 * told apart by its {@code schema} key. Thread-safe (the mapper is configured once).
 */
public final class ResultFiles {
    private static final ObjectMapper JSON = new ObjectMapper()
            .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .setSerializationInclusion(JsonInclude.Include.NON_NULL)
            .enable(SerializationFeature.INDENT_OUTPUT)
            .enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    private ResultFiles() {
    }

    /** What a folder or a list of files holds. */
    public record Loaded(List<Result> results, List<Skip> skips) {
        public Loaded {
            results = List.copyOf(results);
            skips = List.copyOf(skips);
        }
    }

    /** The JSON text of a result or a skip. */
    public static String toJson(Object document) {
        if (!(document instanceof Result) && !(document instanceof Skip)) {
            throw new IllegalArgumentException("not a result or a skip: " + document.getClass().getName());
        }
        try {
            return JSON.writeValueAsString(document);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write " + document.getClass().getSimpleName() + " as JSON", e);
        }
    }

    /** Writes a result or a skip to {@code file} (its folder created), replacing it atomically. */
    public static void write(Path file, Object document) throws IOException {
        Path parent = file.toAbsolutePath().getParent();
        Files.createDirectories(parent);
        Path temporary = Files.createTempFile(parent, ".result", ".tmp");
        try {
            Files.writeString(temporary, toJson(document) + "\n");
            Files.move(temporary, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                    java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(temporary);
        }
    }

    /**
     * Parses one document.
     *
     * @throws IllegalArgumentException naming the source when it is not JSON, has an unknown schema or
     *                                  lacks a required field
     */
    public static Object parse(String json, String source) {
        try {
            JsonNode node = JSON.readTree(json);
            String schema = node == null ? null : node.path("schema").asText(null);
            if (Result.SCHEMA.equals(schema)) {
                return JSON.treeToValue(node, Result.class);
            }
            if (Skip.SCHEMA.equals(schema)) {
                return JSON.treeToValue(node, Skip.class);
            }
            throw new IllegalArgumentException(source + ": schema '" + schema + "' is neither " + Result.SCHEMA
                    + " nor " + Skip.SCHEMA);
        } catch (JsonProcessingException e) {
            Throwable cause = e.getCause() instanceof IllegalArgumentException ? e.getCause() : e;
            throw new IllegalArgumentException(source + ": " + cause.getMessage(), e);
        }
    }

    /** Reads a result (a skip is refused). */
    public static Result readResult(Path file) throws IOException {
        if (parse(Files.readString(file), file.toString()) instanceof Result result) {
            return result;
        }
        throw new IllegalArgumentException(file + " holds a skip, not a result");
    }

    /**
     * Loads every file named, and every {@code *.json} file found (recursively) in a folder named.
     * A file named is refused, naming it, unless it holds a result or a skip; in a folder, JSON files
     * without a {@code serval-bench/} schema (raw tool output kept beside the results) are passed over.
     */
    public static Loaded load(List<Path> paths) throws IOException {
        List<Result> results = new ArrayList<>();
        List<Skip> skips = new ArrayList<>();
        for (Path path : paths) {
            List<Path> files;
            if (Files.isDirectory(path)) {
                try (Stream<Path> walk = Files.walk(path)) {
                    files = walk.filter(p -> p.getFileName().toString().endsWith(".json") && Files.isRegularFile(p))
                            .sorted().toList();
                }
            } else if (Files.isRegularFile(path)) {
                files = List.of(path);
            } else {
                throw new IllegalArgumentException(path + " is neither a results file nor a folder");
            }
            for (Path file : files) {
                String text = Files.readString(file);
                if (files.size() > 1 || Files.isDirectory(path)) {
                    if (!text.contains("\"schema\"") || !text.contains("\"serval-bench/")) {
                        continue;
                    }
                }
                Object document = parse(text, file.toString());
                if (document instanceof Result result) {
                    results.add(result);
                } else {
                    skips.add((Skip) document);
                }
            }
        }
        return new Loaded(results, skips);
    }
}
