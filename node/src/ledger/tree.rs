//! The Merkle tree over this node's arrival log ([`consent_proto::merkle`]; leaf `i` is the id of
//! the entry at arrival index `i`).
//!
//! Memory does not grow with the log's leaves: the tree keeps in memory only the hashes of whole
//! blocks of [`BLOCK`] leaves and the levels above them (about one byte per entry), plus the
//! leaves of the last, unfinished block. A proof that needs hashes inside an older block reads
//! that block's entry ids from the arrival log (one short range scan of the `L` table) and
//! checks them against the block hash it holds, so a damaged log gives no proof rather than a
//! wrong one. The hash of each whole block is also stored (a `k` row, written with the commit that
//! completes the block: [`Growth`]), so that start-up rebuilds the frontier from about one row
//! per 64 entries (`fsck::at_start`) instead of the whole log; the complete check compares every
//! block row with the log. The frontier grows with every group commit, under the same lock that
//! makes a group visible to checks — so a view sees the tree and the store agree. A question holds the frontier's read lock only while it computes
//! from memory: a block it lacks is read from the log after the lock is let go (a commit never
//! waits for a log scan), and the question is asked again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use consent_proto::ids::EntryId;
use consent_proto::merkle::{self, Hash, Subtrees, Tree};

use super::tables;
use crate::store::{KvStore, StoreError};

/// Level of a block's root: blocks hold `2^BLOCK_LEVEL` leaves.
const BLOCK_LEVEL: u32 = 6;
/// Leaves per block.
pub(crate) const BLOCK: u64 = 1 << BLOCK_LEVEL;
/// Older blocks kept after a proof read them (~4 KiB each; the cache is emptied when full).
/// Receipts prove grants again and again against the same checkpoint, so the same few blocks
/// are asked for: without this a signed receipt cost two log scans.
const BLOCKS_CACHED: usize = 1_024;

/// The part of the tree held in memory; built by pushing the log's entry ids in order.
#[derive(Debug, Clone, Default)]
pub struct Frontier {
    /// A tree whose leaves are the roots of the whole blocks.
    blocks: Tree,
    /// The leaves of the unfinished last block (fewer than [`BLOCK`]).
    tail: Tree,
}

impl Frontier {
    /// Leaves so far.
    pub fn size(&self) -> u64 {
        self.blocks.size() * BLOCK + self.tail.size()
    }

    /// Appends the leaf for `id`.
    pub fn push(&mut self, id: &EntryId) {
        self.tail.push(&id.0);
        if self.tail.size() == BLOCK {
            let tail = std::mem::take(&mut self.tail);
            // The tail is a perfect tree of BLOCK leaves: its root is the block's hash.
            self.blocks
                .push_hash(infallible(tail.subtree(BLOCK_LEVEL, 0)));
        }
    }

    /// Appends a whole block given as its hash (a stored `k` row); `false`, and nothing
    /// appended, when leaves of an unfinished block are held (the block would not start at a
    /// block's edge).
    pub fn push_block(&mut self, hash: Hash) -> bool {
        if self.tail.size() != 0 {
            return false;
        }
        self.blocks.push_hash(hash);
        true
    }

    /// Whole blocks so far.
    pub fn blocks(&self) -> u64 {
        self.blocks.size()
    }

    /// The hash of whole block `block` (`None` past the whole blocks).
    pub fn block_hash(&self, block: u64) -> Option<Hash> {
        (block < self.blocks.size()).then(|| infallible(self.blocks.subtree(0, block)))
    }

