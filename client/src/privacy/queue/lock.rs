//! The queue's lock file (`<queue>.lock`): while a command holds it, no other `consent` process
//! changes the queue; one left by a command that crashed is taken over.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{QueueError, with_suffix};

/// A lock file older than this was left by a command that crashed.
pub const LOCK_STALE: Duration = Duration::from_secs(300);
/// How long a command waits for another to release the lock.
pub const LOCK_WAIT: Duration = Duration::from_secs(30);

/// Locks held by this process, by lock file, with how many guards share each.
static HELD: Mutex<Vec<(PathBuf, usize)>> = Mutex::new(Vec::new());

/// The queue's lock: while a command holds it, no other `consent` process changes the queue.
/// Taken again in the same process it is shared (a command and the functions it calls).
#[derive(Debug)]
pub struct QueueLock {
    lock: PathBuf,
}

impl QueueLock {
    /// Takes the lock of the queue at `queue`, waiting up to [`LOCK_WAIT`] for another command.
    pub fn take(queue: &Path) -> Result<QueueLock, QueueError> {
        Self::take_within(queue, LOCK_WAIT)
    }

    /// [`QueueLock::take`], waiting at most `wait`.
    pub fn take_within(queue: &Path, wait: Duration) -> Result<QueueLock, QueueError> {
        let lock = with_suffix(queue, ".lock");
        {
            let mut held = HELD.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((_, n)) = held.iter_mut().find(|(p, _)| *p == lock) {
                *n += 1;
                return Ok(QueueLock { lock });
            }
        }
        let started = Instant::now();
        loop {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&lock)
            {
                Ok(mut f) => {
                    let _ = writeln!(f, "{}", std::process::id());
                    HELD.lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push((lock.clone(), 1));
                    return Ok(QueueLock { lock });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let old = std::fs::metadata(&lock)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| t.elapsed().ok())
                        .is_some_and(|age| age > LOCK_STALE);
                    if old || holder_gone(&lock) {
                        let _ = std::fs::remove_file(&lock);
                        continue;
                    }
                    if started.elapsed() >= wait {
                        return Err(QueueError::Busy(queue.to_path_buf()));
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(source) => return Err(QueueError::Io { path: lock, source }),
            }
        }
    }
}

/// Whether the process named in the lock file has ended (Linux, where `/proc` says; elsewhere
/// only the lock's age tells).
fn holder_gone(lock: &Path) -> bool {
    if !Path::new("/proc/self").exists() {
        return false;
    }
    std::fs::read_to_string(lock)
        .ok()
        .and_then(|text| text.trim().parse::<u32>().ok())
        .is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists())
}

impl Drop for QueueLock {
    fn drop(&mut self) {
        let mut held = HELD.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(at) = held.iter().position(|(p, _)| *p == self.lock) {
            held[at].1 -= 1;
            if held[at].1 == 0 {
                held.remove(at);
                let _ = std::fs::remove_file(&self.lock);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_process_at_a_time_and_a_crashed_lock_is_taken_over() {
        let dir = tempfile::tempdir().expect("tempdir");
        let queue = dir.path().join("keystore.queue");
        let lock_file = with_suffix(&queue, ".lock");
        {
            let first = QueueLock::take(&queue).expect("free");
            assert!(lock_file.exists());
            // The same process shares it (a command and what it calls).
            let again = QueueLock::take_within(&queue, Duration::ZERO).expect("shared");
            drop(again);
            assert!(lock_file.exists(), "held while the first guard lives");
            drop(first);
        }
        assert!(!lock_file.exists(), "released");
        // A live process's lock (a file this process did not take, naming a process that runs):
        // busy.
        std::fs::write(&lock_file, format!("{}\n", std::process::id())).expect("write");
        assert!(matches!(
            QueueLock::take_within(&queue, Duration::ZERO),
            Err(QueueError::Busy(_))
        ));
        // Left by a crash long ago: taken over.
        let old = std::time::SystemTime::now() - LOCK_STALE - Duration::from_secs(1);
        std::fs::File::options()
            .write(true)
            .open(&lock_file)
            .expect("open")
            .set_modified(old)
            .expect("set mtime");
        let taken = QueueLock::take_within(&queue, Duration::ZERO).expect("stale lock taken over");
        drop(taken);
        assert!(!lock_file.exists());
        // Left by a process that ended (where /proc says so): taken over at once.
        if Path::new("/proc/self").exists() {
            std::fs::write(&lock_file, format!("{}\n", u32::MAX)).expect("write");
            let taken = QueueLock::take_within(&queue, Duration::ZERO).expect("holder gone");
            drop(taken);
        }
    }
}
