package dev.serval.model;

import java.time.Duration;
import java.util.List;
import java.util.Locale;

/**
 * How models get loaded and unloaded, as Triton's {@code --model-control-mode}.
 *
 * <ul>
 *   <li>{@link Mode#NONE}: every model of the repository loads at start; the repository API's
 *       load and unload are refused.</li>
 *   <li>{@link Mode#POLL}: as NONE, then the repository is scanned every {@code pollInterval} and
 *       what changed is applied: new models and version folders load, removed ones unload, a
 *       changed model file or config reloads (atomically, beside the old one). The API's load
 *       and unload are refused: the folder is the truth.</li>
 *   <li>{@link Mode#EXPLICIT}: only {@code startupModels} load at start; the API loads and
 *       unloads.</li>
 * </ul>
 *
 * @param mode          the mode
 * @param pollInterval  the time between scans in POLL mode
 * @param startupModels models to load at start in EXPLICIT mode (Triton's {@code --load-model})
 */
public record ModelControl(Mode mode, Duration pollInterval, List<String> startupModels) {

    /** Triton's default poll interval. */
    public static final Duration DEFAULT_POLL_INTERVAL = Duration.ofSeconds(15);

    /** Load everything at start, nothing afterwards. */
    public static final ModelControl NONE = new ModelControl(Mode.NONE, DEFAULT_POLL_INTERVAL, List.of());

    /** The modes, by Triton's names. */
    public enum Mode {
        NONE, POLL, EXPLICIT;

        /** The command-line spelling. */
        public String flag() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /**
     * @throws IllegalArgumentException for a poll interval under a second or over a day, startup
     *                                  models outside EXPLICIT mode, or an invalid model name
     */
    public ModelControl {
        startupModels = List.copyOf(startupModels);
        if (pollInterval.compareTo(Duration.ofSeconds(1)) < 0 || pollInterval.compareTo(Duration.ofDays(1)) > 0) {
            throw new IllegalArgumentException("--repository-poll-secs must be 1 to 86400, was " + pollInterval.toSeconds());
        }
        if (!startupModels.isEmpty() && mode != Mode.EXPLICIT) {
            throw new IllegalArgumentException("--load-model needs --model-control-mode explicit (in mode "
                    + mode.flag() + " every model of the repository loads)");
        }
        for (String name : startupModels) {
            if (!ModelRepository.isValidModelName(name)) {
                throw new IllegalArgumentException("--load-model '" + name + "' is not a valid model name: letters, "
                        + "digits, '_', '.' and '-', not starting with '.'");
            }
        }
    }

    /** Polling every {@code interval}. */
    public static ModelControl poll(Duration interval) {
        return new ModelControl(Mode.POLL, interval, List.of());
    }

    /** Explicit control, with {@code models} loaded at start. */
    public static ModelControl explicit(List<String> models) {
        return new ModelControl(Mode.EXPLICIT, DEFAULT_POLL_INTERVAL, models);
    }

    /**
     * Parses a {@code --model-control-mode} value.
     *
     * @throws IllegalArgumentException naming the value and the accepted ones
     */
    public static Mode parseMode(String value) {
        for (Mode mode : Mode.values()) {
            if (mode.flag().equals(value == null ? "" : value.strip().toLowerCase(Locale.ROOT))) {
                return mode;
            }
        }
        throw new IllegalArgumentException("--model-control-mode is '" + value + "'; expected none, poll or explicit");
    }
}
