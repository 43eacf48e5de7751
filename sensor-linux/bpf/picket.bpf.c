// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Picket's process tracer: BTF tracepoints on sched_process_exec, sched_process_fork
 * and sched_process_exit, and fentry programs where the kernel serves connection
 * tables (/proc/net seq_files, sock_diag requests), writing records (events.h) to one
 * BPF ring buffer.
 *
 * Compiled by build.rs with `clang -target bpf -O2 -g -DARGS_CAP=<n>`; ARGS_CAP is the
 * most argv bytes this object can capture (the scratch buffer size). The loader picks
 * the smallest object whose ARGS_CAP covers the configured `max_args_bytes` and sets
 * `cfg_max_args` to it. Every failed ring-buffer write is counted in `lost`.
 */
#include "kernel_types.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "events.h"

#ifndef ARGS_CAP
#error "build.rs passes -DARGS_CAP=<n> for each capacity in bpf/layout.rs (ARGS_CAPS)"
#endif

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by the loader: argv bytes to capture (<= ARGS_CAP). Writable data, not a
 * `const volatile` rodata constant: the verifier then checks one program for every
 * configured value, rather than a different one per value (each of which an old
 * verifier could accept or reject on its own). */
volatile __u32 cfg_max_args = ARGS_CAP;
/* Set by the loader: unread bytes in the ring at which the reader is woken at once.
 * Below it records are written without a wakeup and the reader collects them on its
 * short poll timer, so a storm of execs costs a few wakeups rather than one each. */
const volatile __u64 cfg_wakeup_bytes = 1 << 20;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 * 1024 * 1024); /* resized by the loader */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LOST_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

/* One exec record under construction, per CPU. Tracepoints run with preemption off,
 * so a CPU's slot is never shared by two programs at once. */
struct scratch {
	struct exec_ev ev;
	char data[ARGS_CAP + 3 * PATH_BUF]; /* args | filename | cwd | exe */
	char tmp[2 * PATH_BUF];             /* a path being assembled */
	const unsigned char *names[PATH_DEPTH];
	__u32 lens[PATH_DEPTH];
	__u32 depth;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1); /* set to the number of possible CPUs by the loader */
	__type(key, __u32);
	__type(value, struct scratch);
} scratch SEC(".maps");

static __always_inline void count_lost(__u32 slot)
{
	__u64 *n = bpf_map_lookup_elem(&lost, &slot);
	if (n)
		*n += 1;
}

static __always_inline __u64 wakeup_flags(void)
{
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= cfg_wakeup_bytes
		       ? BPF_RB_FORCE_WAKEUP
		       : BPF_RB_NO_WAKEUP;
}

static __always_inline void fill_hdr(struct ev_hdr *h, struct task_struct *task, __u32 kind)
{
	struct task_struct *leader = BPF_CORE_READ(task, group_leader);
	struct task_struct *parent = BPF_CORE_READ(task, real_parent);
	const struct cred *cred = BPF_CORE_READ(task, cred);

	h->kind = kind;
	h->pid = BPF_CORE_READ(task, tgid);
	h->tid = BPF_CORE_READ(task, pid);
	h->ppid = BPF_CORE_READ(parent, tgid);
	h->ts_boot_ns = bpf_ktime_get_boot_ns();
	h->start_boot_ns = BPF_CORE_READ(leader, start_boottime);
	h->parent_start_boot_ns = BPF_CORE_READ(parent, group_leader, start_boottime);
	h->uid = BPF_CORE_READ(cred, uid.val);
	h->euid = BPF_CORE_READ(cred, euid.val);
	h->gid = BPF_CORE_READ(cred, gid.val);
	h->egid = BPF_CORE_READ(cred, egid.val);
	if (bpf_core_field_exists(task->loginuid)) {
		h->loginuid = BPF_CORE_READ(task, loginuid.val);
		h->sessionid = BPF_CORE_READ(task, sessionid);
	} else {
		h->loginuid = (__u32)-1;
		h->sessionid = (__u32)-1;
	}
	h->exit_code = 0;
	h->_pad = 0;
	bpf_probe_read_kernel_str(h->comm, sizeof(h->comm), &task->comm);
}

