package dev.serval.bench.report;

import dev.serval.bench.result.Environment;
import dev.serval.bench.result.Result;
import dev.serval.bench.result.ResultFiles;
import dev.serval.bench.result.Skip;
import java.io.IOException;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Collectors;

/**
 * Builds the report from results: a self-contained HTML page (charts embedded as PNG data URIs),
 * a markdown summary of the ratios, and the charts as files. Not thread-safe; one build per instance.
 *
 * <p>Design note: everything shown is computed from the results files alone (the machine, the
 * servers' command lines and pinning travel inside them), so a report can be rebuilt anywhere, and
 * every ratio is taken inside one run ({@link Ratio}). Results that go against Serval are shown
 * like the others: nothing is filtered but the skips, which are listed with their reasons.
 */
public final class ReportBuilder {
    private final List<Result> results;
    private final List<Skip> skips;
    private final PriceTable prices;
    private final Instant now;
    private final Map<String, String> notes = new LinkedHashMap<>();

    /** The HTML page, the markdown summary, and the charts by file name (also embedded in the page). */
    public record Report(String html, String markdown, Map<String, byte[]> charts) {
    }

    public ReportBuilder(ResultFiles.Loaded loaded, PriceTable prices, Instant now) {
        if (loaded.results().isEmpty() && loaded.skips().isEmpty()) {
            throw new IllegalArgumentException("no results to report on (no " + Result.SCHEMA + " files found)");
        }
        this.results = loaded.results();
        this.skips = loaded.skips();
        this.prices = prices;
        this.now = now.truncatedTo(ChronoUnit.SECONDS);
    }

    /**
     * Adds a text shown as it is under "Notes" (e.g. the suite's machine record: load averages,
     * whether a build ran during the measurement, the commit measured).
     */
    public ReportBuilder note(String title, String text) {
        notes.put(title, text);
        return this;
    }

    public Report build() throws IOException {
        Map<String, List<Result>> grouped = new LinkedHashMap<>();
        results.stream().sorted((a, b) -> a.startedAt().compareTo(b.startedAt()))
                .forEach(r -> grouped.computeIfAbsent(LoadPoint.key(r), k -> new ArrayList<>()).add(r));
        List<LoadPoint> points = grouped.values().stream().map(LoadPoint::of).toList();
        Map<String, List<LoadPoint>> byScenario = new LinkedHashMap<>();
        points.forEach(p -> byScenario.computeIfAbsent(p.runId() + " / " + p.scenario(), k -> new ArrayList<>()).add(p));
        List<Ratio> ratios = Ratio.all(points, prices);

        Map<String, byte[]> charts = new LinkedHashMap<>();
        Map<String, List<String>> chartsByScenario = new LinkedHashMap<>();
        for (Map.Entry<String, List<LoadPoint>> e : byScenario.entrySet()) {
            chartsByScenario.put(e.getKey(), charts(e.getValue(), charts));
        }
        return new Report(html(byScenario, ratios, charts, chartsByScenario), markdown(byScenario, ratios), charts);
    }

    // ---- charts ----

