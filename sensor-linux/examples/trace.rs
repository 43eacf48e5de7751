//! Runs the Linux collector alone and prints every event as one ECS JSON line, or with
//! `--count`, only counts them (the benchmark's "collector alone" mode).
//!
//! `cargo run -p sensor-linux --example trace -- [--count] [--max-args N] [--ring N]`
//! Stops on SIGINT/SIGTERM and prints the health counters to stderr.

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("the trace example runs on Linux only");
}

#[cfg(target_os = "linux")]
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    use sensor_core::collector::{Collector, EventSender, Shutdown};
    use sensor_core::health::Health;
    use sensor_linux::LinuxCollectorConfig;
    use std::io::Write;

    let mut config = LinuxCollectorConfig::default();
    let mut count_only = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--count" => count_only = true,
            "--max-args" => config.max_args_bytes = args.next().ok_or("--max-args N")?.parse()?,
            "--ring" => config.ring_buffer_bytes = args.next().ok_or("--ring N")?.parse()?,
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let mut collector = sensor_linux::LinuxCollector::new(&config)?;
    collector.load()?;
    eprintln!(
        "tracing (args capacity {:?} bytes)",
        collector.args_capacity()
    );

    let health = Health::new();
    let (tx, mut rx) = tokio::sync::mpsc::channel(65_536);
    let (trigger, shutdown) = Shutdown::new();
    let task =
        tokio::spawn(Box::new(collector).run(EventSender::new(tx, health.clone()), shutdown));
    let mut events = 0u64;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    loop {
        tokio::select! {
            ev = rx.recv() => match ev {
                Some(ev) => {
                    events += 1;
                    if !count_only {
                        writeln!(out, "{}", ev.to_json_line())?;
                        if rx.is_empty() { out.flush()?; }
                    }
                }
                None => break,
            },
            _ = tokio::signal::ctrl_c() => trigger.trigger(),
            _ = term.recv() => trigger.trigger(),
        }
    }
    out.flush()?;
    task.await??;
    let snap = health.snapshot();
    eprintln!("events {events} losses {:?}", snap.losses);
    Ok(())
}
