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
 * Once the JIT is warm, runs its compiler threads at a lower CPU priority (a higher nice value)
 * than the threads that serve requests, so that a later compilation takes the CPU the requests
 * leave and does not hold them.
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
    private static final Path PROCESS = Path.of("/proc/self/stat");
    static final int DEFAULT_NICE = 5;
    /** Seconds between looks at the compiler's CPU (and for compiler threads the JVM started since). */
    private static final int RECHECK_SECONDS = 10;
    /** The process's CPU over a look from which it counts as busy: a quarter of a core. */
    static final double BUSY_CORES = 0.25;
    /** The compiler threads' share of a busy process's CPU under which the JIT counts as warm. */
    static final double WARM_SHARE = 0.05;
    /** Looks in a row that must find the JIT warm. */
    private static final int WARM_LOOKS = 2;

    private final ScheduledExecutorService checker;

    private CompilerThreads(ScheduledExecutorService checker) {
        this.checker = checker;
    }

    /**
     * Looks at the compiler's CPU every {@value #RECHECK_SECONDS} s and, once the JIT is warm (see
     * {@link #warm}), lowers the compiler threads' priority, then keeps doing so for compiler
     * threads started later; unless {@code -Dserval.jit_nice=0} or this is not Linux.
     */
    static Optional<CompilerThreads> start() {
        int nice = Integer.getInteger("serval.jit_nice", DEFAULT_NICE);
        if (nice == 0 || !Files.isDirectory(TASKS) || !Files.isReadable(PROCESS)) {
            return Optional.empty();
        }
        ScheduledExecutorService checker = Executors.newSingleThreadScheduledExecutor(
                ServalThreads.platform("serval-jit-nice"));
        long[] last = {processTicks(), compilerTicks(), System.nanoTime()};
        int[] warmLooks = {0};
        checker.scheduleWithFixedDelay(() -> {
            long process = processTicks();
            long compiler = compilerTicks();
            long now = System.nanoTime();
            if (warmLooks[0] < WARM_LOOKS) {
                // two looks in a row: a lull between compilations is not the end of them
                warmLooks[0] = warm(process - last[0], compiler - last[1], (now - last[2]) / 1e9) ? warmLooks[0] + 1 : 0;
                if (warmLooks[0] == WARM_LOOKS) {
                    log.debug("the JIT is warm: its compiler threads go to nice {}", nice);
                }
            }
            last[0] = process;
            last[1] = compiler;
            last[2] = now;
            if (warmLooks[0] == WARM_LOOKS && lowerPriority(nice) < 0) {
                checker.shutdown(); // said why once; no use trying every few seconds
            }
        }, RECHECK_SECONDS, RECHECK_SECONDS, TimeUnit.SECONDS);
        return Optional.of(new CompilerThreads(checker));
    }

    /**
     * Whether a look finds the JIT done with the bulk of its work (two in a row count): the process was busy (at least {@link
     * #BUSY_CORES} of a core) and the compiler took under {@link #WARM_SHARE} of it. Until then the
     * compiler keeps the server's priority, because a server saturated from its start needs its
     * compiled code soonest: at nice 5 under 10 closed-loop MobileNetV2 clients it reached full
     * speed after 66 s instead of 38 s, at nice 19 not within two minutes (2026-12-07).
     *
     * @param processTicks  the process's CPU over the look, in clock ticks (1/100 s)
     * @param compilerTicks the compiler threads' CPU over the look, in clock ticks
     */
    static boolean warm(long processTicks, long compilerTicks, double seconds) {
        return processTicks >= BUSY_CORES * 100 * seconds && compilerTicks < WARM_SHARE * processTicks;
    }

    private static long processTicks() {
        try {
            return ProcStat.cpuTicks(Files.readString(PROCESS));
        } catch (IOException | RuntimeException e) {
            return 0;
        }
    }

    /** The CPU (clock ticks) of the compiler threads alive now. */
    private static long compilerTicks() {
        long total = 0;
        try (DirectoryStream<Path> tasks = Files.newDirectoryStream(TASKS)) {
            for (Path task : tasks) {
                try {
                    if (isCompiler(Files.readString(task.resolve("comm")))) {
                        total += ProcStat.cpuTicks(Files.readString(task.resolve("stat")));
                    }
                } catch (IOException | RuntimeException e) {
                    // the thread ended meanwhile
                }
            }
        } catch (IOException e) {
            // none listed
        }
        return total;
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
        try (DirectoryStream<Path> tasks = Files.newDirectoryStream(TASKS)) {
            for (Path task : tasks) {
                try {
                    if (isCompiler(Files.readString(task.resolve("comm")))
                            && niceOf(Files.readString(task.resolve("stat"))) < nice) {
                        ids.add(task.getFileName().toString());
                    }
                } catch (IOException | RuntimeException e) {
                    // the thread ended meanwhile
                }
            }
        } catch (IOException e) {
            // no threads listed: nothing to change
        }
        return ids;
    }

    /** HotSpot's compiler threads are named "C1 CompilerThread0", "C2 CompilerThread1"... (15 characters kept). */
    static boolean isCompiler(String comm) {
        return comm.startsWith("C1 CompilerThre") || comm.startsWith("C2 CompilerThre");
    }

    /** The nice value of a {@code /proc/.../stat} line (field 19, counted past the command's ')'). */
    static int niceOf(String stat) {
        return Integer.parseInt(ProcStat.fieldsAfterCommand(stat)[16]);
    }
}
