//! What an editor shows for the language's builtin values and functions: a signature and a
//! one-line description each (completion details and hover).

/// A builtin value (`pid`) or function (`printf(...)`).
pub struct Builtin {
    pub name: &'static str,
    /// How it is written, with argument names for functions.
    pub signature: &'static str,
    /// One line on what it gives or does.
    pub doc: &'static str,
    pub function: bool,
}

const fn value(name: &'static str, signature: &'static str, doc: &'static str) -> Builtin {
    Builtin {
        name,
        signature,
        doc,
        function: false,
    }
}

const fn func(name: &'static str, signature: &'static str, doc: &'static str) -> Builtin {
    Builtin {
        name,
        signature,
        doc,
        function: true,
    }
}

/// The builtins and functions beetrace compiles.
pub const BUILTINS: &[Builtin] = &[
    value(
        "pid",
        "pid: uint32",
        "Process id (thread group id) of the current task.",
    ),
    value("tid", "tid: uint32", "Thread id of the current task."),
    value("uid", "uid: uint32", "User id of the current task."),
    value("gid", "gid: uint32", "Group id of the current task."),
    value(
        "nsecs",
        "nsecs: uint64",
        "Nanoseconds since boot (bpf_ktime_get_ns).",
    ),
    value(
        "elapsed",
        "elapsed: uint64",
        "Nanoseconds since the script started.",
    ),
    value("cpu", "cpu: uint32", "The CPU the probe fired on."),
    value(
        "comm",
        "comm: string[16]",
        "Name of the current task's executable.",
    ),
    value(
        "cgroup",
        "cgroup: uint64",
        "Id of the current task's cgroup (v2).",
    ),
    value("rand", "rand: uint32", "A pseudo-random number."),
    value(
        "curtask",
        "curtask: struct task_struct *",
        "The current task, typed from kernel BTF.",
    ),
    value(
        "probe",
        "probe: string",
        "The full name of the probe that fired.",
    ),
    value(
        "args",
        "args",
        "The arguments of the probe: tracepoint fields or raw tracepoint arguments (args.name).",
    ),
    func(
        "printf",
        "printf(fmt: string, ...)",
        "Prints a formatted line, C-style format specifiers.",
    ),
    func(
        "print",
        "print(value) / print(@map[, top[, div]])",
        "Prints a value, or a map's entries now.",
    ),
    func(
        "exit",
        "exit([code: int])",
        "Stops the script after this probe (optionally with an exit status).",
    ),
    func(
        "str",
        "str(ptr[, len]): string",
        "Reads a NUL-terminated string from memory.",
    ),
    func(
        "strncmp",
        "strncmp(a: string, b: string, n: uint64): int64",
        "Compares at most n bytes of two strings; 0 when equal.",
    ),
    func(
        "kaddr",
        "kaddr(name: string): uint64",
        "Address of a kernel symbol.",
    ),
    func(
        "sizeof",
        "sizeof(type or expression): uint64",
        "Size in bytes of a type or of an expression's type.",
    ),
    func(
        "offsetof",
        "offsetof(struct T, field.field): uint64",
        "Byte offset of a member in a kernel struct.",
    ),
    func(
        "time",
        "time([fmt: string])",
        "Prints the current local time with strftime(3) format fmt.",
    ),
    func(
        "strftime",
        "strftime(fmt: string, nsecs: uint64)",
        "A timestamp formatted with strftime(3) when printed.",
    ),
    func(
        "join",
        "join(argv[, sep: string])",
        "Prints an array of strings (such as argv) joined by sep.",
    ),
    func(
        "ntop",
        "ntop([af, ]addr): inet",
        "An IPv4 or IPv6 address, printed as text.",
    ),
    func(
        "cat",
        "cat(fmt: string, ...)",
        "Prints the contents of the named file.",
    ),
    func(
        "system",
        "system(fmt: string, ...)",
        "Runs a shell command (needs --unsafe).",
    ),
    func(
        "signal",
        "signal(sig)",
        "Sends a signal to the current task (needs --unsafe).",
    ),
    func(
        "cgroup_path",
        "cgroup_path(id[, filter: string])",
        "The path of a cgroup id, printed as hierarchy:path.",
    ),
    func(
        "syscall_name",
        "syscall_name(nr: int): string",
        "The x86-64 name of a syscall number.",
    ),
    func("count", "@m = count()", "Aggregation: counts events."),
    func("sum", "@m = sum(n)", "Aggregation: sums values."),
    func("avg", "@m = avg(n)", "Aggregation: averages values."),
    func("min", "@m = min(n)", "Aggregation: the smallest value."),
    func("max", "@m = max(n)", "Aggregation: the largest value."),
    func(
        "stats",
        "@m = stats(n)",
        "Aggregation: count, average and total.",
    ),
    func(
        "hist",
        "@m = hist(n[, bits])",
        "Aggregation: power-of-two histogram.",
    ),
    func(
        "lhist",
        "@m = lhist(n, min, max, step)",
        "Aggregation: linear histogram.",
    ),
    func("delete", "delete(@m[key])", "Removes one map entry."),
    func(
        "has_key",
        "has_key(@m, key): bool",
        "Whether a map has an entry for key.",
    ),
    func("clear", "clear(@m)", "Removes every entry of a map."),
    func("zero", "zero(@m)", "Sets every value of a map to zero."),
];

pub fn find(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_function_documented_is_one_sema_knows() {
        for b in BUILTINS.iter().filter(|b| b.function) {
            assert!(
                sema::is_known_function(b.name)
                    || matches!(b.name, "printf" | "exit" | "syscall_name"),
                "{} is not a function of the language",
                b.name
            );
        }
    }
}
