package dev.serval.bench.report;

import dev.serval.bench.result.Result;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.function.ToDoubleFunction;

/**
 * The repetitions of one load on one system in one run (same scenario, protocol, mode, clients
 * and rate), summarised. Immutable.
 */
record LoadPoint(String runId, String scenario, String system, String protocol, String mode, int clients, Double rate,
                 List<Result> repetitions) {

    LoadPoint {
        repetitions = repetitions.stream().sorted(Comparator.comparingInt(Result::repetition)).toList();
    }

    /** Same run, scenario, system, protocol, mode, clients and rate: one point. */
    static String key(Result r) {
        return String.join("\u0000", r.runId(), r.scenario(), r.system(), r.protocol(), r.mode(),
                Integer.toString(r.clients()), Objects.toString(r.rate()));
    }

    static LoadPoint of(List<Result> same) {
        Result first = same.get(0);
        return new LoadPoint(first.runId(), first.scenario(), first.system(), first.protocol(), first.mode(),
                first.clients(), first.rate(), same);
    }

    /** Serval's own systems are named serval or serval-something. */
    boolean isServal() {
        return system.equals("serval") || system.startsWith("serval-");
    }

    /** The in-process limit: compared with every Serval load of its scenario, whatever the clients. */
    boolean isLimit() {
        return protocol.equals("in-process");
    }

    /** Same load (mode, clients, rate), so the two may be compared. */
    boolean sameLoad(LoadPoint other) {
        return mode.equals(other.mode) && clients == other.clients && Objects.equals(rate, other.rate);
    }

    /** "serval rest-binary, 10 clients" / "... open 120/s". */
    String label() {
        return system + " " + protocol + ", " + load();
    }

    String load() {
        if (isLimit()) {
            return "in-process";
        }
        return mode.equals("open") ? "open " + Spread.num(rate) + "/s (" + clients + " conn.)"
                : clients + (clients == 1 ? " client" : " clients");
    }

    Spread spread(ToDoubleFunction<Result> value) {
        return Spread.of(repetitions.stream().map(r -> value.applyAsDouble(r)).toList());
    }

    /** As {@link #spread}, over the repetitions that sampled resources; null when none did. */
    Spread resourceSpread(ToDoubleFunction<Result> value) {
        return Spread.of(repetitions.stream().filter(r -> r.resources() != null)
                .map(r -> value.applyAsDouble(r)).toList());
    }

    Spread okPerSecond() {
        return spread(r -> r.throughput().okPerSecond());
    }

    long failed() {
        return repetitions.stream().mapToLong(r -> r.counts().failed() + r.counts().unsent()).sum();
    }

    long requests() {
        return repetitions.stream().mapToLong(r -> r.counts().completed()).sum();
    }

    /** The monthly cost per 1,000 req/s of each repetition that sampled resources; null when none did. */
    Spread cost(PriceTable prices) {
        return Spread.of(repetitions.stream().map(r -> Ratio.costOf(r, prices)).filter(c -> c > 0).toList());
    }
}