    private List<String> charts(List<LoadPoint> points, Map<String, byte[]> charts) throws IOException {
        LoadPoint first = points.get(0);
        String stem = fileStem(first.scenario()) + (runIds().size() > 1 ? "-" + fileStem(first.runId()) : "");
        List<String> names = new ArrayList<>();
        List<LoadPoint> closed = points.stream().filter(p -> p.mode().equals("closed") && !p.isLimit()).toList();
        if (closed.stream().map(LoadPoint::clients).distinct().count() >= 2) {
            Map<String, Map<Integer, Double>> series = new LinkedHashMap<>();
            for (LoadPoint p : closed) {
                series.computeIfAbsent(p.system() + " " + p.protocol(), k -> new TreeMap<>())
                        .put(p.clients(), p.okPerSecond().median());
            }
            names.add(put(charts, stem + "-throughput.png",
                    Charts.throughputVsClients(first.scenario() + ": answers/s vs clients (median)", series)));
        }
        Map<String, Map<String, Double>> latency = new LinkedHashMap<>();
        String[] percentiles = {"p50", "p90", "p99", "p99.9"};
        for (LoadPoint p : points) {
            if (p.spread(r -> r.latencyMs().count()).median() == 0) {
                continue;
            }
            double[] v = {p.spread(r -> r.latencyMs().p50()).median(), p.spread(r -> r.latencyMs().p90()).median(),
                p.spread(r -> r.latencyMs().p99()).median(), p.spread(r -> r.latencyMs().p999()).median()};
            for (int i = 0; i < percentiles.length; i++) {
                latency.computeIfAbsent(percentiles[i], k -> new LinkedHashMap<>()).put(p.label(), v[i]);
            }
        }
        if (!latency.isEmpty()) {
            names.add(put(charts, stem + "-latency.png",
                    Charts.bars(first.scenario() + ": latency percentiles (median of repetitions)", "ms", latency)));
        }
        List<Map.Entry<String, Double>> memory = new ArrayList<>();
        List<Map.Entry<String, Double>> cost = new ArrayList<>();
        for (LoadPoint p : points) {
            Spread rss = p.resourceSpread(r -> r.resources().rssMbPeak());
            if (rss != null) {
                memory.add(Map.entry(p.label(), rss.median()));
            }
            Spread c = p.cost(prices);
            if (c != null) {
                cost.add(Map.entry(p.label(), c.median()));
            }
        }
        if (!memory.isEmpty()) {
            names.add(put(charts, stem + "-memory.png", Charts.bars(first.scenario()
                    + ": peak resident memory, all processes (MiB)", "MiB", "RSS peak", memory)));
        }
        if (!cost.isEmpty()) {
            names.add(put(charts, stem + "-cost.png", Charts.bars(first.scenario() + ": monthly cost per 1,000 req/s ("
                    + prices.currency() + ")", prices.currency() + " / month", "cost", cost)));
        }
        return names;
    }

    private static String put(Map<String, byte[]> charts, String name, byte[] png) {
        charts.put(name, png);
        return name;
    }

    static String fileStem(String s) {
        return s.replaceAll("[^A-Za-z0-9._-]+", "_");
    }

    private TreeSet<String> runIds() {
        TreeSet<String> ids = new TreeSet<>();
        results.forEach(r -> ids.add(r.runId()));
        skips.forEach(s -> ids.add(s.runId()));
        return ids;
    }

    // ---- tables shared by both forms ----

    private List<String> pointHeader() {
        return List.of("system", "protocol", "load", "reps", "answers/s", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms",
                "max ms", "failed / requests", "RSS peak MiB", "processes", "CPU s / 1,000 req",
                prices.currency() + " / month per 1,000 req/s");
    }

    private List<String> pointRow(LoadPoint p) {
        return List.of(p.system(), p.protocol(), p.load(), Integer.toString(p.repetitions().size()),
                Spread.format(p.okPerSecond()), Spread.format(p.spread(r -> r.latencyMs().p50())),
                Spread.format(p.spread(r -> r.latencyMs().p90())), Spread.format(p.spread(r -> r.latencyMs().p99())),
                Spread.format(p.spread(r -> r.latencyMs().p999())), Spread.format(p.spread(r -> r.latencyMs().max())),
                p.failed() + " / " + p.requests(), Spread.format(p.resourceSpread(r -> r.resources().rssMbPeak())),
                Spread.format(p.resourceSpread(r -> r.resources().processes())),
                Spread.format(p.resourceSpread(r -> r.resources().cpuSecondsPer1000Requests())),
                Spread.format(p.cost(prices)));
    }

