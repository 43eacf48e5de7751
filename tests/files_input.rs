//! `[inputs.files]` under the real `picket run`: tac_plus accounting written to a file
//! while Picket runs, Picket killed with SIGKILL in the middle of it and started again.
//! Every line gives one AN0907 alert (folding off), so the alert log shows whether a
//! line was read twice (two alerts naming its line) or skipped (none).

mod common;

use serde_json::Value;
use std::io::Write;
use std::path::Path;
use std::process::Child;

use std::time::Duration;

/// A tab-separated tac_plus accounting record (the SR Linux fixture's layout) of a
/// non-admin user listing the TCP connections: built, not recorded.
fn record(n: u64) -> String {
    format!(
        "2026-12-01 10:{:02}:{:02} +0000\t10.1.1.2\tbob\tvty{}\t198.51.100.7\tstop\ttask_id={n}\ttimezone=UTC\tservice=shell\tpriv-lvl=1\tcmd=show tcp brief\n",
        (n / 60) % 60,
        n % 60,
        n % 5
    )
}

/// The line numbers the alerts name as their evidence, in the order written.
fn alerted_lines(log: &Path) -> Vec<u64> {
    common::logged_alerts(log)
        .into_iter()
        .filter(|a| a["picket"]["analytic"] == "AN0907")
        .filter(|a| a["picket"]["mutable_element"] == "CommandPatternList")
        .filter_map(|a| a["picket"]["evidence"][0]["record"].as_u64())
        .collect()
}

fn wait_for(log: &Path, n: usize, within: Duration) -> Vec<u64> {
    common::poll_until(n, within, || alerted_lines(log))
}

fn stop(child: Child) -> String {
    // SIGTERM: a clean stop that drains and saves.
    let pid = child.id() as libc::pid_t;
    // SAFETY: signalling a child we started and have not reaped.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let out = child.wait_with_output().expect("wait");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_sigkilled_file_input_resumes_with_no_line_read_twice_or_skipped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("tac_plus.acct");
    let alerts = dir.path().join("alerts.jsonl");
    let config = dir.path().join("picket.toml");
    std::fs::write(
        &config,
        format!(
            r#"[general]
state_dir = "{state}"
[collector]
host = false
[inputs.files]
enabled = true
poll_interval_ms = 20
[[inputs.files.sources]]
path = "{input}"
format = "tacacs"
[sinks.file]
path = "{alerts}"
[analytics]
fold_window_secs = 0
"#,
            state = dir.path().join("state").display(),
            input = input.display(),
            alerts = alerts.display(),
        ),
    )
    .expect("write config");

    // 40 lines before Picket starts, then a steady writer through a SIGKILL and restart.
    let mut file = std::fs::File::create(&input).expect("create input");
    for n in 1..=40 {
        file.write_all(record(n).as_bytes()).expect("write");
    }
    let total: u64 = 400;
    let writer_path = input.clone();
    let writer = std::thread::spawn(move || {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(writer_path)
            .expect("open for append");
        for n in 41..=total {
            f.write_all(record(n).as_bytes()).expect("append");
            std::thread::sleep(Duration::from_millis(3));
        }
    });

    let mut first = common::start_picket_run(&config);
    let seen = wait_for(&alerts, 120, Duration::from_secs(60));
    assert!(seen.len() >= 120, "first run alerted {} lines", seen.len());
    first.kill().expect("SIGKILL");
    first.wait().expect("reap");
    let at_kill = alerted_lines(&alerts).len();

    let second = common::start_picket_run(&config);
    writer.join().expect("writer");
    let lines = wait_for(&alerts, total as usize, Duration::from_secs(60));
    let stderr = stop(second);

    let mut counts = vec![0u32; total as usize + 1];
    for &l in &lines {
        assert!((1..=total).contains(&l), "line {l} out of range");
        counts[l as usize] += 1;
    }
    let twice: Vec<usize> = (1..=total as usize).filter(|&l| counts[l] > 1).collect();
    let skipped: Vec<usize> = (1..=total as usize).filter(|&l| counts[l] == 0).collect();
    assert!(
        twice.is_empty() && skipped.is_empty(),
        "killed after {at_kill} alerts; read twice: {twice:?}; skipped: {skipped:?}\n{stderr}"
    );
    assert!(
        at_kill < total as usize,
        "the kill came while lines were still being written"
    );
    let positions: Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("state/files-positions.json")).expect("positions"),
    )
    .expect("positions JSON");
    let saved = &positions["files"][input.display().to_string()];
    assert_eq!(saved["line"], total, "{positions}");
    assert_eq!(
        saved["offset"].as_u64(),
        Some(std::fs::metadata(&input).expect("meta").len())
    );
}
