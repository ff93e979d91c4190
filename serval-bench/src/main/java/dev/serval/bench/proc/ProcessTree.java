package dev.serval.bench.proc;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads a process and all its descendants from {@code /proc}: their summed resident set and CPU
 * time. Stateless and thread-safe; the proc root is injected so tests can feed a fixed tree.
 *
 * <p>Design note: a Python peer runs a parent and N worker processes, and a server's memory is all
 * of them, so the tree is found anew at every read (workers may be restarted), by each process's
 * parent in {@code /proc/PID/stat}. Memory is {@code VmRSS} from {@code /proc/PID/status}; CPU is
 * {@code utime + stime} of {@code /proc/PID/stat}, in clock ticks of {@link #ticksPerSecond()}
 * (Linux reports these in USER_HZ, 100 on every architecture the JDK runs on). A process that ends
 * between two reads drops out of the sum, and its CPU time with it: sample a tree whose processes
 * live as long as the measurement (servers do).
 */
public final class ProcessTree {
    /** USER_HZ: the unit of {@code /proc/PID/stat}'s times. */
    static final int USER_HZ = 100;

    private final Path proc;

    /** A tree read from {@code root} (normally {@code /proc}). */
    public ProcessTree(Path root) {
        this.proc = root;
    }

    /** The real {@code /proc}. */
    public static ProcessTree system() {
        return new ProcessTree(Path.of("/proc"));
    }

    /** Clock ticks per second of {@link Reading#cpuTicks()}. */
    public static int ticksPerSecond() {
        return USER_HZ;
    }

    /**
     * One reading of a tree.
     *
     * @param processes how many processes it held (0: the root is gone)
     * @param rssKb     their summed VmRSS, kB
     * @param cpuTicks  their summed user + system CPU time, clock ticks
     */
    public record Reading(int processes, long rssKb, long cpuTicks) {
    }

    /**
     * Reads {@code pid} and its descendants now.
     *
     * @return the reading; {@code processes() == 0} when {@code pid} does not exist
     */
    public Reading read(long pid) {
        List<Long> tree = tree(pid);
        long rss = 0;
        long ticks = 0;
        int alive = 0;
        for (long p : tree) {
            Stat stat = stat(p);
            if (stat == null) {
                continue; // ended since the tree was listed
            }
            alive++;
            ticks += stat.utime + stat.stime;
            rss += rssKb(p);
        }
        return new Reading(alive, rss, ticks);
    }

    /** The command line of {@code pid}, argument by argument; empty when unreadable. */
    public List<String> commandLine(long pid) {
        try {
            byte[] raw = Files.readAllBytes(proc.resolve(Long.toString(pid)).resolve("cmdline"));
            List<String> args = new ArrayList<>();
            int start = 0;
            for (int i = 0; i < raw.length; i++) {
                if (raw[i] == 0) {
                    args.add(new String(raw, start, i - start, java.nio.charset.StandardCharsets.UTF_8));
                    start = i + 1;
                }
            }
            if (start < raw.length) {
                args.add(new String(raw, start, raw.length - start, java.nio.charset.StandardCharsets.UTF_8));
            }
            return args;
        } catch (IOException e) {
            return List.of();
        }
    }

    /** {@code Cpus_allowed_list} of {@code pid} (e.g. {@code 0} when pinned to core 0); "unknown" when unreadable. */
    public String cpusAllowed(long pid) {
        return statusField(pid, "Cpus_allowed_list:").orElse("unknown");
    }

    /** {@code pid} and every descendant, found from each process's parent. */
    List<Long> tree(long pid) {
        Map<Long, List<Long>> children = new HashMap<>();
        try (DirectoryStream<Path> all = Files.newDirectoryStream(proc)) {
            for (Path dir : all) {
                String name = dir.getFileName().toString();
                if (name.isEmpty() || !name.chars().allMatch(Character::isDigit)) {
                    continue;
                }
                long p = Long.parseLong(name);
                Stat stat = stat(p);
                if (stat != null) {
                    children.computeIfAbsent(stat.ppid, k -> new ArrayList<>()).add(p);
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot list " + proc + ": " + e.getMessage(), e);
        }
        List<Long> tree = new ArrayList<>();
        Deque<Long> pending = new ArrayDeque<>();
        pending.add(pid);
        while (!pending.isEmpty() && tree.size() < 100_000) {
            long p = pending.removeFirst();
            tree.add(p);
            pending.addAll(children.getOrDefault(p, List.of()));
        }
        return tree;
    }

    private record Stat(long ppid, long utime, long stime) {
    }

    /** Fields of /proc/PID/stat after the command name (which may hold spaces and parentheses). */
    private Stat stat(long pid) {
        String text;
        try {
            text = Files.readString(proc.resolve(Long.toString(pid)).resolve("stat"));
        } catch (IOException e) {
            return null;
        }
        int close = text.lastIndexOf(')');
        if (close < 0) {
            return null;
        }
        String[] f = text.substring(close + 1).trim().split("\\s+");
        if (f.length < 13) {
            return null;
        }
        // after "(comm)": state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime
        return new Stat(Long.parseLong(f[1]), Long.parseLong(f[11]), Long.parseLong(f[12]));
    }

    private long rssKb(long pid) {
        return statusField(pid, "VmRSS:").map(v -> Long.parseLong(v.replaceAll("[^0-9]", ""))).orElse(0L);
    }

    private java.util.Optional<String> statusField(long pid, String field) {
        try {
            for (String line : Files.readAllLines(proc.resolve(Long.toString(pid)).resolve("status"))) {
                if (line.startsWith(field)) {
                    return java.util.Optional.of(line.substring(field.length()).trim());
                }
            }
        } catch (IOException e) {
            // gone
        }
        return java.util.Optional.empty();
    }
}
