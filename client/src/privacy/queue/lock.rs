//! The queue's lock (`<queue>.lock`): an advisory lock of the operating system on that open file
//! (`flock` on Unix, `LockFileEx` on Windows, through `fs2`). While a command holds it, no other
//! `consent` process reads, changes or sends the queue. The kernel releases it when its holder
//! ends, however it ends (a crash, Ctrl-C, `kill -9`), so no process id or age is ever guessed:
//! a lock is never taken over from a live holder, and a holder only ever releases its own lock.
//! The file itself stays (removing it while another process waits on it would let two processes
//! hold "the" lock on two different files).

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use fs2::FileExt;

use super::{QueueError, with_suffix};

/// How long a command waits for another to release the lock.
pub const LOCK_WAIT: Duration = Duration::from_secs(30);
/// How long a withdrawal (a revocation, an opt-out, an erasure request) waits: longer, because
/// it must not fail while a timer's `consent queue` sends (each node call is bounded by the
/// client's 30-second timeout).
pub const LOCK_WAIT_WITHDRAWAL: Duration = Duration::from_secs(300);

/// A lock this process holds: its file (open: closing it releases the lock) and how many guards
/// share it.
struct Held {
    path: PathBuf,
    file: std::fs::File,
    guards: usize,
}

/// Locks held by this process, by lock file.
static HELD: Mutex<Vec<Held>> = Mutex::new(Vec::new());

/// The queue's lock: while a command holds it, no other `consent` process changes the queue.
/// Taken again in the same process it is shared (a command and the functions it calls).
#[derive(Debug)]
pub struct QueueLock {
    lock: PathBuf,
}

/// Whether a failed try-lock means "another holds it" rather than an I/O problem.
fn contended(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::WouldBlock
        || (e.raw_os_error().is_some()
            && e.raw_os_error() == fs2::lock_contended_error().raw_os_error())
}

impl QueueLock {
    /// Takes the lock of the queue at `queue`, waiting up to [`LOCK_WAIT`] for another command.
    pub fn take(queue: &Path) -> Result<QueueLock, QueueError> {
        Self::take_within(queue, LOCK_WAIT)
    }

    /// [`QueueLock::take`], waiting at most `wait`; after `notice` of waiting, says once on
    /// stderr that it waits (a person's command must not look hung).
    pub fn take_noting(
        queue: &Path,
        wait: Duration,
        notice: Duration,
    ) -> Result<QueueLock, QueueError> {
        Self::take_inner(queue, wait, Some(notice))
    }

    /// [`QueueLock::take`], waiting at most `wait`.
    pub fn take_within(queue: &Path, wait: Duration) -> Result<QueueLock, QueueError> {
        Self::take_inner(queue, wait, None)
    }

    fn take_inner(
        queue: &Path,
        wait: Duration,
        notice: Option<Duration>,
    ) -> Result<QueueLock, QueueError> {
        let lock = with_suffix(queue, ".lock");
        {
            let mut held = HELD.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(h) = held.iter_mut().find(|h| h.path == lock) {
                h.guards += 1;
                return Ok(QueueLock { lock });
            }
        }
        let io = |source| QueueError::Io {
            path: lock.clone(),
            source,
        };
        let mut options = std::fs::OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options.open(&lock).map_err(io)?;
        let started = Instant::now();
        let mut noted = false;
        loop {
            match FileExt::try_lock_exclusive(&file) {
                Ok(()) => {
                    HELD.lock().unwrap_or_else(|e| e.into_inner()).push(Held {
                        path: lock.clone(),
                        file,
                        guards: 1,
                    });
                    return Ok(QueueLock { lock });
                }
                Err(e) if contended(&e) => {
                    if started.elapsed() >= wait {
                        return Err(QueueError::Busy(queue.to_path_buf()));
                    }
                    if !noted && notice.is_some_and(|n| started.elapsed() >= n) {
                        noted = true;
                        eprintln!(
                            "consent: waiting for another consent command to finish with the \
                             send queue (at most {}s)...",
                            wait.as_secs()
                        );
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(source) => return Err(io(source)),
            }
        }
    }
}

impl Drop for QueueLock {
    fn drop(&mut self) {
        let mut held = HELD.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(at) = held.iter().position(|h| h.path == self.lock) {
            held[at].guards -= 1;
            if held[at].guards == 0 {
                let h = held.remove(at);
                // Closing the file releases the lock too; unlocking first says so plainly.
                let _ = FileExt::unlock(&h.file);
                drop(h.file);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time_released_by_its_holder_only_and_never_guessed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let queue = dir.path().join("keystore.queue");
        let lock_file = with_suffix(&queue, ".lock");
        {
            let first = QueueLock::take(&queue).expect("free");
            assert!(lock_file.exists());
            // The same process shares it (a command and what it calls).
            let again = QueueLock::take_within(&queue, Duration::ZERO).expect("shared");
            drop(again);
            // Still held: another holder (another open file, as another process has) is refused.
            let other = std::fs::File::open(&lock_file).expect("open");
            assert!(FileExt::try_lock_exclusive(&other).is_err(), "held");
            drop(first);
            FileExt::try_lock_exclusive(&other).expect("released when the last guard drops");
            // Held by "another process" now: busy, and never taken over, however old.
            assert!(matches!(
                QueueLock::take_within(&queue, Duration::ZERO),
                Err(QueueError::Busy(_))
            ));
            let old = std::time::SystemTime::now() - Duration::from_secs(3_600);
            std::fs::File::options()
                .write(true)
                .open(&lock_file)
                .expect("open")
                .set_modified(old)
                .expect("set mtime");
            assert!(matches!(
                QueueLock::take_within(&queue, Duration::from_millis(120)),
                Err(QueueError::Busy(_))
            ));
            // Its holder ends (the file closes): free at once.
            drop(other);
        }
        // The file stays (a lock file, not a lock); its being there says nothing.
        assert!(lock_file.exists());
        let taken = QueueLock::take_within(&queue, Duration::ZERO).expect("free again");
        drop(taken);
        assert!(
            lock_file.exists(),
            "dropping a guard never removes the file"
        );
    }
}
