package dev.serval.bench.load;

import java.math.BigDecimal;
import java.math.MathContext;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import org.HdrHistogram.Histogram;

/**
 * The outcome of a load run, and its one-line JSON form. Latencies are recorded in microseconds
 * in HdrHistograms with 3 significant digits and reported in milliseconds, rounded to 3
 * significant digits (the histograms hold no more).
 */
final class LoadReport {
    String mode;
    Target target;
    int connections;
    double rate;
    double warmupSeconds;
    double durationSeconds;
    /** The measured window's edges on {@link System#nanoTime}'s clock (for sampling a server over it). */
    long measureStartNanos;
    long measureEndNanos;
    /** Requests in the measured set that got an answer or a transport error. */
    long completed;
    /** Responses (any status) that ended inside the measured time, per second of it. */
    double throughput;
    /** 2xx responses that ended inside the measured time, per second. */
    double okThroughput;
    Histogram okLatency;
    Histogram otherLatency;
    /** Latency of the non-2xx answers, by status (e.g. 429 rejections apart from 504 expiries). */
    final Map<Integer, Histogram> latencyByStatus = new TreeMap<>();
    final Map<Integer, Long> statuses = new TreeMap<>();
    final Map<String, Long> errors = new TreeMap<>();
    final Map<String, String> errorSamples = new TreeMap<>();
    long reconnects;
    long retries;
    long retryAfterWaits;
    long unfinished;
    // open loop only
    long scheduled;
    long unsent;
    double achievedRate;
    Histogram sendLag;

    long ok() {
        return statuses.entrySet().stream().filter(e -> e.getKey() >= 200 && e.getKey() < 300)
                .mapToLong(Map.Entry::getValue).sum();
    }

    long non2xx() {
        return statuses.entrySet().stream().filter(e -> e.getKey() < 200 || e.getKey() >= 300)
                .mapToLong(Map.Entry::getValue).sum();
    }

    long transportErrors() {
        return errors.entrySet().stream().filter(e -> !e.getKey().equals("connect-at-start"))
                .mapToLong(Map.Entry::getValue).sum();
    }

    String toJson() {
        StringBuilder json = new StringBuilder(1024);
        json.append('{');
        field(json, "mode", quote(mode));
        field(json, "url", quote("http://" + target.authority() + target.path()));
        field(json, "connections", Integer.toString(connections));
        field(json, "rate", rate > 0 ? number(rate) : "null");
        field(json, "warmup_seconds", number(warmupSeconds));
        field(json, "duration_seconds", String.format(Locale.ROOT, "%.3f", durationSeconds));
        field(json, "completed", Long.toString(completed));
        field(json, "throughput", String.format(Locale.ROOT, "%.2f", throughput));
        field(json, "ok_throughput", String.format(Locale.ROOT, "%.2f", okThroughput));
        field(json, "latency_ms", summary(okLatency));
        StringBuilder status = new StringBuilder("{");
        statuses.forEach((code, count) -> field(status, Integer.toString(code), Long.toString(count)));
        field(json, "status", close(status));
        field(json, "ok", Long.toString(ok()));
        field(json, "non_2xx", Long.toString(non2xx()));
        field(json, "non_2xx_latency_ms", summary(otherLatency));
        StringBuilder byStatus = new StringBuilder("{");
        latencyByStatus.forEach((code, histogram) -> field(byStatus, Integer.toString(code), summary(histogram)));
        field(json, "non_2xx_latency_by_status_ms", close(byStatus));
        field(json, "transport_errors", Long.toString(transportErrors()));
        StringBuilder kinds = new StringBuilder("{");
        errors.forEach((kind, count) -> field(kinds, kind, Long.toString(count)));
        field(json, "transport_errors_by_kind", close(kinds));
        StringBuilder samples = new StringBuilder("{");
        errorSamples.forEach((kind, message) -> field(samples, kind, quote(message)));
        field(json, "transport_error_samples", close(samples));
        field(json, "reconnects", Long.toString(reconnects));
        field(json, "retries", Long.toString(retries));
        field(json, "retry_after_waits", Long.toString(retryAfterWaits));
        field(json, "unfinished", Long.toString(unfinished));
        if (rate > 0) {
            StringBuilder open = new StringBuilder("{");
            field(open, "intended_rate", number(rate));
            field(open, "achieved_rate", String.format(Locale.ROOT, "%.2f", achievedRate));
            field(open, "scheduled", Long.toString(scheduled));
            field(open, "unsent", Long.toString(unsent));
            field(open, "send_lag_ms", summary(sendLag));
            field(json, "open_loop", close(open));
        }
        return close(json);
    }

    /** count, min, mean, p50, p90, p95, p99, p99.9 and max of a histogram of microseconds, in ms. */
    static String summary(Histogram h) {
        StringBuilder json = new StringBuilder("{");
        field(json, "count", Long.toString(h.getTotalCount()));
        if (h.getTotalCount() > 0) {
            field(json, "min", ms(h.lowestEquivalentValue(h.getMinValue()) / 1000.0));
            field(json, "mean", ms(h.getMean() / 1000.0));
            field(json, "p50", ms(h.getValueAtPercentile(50) / 1000.0));
            field(json, "p90", ms(h.getValueAtPercentile(90) / 1000.0));
            field(json, "p95", ms(h.getValueAtPercentile(95) / 1000.0));
            field(json, "p99", ms(h.getValueAtPercentile(99) / 1000.0));
            field(json, "p99_9", ms(h.getValueAtPercentile(99.9) / 1000.0));
            field(json, "max", ms(h.getMaxValue() / 1000.0));
        }
        return close(json);
    }

    /** A number rounded to 3 significant digits, without exponent or trailing zeros: 12.3, 0.0456, 1230. */
    static String ms(double value) {
        if (value == 0 || !Double.isFinite(value)) {
            return "0";
        }
        return new BigDecimal(value).round(new MathContext(3)).stripTrailingZeros().toPlainString();
    }

    private static String number(double value) {
        return value == Math.rint(value) && Math.abs(value) < 1e15
                ? Long.toString((long) value) : BigDecimal.valueOf(value).stripTrailingZeros().toPlainString();
    }

    private static void field(StringBuilder json, String name, String value) {
        if (json.length() > 1) {
            json.append(',');
        }
        json.append(quote(name)).append(':').append(value);
    }

    private static String close(StringBuilder json) {
        return json.append('}').toString();
    }

    static String quote(String s) {
        StringBuilder out = new StringBuilder(s.length() + 2).append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> {
                    if (c < 0x20) {
                        out.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        return out.append('"').toString();
    }
}
