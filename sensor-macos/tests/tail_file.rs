//! Following a file eslogger writes: real files, really appended, rotated and truncated.

mod common;

use common::{data, lines};
use sensor_core::lines::Chunk;
use sensor_core::tail::{FileTail, TailStart};
use sensor_core::{Event, EventSender, Health, Shutdown};
use sensor_macos::{tail_eslogger_file, EsloggerParser};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::time::Duration;

fn poll(tail: &mut FileTail) -> Vec<String> {
    let mut got = Vec::new();
    let go_on = tail
        .poll(&mut |l| {
            got.push(match l.chunk {
                Chunk::Line(l) => String::from_utf8_lossy(l).into_owned(),
                Chunk::TooLong(n) => format!("<too long {n}>"),
            });
            true
        })
        .expect("poll");
    assert!(go_on);
    got
}

fn append(path: &std::path::Path, text: &str) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open for append");
    f.write_all(text.as_bytes()).expect("append");
}

#[test]
fn file_tail_survives_partial_lines_rotation_truncation_and_removal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("eslogger.jsonl");
    append(&path, "a\nb\n");
    let mut tail = FileTail::new(&path, TailStart::Beginning);
    assert_eq!(poll(&mut tail), ["a", "b"]);
    assert!(poll(&mut tail).is_empty(), "nothing new");

    append(&path, "c\npart");
    assert_eq!(poll(&mut tail), ["c"]);
    append(&path, "ial\n");
    assert_eq!(poll(&mut tail), ["partial"]);

    // Rotation as a writer with an open handle sees it: the file is renamed, the writer
    // still appends to it for a moment, then a new file appears at the path.
    let mut writer = OpenOptions::new().append(true).open(&path).expect("writer");
    std::fs::rename(&path, dir.path().join("eslogger.jsonl.1")).expect("rotate");
    writer.write_all(b"old-1\n").expect("late write");
    assert_eq!(
        poll(&mut tail),
        ["old-1"],
        "the old file is read to its end"
    );
    writer.write_all(b"old-2\n").expect("late write");
    append(&path, "new-1\nnew-2\n");
    assert_eq!(poll(&mut tail), ["old-2", "new-1", "new-2"]);
    assert_eq!(tail.stats().rotations, 1);

    // copytruncate: same file, cut to zero, written again.
    let f = OpenOptions::new().write(true).open(&path).expect("open");
    f.set_len(0).expect("truncate");
    drop(f);
    append(&path, "t1\n");
    assert_eq!(poll(&mut tail), ["t1"]);
    assert_eq!(tail.stats().truncations, 1);

    // Removed, then created again later.
    std::fs::remove_file(&path).expect("remove");
    assert!(poll(&mut tail).is_empty());
    append(&path, "again\n");
    assert_eq!(poll(&mut tail), ["again"]);
    assert_eq!(tail.stats().rotations, 2);

    // A line cut short by rotation is handed out (and will be counted as malformed by
    // the parser), not dropped silently.
    append(&path, "half");
    assert!(poll(&mut tail).is_empty());
    std::fs::rename(&path, dir.path().join("eslogger.jsonl.2")).expect("rotate");
    File::create(&path).expect("new file");
    assert_eq!(poll(&mut tail), ["half"]);
}

#[test]
fn starting_at_the_end_skips_what_is_already_there() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("eslogger.jsonl");
    append(&path, "old\n");
    let mut tail = FileTail::new(&path, TailStart::End);
    assert!(poll(&mut tail).is_empty());
    append(&path, "new\n");
    assert_eq!(poll(&mut tail), ["new"]);
    // A file that does not exist yet is read from its start once it appears.
    let later = dir.path().join("later.jsonl");
    let mut tail = FileTail::new(&later, TailStart::End);
    assert!(poll(&mut tail).is_empty());
    append(&later, "first\n");
    assert_eq!(poll(&mut tail), ["first"]);
}

async fn next_event(rx: &mut tokio::sync::mpsc::Receiver<Event>) -> Event {
    // A bound so a broken tail fails instead of hanging; not a timing assertion.
    tokio::time::timeout(Duration::from_secs(60), rx.recv())
        .await
        .expect("an event should arrive")
        .expect("channel open")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tailing_eslogger_output_through_rotation_and_truncation_loses_nothing() {
    let fixture = lines(&data("terminal_zsh.jsonl"));
    assert_eq!(fixture.len(), 13);
    let text = |range: std::ops::Range<usize>| -> Vec<u8> {
        fixture[range]
            .iter()
            .flat_map(|l| l.iter().copied().chain([b'\n']))
            .collect()
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("es.jsonl");
    std::fs::write(&path, text(0..3)).expect("first lines");

    let health = Health::new();
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let (trigger, shutdown) = Shutdown::new();
    let task = tokio::spawn(tail_eslogger_file(
        path.clone(),
        TailStart::Beginning,
        EsloggerParser::live(),
        EventSender::new(tx, health.clone()),
        shutdown,
    ));
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(next_event(&mut rx).await);
    }
    // Appended while followed (with a line split across two writes).
    let more = text(3..5);
    let (a, b) = more.split_at(more.len() / 2);
    append(&path, &String::from_utf8_lossy(a));
    append(&path, &String::from_utf8_lossy(b));
    for _ in 0..2 {
        got.push(next_event(&mut rx).await);
    }
    // Rotated: renamed away, a new file created at the path.
    std::fs::rename(&path, dir.path().join("es.jsonl.1")).expect("rotate");
    std::fs::write(&path, text(5..9)).expect("new file");
    for _ in 0..4 {
        got.push(next_event(&mut rx).await);
    }
    // Truncated in place, then written again (less than before, then more).
    OpenOptions::new()
        .write(true)
        .open(&path)
        .and_then(|f| f.set_len(0))
        .expect("truncate");
    append(&path, &String::from_utf8_lossy(&text(9..10)));
    got.push(next_event(&mut rx).await);
    append(&path, &String::from_utf8_lossy(&text(10..13)));
    for _ in 0..3 {
        got.push(next_event(&mut rx).await);
    }
    trigger.trigger();
    let stats = task.await.expect("task").expect("tail ran");
    assert_eq!(stats.rotations, 1);
    assert_eq!(stats.truncations, 1);

    let seqs: Vec<_> = got
        .iter()
        .map(|e| {
            e.picket
                .other
                .get("global_seq_num")
                .and_then(|v| v.as_u64())
        })
        .collect();
    let want: Vec<_> = (500..513).map(Some).collect();
    assert_eq!(seqs, want, "every line once, in order");
    assert!(got
        .iter()
        .all(|e| e.picket.collector.as_deref() == Some("macos-eslogger")));
    let snap = health.snapshot();
    assert_eq!(snap.losses.get("malformed_input"), Some(&0));
    assert_eq!(snap.losses.get("eslogger_seq_gap"), Some(&0));
    assert!(rx.try_recv().is_err(), "nothing extra");
}
