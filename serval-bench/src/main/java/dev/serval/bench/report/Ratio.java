package dev.serval.bench.report;

import dev.serval.bench.result.Result;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.ToDoubleFunction;

/**
 * Serval against one peer (or the in-process limit) under the same load in the same run: each
 * figure is the median of the per-repetition ratios, with their range. Immutable.
 *
 * <p>Design note: ratios are the only figures worth quoting from shared machines
 * (PERFORMANCE.md), so they are taken pair by pair, Serval's repetition k against the peer's
 * repetition k (which ran next to it), never across runs. A side without repetition numbers in
 * common falls back to the ratio of the medians ({@code pairs == 0} says so).
 *
 * @param serval     Serval's load point
 * @param peer       the peer's (or the limit's)
 * @param throughput Serval's answers/s over the peer's (above 1: Serval serves more)
 * @param p50        Serval's median latency over the peer's (below 1: Serval answers sooner)
 * @param p99        the same at the 99th percentile
 * @param rss        Serval's peak resident memory over the peer's (below 1: Serval uses less); null unsampled
 * @param cost       Serval's monthly cost per 1,000 req/s over the peer's; null unsampled
 * @param pairs      repetitions paired; 0 when only medians could be compared
 */
record Ratio(LoadPoint serval, LoadPoint peer, Spread throughput, Spread p50, Spread p99, Spread rss, Spread cost,
             int pairs) {

    /** Every Serval-vs-peer ratio the points allow: same run, same scenario, same load (the limit: any load). */
    static List<Ratio> all(List<LoadPoint> points, PriceTable prices) {
        List<Ratio> ratios = new ArrayList<>();
        for (LoadPoint s : points) {
            if (!s.isServal()) {
                continue;
            }
            for (LoadPoint p : points) {
                if (p.isServal() || !p.runId().equals(s.runId()) || !p.scenario().equals(s.scenario())
                        || !(p.isLimit() || s.sameLoad(p))) {
                    continue;
                }
                ratios.add(of(s, p, prices));
            }
        }
        return ratios;
    }

    static Ratio of(LoadPoint s, LoadPoint p, PriceTable prices) {
        Map<Integer, Result> peerByRep = new TreeMap<>();
        p.repetitions().forEach(r -> peerByRep.put(r.repetition(), r));
        List<Result[]> pairs = new ArrayList<>();
        for (Result r : s.repetitions()) {
            Result other = peerByRep.get(r.repetition());
            if (other != null) {
                pairs.add(new Result[] {r, other});
            }
        }
        if (pairs.isEmpty()) {
            return new Ratio(s, p, medians(s, p, r -> r.throughput().okPerSecond()),
                    medians(s, p, r -> r.latencyMs().p50()), medians(s, p, r -> r.latencyMs().p99()),
                    resourceMedians(s, p, r -> r.resources().rssMbPeak()), costMedians(s, p, prices), 0);
        }
        return new Ratio(s, p, paired(pairs, r -> r.throughput().okPerSecond()), paired(pairs, r -> r.latencyMs().p50()),
                paired(pairs, r -> r.latencyMs().p99()),
                paired(pairs.stream().filter(x -> x[0].resources() != null && x[1].resources() != null).toList(),
                        r -> r.resources().rssMbPeak()),
                paired(pairs.stream().filter(x -> costOf(x[0], prices) > 0 && costOf(x[1], prices) > 0).toList(),
                        r -> costOf(r, prices)),
                pairs.size());
    }

    private static Spread paired(List<Result[]> pairs, ToDoubleFunction<Result> value) {
        List<Double> ratios = new ArrayList<>();
        for (Result[] pair : pairs) {
            double theirs = value.applyAsDouble(pair[1]);
            if (theirs > 0) {
                ratios.add(value.applyAsDouble(pair[0]) / theirs);
            }
        }
        return Spread.of(ratios);
    }

    private static Spread medians(LoadPoint s, LoadPoint p, ToDoubleFunction<Result> value) {
        return divide(s.spread(value), p.spread(value));
    }

    private static Spread resourceMedians(LoadPoint s, LoadPoint p, ToDoubleFunction<Result> value) {
        return divide(s.resourceSpread(value), p.resourceSpread(value));
    }

    private static Spread costMedians(LoadPoint s, LoadPoint p, PriceTable prices) {
        return divide(s.cost(prices), p.cost(prices));
    }

    private static Spread divide(Spread a, Spread b) {
        return a == null || b == null || b.median() <= 0 ? null : Spread.of(List.of(a.median() / b.median()));
    }

    /** Monthly cost per 1,000 req/s of one repetition; 0 when it sampled no resources or served nothing. */
    static double costOf(Result r, PriceTable prices) {
        if (r.resources() == null || r.throughput().okPerSecond() <= 0) {
            return 0;
        }
        return CostModel.monthlyPer1000(r.resources().cpuSecondsPer1000Requests(), r.resources().rssMbPeak(),
                r.throughput().okPerSecond(), prices).total();
    }
}