    /// The root over every leaf so far, from memory alone: the tree over all its leaves needs
    /// no subtree inside an older block.
    pub fn root(&self) -> Hash {
        /// The frontier as the source of the root of all its leaves: below a block's level,
        /// only subtrees of the tail are asked for.
        struct Whole<'a>(&'a Frontier);
        impl Subtrees for Whole<'_> {
            type Error = std::convert::Infallible;
            fn subtree(&self, level: u32, index: u64) -> Result<Hash, Self::Error> {
                let f = self.0;
                if level >= BLOCK_LEVEL {
                    return f.blocks.subtree(level - BLOCK_LEVEL, index);
                }
                let first = f.blocks.size() << (BLOCK_LEVEL - level);
                f.tail
                    .subtree(level, index.checked_sub(first).unwrap_or(u64::MAX))
            }
        }
        infallible(merkle::root(&Whole(self), self.size()))
    }

    /// What appending `ids` does to this frontier: the blocks they complete and the tail they
    /// leave. The writer computes it before it applies a group (the blocks' hashes are written
    /// with the group) and applies it to the frontier after ([`Self::grow`]).
    pub(crate) fn growth(&self, ids: &[EntryId]) -> Growth {
        let mut tail = self.tail.clone();
        let mut next = self.blocks.size();
        let mut blocks = Vec::new();
        for id in ids {
            tail.push(&id.0);
            if tail.size() == BLOCK {
                blocks.push((next, infallible(tail.subtree(BLOCK_LEVEL, 0))));
                next += 1;
                tail = Tree::new();
            }
        }
        Growth {
            from: self.size(),
            blocks,
            tail,
        }
    }

    /// Applies `growth` computed from this frontier; `false`, and nothing changed, when the
    /// frontier is not the one it was computed from.
    pub(crate) fn grow(&mut self, growth: Growth) -> bool {
        if growth.from != self.size() {
            return false;
        }
        for (_, hash) in growth.blocks {
            self.blocks.push_hash(hash);
        }
        self.tail = growth.tail;
        true
    }
}

/// What a group's entries do to the frontier ([`Frontier::growth`]).
#[derive(Debug, Clone)]
pub(crate) struct Growth {
    /// Leaves of the frontier it was computed from.
    from: u64,
    /// The blocks completed, by number, with their hashes.
    blocks: Vec<(u64, Hash)>,
    /// The tail left.
    tail: Tree,
}

impl Growth {
    /// The blocks completed, by number, with their hashes (a `k` row each).
    pub(crate) fn blocks(&self) -> &[(u64, Hash)] {
        &self.blocks
    }
}

/// Why the tree could not give an answer about leaves it holds.
#[derive(Debug, thiserror::Error)]
enum TreeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("arrival log block {0} does not match the tree's hash of it")]
    Damaged(u64),
    /// The question needs block {0}, which is not in memory: read it and ask again.
    #[error("block {0} is not in memory")]
    Uncached(u64),
}

/// Most older blocks one question reads (a proof needs at most two; a margin for a cache
/// emptied meanwhile).
const MAX_BLOCK_READS: usize = 4;

/// The log's tree.
pub struct LogTree {
    frontier: RwLock<Frontier>,
    store: Arc<dyn KvStore>,
    /// Whole blocks read from the log, checked: they never change.
    blocks: Mutex<HashMap<u64, Arc<Tree>>>,
}

impl std::fmt::Debug for LogTree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogTree")
            .field("size", &self.size())
            .finish()
    }
}

/// An inclusion proof: the entry at `index` in the tree of `size` leaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inclusion {
    /// Arrival index.
    pub index: u64,
    /// Tree size the proof is for.
    pub size: u64,
    /// The entry.
    pub entry: EntryId,
    /// Audit path, leaf first.
    pub hashes: Vec<Hash>,
}

impl Inclusion {
    /// As `Log` and decision receipts send it.
    pub fn to_pb(&self) -> consent_proto::pb::InclusionProof {
        use prost::bytes::Bytes;
        consent_proto::pb::InclusionProof {
            index: self.index,
            tree_size: self.size,
            entry_id: Bytes::copy_from_slice(&self.entry.0),
            hashes: self
                .hashes
                .iter()
                .map(|h| Bytes::copy_from_slice(h))
                .collect(),
        }
    }
}

