//! The sled 0.34 engine: one tree, atomic `apply_batch`, `flush` for durability.

use std::path::Path;

use super::{KvStore, Pair, Scan, StoreError, Write};

/// A sled database.
pub struct SledStore {
    db: sled::Db,
}

fn engine(e: sled::Error) -> StoreError {
    StoreError::Engine(e.to_string())
}

impl SledStore {
    /// Opens (or creates) the database in `dir`.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(256 * 1024 * 1024)
            // Durability comes from explicit flushes after each group commit, not a timer.
            .flush_every_ms(None)
            .open()
            .map_err(engine)?;
        Ok(Self { db })
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

fn pairs(iter: sled::Iter) -> Scan<'static> {
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
