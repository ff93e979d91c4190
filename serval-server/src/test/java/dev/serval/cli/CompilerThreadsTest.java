package dev.serval.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assumptions.assumeThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class CompilerThreadsTest {

    @Test
    void readsTheNiceValuePastACommandWithSpacesAndParentheses() {
        String stat = "4242 (C2 CompilerThre) S 1 4200 4200 0 -1 4194368 2081 0 0 0 512 31 0 0 25 5 "
                + "40 0 1710 12288000000 57040 18446744073709551615";
        assertThat(CompilerThreads.niceOf(ProcStat.of(stat))).isEqualTo(5);
        assertThat(CompilerThreads.niceOf(ProcStat.of("7 (a) b) R 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 -3 1 0 1 1 1 1")))
                .isEqualTo(-3);
    }

    @Test
    void knowsHotSpotsCompilerThreadsByName() {
        assertThat(CompilerThreads.isCompiler(ProcStat.of("C2 CompilerThre\n"))).isTrue();
        assertThat(CompilerThreads.isCompiler(ProcStat.of("C1 CompilerThre"))).isTrue();
        assertThat(CompilerThreads.isCompiler(ProcStat.of("serval-mobilene"))).isFalse();
        assertThat(CompilerThreads.isCompiler(ProcStat.of("ZWorkerYoung#0"))).isFalse();
    }

    @Test
    void refusesANiceValueOutsideWhatItMayGiveItself() {
        assertThatThrownBy(() -> CompilerThreads.lowerPriority(0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("1..19");
        assertThatThrownBy(() -> CompilerThreads.lowerPriority(-5)).isInstanceOf(IllegalArgumentException.class);
    }

    /** On this very JVM: its compiler threads end up at the nice value asked for, and only they. */
    @Test
    void lowersThisJvmsCompilerThreads_andLeavesTheOthers() throws Exception {
        assumeThat(Files.isDirectory(Path.of("/proc/self/task"))).isTrue();
        assumeThat(Files.isExecutable(Path.of("/usr/bin/renice")) || Files.isExecutable(Path.of("/bin/renice"))).isTrue();
        assumeThat(CompilerThreads.below(3)).as("this JVM's compiler threads").isNotEmpty();
        int before = CompilerThreads.niceOf(ProcStat.of(Files.readString(Path.of("/proc/thread-self/stat"))));

        assertThat(CompilerThreads.lowerPriority(3)).isPositive();

        assertThat(CompilerThreads.below(3)).isEmpty();
        assertThat(CompilerThreads.lowerPriority(3)).isZero(); // nothing left to change
        assertThat(CompilerThreads.niceOf(ProcStat.of(Files.readString(Path.of("/proc/thread-self/stat"))))).isEqualTo(before);
    }
}
