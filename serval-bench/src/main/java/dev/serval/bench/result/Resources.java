package dev.serval.bench.result;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;

/**
 * What a server used while it was measured, read from {@code /proc} for a process and all its
 * descendants (a server with worker processes is counted in full). Immutable.
 *
 * @param pid                       the process named on the command line (the tree's root)
 * @param command                   its command line (a JVM's flags are in it)
 * @param cpus                      the CPUs it may run on ({@code Cpus_allowed_list}): its pinning
 * @param processes                 the most processes seen in the tree at one time
 * @param samples                   samples taken, warm-up included
 * @param intervalSeconds           time between samples
 * @param rssMbPeak                 the highest summed resident set seen, MiB
 * @param rssMbMean                 the mean of the summed resident set over the measured time, MiB
 * @param rssMbEnd                  the last sample's summed resident set, MiB
 * @param cpuSeconds                CPU time (user + system, all threads of all processes) used in
 *                                  the measured time
 * @param cpuSecondsPer1000Requests {@code cpuSeconds} per 1,000 answers that ended in the measured
 *                                  time; 0 when none did
 */
public record Resources(long pid, List<String> command, String cpus, int processes, int samples,
                        double intervalSeconds, double rssMbPeak, double rssMbMean, double rssMbEnd,
                        double cpuSeconds,
                        @JsonProperty("cpu_seconds_per_1000_requests") double cpuSecondsPer1000Requests) {

    public Resources {
        command = List.copyOf(command);
    }
}