/* Masks for bound(): the smallest 2^n - 1 at or above each buffer's size. */
#define DATA_MASK ((__u64)ARGS_CAP * 2 - 1) /* data[]: ARGS_CAP + 3 * PATH_BUF <= 2 * ARGS_CAP */
#define PATH_MASK ((__u64)PATH_BUF * 2 - 1)
#define NAME_MASK ((__u64)NAME_CAP - 1)
_Static_assert((ARGS_CAP & (ARGS_CAP - 1)) == 0, "ARGS_CAP is a power of two");
_Static_assert(ARGS_CAP + 3 * PATH_BUF <= DATA_MASK, "DATA_MASK covers data[]");

/*
 * An offset or size as every supported verifier can follow it, applied right before
 * each use. Verifiers up to 6.1 lose bounds in two ways this code once hit: a
 * comparison whose outcome they already know is still explored both ways, and on the
 * impossible side every register that shares the compared one's id gets a
 * contradictory range (umin > umax); pointer arithmetic with such a range turns a
 * map-value pointer into a scalar, which helpers then reject. So the value is hidden
 * from the compiler (which would otherwise drop the mask as redundant), masked to a
 * power of two (a fresh register: no shared id, bounds rebuilt from its bits), and
 * clamped to the real limit. All 64-bit: a 32-bit copy would have bounds of its own
 * that old verifiers do not link back.
 */
static __always_inline __u64 bound(__u64 v, __u64 mask, __u64 max)
{
	barrier_var(v);
	v &= mask;
	if (v > max)
		v = max;
	return v;
}

/*
 * Writes the absolute path of (vfsmnt, dentry) into the CPU's scratch record at
 * data[pos], crossing mount points up to the root of the mount tree. Returns the bytes
 * written (no NUL); sets `trunc_flag` when the path was deeper or longer than allowed.
 *
 * A global (non-inlined) function, so the verifier checks it once, on its own, rather
 * than once per state of each caller: that keeps the exec program far below the
 * verifier's complexity limit. Its arguments are scalars (kernel pointers are only read
 * through bpf_probe_read_kernel), which global functions accept on every kernel with
 * BTF tracepoints.
 *
 * Shaped for the verifier inside, too: slot i of names/lens is written in iteration i
 * whichever branch runs (a mount crossing leaves a NULL name); the depth reached goes
 * through memory, so the second loop is verified for an unknown depth rather than once
 * per depth; and the write offset is masked, so loop states converge and are pruned.
 */
__noinline int write_path(__u64 vfsmnt_addr, __u64 dentry_addr, __u64 pos, __u32 trunc_flag)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct scratch *s = bpf_map_lookup_elem(&scratch, &cpu);
	if (!s)
		return 0;
	struct vfsmount *vfsmnt = (struct vfsmount *)vfsmnt_addr;
	struct dentry *dentry = (struct dentry *)dentry_addr;
	__u64 mnt_off = bpf_core_field_offset(struct mount, mnt);
	struct mount *mnt = (struct mount *)((char *)vfsmnt - mnt_off);
	__u32 count = PATH_DEPTH;
	__u64 off = 0;
	bool wrote = false;

	for (__u32 i = 0; i < PATH_DEPTH; i++) {
		struct dentry *parent = BPF_CORE_READ(dentry, d_parent);
		struct dentry *mnt_root = BPF_CORE_READ(vfsmnt, mnt_root);

		s->names[i] = NULL;
		s->lens[i] = 0;
		if (dentry == mnt_root || dentry == parent) {
			struct mount *mnt_parent = BPF_CORE_READ(mnt, mnt_parent);
			if (dentry != mnt_root || mnt_parent == mnt || !mnt_parent) {
				count = i;
				break;
			}
			dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
			mnt = mnt_parent;
			vfsmnt = (struct vfsmount *)((char *)mnt + mnt_off);
			continue;
		}
		s->names[i] = BPF_CORE_READ(dentry, d_name.name);
		s->lens[i] = BPF_CORE_READ(dentry, d_name.len);
		dentry = parent;
	}
	if (count >= PATH_DEPTH)
		s->ev.flags |= trunc_flag;
	s->depth = count;
	count = *(volatile __u32 *)&s->depth;
	if (count > PATH_DEPTH)
		count = PATH_DEPTH;

	for (__u32 j = 0; j < PATH_DEPTH; j++) {
		if (j >= count)
			break;
		__u32 idx = (count - 1 - j) & (PATH_DEPTH - 1);
		const unsigned char *name = s->names[idx];
		if (!name)
			continue;
		__u64 len = bound(s->lens[idx], NAME_MASK, NAME_CAP - 1);
		off = bound(off, PATH_BUF - 1, PATH_BUF - 1);
		s->tmp[off] = '/';
		if (bpf_probe_read_kernel(&s->tmp[off + 1], len, name) != 0)
			break;
		wrote = true;
		off += len + 1;
		if (off >= PATH_BUF) {
			s->ev.flags |= trunc_flag;
			off = PATH_BUF;
			break;
		}
	}
	if (!wrote) {
		s->tmp[0] = '/';
		off = 1;
	}
	__u64 len = bound(off, PATH_MASK, PATH_BUF);
	pos = bound(pos, DATA_MASK, ARGS_CAP + 2 * PATH_BUF);
	if (bpf_probe_read_kernel(&s->data[pos], len, s->tmp) != 0)
		return 0;
	return len;
}

