// The byte layout of the records in bpf/events.h, the one table both sides are held to,
// and the argv capacities the eBPF objects are built for. Included (not a module: an
// included file cannot open with `//!`) by build.rs, which turns every layout entry into
// `_Static_assert`s on the C structs' `offsetof`/`sizeof` (the build fails when one does
// not hold) and compiles one object per capacity, and by src/record.rs, which parses
// records by these numbers. Change events.h and this table together.

/// The argv capacities (bytes) of the eBPF objects, smallest first: build.rs compiles
/// bpf/picket.bpf.c once per entry (`-DARGS_CAP=<n>`), and the loader takes the smallest
/// that covers `max_args_bytes`. Each is a power of two of at least 32 KiB, which the
/// program's offset masks rely on (and assert).
pub const ARGS_CAPS: [u32; 3] = [32 * 1024, 256 * 1024, 1024 * 1024];

/// One field of a record struct: its name in C, byte offset and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// The member's name in the C struct.
    pub name: &'static str,
    /// Byte offset from the start of the struct.
    pub offset: usize,
    /// Size in bytes.
    pub size: usize,
}

/// One record struct: its C name, `sizeof`, and every member in order (padding too,
/// so the members tile the struct exactly).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// `struct <name>` in bpf/events.h.
    pub name: &'static str,
    /// `sizeof(struct <name>)`.
    pub size: usize,
    /// The members, in order.
    pub fields: &'static [Field],
}

const fn field(name: &'static str, offset: usize, size: usize) -> Field {
    Field { name, offset, size }
}

const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

impl Layout {
    /// The field called `name`; a name not in the table fails the compilation of the
    /// constant that asks for it.
    pub const fn field(&self, name: &str) -> Field {
        let mut i = 0;
        while i < self.fields.len() {
            if same(self.fields[i].name, name) {
                return self.fields[i];
            }
            i += 1;
        }
        panic!("no such field in the record layout");
    }
}

/// `struct ev_hdr`: what every record starts with.
pub const EV_HDR: Layout = Layout {
    name: "ev_hdr",
    size: 88,
    fields: &[
        field("kind", 0, 4),
        field("pid", 4, 4),
        field("tid", 8, 4),
        field("ppid", 12, 4),
        field("ts_boot_ns", 16, 8),
        field("start_boot_ns", 24, 8),
        field("parent_start_boot_ns", 32, 8),
        field("uid", 40, 4),
        field("euid", 44, 4),
        field("gid", 48, 4),
        field("egid", 52, 4),
        field("loginuid", 56, 4),
        field("sessionid", 60, 4),
        field("exit_code", 64, 4),
        field("_pad", 68, 4),
        field("comm", 72, 16),
    ],
};

/// `struct exec_ev`: the header, the exec's fixed fields, then (not in the struct) the
/// strings args | filename | cwd | exe, packed, with the lengths given here.
pub const EXEC_EV: Layout = Layout {
    name: "exec_ev",
    size: 200,
    fields: &[
        field("h", 0, 88),
        field("cgroup_id", 88, 8),
        field("argc", 96, 4),
        field("args_size", 100, 4),
        field("args_len", 104, 4),
        field("filename_len", 108, 4),
        field("cwd_len", 112, 4),
        field("exe_len", 116, 4),
        field("flags", 120, 4),
        field("tty_major", 124, 4),
        field("tty_minor", 128, 4),
        field("_pad", 132, 4),
        field("tty_name", 136, 64),
    ],
};

/// `struct enum_ev`: one read of a connection table (a `/proc/net` seq_file started
/// at offset 0, or a sock_diag dump request), by the task in the header.
pub const ENUM_EV: Layout = Layout {
    name: "enum_ev",
    size: 120,
    fields: &[
        field("h", 0, 88),
        field("method", 88, 4),
        field("family", 92, 2),
        field("protocol", 94, 1),
        field("_pad0", 95, 1),
        field("nl_type", 96, 2),
        field("nl_flags", 98, 2),
        field("_pad", 100, 4),
        field("table", 104, 16),
    ],
};

/// Every record struct, for the checks.
pub const LAYOUTS: [Layout; 3] = [EV_HDR, EXEC_EV, ENUM_EV];
