package dev.serval.model;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.NavigableMap;
import java.util.Optional;
import java.util.Set;

/**
 * A model as requests see it, and as the index lists it: the versions that serve and what its last
 * load could not do. Immutable: the {@link ModelRegistry} publishes a new one for every change.
 *
 * @param name        the model
 * @param ready       versions that serve, by number
 * @param problems    rows for what the last load could not do (UNAVAILABLE, or READY with a reason
 *                    when a reload failed and the version loaded before serves on)
 * @param notLoaded   why the model is known but not loaded (unloaded, or not yet loaded in
 *                    explicit mode); empty for a loaded model
 * @param stamp       the files as of the last load attempt, null when not loaded
 * @param keptServing true when the last load failed but versions loaded before serve on
 */
record ServedModel(String name, NavigableMap<Long, ModelVersion> ready, List<ModelStatus> problems,
                   Optional<String> notLoaded, ModelRepository.Stamp stamp, boolean keptServing) {

    /** A model the registry knows but does not serve, with the reason. */
    static ServedModel absent(String name, String reason) {
        return new ServedModel(name, Collections.emptyNavigableMap(), List.of(), Optional.of(reason), null, false);
    }

    /** The serving version numbers, ascending. */
    List<String> readyVersions() {
        return ready.keySet().stream().map(String::valueOf).toList();
    }

    /** The version that answers requests naming none: the highest serving one; null if none serves. */
    ModelVersion defaultVersion() {
        return ready.isEmpty() ? null : ready.lastEntry().getValue();
    }

    /** Whether some version, or the whole model, failed its last load and does not serve. */
    boolean unavailable() {
        return problems.stream().anyMatch(row -> !row.isReady());
    }

    /** What went wrong in the last load, one clause per problem row; "no versions" if none. */
    String reasons() {
        return problems.stream()
                .map(f -> (f.version().isEmpty() ? "" : "version " + f.version() + ": ") + f.reason().orElse(""))
                .reduce((a, b) -> a + "; " + b).orElse("no versions");
    }

    /**
     * The model's rows of the index: whole-model rows (no version) first, then versions in numeric
     * order; a version loading now and neither serving nor failed is LOADING.
     *
     * @param loading the versions being loaded now, as {@code name:version}
     */
    List<ModelStatus> rows(Set<String> loading) {
        List<ModelStatus> rows = new ArrayList<>();
        if (notLoaded.isPresent()) {
            rows.add(new ModelStatus(name, "", ModelStatus.UNAVAILABLE, notLoaded));
        }
        rows.addAll(problems);
        Set<String> listed = new HashSet<>();
        problems.forEach(row -> listed.add(row.version()));
        for (ModelVersion version : ready.values()) {
            if (!listed.contains(version.version())) {
                rows.add(new ModelStatus(name, version.version(), ModelStatus.READY, Optional.empty()));
            }
        }
        for (String key : loading) {
            int colon = key.lastIndexOf(':');
            String version = key.substring(colon + 1);
            if (key.substring(0, colon).equals(name) && !listed.contains(version)
                    && !ready.containsKey(Long.parseLong(version))) {
                rows.add(new ModelStatus(name, version, ModelStatus.LOADING, Optional.empty()));
            }
        }
        rows.sort(Comparator.comparingLong(s -> s.version().isEmpty() ? -1 : Long.parseLong(s.version())));
        return rows;
    }
}
