//! The fjall 3 engine (an LSM tree), the default for new data directories: one keyspace, atomic
//! write batches, `persist(SyncAll)` for durability, memory bounded by the constants below (why
//! it replaced sled as the default: docs/benchmarks.md, "Choosing the storage engine").
//!
//! Every read goes through a snapshot (`Database::snapshot`): fjall's plain keyspace reads see the
//! newest version of each key, including keys of a batch that is still being applied, so a
//! reader could find half a batch (an index key without the entry it names). A snapshot reads at
//! the last published batch, which makes batches atomic for readers, as the ledger assumes.

use std::path::Path;

use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode, Readable};

use super::{EngineMemory, KvStore, Pair, Scan, StoreError, Write};

/// Block cache shared by all reads, in MiB, unless `[store] cache_mib` says otherwise: decoded
/// blocks of the sorted files, so that a check whose rows are cached decodes nothing. 512 MiB
/// tripled cold checks at ten million entries against 32 MiB (docs/benchmarks.md, issue 23); it
/// fills with what is read, so a small store uses what it holds.
pub const DEFAULT_CACHE_MIB: u64 = 512;
/// Writes held in memory before they are flushed to a sorted file: with the journal, what bounds
/// the engine's memory as the log grows (fjall's default, 64 MiB, costs ~1.5x that in heap).
const MEMTABLE_BYTES: u64 = 16 << 20;
/// Journal kept before the oldest memtables must be flushed (fjall's minimum).
const JOURNAL_BYTES: u64 = 64 << 20;

/// A fjall database with one keyspace.
pub struct FjallStore {
    db: Database,
    keyspace: Keyspace,
}

fn engine(e: fjall::Error) -> StoreError {
    StoreError::Engine(e.to_string())
}

/// A lazy scan: a caller that takes the first few pairs of a long range reads only those.
fn pairs(iter: impl Iterator<Item = fjall::Guard> + Send + 'static) -> Scan<'static> {
    Box::new(iter.map(|guard| {
        guard
            .into_inner()
            .map(|(k, v)| (k.to_vec(), v.to_vec()))
            .map_err(engine)
    }))
}

impl FjallStore {
    /// Opens (or creates) the database in `dir`, with the default block cache.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        Self::open_with(dir, DEFAULT_CACHE_MIB)
    }

    /// Opens (or creates) the database in `dir` with a block cache of `cache_mib` MiB.
    pub fn open_with(dir: &Path, cache_mib: u64) -> Result<Self, StoreError> {
        let db = Database::builder(dir)
            .cache_size(cache_mib.saturating_mul(1 << 20))
            .max_journaling_size(JOURNAL_BYTES)
            .open()
            .map_err(engine)?;
        let keyspace = db
            .keyspace("ledger", || {
                KeyspaceCreateOptions::default().max_memtable_size(MEMTABLE_BYTES)
            })
            .map_err(engine)?;
        Ok(Self { db, keyspace })
    }
}

impl KvStore for FjallStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .db
            .snapshot()
            .get(&self.keyspace, key)
            .map_err(engine)?
            .map(|v| v.to_vec()))
    }

    fn scan_prefix(&self, prefix: &[u8]) -> Scan<'_> {
        pairs(self.db.snapshot().prefix(&self.keyspace, prefix))
    }

    fn scan_range(&self, from: &[u8], to: &[u8]) -> Scan<'_> {
        if from >= to {
            return Box::new(std::iter::empty());
        }
        pairs(
            self.db
                .snapshot()
                .range(&self.keyspace, from.to_vec()..to.to_vec()),
        )
    }

    fn scan_prefix_rev(&self, prefix: &[u8]) -> Scan<'_> {
        pairs(self.db.snapshot().prefix(&self.keyspace, prefix).rev())
    }

    fn last_with_prefix(&self, prefix: &[u8]) -> Result<Option<Pair>, StoreError> {
        match self
            .db
            .snapshot()
            .prefix(&self.keyspace, prefix)
            .next_back()
        {
            None => Ok(None),
            Some(guard) => guard
                .into_inner()
                .map(|(k, v)| Some((k.to_vec(), v.to_vec())))
                .map_err(engine),
        }
    }

    fn apply(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        let mut batch = self.db.batch();
        for (k, v) in writes {
            match v {
                Some(v) => batch.insert(&self.keyspace, k, v),
                None => batch.remove(&self.keyspace, k),
            }
        }
        batch.commit().map_err(engine)
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.db.persist(PersistMode::SyncAll).map_err(engine)
    }

    fn size_on_disk(&self) -> Result<u64, StoreError> {
        self.db.disk_space().map_err(engine)
    }

    fn memory(&self) -> Option<EngineMemory> {
        // Both accessors are marked experimental in fjall 3.1; they read counters fjall keeps.
        Some(EngineMemory {
            block_cache: self.db.cache_size(),
            write_buffers: self.db.write_buffer_size(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fjall_passes_conformance() {
        let dirs = std::sync::Mutex::new(Vec::new());
        crate::store::conformance::run(|| {
            let dir = tempfile::tempdir().expect("tempdir");
            let store = FjallStore::open(dir.path()).expect("open");
            if let Ok(mut d) = dirs.lock() {
                d.push(dir);
            }
            store
        });
    }

    #[test]
    fn fjall_keeps_flushed_writes_across_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let s = FjallStore::open(dir.path()).expect("open");
            s.apply(vec![(b"k".to_vec(), Some(b"v".to_vec()))])
                .expect("apply");
            s.flush().expect("flush");
        }
        let s = FjallStore::open(dir.path()).expect("reopen");
        assert_eq!(s.get(b"k").expect("get"), Some(b"v".to_vec()));
    }
}
