package dev.serval.bench.report;

import dev.serval.bench.result.ResultFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code serval bench report}: results files or folders in, report.html + summary.md + charts/ out. */
@Command(name = "report", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Builds the HTML report and the markdown summary from results files.")
public final class ReportCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "RESULTS", arity = "1..*", description = "Results files, or folders searched for them.")
    List<Path> inputs;

    @Option(names = "--out", required = true, paramLabel = "DIR",
            description = "Where report.html, summary.md and charts/*.png go.")
    Path out;

    @Option(names = "--prices", paramLabel = "FILE",
            description = "A properties file: vcpu_hour, gb_hour, currency, source. Default: GCP N2 us-central1 list price.")
    Path pricesFile;

    @Option(names = "--vcpu-hour", paramLabel = "PRICE", description = "Overrides the price of a vCPU-hour.")
    Double vcpuHour;

    @Option(names = "--gb-hour", paramLabel = "PRICE", description = "Overrides the price of a GB-hour.")
    Double gbHour;

    @Option(names = "--note", paramLabel = "FILE",
            description = "A text file shown as it is under Notes, titled by its name (repeatable), e.g. the suite's machine.txt.")
    List<Path> noteFiles = new java.util.ArrayList<>();

    @Override
    public Integer call() throws IOException {
        PriceTable prices;
        ResultFiles.Loaded loaded;
        try {
            prices = pricesFile == null ? PriceTable.DEFAULT : PriceTable.load(pricesFile);
            if (vcpuHour != null || gbHour != null) {
                prices = new PriceTable(vcpuHour != null ? vcpuHour : prices.vcpuHour(),
                        gbHour != null ? gbHour : prices.gbHour(), prices.currency(),
                        prices.source() + " (overridden on the command line:"
                                + (vcpuHour != null ? " vcpu_hour " + vcpuHour : "")
                                + (gbHour != null ? " gb_hour " + gbHour : "") + ")");
            }
            loaded = ResultFiles.load(inputs);
        } catch (IllegalArgumentException | java.nio.file.NoSuchFileException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage());
        }
        ReportBuilder.Report report;
        try {
            ReportBuilder builder = new ReportBuilder(loaded, prices, Instant.now());
            for (Path note : noteFiles) {
                builder.note(note.getFileName().toString(), Files.readString(note));
            }
            report = builder.build();
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage());
        }
        write(out, report);
        System.err.printf("report: %d results, %d skips -> %s%n", loaded.results().size(), loaded.skips().size(),
                out.resolve("report.html"));
        return 0;
    }

    /** Writes report.html, summary.md and charts/NAME.png under {@code dir}. */
    public static void write(Path dir, ReportBuilder.Report report) throws IOException {
        Path charts = dir.resolve("charts");
        Files.createDirectories(charts);
        Files.writeString(dir.resolve("report.html"), report.html());
        Files.writeString(dir.resolve("summary.md"), report.markdown());
        for (Map.Entry<String, byte[]> chart : report.charts().entrySet()) {
            Files.write(charts.resolve(chart.getKey()), chart.getValue());
        }
    }
}
