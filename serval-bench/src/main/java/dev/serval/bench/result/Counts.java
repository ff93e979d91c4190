package dev.serval.bench.result;

/**
 * What happened to the measured requests. Immutable.
 *
 * @param completed  measured requests that got an answer or failed
 * @param ok         answers with a 2xx status (gRPC: OK)
 * @param failed     the others: non-2xx answers and transport errors ({@link Result#errors} by kind)
 * @param unsent     open loop: requests scheduled in the measured time but never sent (the generator
 *                   ran out of connections or time)
 * @param unfinished measured requests still unanswered when the run ended
 */
public record Counts(long completed, long ok, long failed, long unsent, long unfinished) {
}
