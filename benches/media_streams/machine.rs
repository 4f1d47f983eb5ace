//! The machine under the bench: CPU seconds from /proc (this process, its
//! thread groups, the whole machine) and a probe for the machine's own stalls.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A second counts as *stalled* when the probe overslept by more than
/// this in it or in the second before (the backlog takes a while to clear).
pub(crate) const STALL: Duration = Duration::from_millis(10);

/// The machine's own stalls: a thread at the highest priority asks to sleep
/// 1 ms, over and over, and keeps the longest overshoot (µs) until read.
///
/// Why: on the 2-vCPU microVMs this runs on, such a thread sees both vCPUs
/// stop together for 10–50 ms a few times a minute even when the machine is
/// idle. A frame due then is late whatever the server does, so the report
/// tells those seconds apart from the server's own.
pub(crate) fn start_probe() -> Arc<AtomicU64> {
    let worst = Arc::new(AtomicU64::new(0));
    let probe = worst.clone();
    let spawned = std::thread::Builder::new()
        .name("probe".into())
        .spawn(move || {
            set_thread_nice(-20);
            loop {
                let asked = std::time::Instant::now();
                std::thread::sleep(Duration::from_millis(1));
                let over = asked.elapsed().saturating_sub(Duration::from_millis(1));
                probe.fetch_max(over.as_micros() as u64, Ordering::Relaxed);
            }
        });
    if let Err(e) = spawned {
        eprintln!("no stall probe: {e}");
    }
    worst
}

/// CPU seconds so far of this process's threads: the server's, the
/// generators', and the rest (the main thread, SQLite's workers).
pub(crate) fn thread_cpu() -> [f64; 3] {
    let mut cpu = [0.0; 3];
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return cpu;
    };
    for task in tasks.flatten() {
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let group = match head.split_once('(').map_or("", |(_, name)| name) {
            "server" => 0,
            "generator" => 1,
            _ => 2,
        };
        cpu[group] += stat_cpu(rest);
    }
    cpu
}

/// CPU seconds so far of the whole machine (all cores): busy (not idle
/// or waiting for I/O), in softirq (where loopback TCP delivers a send to
/// its receiver), and stolen by the hypervisor.
pub(crate) fn machine_cpu() -> [f64; 3] {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let f: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    let at = |i: usize| f.get(i).copied().unwrap_or(0) as f64 / 100.0;
    // user nice system idle iowait irq softirq steal
    let busy = at(0) + at(1) + at(2) + at(5) + at(6) + at(7);
    [busy, at(6), at(7)]
}

/// Sets the calling thread's nice value (on Linux, nice is per thread),
/// with `renice` on the thread's id: no unsafe code for the probe.
pub(crate) fn set_thread_nice(nice: i32) {
    let tid = std::fs::read_link("/proc/thread-self")
        .ok()
        .and_then(|link| Some(link.file_name()?.to_string_lossy().into_owned()));
    let done = tid.as_deref().is_some_and(|tid| {
        std::process::Command::new("renice")
            .args(["-n", &nice.to_string(), "-p", tid])
            .stdout(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    if !done {
        eprintln!("could not set a nice value of {nice} (it needs root)");
    }
}

/// CPU seconds of the whole process so far.
pub(crate) fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    stat_cpu(stat.rsplit_once(')').map_or("", |(_, rest)| rest))
}

/// utime + stime in seconds from the fields of a `stat` file after the
/// command name (fields 14 and 15, in clock ticks of 1/100 s).
pub(crate) fn stat_cpu(after_name: &str) -> f64 {
    let f: Vec<u64> = after_name
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    (f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0)) as f64 / 100.0
}