    private static List<String> ratioHeader() {
        return List.of("run", "scenario", "Serval", "vs", "answers/s ratio", "p50 ratio", "p99 ratio", "RSS ratio",
                "cost ratio", "pairs");
    }

    private static List<String> ratioRow(Ratio r) {
        return List.of(r.serval().runId(), r.serval().scenario(), r.serval().label(), r.peer().label(),
                x(r.throughput()), x(r.p50()), x(r.p99()), x(r.rss()), x(r.cost()),
                r.pairs() == 0 ? "medians" : Integer.toString(r.pairs()));
    }

    private static String x(Spread s) {
        return s == null ? "-" : s.format() + "x";
    }

    /** Extra measured values (e.g. gc_max_pause_ms) by load point: label -> name -> spread. */
    private static Map<String, Map<String, Spread>> metrics(List<LoadPoint> points) {
        Map<String, Map<String, Spread>> out = new LinkedHashMap<>();
        for (LoadPoint p : points) {
            TreeSet<String> names = new TreeSet<>();
            p.repetitions().forEach(r -> names.addAll(r.metrics().keySet()));
            for (String name : names) {
                Spread s = Spread.of(p.repetitions().stream().filter(r -> r.metrics().containsKey(name))
                        .map(r -> r.metrics().get(name)).toList());
                out.computeIfAbsent(p.label(), k -> new TreeMap<>()).put(name, s);
            }
        }
        return out;
    }

    private List<List<String>> environmentRows(String runId) {
        List<Result> of = results.stream().filter(r -> r.runId().equals(runId)).toList();
        List<List<String>> rows = new ArrayList<>();
        if (of.isEmpty()) {
            return rows;
        }
        Environment e = of.get(0).environment();
        if (e != null) {
            rows.add(List.of("cores", Integer.toString(e.cores())));
            rows.add(List.of("CPU", e.cpuModel()));
            rows.add(List.of("memory", e.memoryGb() + " GiB"));
            rows.add(List.of("kernel", e.kernel()));
            rows.add(List.of("load generator JDK", e.java()));
            rows.add(List.of("load generator JVM flags", String.join(" ", e.generatorFlags())));
            rows.add(List.of("load generator CPUs (pinning)", e.generatorCpus()));
        }
        rows.add(List.of("measured", of.stream().map(Result::startedAt).min(String::compareTo).orElseThrow() + " to "
                + of.stream().map(Result::startedAt).max(String::compareTo).orElseThrow()));
        return rows;
    }

    /** Per system of a run: its command line (JVM flags), CPUs (pinning), processes and the facts recorded with it. */
    private List<List<String>> systemRows(String runId) {
        Map<String, List<Result>> bySystem = results.stream().filter(r -> r.runId().equals(runId))
                .collect(Collectors.groupingBy(Result::system, TreeMap::new, Collectors.toList()));
        List<List<String>> rows = new ArrayList<>();
        bySystem.forEach((system, rs) -> {
            Result sampled = rs.stream().filter(r -> r.resources() != null).findFirst().orElse(null);
            Map<String, String> facts = new TreeMap<>();
            rs.forEach(r -> facts.putAll(r.meta()));
            rows.add(List.of(system,
                    sampled == null ? "-" : String.join(" ", sampled.resources().command()),
                    sampled == null ? "-" : sampled.resources().cpus(),
                    facts.entrySet().stream().map(f -> f.getKey() + "=" + f.getValue()).collect(Collectors.joining("; "))));
        });
        return rows;
    }

    private String modelText() {
        return String.format(Locale.ROOT, "Cost per month of 1,000 req/s = vCPUs x %s/vCPU-hour x %.0f h + "
                        + "memory GiB x %s/GB-hour x %.0f h, where vCPUs = CPU-seconds per 1,000 requests (all the"
                        + " server's processes) and memory = peak RSS x max(1, 1000 / measured answers/s) instances."
                        + " Prices: %s %s per vCPU-hour, %s per GB-hour; source: %s.",
                prices.currency(), CostModel.HOURS_PER_MONTH, prices.currency(), CostModel.HOURS_PER_MONTH,
                prices.currency(), prices.vcpuHour(), prices.gbHour(), prices.source());
    }

