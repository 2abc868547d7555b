//! The machine the node runs on, as the bench reads it: the node's resident memory and CPU time
//! from `/proc`, waiting for it to go idle, and whether the largest store fits on the disk.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::proc;

/// Free disk asked for beyond the per-entry estimate (journals, compaction's new tables).
const DISK_SPARE: u64 = 1 << 30;

/// How long a restarted node may take to go idle before its memory is read anyway.
pub const IDLE_LIMIT: Duration = Duration::from_secs(300);

/// Free disk asked for per entry of the largest size: the store's measured footprint (605 B
/// per entry at 1M on fjall, 2,752 on sled) with some room.
fn disk_per_entry(engine: &str) -> u64 {
    if engine == "sled" { 3_000 } else { 700 }
}

pub fn rss_mib(pid: u32) -> f64 {
    proc::rss_kib(pid) as f64 / 1024.0
}

/// Clock ticks per second of `/proc`'s CPU times (`getconf CLK_TCK`; Linux's 100 if it will
/// not say).
pub fn ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|&t| t > 0.0)
        .unwrap_or(100.0)
}

/// CPU seconds process `pid` has spent so far, all its threads (utime + stime of
/// `/proc/<pid>/stat`); 0 when it cannot be read.
pub fn cpu_seconds(pid: u32, hz: f64) -> f64 {
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // "pid (comm) state ...": comm may hold spaces; it ends at the last ')'.
    let Some(rest) = text.rfind(')').and_then(|i| text.get(i + 1..)) else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // proc(5) numbers the fields from 1; `fields` starts at field 3 (state).
    let field = |n: usize| {
        fields
            .get(n - 3)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (field(14) + field(15)) as f64 / hz
}

/// Waits until `pid` is idle (at most 20 ms of CPU in half a second), at most [`IDLE_LIMIT`]:
/// how long that took, `None` if it did not go idle.
pub fn idle(pid: u32, hz: f64) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < IDLE_LIMIT {
        let before = cpu_seconds(pid, hz);
        std::thread::sleep(Duration::from_millis(500));
        if cpu_seconds(pid, hz) - before <= 0.020 {
            return Some(started.elapsed());
        }
    }
    None
}

/// Bytes free to this user on the filesystem holding `dir` (`df -Pk`), if `df` answers.
fn free_bytes(dir: &Path) -> Option<u64> {
    let out = Command::new("df").arg("-Pk").arg(dir).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let kib: u64 = text
        .lines()
        .nth(1)?
        .split_whitespace()
        .nth(3)?
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// Refuses to start when the store of `largest` entries on `engine` would not fit under `dir`.
pub fn check_disk(dir: &Path, largest: u64, engine: &str) -> anyhow::Result<()> {
    let per = disk_per_entry(engine);
    let need = largest.saturating_mul(per).saturating_add(DISK_SPARE);
    let gb = |b: u64| b as f64 / 1e9;
    let Some(free) = free_bytes(dir) else {
        eprintln!(
            "cannot read the free space under {} (df): not checked; this run needs about {:.1} GB",
            dir.display(),
            gb(need)
        );
        return Ok(());
    };
    anyhow::ensure!(
        free >= need,
        "the storage bench needs about {:.1} GB free under {} for {largest} entries on {engine} \
         (~{per} B per entry, plus 1 GiB) and {:.1} GB are free: free some space, set TMPDIR to \
         a larger filesystem, or measure smaller --sizes",
        gb(need),
        dir.display(),
        gb(free)
    );
    Ok(())
}
