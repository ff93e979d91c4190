package dev.serval.bench.suite;

import dev.serval.bench.result.ResultFiles;
import dev.serval.bench.result.Skip;
import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code serval bench skip}: records that the suite could not run a scenario here, and why. */
@Command(name = "skip", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Writes a skip record (scenario, system, reason) for the report.")
public final class SkipCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--run-id", required = true, paramLabel = "ID")
    String runId;

    @Option(names = "--scenario", required = true, paramLabel = "NAME")
    String scenario;

    @Option(names = "--system", defaultValue = "*", paramLabel = "NAME", description = "Default: the whole scenario (*).")
    String system;

    @Option(names = "--reason", required = true, paramLabel = "TEXT", description = "What was missing and how to provide it.")
    String reason;

    @Option(names = "--out", required = true, paramLabel = "FILE")
    Path out;

    @Override
    public Integer call() throws IOException {
        Skip skip;
        try {
            skip = new Skip(Skip.SCHEMA, runId, scenario, system, reason);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage());
        }
        ResultFiles.write(out, skip);
        System.err.printf("skip: %s %s: %s%n", scenario, system, reason);
        return 0;
    }
}
