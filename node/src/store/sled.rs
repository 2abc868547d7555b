//! The sled 0.34 engine: one tree, atomic `apply_batch`, `flush` for durability.

use std::path::Path;

use super::{KvStore, Pair, Scan, StoreError, Write};

/// How long [`SledStore::open`] waits for a lock released by a handle this process just dropped.
pub const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// A sled database.
pub struct SledStore {
    db: sled::Db,
}

fn engine(e: sled::Error) -> StoreError {
    StoreError::Engine(e.to_string())
}

impl SledStore {
    /// Opens (or creates) the database in `dir`. sled releases its file lock asynchronously
    /// after a database is dropped, so a lock held by this process's previous handle is waited
    /// for (up to [`LOCK_WAIT`]); a lock still held after that belongs to another process.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let deadline = std::time::Instant::now() + LOCK_WAIT;
        loop {
            let opened = sled::Config::new()
                .path(dir)
                .cache_capacity(256 * 1024 * 1024)
                // Durability comes from explicit flushes after each group commit, not a timer.
                .flush_every_ms(None)
                .open();
            match opened {
                Ok(db) => return Ok(Self { db }),
                // sled wraps the OS error (EWOULDBLOCK) in a message of its own.
                Err(sled::Error::Io(e))
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.to_string().contains("could not acquire lock") =>
                {
                    if std::time::Instant::now() >= deadline {
                        return Err(StoreError::Locked {
                            dir: dir.to_path_buf(),
                        });
                    }
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Err(e) => return Err(engine(e)),
            }
        }
    }

    /// A temporary database, deleted on drop (tests, benchmarks).
    pub fn temporary() -> Result<Self, StoreError> {
        let db = sled::Config::new()
            .temporary(true)
            .flush_every_ms(None)
            .open()
            .map_err(engine)?;
        Ok(Self { db })
    }
}

fn pairs(
    iter: impl Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>> + Send + 'static,
) -> Scan<'static> {
    Box::new(iter.map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).map_err(engine)))
}

impl KvStore for SledStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.db.get(key).map_err(engine)?.map(|v| v.to_vec()))
    }

    fn scan_prefix(&self, prefix: &[u8]) -> Scan<'_> {
        pairs(self.db.scan_prefix(prefix))
    }

    fn scan_range(&self, from: &[u8], to: &[u8]) -> Scan<'_> {
        if from >= to {
            return Box::new(std::iter::empty());
        }
        pairs(self.db.range(from.to_vec()..to.to_vec()))
    }

    fn scan_prefix_rev(&self, prefix: &[u8]) -> Scan<'_> {
        pairs(self.db.scan_prefix(prefix).rev())
    }

    fn last_with_prefix(&self, prefix: &[u8]) -> Result<Option<Pair>, StoreError> {
        match self.db.scan_prefix(prefix).next_back() {
            None => Ok(None),
            Some(r) => r
                .map(|(k, v)| Some((k.to_vec(), v.to_vec())))
                .map_err(engine),
        }
    }

    fn apply(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for (k, v) in writes {
            match v {
                Some(v) => batch.insert(k, v),
                None => batch.remove(k),
            }
        }
        self.db.apply_batch(batch).map_err(engine)
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.db.flush().map(|_| ()).map_err(engine)
    }

    fn size_on_disk(&self) -> Result<u64, StoreError> {
        self.db.size_on_disk().map_err(engine)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sled_passes_conformance() {
        crate::store::conformance::run(|| SledStore::temporary().expect("temporary sled"));
    }

    #[test]
    fn a_store_locked_by_a_live_handle_is_refused_clearly() {
        let dir = tempfile::tempdir().expect("tempdir");
        let _held = SledStore::open(dir.path()).expect("open");
        let err = SledStore::open(dir.path())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("locked by another process"), "{err}");
    }

    #[test]
    fn sled_keeps_flushed_writes_across_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let s = SledStore::open(dir.path()).expect("open");
            s.apply(vec![(b"k".to_vec(), Some(b"v".to_vec()))])
                .expect("apply");
            s.flush().expect("flush");
        }
        let s = SledStore::open(dir.path()).expect("reopen");
        assert_eq!(s.get(b"k").expect("get"), Some(b"v".to_vec()));
    }
}