    private static final String METHOD = "Every ratio compares Serval with a peer measured in the same run (same"
            + " machine, models, inputs and load generator, taking turns), repetition by repetition; figures are the"
            + " median of the repetitions with their min - max. Closed-loop latency runs from each send; open-loop"
            + " latency from each request's intended send time (no coordinated omission). Memory is the resident set"
            + " of the server's whole process tree (all workers), CPU is user + system time of that tree, both from"
            + " /proc. The in-process limit (ONNX Runtime called directly) is compared with every Serval load of its"
            + " scenario. Ratios above 1 favour Serval for answers/s; below 1 favour it for latency, memory and cost.";

    // ---- markdown ----

    private String markdown(Map<String, List<LoadPoint>> byScenario, List<Ratio> ratios) {
        StringBuilder md = new StringBuilder();
        md.append("# Serval benchmark summary\n\n");
        md.append("Runs: ").append(String.join(", ", runIds())).append(". Report built ").append(now).append(".\n\n");
        md.append(METHOD).append("\n\n");
        md.append("## Serval vs each peer (same run)\n\n");
        if (ratios.isEmpty()) {
            md.append("No ratio: no scenario has Serval and a peer measured under the same load in one run.\n\n");
        } else {
            table(md, ratioHeader(), ratios.stream().map(ReportBuilder::ratioRow).toList());
        }
        for (Map.Entry<String, List<LoadPoint>> e : byScenario.entrySet()) {
            md.append("## ").append(e.getKey()).append("\n\n");
            table(md, pointHeader(), e.getValue().stream().map(this::pointRow).toList());
            Map<String, Map<String, Spread>> metrics = metrics(e.getValue());
            metrics.forEach((label, m) -> m.forEach((name, s) ->
                    md.append("- ").append(label).append(": ").append(name).append(" = ").append(Spread.format(s))
                            .append('\n')));
            if (!metrics.isEmpty()) {
                md.append('\n');
            }
        }
        if (!skips.isEmpty()) {
            md.append("## Skipped\n\n");
            table(md, List.of("run", "scenario", "system", "reason"),
                    skips.stream().map(s -> List.of(s.runId(), s.scenario(), s.system(), s.reason())).toList());
        }
        md.append("## Cost model\n\n").append(modelText()).append("\n\n");
        notes.forEach((title, text) -> md.append("## ").append(title).append("\n\n```\n").append(text.strip())
                .append("\n```\n\n"));
        for (String runId : runIds()) {
            List<List<String>> env = environmentRows(runId);
            if (env.isEmpty()) {
                continue;
            }
            md.append("## Machine and settings: ").append(runId).append("\n\n");
            table(md, List.of("", ""), env);
            table(md, List.of("system", "command line", "CPUs", "recorded"), systemRows(runId));
        }
        return md.toString();
    }

    private static void table(StringBuilder md, List<String> header, List<List<String>> rows) {
        md.append("| ").append(String.join(" | ", header.stream().map(ReportBuilder::cell).toList())).append(" |\n|");
        header.forEach(h -> md.append("---|"));
        md.append('\n');
        for (List<String> row : rows) {
            md.append("| ").append(String.join(" | ", row.stream().map(ReportBuilder::cell).toList())).append(" |\n");
        }
        md.append('\n');
    }

    private static String cell(String s) {
        return s.replace("|", "\\|").replace("\n", " ");
    }

    // ---- HTML ----

