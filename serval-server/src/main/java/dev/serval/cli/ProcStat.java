package dev.serval.cli;

/** Reads Linux {@code /proc/.../stat} lines (proc(5)). */
final class ProcStat {
    private ProcStat() {
    }

    /**
     * The fields after the command name, which is in parentheses and may itself hold spaces and
     * parentheses: element 0 is the state (field 3 of proc(5)), element {@code n - 3} field {@code n}.
     */
    static String[] fieldsAfterCommand(String stat) {
        return stat.substring(stat.lastIndexOf(')') + 2).trim().split(" ");
    }
}
