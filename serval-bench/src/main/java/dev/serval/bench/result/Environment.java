package dev.serval.bench.result;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * The machine and the load generator's JVM a result was measured with. Immutable.
 *
 * @param cores          processors the machine has ({@code /proc/cpuinfo}; the JVM's count when unreadable)
 * @param cpuModel       the CPU's model name as {@code /proc/cpuinfo} gives it
 * @param memoryGb       the machine's memory ({@code MemTotal}), GiB
 * @param kernel         the OS name and version
 * @param java           the generator's Java runtime: vendor and version
 * @param generatorFlags the generator JVM's flags
 * @param generatorCpus  the CPUs the generator may run on (its pinning)
 */
public record Environment(int cores, String cpuModel, double memoryGb, String kernel, String java,
                          List<String> generatorFlags, String generatorCpus) {

    public Environment {
        generatorFlags = List.copyOf(generatorFlags);
    }

    /** This machine and this JVM, read from {@code /proc} (what cannot be read is "unknown"). */
    public static Environment current() {
        Path proc = Path.of("/proc");
        List<String> cpuinfo = lines(proc.resolve("cpuinfo"));
        int cores = (int) cpuinfo.stream().filter(l -> l.startsWith("processor")).count();
        String model = cpuinfo.stream().filter(l -> l.startsWith("model name")).findFirst()
                .map(l -> l.substring(l.indexOf(':') + 1).trim()).orElse("unknown");
        double memory = lines(proc.resolve("meminfo")).stream().filter(l -> l.startsWith("MemTotal:"))
                .findFirst().map(l -> Double.parseDouble(l.replaceAll("[^0-9]", "")) / (1024 * 1024)).orElse(0.0);
        String cpus = lines(proc.resolve("self/status")).stream().filter(l -> l.startsWith("Cpus_allowed_list:"))
                .findFirst().map(l -> l.substring(l.indexOf(':') + 1).trim()).orElse("unknown");
        return new Environment(cores > 0 ? cores : Runtime.getRuntime().availableProcessors(), model,
                Math.round(memory * 10) / 10.0,
                System.getProperty("os.name") + " " + System.getProperty("os.version"),
                String.format(Locale.ROOT, "%s %s", System.getProperty("java.vm.vendor"), Runtime.version()),
                ManagementFactory.getRuntimeMXBean().getInputArguments(), cpus);
    }

    private static List<String> lines(Path file) {
        try {
            return Files.readAllLines(file);
        } catch (IOException | RuntimeException e) {
            return List.of();
        }
    }
}