    private String html(Map<String, List<LoadPoint>> byScenario, List<Ratio> ratios, Map<String, byte[]> charts,
                        Map<String, List<String>> chartsByScenario) {
        StringBuilder h = new StringBuilder(64 * 1024);
        h.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Serval benchmark report</title>\n")
                .append("<style>body{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}")
                .append("table{border-collapse:collapse;margin:1em 0;font-size:13px}th,td{border:1px solid #ccc;")
                .append("padding:3px 6px;text-align:left;vertical-align:top}th{background:#eee}img{max-width:100%;")
                .append("border:1px solid #ddd;margin:.5em 0}.note{color:#555;font-size:14px}code{font-size:12px}</style>")
                .append("</head><body>\n<h1>Serval benchmark report</h1>\n");
        h.append("<p class=\"note\">Runs: ").append(esc(String.join(", ", runIds()))).append(". Built ")
                .append(now).append(".</p>\n<p class=\"note\">").append(esc(METHOD)).append("</p>\n");
        h.append("<h2>Serval vs each peer (same run)</h2>\n");
        if (ratios.isEmpty()) {
            h.append("<p>No ratio: no scenario has Serval and a peer measured under the same load in one run.</p>\n");
        } else {
            htmlTable(h, ratioHeader(), ratios.stream().map(ReportBuilder::ratioRow).toList(), "ratios");
        }
        for (Map.Entry<String, List<LoadPoint>> e : byScenario.entrySet()) {
            h.append("<h2>").append(esc(e.getKey())).append("</h2>\n");
            htmlTable(h, pointHeader(), e.getValue().stream().map(this::pointRow).toList(), "points");
            Map<String, Map<String, Spread>> metrics = metrics(e.getValue());
            if (!metrics.isEmpty()) {
                List<List<String>> rows = new ArrayList<>();
                metrics.forEach((label, m) -> m.forEach((name, s) -> rows.add(List.of(label, name, Spread.format(s)))));
                htmlTable(h, List.of("load", "measure", "value"), rows, "metrics");
            }
            for (String name : chartsByScenario.get(e.getKey())) {
                h.append("<img alt=\"").append(esc(name)).append("\" src=\"data:image/png;base64,")
                        .append(Base64.getEncoder().encodeToString(charts.get(name))).append("\">\n");
            }
        }
        if (!skips.isEmpty()) {
            h.append("<h2>Skipped</h2>\n");
            htmlTable(h, List.of("run", "scenario", "system", "reason"),
                    skips.stream().map(s -> List.of(s.runId(), s.scenario(), s.system(), s.reason())).toList(), "skips");
        }
        h.append("<h2>Cost model</h2>\n<p>").append(esc(modelText())).append("</p>\n");
        notes.forEach((title, text) -> h.append("<h2>").append(esc(title)).append("</h2>\n<pre>").append(esc(text.strip()))
                .append("</pre>\n"));
        for (String runId : runIds()) {
            List<List<String>> env = environmentRows(runId);
            if (env.isEmpty()) {
                continue;
            }
            h.append("<h2>Machine and settings: ").append(esc(runId)).append("</h2>\n");
            htmlTable(h, List.of("", ""), env, "machine");
            htmlTable(h, List.of("system", "command line", "CPUs", "recorded"), systemRows(runId), "systems");
        }
        return h.append("</body></html>\n").toString();
    }

    private static void htmlTable(StringBuilder h, List<String> header, List<List<String>> rows, String cls) {
        h.append("<table class=\"").append(cls).append("\"><tr>");
        header.forEach(c -> h.append("<th>").append(esc(c)).append("</th>"));
        h.append("</tr>\n");
        for (List<String> row : rows) {
            h.append("<tr>");
            row.forEach(c -> h.append("<td>").append(esc(c)).append("</td>"));
            h.append("</tr>\n");
        }
        h.append("</table>\n");
    }

    static String esc(String s) {
        StringBuilder out = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '<' -> out.append("&lt;");
                case '>' -> out.append("&gt;");
                case '&' -> out.append("&amp;");
                case '"' -> out.append("&quot;");
                default -> out.append(c);
            }
        }
        return out.toString();
    }
}