SEC("tp_btf/sched_process_exec")
int handle_exec(__u64 *ctx)
{
	struct task_struct *task = (struct task_struct *)ctx[0];
	struct linux_binprm *bprm = (struct linux_binprm *)ctx[2];
	__u32 cpu = bpf_get_smp_processor_id();
	struct scratch *s = bpf_map_lookup_elem(&scratch, &cpu);
	if (!s) {
		count_lost(LOST_SCRATCH);
		return 0;
	}
	struct exec_ev *e = &s->ev;

	fill_hdr(&e->h, task, EV_EXEC);
	e->cgroup_id = bpf_get_current_cgroup_id();
	e->argc = BPF_CORE_READ(bprm, argc);
	e->flags = 0;
	e->args_size = 0;
	e->args_len = 0;
	e->filename_len = 0;
	e->cwd_len = 0;
	e->exe_len = 0;
	e->tty_major = 0;
	e->tty_minor = 0;
	e->_pad = 0;
	e->tty_name[0] = 0;
	if (!bpf_core_field_exists(task->loginuid))
		e->flags |= F_NO_LOGINUID;

	/* Controlling terminal. */
	struct tty_struct *tty = BPF_CORE_READ(task, signal, tty);
	if (tty) {
		int index = BPF_CORE_READ(tty, index);
		e->flags |= F_HAS_TTY;
		e->tty_major = BPF_CORE_READ(tty, driver, major);
		e->tty_minor = BPF_CORE_READ(tty, driver, minor_start) + index;
		bpf_probe_read_kernel_str(e->tty_name, sizeof(e->tty_name), &tty->name);
	}

	/* argv, straight from the new image's argument area. `pos` is the end of what is
	 * written to data[] so far; every use of it goes through bound(). */
	__u64 pos = 0;
	struct mm_struct *mm = BPF_CORE_READ(task, mm);
	if (mm) {
		__u64 start = BPF_CORE_READ(mm, arg_start);
		__u64 end = BPF_CORE_READ(mm, arg_end);
		__u64 size = end > start ? end - start : 0;
		e->args_size = size > 0xffffffffULL ? 0xffffffff : (__u32)size;
		__u64 limit = bound(cfg_max_args, DATA_MASK, ARGS_CAP);
		__u64 len = size;
		if (size > limit) {
			e->flags |= F_ARGS_TRUNCATED;
			len = limit;
		}
		len = bound(len, DATA_MASK, ARGS_CAP);
		if (bpf_probe_read_user(s->data, len, (const void *)start) == 0)
			pos = len;
		else
			e->flags |= F_ARGS_UNREADABLE;
	} else {
		e->flags |= F_NO_MM;
	}
	e->args_len = pos;

	/* The path execve() was given. */
	const char *filename = BPF_CORE_READ(bprm, filename);
	pos = bound(pos, DATA_MASK, ARGS_CAP);
	long n = bpf_probe_read_kernel_str(&s->data[pos], PATH_BUF, filename);
	if (n > 0) {
		__u64 flen = bound((__u64)n - 1, PATH_MASK, PATH_BUF - 1);
		if (flen >= PATH_BUF - 1)
			e->flags |= F_FILENAME_TRUNCATED;
		e->filename_len = flen;
		pos += flen;
	}

	/* Working directory. */
	struct fs_struct *fs = BPF_CORE_READ(task, fs);
	struct dentry *cwd = fs ? BPF_CORE_READ(fs, pwd.dentry) : NULL;
	if (cwd) {
		pos = bound(pos, DATA_MASK, ARGS_CAP + PATH_BUF);
		__u64 w = write_path((__u64)BPF_CORE_READ(fs, pwd.mnt), (__u64)cwd, pos,
				     F_CWD_TRUNCATED);
		w = bound(w, PATH_MASK, PATH_BUF);
		e->cwd_len = w;
		pos += w;
	}

	/* The file the kernel actually loaded (symlinks resolved; for a #! script, its
	 * interpreter). */
	struct file *file = BPF_CORE_READ(bprm, file);
	struct dentry *exe = file ? BPF_CORE_READ(file, f_path.dentry) : NULL;
	if (exe) {
		pos = bound(pos, DATA_MASK, ARGS_CAP + 2 * PATH_BUF);
		__u64 w = write_path((__u64)BPF_CORE_READ(file, f_path.mnt), (__u64)exe, pos,
				     F_EXE_TRUNCATED);
		w = bound(w, PATH_MASK, PATH_BUF);
		e->exe_len = w;
		pos += w;
	}

	pos = bound(pos, DATA_MASK, ARGS_CAP + 3 * PATH_BUF);
	if (bpf_ringbuf_output(&events, e, sizeof(*e) + pos, wakeup_flags()) != 0)
		count_lost(LOST_EXEC);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int handle_fork(__u64 *ctx)
{
	struct task_struct *child = (struct task_struct *)ctx[1];

	/* A new thread is not a new process. */
	if (BPF_CORE_READ(child, pid) != BPF_CORE_READ(child, tgid))
		return 0;
	struct ev_hdr *h = bpf_ringbuf_reserve(&events, sizeof(*h), 0);
	if (!h) {
		count_lost(LOST_FORK);
		return 0;
	}
	fill_hdr(h, child, EV_FORK);
	bpf_ringbuf_submit(h, wakeup_flags());
	return 0;
}

SEC("tp_btf/sched_process_exit")
int handle_exit(__u64 *ctx)
{
	struct task_struct *task = (struct task_struct *)ctx[0];

	/* Only the last thread of a process ends the process. */
	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0;
	struct ev_hdr *h = bpf_ringbuf_reserve(&events, sizeof(*h), 0);
	if (!h) {
		count_lost(LOST_EXIT);
		return 0;
	}
	fill_hdr(h, task, EV_EXIT);
	h->exit_code = BPF_CORE_READ(task, exit_code);
	bpf_ringbuf_submit(h, wakeup_flags());
	return 0;
}

/*
 * Connection-table reads (AN0904 by behaviour). fentry programs on the functions that
 * serve the tables, not on open(2), so nothing else pays for them. The loader resolves
 * each attach point in the running kernel's BTF and runs without the ones it lacks.
 */

/* Set by the loader: Picket's own tgid, whose reads are never reported. */
const volatile __u32 cfg_self_tgid = 0;

#define NLM_F_DUMP 0x300 /* NLM_F_ROOT | NLM_F_MATCH: either bit starts a dump */
#define TCPDIAG_GETSOCK 18
#define DCCPDIAG_GETSOCK 19
#define SOCK_DIAG_BY_FAMILY 20
#define IPPROTO_TCP 6
#define IPPROTO_DCCP 33

static __always_inline struct enum_ev *reserve_enum(void)
{
	if ((__u32)(bpf_get_current_pid_tgid() >> 32) == cfg_self_tgid)
		return NULL;
	struct enum_ev *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_lost(LOST_ENUM);
		return NULL;
	}
	fill_hdr(&e->h, (struct task_struct *)bpf_get_current_task(), EV_ENUM);
	e->method = 0;
	e->family = 0;
	e->protocol = 0;
	e->_pad0 = 0;
	e->nl_type = 0;
	e->nl_flags = 0;
	e->_pad = 0;
	__builtin_memset(e->table, 0, sizeof(e->table));
	return e;
}

