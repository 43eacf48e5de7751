//! The exec storm: `--execs N` fork+exec of `/bin/true <prefix><i>` as fast as the
//! machine goes, spread over `--workers W` threads (each forks, execs and waits), every
//! run tagged with a unique argv marker. Prints one line:
//! `execs=N failed=F seconds=S rate=R` (R = execs per second).
//!
//! Used by the kernel test's twin in scripts/bench-exec-storm.sh.

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("the exec storm runs on Linux only");
}

#[cfg(target_os = "linux")]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    use std::ffi::CString;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    let mut execs = 20_000usize;
    let mut workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut prefix = format!("picket-storm-{}-", std::process::id());
    let mut target = "/bin/true".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--execs" => execs = value()?.parse()?,
            "--workers" => workers = value()?.parse()?,
            "--prefix" => prefix = value()?,
            "--target" => target = value()?,
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let workers = workers.max(1);
    let target = Arc::new(CString::new(target)?);
    let failed = Arc::new(AtomicUsize::new(0));
    let start = std::time::Instant::now();
    let threads: Vec<_> = (0..workers)
        .map(|w| {
            let target = target.clone();
            let failed = failed.clone();
            let prefix = prefix.clone();
            std::thread::spawn(move || {
                let envp: [*const libc::c_char; 1] = [std::ptr::null()];
                for i in (w..execs).step_by(workers) {
                    let Ok(marker) = CString::new(format!("{prefix}{i}")) else {
                        failed.fetch_add(1, Ordering::Relaxed);
                        continue;
                    };
                    let argv: [*const libc::c_char; 3] =
                        [target.as_ptr(), marker.as_ptr(), std::ptr::null()];
                    // SAFETY: the child calls only execve and _exit (async-signal-safe)
                    // with pointers prepared before the fork.
                    let pid = unsafe { libc::fork() };
                    if pid == 0 {
                        // SAFETY: see above.
                        unsafe {
                            libc::execve(target.as_ptr(), argv.as_ptr(), envp.as_ptr());
                            libc::_exit(127);
                        }
                    }
                    if pid < 0 {
                        failed.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    let mut status = 0;
                    // SAFETY: waiting for our own child.
                    let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
                    if rc != pid || !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().map_err(|_| "worker panicked")?;
    }
    let secs = start.elapsed().as_secs_f64();
    let failed = failed.load(Ordering::Relaxed);
    println!(
        "execs={execs} failed={failed} seconds={secs:.3} rate={:.1}",
        execs as f64 / secs
    );
    Ok(())
}
