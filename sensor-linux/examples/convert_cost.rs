//! Converts the records of one short-lived process (fork, exec, exit) many times, for
//! counting the user-space conversion's instructions per exec under
//! `valgrind --tool=callgrind` (repeatable where the exec storm's CPU time is not).
//!
//! Run: `cargo build --release -p sensor-linux --example convert_cost`, then
//! `valgrind --tool=callgrind target/release/examples/convert_cost [rounds]` and divide
//! the inclusive cost of `Converter::convert` by the exec count it prints.

use sensor_core::event::{Host, HostOs};
use sensor_linux::convert::{BootOffset, Converter};
use sensor_linux::record::{ExecRecord, Record, TaskRecord};
use std::hint::black_box;

fn task(pid: u32, ts: u64) -> TaskRecord<'static> {
    TaskRecord {
        pid,
        tid: pid,
        ppid: 4242,
        ts_boot_ns: ts,
        start_boot_ns: ts,
        parent_start_boot_ns: 1_000_000_000,
        uid: 1000,
        euid: 1000,
        gid: 1000,
        egid: 1000,
        loginuid: 1000,
        sessionid: 3,
        exit_code: 0,
        comm: b"exec_storm",
    }
}

fn main() {
    let rounds: u64 = std::env::args()
        .nth(1)
        .and_then(|r| r.parse().ok())
        .unwrap_or(10_000);
    let host = Host {
        name: Some("bench-host".into()),
        id: Some("0123456789abcdef0123456789abcdef".into()),
        os: Some(HostOs {
            os_type: Some("linux".into()),
            family: Some("debian".into()),
            version: Some("12".into()),
            ..HostOs::default()
        }),
        ..Host::default()
    };
    let conv = Converter::new(host, BootOffset(1_700_000_000_000_000_000));
    for i in 0..rounds {
        let pid = 10_000 + (i % 30_000) as u32;
        let ts = 2_000_000_000 + i * 1_000;
        let fork = Record::Fork(task(pid, ts));
        let exec = Record::Exec(Box::new(ExecRecord {
            task: TaskRecord {
                comm: b"true",
                ..task(pid, ts + 100)
            },
            cgroup_id: 7,
            argc: 2,
            args_size: 22,
            flags: 0,
            tty_major: 0,
            tty_minor: 0,
            tty_name: b"",
            args: b"/bin/true\0bench-42-17\0",
            filename: b"/bin/true",
            cwd: b"/home/bench",
            exe: b"/usr/bin/true",
        }));
        let exit = Record::Exit(task(pid, ts + 200));
        for r in [&fork, &exec, &exit] {
            black_box(conv.convert(black_box(r)));
        }
    }
    println!("{rounds} execs (fork, exec, exit) converted");
}