/*
 * The seq_file ->start of a /proc/net table: called for every read() chunk, with *pos
 * the record the chunk starts at. Only the chunk at record 0 is reported, so one pass
 * over a table is one record however many read() calls it takes. The table is the
 * file's name: tcp and tcp6 share tcp_seq_start (as udp/udplite share udp_seq_start),
 * and the name tells them apart on every kernel without reading seq_ops or afinfo.
 */
static __always_inline int on_seq_start(__u64 *ctx)
{
	struct seq_file *seq = (struct seq_file *)ctx[0];
	loff_t pos = -1;
	if (bpf_probe_read_kernel(&pos, sizeof(pos), (void *)ctx[1]) != 0 || pos != 0)
		return 0;
	struct enum_ev *e = reserve_enum();
	if (!e)
		return 0;
	e->method = M_PROCFS;
	const struct file *file = BPF_CORE_READ(seq, file);
	const unsigned char *name = BPF_CORE_READ(file, f_path.dentry, d_name.name);
	bpf_probe_read_kernel_str(e->table, sizeof(e->table), name);
	bpf_ringbuf_submit(e, wakeup_flags());
	return 0;
}

SEC("fentry/tcp_seq_start")
int handle_tcp_seq(__u64 *ctx)
{
	return on_seq_start(ctx);
}

