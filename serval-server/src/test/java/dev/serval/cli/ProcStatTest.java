package dev.serval.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assumptions.assumeThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class ProcStatTest {

    @Test
    void countsFieldsPastTheLastParenthesis_negativeNumbersIncluded() {
        ProcStat stat = ProcStat.of("7 (a) b (c) R 1 7 7 0 -1 0 0 0 0 0 37 5 0 0 20 -3 1 0 1 1 1 1\n");
        assertThat(stat.field(4)).isEqualTo(1);
        assertThat(stat.field(7)).isEqualTo(0);
        assertThat(stat.field(8)).isEqualTo(-1);
        assertThat(stat.field(14)).isEqualTo(37);
        assertThat(stat.field(15)).isEqualTo(5);
        assertThat(stat.field(19)).isEqualTo(-3);
        assertThat(stat.field(25)).isEqualTo(1); // the last field, before the newline
    }

    @Test
    void refusesAFieldThatIsNotThere() {
        assertThatThrownBy(() -> ProcStat.of("7 (a) R 1").field(9)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("field 9");
        assertThatThrownBy(() -> ProcStat.of("no command here").field(4)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> ProcStat.of("7 (a) R 1").field(3)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("not a number"); // the state is a letter
    }

    @Test
    void readsARealStatFile_asTheTextParseDoes() throws Exception {
        Path self = Path.of("/proc/self/stat");
        assumeThat(Files.isReadable(self)).isTrue();
        ProcStat stat = new ProcStat();

        assertThat(stat.read(self)).isTrue();

        String text = Files.readString(self);
        String[] fields = text.substring(text.lastIndexOf(')') + 2).trim().split(" ");
        assertThat(stat.field(4)).isEqualTo(Long.parseLong(fields[1])); // the parent's pid: stable
        assertThat(stat.field(19)).isEqualTo(Long.parseLong(fields[16])); // nice
        assertThat(stat.field(20)).isPositive(); // threads
    }

    @Test
    void startsWith_comparesTheBytesRead() {
        assertThat(ProcStat.of("C2 CompilerThre\n").startsWith("C2 CompilerThre")).isTrue();
        assertThat(ProcStat.of("C2").startsWith("C2 CompilerThre")).isFalse();
        assertThat(ProcStat.of("ZDirector").startsWith("Z")).isTrue();
        assertThat(new ProcStat().read(Path.of("/proc/self/task/no-such-thread/comm"))).isFalse();
    }
}