/// One question's view of the tree: the frontier, and the older blocks in memory.
struct Reader<'a> {
    frontier: &'a Frontier,
    cache: &'a Mutex<HashMap<u64, Arc<Tree>>>,
    /// Blocks this question read itself (kept even if the cache is emptied meanwhile).
    read: &'a [(u64, Arc<Tree>)],
}

impl Reader<'_> {
    /// The leaves of whole block `block`, if in memory.
    fn block(&self, block: u64) -> Result<Arc<Tree>, TreeError> {
        if let Some((_, leaves)) = self.read.iter().find(|(b, _)| *b == block) {
            return Ok(Arc::clone(leaves));
        }
        self.cache
            .lock()
            .ok()
            .and_then(|c| c.get(&block).cloned())
            .ok_or(TreeError::Uncached(block))
    }
}

impl Subtrees for Reader<'_> {
    type Error = TreeError;

    fn subtree(&self, level: u32, index: u64) -> Result<Hash, TreeError> {
        if level >= BLOCK_LEVEL {
            return Ok(infallible(
                self.frontier.blocks.subtree(level - BLOCK_LEVEL, index),
            ));
        }
        let block = (index << level) >> BLOCK_LEVEL;
        let within = index - (block << (BLOCK_LEVEL - level));
        if block == self.frontier.blocks.size() {
            return Ok(infallible(self.frontier.tail.subtree(level, within)));
        }
        Ok(infallible(self.block(block)?.subtree(level, within)))
    }
}

impl LogTree {
    /// The tree over the log so far (the start-up check builds the frontier:
    /// `fsck::at_start`); older blocks are read from `store`'s arrival log.
    pub fn new(frontier: Frontier, store: Arc<dyn KvStore>) -> Self {
        Self {
            frontier: RwLock::new(frontier),
            store,
            blocks: Mutex::default(),
        }
    }

    /// Appends the entries of a commit, in arrival order.
    pub fn extend(&self, ids: &[EntryId]) {
        if let Ok(mut frontier) = self.frontier.write() {
            for id in ids {
                frontier.push(id);
            }
        }
    }

    /// What appending `ids` would do ([`Frontier::growth`]); `None` if the lock is poisoned.
    pub(crate) fn growth(&self, ids: &[EntryId]) -> Option<Growth> {
        self.frontier.read().ok().map(|f| f.growth(ids))
    }

    /// Applies growth computed from the frontier as it is ([`Frontier::grow`]).
    pub(crate) fn grow(&self, growth: Growth) -> bool {
        self.frontier
            .write()
            .map(|mut f| f.grow(growth))
            .unwrap_or(false)
    }

    /// The size of the tree and the root over all of it, from memory.
    pub(crate) fn whole_root(&self) -> Option<(u64, Hash)> {
        self.frontier.read().ok().map(|f| (f.size(), f.root()))
    }

    /// Leaves in the tree.
    pub fn size(&self) -> u64 {
        self.frontier.read().map_or(0, |f| f.size())
    }

    /// Older blocks held in the cache now (for metrics).
    pub fn cached_blocks(&self) -> usize {
        self.blocks.lock().map(|c| c.len()).unwrap_or(0)
    }