SEC("fentry/udp_seq_start")
int handle_udp_seq(__u64 *ctx)
{
	return on_seq_start(ctx);
}

SEC("fentry/raw_seq_start")
int handle_raw_seq(__u64 *ctx)
{
	return on_seq_start(ctx);
}

SEC("fentry/unix_seq_start")
int handle_unix_seq(__u64 *ctx)
{
	return on_seq_start(ctx);
}

SEC("fentry/packet_seq_start")
int handle_packet_seq(__u64 *ctx)
{
	return on_seq_start(ctx);
}

/*
 * Every NETLINK_SOCK_DIAG request, in the sender's context, before the family's
 * handler (inet_diag, unix_diag, packet_diag... often modules) is looked up: one call
 * per request, however many recvmsg() the dump takes, and built in wherever sock_diag
 * is. Only dump requests are reported; a single-socket lookup lists nothing.
 */
SEC("fentry/sock_diag_rcv_msg")
int handle_sock_diag(__u64 *ctx)
{
	const struct nlmsghdr *nlh = (const struct nlmsghdr *)ctx[1];
	struct nlmsghdr h;
	__u8 req[2];
	if (bpf_probe_read_kernel(&h, sizeof(h), nlh) != 0)
		return 0;
	if (h.nlmsg_type < TCPDIAG_GETSOCK || h.nlmsg_type > SOCK_DIAG_BY_FAMILY)
		return 0;
	if (!(h.nlmsg_flags & NLM_F_DUMP))
		return 0;
	/* inet_diag_req (the old requests) and sock_diag_req both start with the family;
	 * only the new one carries the protocol next. */
	if (bpf_probe_read_kernel(req, sizeof(req), (const char *)nlh + sizeof(h)) != 0)
		return 0;
	struct enum_ev *e = reserve_enum();
	if (!e)
		return 0;
	e->method = M_SOCK_DIAG;
	e->family = req[0];
	e->nl_type = h.nlmsg_type;
	e->nl_flags = h.nlmsg_flags;
	if (h.nlmsg_type == SOCK_DIAG_BY_FAMILY)
		e->protocol = req[1];
	else
		e->protocol = h.nlmsg_type == TCPDIAG_GETSOCK ? IPPROTO_TCP : IPPROTO_DCCP;
	bpf_ringbuf_submit(e, wakeup_flags());
	return 0;
}
