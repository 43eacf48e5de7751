/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The kernel types Picket's eBPF programs read, and nothing else.
 *
 * This replaces the 2.8 MB `vmlinux.h` that `bpftool btf dump` produces. Every struct
 * here carries `preserve_access_index`, so clang records a CO-RE relocation for each
 * field access and the loader (aya) rewrites the offset from the running kernel's BTF
 * (/sys/kernel/btf/vmlinux). The layouts below are therefore *not* the kernel's: only
 * the field names and types matter, and they must match the kernel's. Fields that sit
 * in anonymous unions in newer kernels (dentry.d_name, file.f_path, qstr.len) are
 * declared directly; CO-RE matching looks through anonymous members by name.
 *
 * Committed rather than generated so that building needs only clang and libbpf's
 * headers, on any build host, whatever kernel it runs.
 */
#ifndef PICKET_KERNEL_TYPES_H
#define PICKET_KERNEL_TYPES_H

typedef unsigned char __u8;
typedef signed char __s8;
typedef unsigned short __u16;
typedef short __s16;
typedef unsigned int __u32;
typedef int __s32;
typedef unsigned long long __u64;
typedef long long __s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;
typedef __u8 u8;
typedef __u32 u32;
typedef __u64 u64;
typedef int pid_t;
typedef _Bool bool;
#define true 1
#define false 0
#define NULL ((void *)0)

/* uapi/linux/bpf.h values used by the map definitions. */
enum bpf_map_type {
	BPF_MAP_TYPE_ARRAY = 2,
	BPF_MAP_TYPE_PERCPU_ARRAY = 6,
	BPF_MAP_TYPE_RINGBUF = 27,
};

/* uapi/linux/bpf.h: ring buffer notification flags and query. */
enum {
	BPF_RB_NO_WAKEUP = 1,
	BPF_RB_FORCE_WAKEUP = 2,
};
enum {
	BPF_RB_AVAIL_DATA = 0,
};

#define PICKET_CORE __attribute__((preserve_access_index))

typedef struct {
	int counter;
} PICKET_CORE atomic_t;

typedef struct {
	unsigned int val;
} PICKET_CORE kuid_t;

typedef struct {
	unsigned int val;
} PICKET_CORE kgid_t;

struct cred {
	kuid_t uid;
	kgid_t gid;
	kuid_t euid;
	kgid_t egid;
} PICKET_CORE;

struct tty_driver {
	int major;
	int minor_start;
} PICKET_CORE;

struct tty_struct {
	int index;
	struct tty_driver *driver;
	char name[64];
} PICKET_CORE;

struct signal_struct {
	atomic_t live;
	struct tty_struct *tty;
} PICKET_CORE;

struct mm_struct {
	unsigned long arg_start;
	unsigned long arg_end;
} PICKET_CORE;

struct qstr {
	u32 len;
	const unsigned char *name;
} PICKET_CORE;

struct dentry {
	struct dentry *d_parent;
	struct qstr d_name;
} PICKET_CORE;

struct vfsmount {
	struct dentry *mnt_root;
} PICKET_CORE;

/* fs/mount.h: the mount a vfsmount is embedded in. */
struct mount {
	struct mount *mnt_parent;
	struct dentry *mnt_mountpoint;
	struct vfsmount mnt;
} PICKET_CORE;

struct path {
	struct vfsmount *mnt;
	struct dentry *dentry;
} PICKET_CORE;

struct fs_struct {
	struct path root;
	struct path pwd;
} PICKET_CORE;

struct file {
	struct path f_path;
} PICKET_CORE;

/* include/linux/seq_file.h: the open /proc/net/<table> being read. */
struct seq_file {
	const struct file *file;
} PICKET_CORE;

/* uapi/linux/netlink.h; a uapi layout, read as the kernel has it. */
struct nlmsghdr {
	__u32 nlmsg_len;
	__u16 nlmsg_type;
	__u16 nlmsg_flags;
	__u32 nlmsg_seq;
	__u32 nlmsg_pid;
};

typedef long long loff_t;

struct linux_binprm {
	struct file *file;
	int argc;
	const char *filename;
} PICKET_CORE;

struct task_struct {
	struct mm_struct *mm;
	int exit_code;
	pid_t pid;
	pid_t tgid;
	struct task_struct *real_parent;
	struct task_struct *group_leader;
	u64 start_boottime;
	const struct cred *cred;
	char comm[16];
	struct fs_struct *fs;
	struct signal_struct *signal;
	kuid_t loginuid;
	unsigned int sessionid;
} PICKET_CORE;

#endif
