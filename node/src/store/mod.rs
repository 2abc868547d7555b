//! The storage engine boundary: an ordered key-value store with atomic batches and a durable
//! flush. Everything above it (tables, the write path, checks) is engine-independent; any engine
//! that passes [`conformance`] can replace sled and be measured against it.

pub mod conformance;
pub mod fjall;
pub mod memory;
pub mod sled;

/// A storage failure. The node treats these as fatal for the operation and reports them (in its
/// log: the API sends clients a fixed message, never this text). Cloned to every caller of a
/// failed group commit.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The engine failed (its own error, as text).
    #[error("storage engine error: {0}")]
    Engine(String),
    /// Another process holds the store's lock.
    #[error(
        "storage engine error: the store in {} is locked by another process (is another consentd running on this data directory?)",
        .dir.display()
    )]
    Locked {
        /// The store's directory.
        dir: std::path::PathBuf,
    },
    /// A stored value does not decode: the store is corrupt or from another version.
    #[error("corrupt store: {0}")]
    Corrupt(String),
}

/// One key/value pair from a scan.
pub type Pair = (Vec<u8>, Vec<u8>);

/// A scan over keys in order.
pub type Scan<'a> = Box<dyn Iterator<Item = Result<Pair, StoreError>> + Send + 'a>;

/// A write: `Some(value)` puts, `None` deletes.
pub type Write = (Vec<u8>, Option<Vec<u8>>);

/// An ordered key-value store.
pub trait KvStore: Send + Sync + 'static {
    /// The value at `key`.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    /// Keys starting with `prefix`, ascending.
    fn scan_prefix(&self, prefix: &[u8]) -> Scan<'_>;
    /// Keys in `[from, to)`, ascending.
    fn scan_range(&self, from: &[u8], to: &[u8]) -> Scan<'_>;
    /// The last key starting with `prefix`, if any.
    fn last_with_prefix(&self, prefix: &[u8]) -> Result<Option<Pair>, StoreError>;
    /// Keys starting with `prefix`, descending, read lazily: a caller that takes the last few
    /// pairs of a long prefix reads only those (checks read a subject's newest grants so). The
    /// default reads the whole prefix first; every engine here overrides it.
    fn scan_prefix_rev(&self, prefix: &[u8]) -> Scan<'_> {
        match self
            .scan_prefix(prefix)
            .collect::<Result<Vec<Pair>, StoreError>>()
        {
            Ok(mut pairs) => {
                pairs.reverse();
                Box::new(pairs.into_iter().map(Ok))
            }
            Err(e) => Box::new(std::iter::once(Err(e))),
        }
    }
    /// Applies every write or none (atomic, also across a crash).
    fn apply(&self, writes: Vec<Write>) -> Result<(), StoreError>;
    /// Makes every applied write durable; returns once it is on stable storage.
    fn flush(&self) -> Result<(), StoreError>;
    /// Bytes used on disk (0 for memory stores).
    fn size_on_disk(&self) -> Result<u64, StoreError>;
    /// What the engine holds in memory for its caches and write buffers, where it says (sled
    /// does not).
    fn memory(&self) -> Option<EngineMemory> {
        None
    }
}

/// Memory an engine reports holding.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EngineMemory {
    /// Bytes in its block cache (bounded by its capacity).
    pub block_cache: u64,
    /// Bytes of writes held in memory before they are flushed to sorted files.
    pub write_buffers: u64,
}

/// Storage engines behind the `KvStore` trait.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// fjall 3 (LSM tree), in `<data_dir>/fjall`: the default for new data directories. Its
    /// memory is bounded (memtable and block cache) where sled's grows with the log, and it
    /// ingests ~1.6x faster in a third of the disk (docs/benchmarks.md).
    Fjall,
    /// sled 0.34 (B-tree), in `<data_dir>/store`: what data directories created before fjall
    /// became the default hold.
    Sled,
}

impl Engine {
    /// Subdirectory of the data directory holding this engine's files.
    pub fn dir_name(self) -> &'static str {
        match self {
            Engine::Sled => "store",
            Engine::Fjall => "fjall",
        }
    }

    /// The engine whose store `data_dir` holds, if any (both: the first, fjall).
    pub fn found_in(data_dir: &std::path::Path) -> Option<Engine> {
        [Engine::Fjall, Engine::Sled]
            .into_iter()
            .find(|e| data_dir.join(e.dir_name()).exists())
    }

    /// The engine to open `data_dir` with: the one asked for, else the one the directory
    /// already holds, else fjall.
    pub fn resolve(asked: Option<Engine>, data_dir: &std::path::Path) -> Engine {
        asked
            .or_else(|| Engine::found_in(data_dir))
            .unwrap_or(Engine::Fjall)
    }
}
