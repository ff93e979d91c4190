package dev.serval.bench;

import dev.serval.bench.load.RunCommand;
import dev.serval.bench.report.ReportCommand;
import dev.serval.bench.suite.ImportLimitCommand;
import dev.serval.bench.suite.SkipCommand;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code ./serval bench}: the benchmark suite's Java side. {@code run} measures one load and writes
 * a results file; {@code report} turns results into the HTML report and markdown summary;
 * {@code skip} and {@code import-limit} let {@code bench/suite.sh} record what it could not run
 * and the in-process limit's figures in the same format. The suite itself ({@code ./serval bench
 * suite quick|full}) is {@code bench/suite.sh}, which starts the servers and calls these.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Serval's benchmark tools: run a load, build the report.",
        subcommands = {RunCommand.class, ReportCommand.class, SkipCommand.class, ImportLimitCommand.class})
public final class Bench implements Runnable {

    public static void main(String[] args) {
        System.setProperty("java.awt.headless", "true");
        System.exit(new CommandLine(new Bench()).execute(args));
    }

    @Override
    public void run() {
        new CommandLine(this).usage(System.err);
    }
}
