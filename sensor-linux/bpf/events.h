/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Records the eBPF programs write to the `events` ring buffer. User space
 * (src/record.rs) parses them by the table in bpf/layout.rs, which build.rs asserts
 * against these structs, field by field; change both together.
 * All integers are native-endian; every record starts with `struct ev_hdr`.
 */
#ifndef PICKET_EVENTS_H
#define PICKET_EVENTS_H

#define EV_EXEC 1
#define EV_FORK 2
#define EV_EXIT 3
#define EV_ENUM 4 /* a connection table was read (struct enum_ev) */

#define TASK_COMM_LEN 16
#define TTY_NAME_LEN 64
/* Longest path kept for the exec filename, cwd and executable (PATH_MAX). */
#define PATH_BUF 4096
/* Longest single path component copied (NAME_MAX + 1). */
#define NAME_CAP 256
/* Path components walked before giving up (the path is then flagged truncated). */
#define PATH_DEPTH 64

/* exec_ev.flags */
#define F_ARGS_TRUNCATED (1u << 0)  /* argv longer than the capture limit */
#define F_ARGS_UNREADABLE (1u << 1) /* reading the argument area failed */
#define F_FILENAME_TRUNCATED (1u << 2)
#define F_CWD_TRUNCATED (1u << 3)
#define F_EXE_TRUNCATED (1u << 4)
#define F_NO_MM (1u << 5)  /* no user address space (kernel thread) */
#define F_HAS_TTY (1u << 6)
#define F_NO_LOGINUID (1u << 7) /* the kernel has no task_struct.loginuid (CONFIG_AUDIT off) */

/* Slots of the per-CPU `lost` counters. */
#define LOST_EXEC 0  /* exec record did not fit in the ring buffer */
#define LOST_FORK 1
#define LOST_EXIT 2
#define LOST_SCRATCH 3 /* no scratch slot for this CPU (exec dropped) */
#define LOST_ENUM 4    /* a connection-table read record did not fit */
#define LOST_SLOTS 5

/* enum_ev.method */
#define M_PROCFS 1    /* the seq_file of /proc/net/<table> (or /proc/PID/net/<table>) */
#define M_SOCK_DIAG 2 /* a NETLINK_SOCK_DIAG dump request */

/* Longest table name kept (the procfs file's name: "tcp6", "udplite6"). */
#define TABLE_LEN 16

struct ev_hdr {
	__u32 kind;
	__u32 pid;  /* tgid */
	__u32 tid;  /* the thread that triggered the event */
	__u32 ppid; /* real parent's tgid */
	__u64 ts_boot_ns;            /* bpf_ktime_get_boot_ns() at the event */
	__u64 start_boot_ns;         /* process start (CLOCK_BOOTTIME ns) */
	__u64 parent_start_boot_ns;  /* real parent's start (CLOCK_BOOTTIME ns) */
	__u32 uid;
	__u32 euid;
	__u32 gid;
	__u32 egid;
	__u32 loginuid;
	__u32 sessionid;
	__s32 exit_code; /* EV_EXIT: the wait status (exit code << 8 | signal) */
	__u32 _pad;
	char comm[TASK_COMM_LEN];
};

struct exec_ev {
	struct ev_hdr h;
	__u64 cgroup_id;
	__u32 argc;          /* argc as the kernel counted it */
	__u32 args_size;     /* bytes in the argument area */
	__u32 args_len;      /* bytes captured (<= args_size) */
	__u32 filename_len;  /* bytes, no NUL */
	__u32 cwd_len;
	__u32 exe_len;
	__u32 flags;
	__u32 tty_major;
	__u32 tty_minor;
	__u32 _pad;
	char tty_name[TTY_NAME_LEN];
	/* Followed by: args (args_len) | filename | cwd | exe, packed, no NULs after
	 * the last argument other than those in the argument area itself. */
};

/* One read of a connection table: written when a read of a /proc/net table starts
 * at offset 0 (later read() chunks of the same pass are not), or when a process sends
 * a sock_diag dump request. The task fields are the reader's. */
struct enum_ev {
	struct ev_hdr h;
	__u32 method;   /* M_PROCFS or M_SOCK_DIAG */
	__u16 family;   /* M_SOCK_DIAG: sdiag_family (AF_INET, AF_UNIX...) */
	__u8 protocol;  /* M_SOCK_DIAG: sdiag_protocol (IPPROTO_TCP...) */
	__u8 _pad0;
	__u16 nl_type;  /* M_SOCK_DIAG: nlmsg_type (SOCK_DIAG_BY_FAMILY, TCPDIAG_GETSOCK) */
	__u16 nl_flags; /* M_SOCK_DIAG: nlmsg_flags */
	__u32 _pad;
	char table[TABLE_LEN]; /* M_PROCFS: the file's name, NUL-padded */
};

#endif