    /// Runs `question` against the tree if `size` is within it; `None` above the size or when
    /// the log cannot be read (logged: it means the store is failing or damaged). The frontier's
    /// lock is held only while the question computes from memory: a block it lacks is read
    /// after the lock is let go, and the question asked again.
    fn ask<T>(
        &self,
        size: u64,
        question: impl Fn(&Reader<'_>) -> Result<Option<T>, TreeError>,
    ) -> Option<T> {
        let mut read: Vec<(u64, Arc<Tree>)> = Vec::new();
        let failed = |e: TreeError| {
            tracing::error!(error = %e, "cannot read the Merkle tree's leaves from the arrival log");
        };
        for _ in 0..=MAX_BLOCK_READS {
            let (block, expected) = {
                let frontier = self.frontier.read().ok()?;
                if size > frontier.size() {
                    return None;
                }
                let reader = Reader {
                    frontier: &frontier,
                    cache: &self.blocks,
                    read: &read,
                };
                match question(&reader) {
                    Ok(answer) => return answer,
                    Err(TreeError::Uncached(block)) => {
                        (block, frontier.blocks.subtree(0, block).ok()?)
                    }
                    Err(e) => {
                        failed(e);
                        return None;
                    }
                }
            };
            match self.read_block(block, expected) {
                Ok(leaves) => read.push((block, leaves)),
                Err(e) => {
                    failed(e);
                    return None;
                }
            }
        }
        None
    }

    /// The leaves of whole block `block`, read from the arrival log, checked against the
    /// block's hash, and cached.
    fn read_block(&self, block: u64, expected: Hash) -> Result<Arc<Tree>, TreeError> {
        let from = tables::log_key(block * BLOCK);
        let to = tables::log_key((block + 1) * BLOCK);
        let mut leaves = Tree::new();
        for pair in self.store.scan_range(&from, &to) {
            let (_, id) = pair?;
            leaves.push(&tables::bytes32(&id)?);
        }
        if leaves.size() != BLOCK || leaves.subtree(BLOCK_LEVEL, 0).ok() != Some(expected) {
            return Err(TreeError::Damaged(block));
        }
        let leaves = Arc::new(leaves);
        if let Ok(mut cache) = self.blocks.lock() {
            if cache.len() >= BLOCKS_CACHED {
                cache.clear();
            }
            cache.insert(block, Arc::clone(&leaves));
        }
        Ok(leaves)
    }

    /// The root of the first `size` leaves.
    pub fn root_at(&self, size: u64) -> Option<Hash> {
        self.ask(size, |r| merkle::root(r, size).map(Some))
    }

    /// The proof that leaf `index` is in the tree of `size` leaves (`None` out of range).
    pub fn inclusion(&self, index: u64, size: u64, entry: EntryId) -> Option<Inclusion> {
        let hashes = self.ask(size, |r| merkle::inclusion_proof(r, index, size))?;
        Some(Inclusion {
            index,
            size,
            entry,
            hashes,
        })
    }

    /// The proof that the tree of `new` leaves extends the tree of `old` (`None` out of range).
    pub fn consistency(&self, old: u64, new: u64) -> Option<Vec<Hash>> {
        self.ask(new, |r| merkle::consistency_proof(r, old, new))
    }
}

fn infallible<T>(r: Result<T, std::convert::Infallible>) -> T {
    match r {
        Ok(v) => v,
        Err(never) => match never {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory::MemoryStore;

    fn id(i: u64) -> EntryId {
        EntryId(*blake3::hash(&i.to_be_bytes()).as_bytes())
    }

    /// A log of `n` entries in a store, the node's tree over it, and the whole tree in memory.
    fn log(n: u64) -> (Arc<MemoryStore>, LogTree, Tree) {
        let store = Arc::new(MemoryStore::new());
        let mut full = Tree::new();
        let mut frontier = Frontier::default();
        let writes = (0..n)
            .map(|i| {
                full.push(&id(i).0);
                frontier.push(&id(i));
                (tables::log_key(i), Some(id(i).0.to_vec()))
            })
            .collect();
        store.apply(writes).expect("apply");
        let tree = LogTree::new(frontier, store.clone());
        (store, tree, full)
    }

    #[test]
    fn roots_and_proofs_equal_those_of_the_whole_tree() {
        for n in [0, 1, 2, 63, 64, 65, 129, 64 * 5 + 3] {
            let (_, tree, full) = log(n);
            assert_eq!(tree.size(), n);
            // Every size near a block edge, and others.
            let sizes = (0..=n).filter(|s| s % 64 < 3 || s % 64 > 61 || s % 11 == 0);
            for size in sizes {
                assert_eq!(
                    tree.root_at(size),
                    full.root_at(size),
                    "root n={n} size={size}"
                );
                for index in (0..size).step_by(13) {
                    let proof = tree.inclusion(index, size, id(index)).expect("proof");
                    let want = infallible(merkle::inclusion_proof(&full, index, size));
                    assert_eq!(Some(proof.hashes), want, "inclusion n={n} {index}/{size}");
                }
                for old in (0..=size).step_by(9) {
                    let want = infallible(merkle::consistency_proof(&full, old, size));
                    assert_eq!(
                        tree.consistency(old, size),
                        want,
                        "consistency {old}->{size}"
                    );
                }
            }
            assert_eq!(tree.root_at(n + 1), None);
            assert_eq!(tree.inclusion(0, n + 1, id(0)), None);
        }
    }

    #[test]
    fn grows_like_the_whole_tree_and_keeps_only_block_hashes_and_the_tail() {
        // The writer stores a group's log keys before it extends the tree with them.
        let (store, _, full) = log(1_000);
        let mut start = Frontier::default();
        (0..100).for_each(|i| start.push(&id(i)));
        let tree = LogTree::new(start, store);
        tree.extend(&(100..1_000).map(id).collect::<Vec<_>>());
        for size in [1_000, 517, 64, 0] {
            assert_eq!(tree.root_at(size), full.root_at(size));
        }
        let frontier = tree.frontier.read().expect("lock");
        assert_eq!(frontier.blocks.size(), 15);
        assert_eq!(frontier.tail.size(), 1_000 - 15 * BLOCK);
    }

    #[test]
    fn growth_completes_the_blocks_pushing_would_and_block_hashes_rebuild_the_frontier() {
        let mut full = Tree::new();
        let mut pushed = Frontier::default();
        let mut grown = Frontier::default();
        let mut completed = Vec::new();
        // Groups of sizes that cross block edges, end on them and stay inside one block.
        let mut next = 0u64;
        for group in [1u64, 62, 1, 64, 130, 3, 0, 61, 200] {
            let ids: Vec<EntryId> = (next..next + group).map(id).collect();
            next += group;
            for i in &ids {
                full.push(&i.0);
                pushed.push(i);
            }
            let growth = grown.growth(&ids);
            completed.extend_from_slice(growth.blocks());
            assert!(grown.grow(growth));
            assert_eq!(grown.size(), pushed.size());
            assert_eq!(grown.root(), pushed.root());
            assert_eq!(Some(grown.root()), full.root_at(next), "root at {next}");
        }
        // Growth computed from another frontier is refused.
        let stale = Frontier::default().growth(&[id(0)]);
        assert!(!grown.grow(stale));
        // One hash per whole block, numbered in order, equal to the frontier's.
        assert_eq!(completed.len() as u64, pushed.blocks());
        for (n, (block, hash)) in completed.iter().enumerate() {
            assert_eq!(*block, n as u64);
            assert_eq!(pushed.block_hash(*block), Some(*hash));
        }
        assert_eq!(pushed.block_hash(pushed.blocks()), None);
        // The block hashes and the tail's leaves rebuild the same frontier.
        let mut rebuilt = Frontier::default();
        for (_, hash) in &completed {
            assert!(rebuilt.push_block(*hash));
        }
        for i in pushed.blocks() * BLOCK..next {
            rebuilt.push(&id(i));
        }
        assert_eq!(rebuilt.size(), next);
        assert_eq!(rebuilt.root(), pushed.root());
        assert_ne!(next % BLOCK, 0);
        assert!(
            !rebuilt.push_block([0; 32]),
            "a block is refused after an unfinished one"
        );
        assert_eq!(Frontier::default().root(), merkle::empty_root());
    }

    #[test]
    fn a_damaged_log_gives_no_proof_rather_than_a_wrong_one() {
        let (store, tree, full) = log(300);
        // Block 1 loses an entry id to another.
        store
            .apply(vec![(tables::log_key(70), Some(id(9_999).0.to_vec()))])
            .expect("apply");
        assert_eq!(tree.inclusion(70, 300, id(70)), None);
        assert_eq!(tree.root_at(100), None);
        // Proofs that need no leaf of block 1 still come, and are right.
        let want = infallible(merkle::inclusion_proof(&full, 200, 300));
        assert_eq!(tree.inclusion(200, 300, id(200)).map(|p| p.hashes), want);
        // A missing key is damage too (block 2 was not read yet: blocks read are kept).
        store
            .apply(vec![(tables::log_key(130), None)])
            .expect("apply");
        assert_eq!(tree.inclusion(130, 300, id(130)), None);
        assert_eq!(tree.inclusion(200, 300, id(200)).map(|p| p.hashes), want);
    }

    /// A store that, on every range scan, tries to take the tree's write lock (what a commit
    /// takes to extend it) and counts the scans during which it could not.
    struct Probe {
        inner: MemoryStore,
        tree: std::sync::OnceLock<std::sync::Weak<LogTree>>,
        scans: std::sync::atomic::AtomicUsize,
        blocked: std::sync::atomic::AtomicUsize,
    }

    impl KvStore for Probe {
        fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
            self.inner.get(key)
        }
        fn scan_prefix(&self, prefix: &[u8]) -> crate::store::Scan<'_> {
            self.inner.scan_prefix(prefix)
        }
        fn scan_range(&self, from: &[u8], to: &[u8]) -> crate::store::Scan<'_> {
            use std::sync::atomic::Ordering::SeqCst;
            self.scans.fetch_add(1, SeqCst);
            if let Some(tree) = self.tree.get().and_then(std::sync::Weak::upgrade)
                && tree.frontier.try_write().is_err()
            {
                self.blocked.fetch_add(1, SeqCst);
            }
            self.inner.scan_range(from, to)
        }
        fn last_with_prefix(
            &self,
            prefix: &[u8],
        ) -> Result<Option<crate::store::Pair>, StoreError> {
            self.inner.last_with_prefix(prefix)
        }
        fn apply(&self, writes: Vec<crate::store::Write>) -> Result<(), StoreError> {
            self.inner.apply(writes)
        }
        fn flush(&self) -> Result<(), StoreError> {
            self.inner.flush()
        }
        fn size_on_disk(&self) -> Result<u64, StoreError> {
            self.inner.size_on_disk()
        }
    }

