//! What a node process occupies, read from outside it: resident memory from `/proc` and bytes
//! under its data directory. Shared by the soak test and the storage benchmark
//! (`#[path]`-included there).

use std::path::Path;

/// Resident memory of process `pid`, KiB (0 when it cannot be read).
pub fn rss_kib(pid: u32) -> u64 {
    consent_node::ops::resident_bytes(pid).map_or(0, |b| b / 1024)
}

/// Bytes of every file under `dir` (whatever the node's engine keeps there).
pub fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}
