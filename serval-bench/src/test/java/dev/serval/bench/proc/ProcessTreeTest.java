package dev.serval.bench.proc;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ProcessTreeTest {
    @TempDir
    Path proc;

    /** A fake /proc/PID: stat with ppid, utime, stime (a command name with spaces and a ')'), status with VmRSS. */
    private void process(long pid, long ppid, long utime, long stime, long rssKb) throws Exception {
        Path dir = Files.createDirectories(proc.resolve(Long.toString(pid)));
        Files.writeString(dir.resolve("stat"), pid + " (py worker) x) S " + ppid + " 1 1 0 -1 4194304 100 0 0 0 "
                + utime + " " + stime + " 0 0 20 0 4 0 100 1000 250\n");
        Files.writeString(dir.resolve("status"), "Name:\tpy\nVmHWM:\t  9999 kB\nVmRSS:\t" + rssKb + " kB\n"
                + "Cpus_allowed_list:\t0\n");
        Files.write(dir.resolve("cmdline"), ("python3\0peer.py\0--workers\0" + 2 + "\0").getBytes());
    }

    @Test
    void read_sumsTheRootAndAllItsDescendants_notOtherProcesses() throws Exception {
        process(100, 1, 50, 10, 40_000);   // the server
        process(101, 100, 300, 20, 250_000); // worker
        process(102, 100, 310, 25, 260_000); // worker
        process(103, 102, 1, 1, 1_000);      // a worker's child
        process(200, 1, 999, 999, 999_999);  // someone else
        Files.createDirectories(proc.resolve("self"));

        ProcessTree tree = new ProcessTree(proc);
        ProcessTree.Reading r = tree.read(100);

        assertThat(r.processes()).isEqualTo(4);
        assertThat(r.rssKb()).isEqualTo(40_000 + 250_000 + 260_000 + 1_000);
        assertThat(r.cpuTicks()).isEqualTo(60 + 320 + 335 + 2);
        assertThat(tree.commandLine(100)).containsExactly("python3", "peer.py", "--workers", "2");
        assertThat(tree.cpusAllowed(100)).isEqualTo("0");
        assertThat(tree.read(999).processes()).isZero();
    }

    @Test
    void sampler_interpolatesCpuAtTheWindowEdges_andKeepsThePeak() throws Exception {
        process(100, 1, 0, 0, 10_240);
        AtomicLong clock = new AtomicLong(0);
        ResourceSampler sampler = new ResourceSampler(new ProcessTree(proc), 100, Duration.ofSeconds(1), clock::get);
        sampler.sampleNow();                              // t=0: 0 ticks, 10 MiB
        clock.set(TimeUnit.SECONDS.toNanos(1));
        process(100, 1, 100, 0, 51_200);                  // t=1: 1.00 s of CPU, 50 MiB
        sampler.sampleNow();
        clock.set(TimeUnit.SECONDS.toNanos(2));
        process(100, 1, 150, 50, 20_480);                 // t=2: 2.00 s of CPU, 20 MiB
        sampler.sampleNow();

        // window 0.5 s .. 1.5 s: CPU at 0.5 s = 0.5 s (halfway 0 -> 1), at 1.5 s = 1.5 s (halfway 1 -> 2)
        var summary = sampler.summary(TimeUnit.MILLISECONDS.toNanos(500), TimeUnit.MILLISECONDS.toNanos(1500), 500);

        assertThat(summary.cpuSeconds()).isEqualTo(1.0);
        assertThat(summary.cpuSecondsPer1000Requests()).isEqualTo(2.0); // 1 s over 500 requests
        assertThat(summary.rssMbPeak()).isEqualTo(50.0);
        assertThat(summary.rssMbMean()).isEqualTo(50.0);                // the one sample inside the window
        assertThat(summary.rssMbEnd()).isEqualTo(20.0);
        assertThat(summary.samples()).isEqualTo(3);
        assertThat(summary.command()).containsExactly("python3", "peer.py", "--workers", "2");
    }

    @Test
    void system_readsThisTestsOwnProcessTree_withAChildCounted() throws Exception {
        long self = ProcessHandle.current().pid();
        ProcessTree tree = ProcessTree.system();
        ProcessTree.Reading alone = tree.read(self);
        Process child = new ProcessBuilder("sleep", "30").start();
        try {
            ProcessTree.Reading withChild = tree.read(self);

            assertThat(alone.processes()).isGreaterThanOrEqualTo(1);
            assertThat(withChild.processes()).isGreaterThan(alone.processes() - 1).isGreaterThanOrEqualTo(2);
            assertThat(tree.tree(self)).contains(child.pid());
            // a JVM running tests holds tens of MB at least and has used CPU
            assertThat(alone.rssKb()).isGreaterThan(20 * 1024);
            assertThat(alone.cpuTicks()).isPositive();
            long ownRss = Long.parseLong(Files.readAllLines(Path.of("/proc/self/status")).stream()
                    .filter(l -> l.startsWith("VmRSS:")).findFirst().orElseThrow().replaceAll("[^0-9]", ""));
            assertThat(withChild.rssKb()).isGreaterThan(ownRss / 2);
        } finally {
            child.destroy();
            child.waitFor();
        }
    }

    @Test
    void sampler_samplesARealProcessInTheBackground() throws Exception {
        try (ResourceSampler sampler = ResourceSampler.of(ProcessHandle.current().pid(), Duration.ofMillis(10)).start()) {
            long from = System.nanoTime();
            long spin = 0;
            while (System.nanoTime() - from < TimeUnit.MILLISECONDS.toNanos(200)) {
                spin += Long.numberOfTrailingZeros(System.nanoTime()); // keep a core busy for the CPU counter
            }
            sampler.sampleNow();
            var summary = sampler.summary(from, System.nanoTime(), 1000);
            assertThat(summary.samples()).isGreaterThanOrEqualTo(2);
            assertThat(summary.rssMbPeak()).isGreaterThan(20);
            assertThat(summary.cpuSeconds()).isGreaterThanOrEqualTo(0);
            assertThat(spin).isNotNegative();
        }
    }
}