    #[test]
    fn a_commit_never_waits_for_a_proof_reading_the_log() {
        use std::sync::atomic::Ordering::SeqCst;
        let store = Arc::new(Probe {
            inner: MemoryStore::new(),
            tree: std::sync::OnceLock::new(),
            scans: 0.into(),
            blocked: 0.into(),
        });
        let (mut full, mut frontier) = (Tree::new(), Frontier::default());
        let writes = (0..300)
            .map(|i| {
                full.push(&id(i).0);
                frontier.push(&id(i));
                (tables::log_key(i), Some(id(i).0.to_vec()))
            })
            .collect();
        store.apply(writes).expect("apply");
        let tree = Arc::new(LogTree::new(frontier, store.clone()));
        let _ = store.tree.set(Arc::downgrade(&tree));
        // Proofs needing one and two older blocks, read from the log.
        let want = infallible(merkle::inclusion_proof(&full, 70, 300));
        assert_eq!(tree.inclusion(70, 300, id(70)).map(|p| p.hashes), want);
        let want = infallible(merkle::consistency_proof(&full, 100, 200));
        assert_eq!(tree.consistency(100, 200), want);
        assert!(
            store.scans.load(SeqCst) >= 2,
            "blocks were read from the log"
        );
        assert_eq!(
            store.blocked.load(SeqCst),
            0,
            "the tree was locked during a read"
        );
    }
}
