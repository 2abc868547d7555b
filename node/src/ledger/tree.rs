//! The Merkle tree over this node's arrival log ([`consent_proto::merkle`]; leaf `i` is the id of
//! the entry at arrival index `i`). It lives in memory (about 64 bytes per entry), is rebuilt
//! in the start-up check's pass over the log, and grows with every group commit, under the same lock
//! that makes a group visible to checks — so a view sees the tree and the store agree.

use std::sync::RwLock;

use consent_proto::ids::EntryId;
use consent_proto::merkle::{self, Hash, Tree};

/// The log's tree.
#[derive(Debug, Default)]
pub struct LogTree(RwLock<Tree>);

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

impl LogTree {
    /// The tree over the log so far (the start-up check builds it: `check::structure_and_tree`).
    pub fn new(tree: Tree) -> Self {
        Self(RwLock::new(tree))
    }

    /// Appends the entries of a commit, in arrival order.
    pub fn extend(&self, ids: &[EntryId]) {
        if let Ok(mut tree) = self.0.write() {
            for id in ids {
                tree.push(&id.0);
            }
        }
    }

    /// Leaves in the tree.
    pub fn size(&self) -> u64 {
        self.0.read().map_or(0, |t| t.size())
    }

    /// The root of the first `size` leaves.
    pub fn root_at(&self, size: u64) -> Option<Hash> {
        self.0.read().ok()?.root_at(size)
    }

    /// The proof that leaf `index` is in the tree of `size` leaves (`None` out of range).
    pub fn inclusion(&self, index: u64, size: u64, entry: EntryId) -> Option<Inclusion> {
        let tree = self.0.read().ok()?;
        if size > tree.size() {
            return None;
        }
        let hashes = infallible(merkle::inclusion_proof(&*tree, index, size))?;
        Some(Inclusion {
            index,
            size,
            entry,
            hashes,
        })
    }

    /// The proof that the tree of `new` leaves extends the tree of `old` (`None` out of range).
    pub fn consistency(&self, old: u64, new: u64) -> Option<Vec<Hash>> {
        let tree = self.0.read().ok()?;
        if new > tree.size() {
            return None;
        }
        infallible(merkle::consistency_proof(&*tree, old, new))
    }
}

fn infallible<T>(r: Result<T, std::convert::Infallible>) -> T {
    match r {
        Ok(v) => v,
        Err(never) => match never {},
    }
}
