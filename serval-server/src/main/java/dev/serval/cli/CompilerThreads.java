package dev.serval.cli;

import dev.serval.schedule.ServalThreads;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs the JIT compiler's threads at a lower CPU priority (a higher nice value) than the threads
 * that serve requests, so that a compilation takes the CPU the requests leave and does not hold
 * them.
 *
 * <p>Design note: C2 compiles a method once it has run some 15,000 times; the methods that run once
 * per request reach that only after a minute or more at a few hundred requests a second, and a
 * change in the traffic (batch sizes, another model) sends some back through the compiler. Each
 * compilation is tens to hundreds of milliseconds of CPU. At nice 0 on a core that also runs ONNX
 * Runtime it took half of that core while it lasted: on binary MobileNetV2 at 70% of saturation one
 * C2 compilation of {@code OnnxSession.run} held 30 requests at 10-45 ms against a median of 4.5
 * (a sched_switch trace of the server's core, 2026-12-07). At nice 5 the compiler still gets about a
 * quarter of a contended core (the kernel weighs nice 5 at 335 against 1024) and all of an idle one,
 * so compilation slows down only when there is no CPU to spare.
 *
 * <p>The JVM can do this itself ({@code -XX:ThreadPriorityPolicy=1 -XX:CompilerThreadPriority}),
 * but it prints a warning at every start when not run as root, although raising one's own nice
 * value needs no privilege; so the threads are found by name in {@code /proc/self/task} and given
 * to {@code renice}. Linux only; where {@code /proc} or {@code renice} is missing nothing changes.
 * {@code -Dserval.jit_nice=N} sets the value (default {@value #DEFAULT_NICE}; 0 leaves the threads as they are).
 */
final class CompilerThreads implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(CompilerThreads.class);
    private static final Path TASKS = Path.of("/proc/self/task");
    static final int DEFAULT_NICE = 5;
    /** Seconds between looks for compiler threads the JVM started since. */
    private static final int RECHECK_SECONDS = 10;

    private final ScheduledExecutorService checker;

    private CompilerThreads(ScheduledExecutorService checker) {
        this.checker = checker;
    }

    /**
     * Lowers the compiler threads' priority now and every {@value #RECHECK_SECONDS} s after, unless
     * {@code -Dserval.jit_nice=0} or this is not Linux.
     */
    static Optional<CompilerThreads> start() {
        int nice = Integer.getInteger("serval.jit_nice", DEFAULT_NICE);
        if (nice == 0 || !Files.isDirectory(TASKS)) {
            return Optional.empty();
        }
        ScheduledExecutorService checker = Executors.newSingleThreadScheduledExecutor(
                ServalThreads.platform("serval-jit-nice"));
        checker.scheduleWithFixedDelay(() -> {
            if (lowerPriority(nice) < 0) {
                checker.shutdown(); // said why once; no use trying every few seconds
            }
        }, 0, RECHECK_SECONDS, TimeUnit.SECONDS);
        return Optional.of(new CompilerThreads(checker));
    }

    @Override
    public void close() {
        checker.shutdownNow();
    }

    /**
     * Sets the nice value of this JVM's compiler threads that run at a lower one to {@code nice}.
     * Call it again to catch compiler threads the JVM starts later (it adds them under load).
     *
     * @param nice 1..19
     * @return how many threads were changed, or -1 when renice cannot be run here (logged)
     */
    static int lowerPriority(int nice) {
        if (nice < 1 || nice > 19) {
            throw new IllegalArgumentException("nice " + nice + " must be in 1..19");
        }
        List<String> ids = below(nice);
        if (ids.isEmpty()) {
            return 0;
        }
        List<String> command = new ArrayList<>(List.of("renice", "-n", Integer.toString(nice), "-p"));
        command.addAll(ids);
        try {
            Process renice = new ProcessBuilder(command).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            if (!renice.waitFor(5, TimeUnit.SECONDS)) {
                renice.destroyForcibly();
                log.warn("renice of the JIT compiler threads did not end within 5 s");
                return -1;
            }
            if (renice.exitValue() != 0) {
                // e.g. a compiler thread the JVM stopped meanwhile (it stops idle ones): try again next time
                log.debug("renice -n {} of the JIT compiler threads {} ended with status {}", nice, ids, renice.exitValue());
                return 0;
            }
        } catch (IOException e) {
            log.warn("could not run renice for the JIT compiler threads: {}", e.getMessage());
            return -1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        }
        log.debug("JIT compiler threads {} now at nice {}", ids, nice);
        return ids.size();
    }

    /** The thread ids of this JVM's compiler threads whose nice value is below {@code nice}. */
    static List<String> below(int nice) {
        List<String> ids = new ArrayList<>();
        if (!Files.isDirectory(TASKS)) {
            return ids;
        }
        ProcStat stat = new ProcStat();
        try (DirectoryStream<Path> tasks = Files.newDirectoryStream(TASKS)) {
            for (Path task : tasks) {
                try {
                    if (stat.read(task.resolve("comm")) && isCompiler(stat)
                            && stat.read(task.resolve("stat")) && niceOf(stat) < nice) {
                        ids.add(task.getFileName().toString());
                    }
                } catch (RuntimeException e) {
                    // the thread ended meanwhile
                }
            }
        } catch (IOException e) {
            // no threads listed: nothing to change
        }
        return ids;
    }

    /** HotSpot's compiler threads are named "C1 CompilerThread0", "C2 CompilerThread1"... (15 characters kept). */
    static boolean isCompiler(ProcStat comm) {
        return comm.startsWith("C1 CompilerThre") || comm.startsWith("C2 CompilerThre");
    }

    /** The nice value of a {@code /proc/.../stat} line (field 19). */
    static int niceOf(ProcStat stat) {
        return (int) stat.field(19);
    }
}
