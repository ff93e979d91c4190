package dev.serval.bench.result;

/**
 * A scenario (or one system in it) the suite could not run on this machine, and why: the report
 * lists it instead of leaving a silent gap. Immutable.
 *
 * @param schema   always {@link #SCHEMA}
 * @param runId    the invocation that skipped it
 * @param scenario the suite entry
 * @param system   the system that was skipped, or {@code *} for the whole scenario
 * @param reason   what was missing, and how to provide it
 */
public record Skip(String schema, String runId, String scenario, String system, String reason) {

    public static final String SCHEMA = "serval-bench/skip/1";

    public Skip {
        if (!SCHEMA.equals(schema)) {
            throw new IllegalArgumentException("schema '" + schema + "' is not " + SCHEMA);
        }
        Result.require("run_id", runId);
        Result.require("scenario", scenario);
        Result.require("system", system);
        Result.require("reason", reason);
    }
}
