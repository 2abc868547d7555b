//! Merkle trees over a node's arrival log, hashed as RFC 9162 §2.1 says: a leaf is
//! `SHA-256(0x00 ‖ data)`, an inner node `SHA-256(0x01 ‖ left ‖ right)`, and the tree over `n`
//! leaves splits at the largest power of two below `n`. The data of leaf `i` is the 32-byte id of
//! the entry at arrival index `i` (the id commits to the signed entry).
//!
//! Proofs are generated from any [`Subtrees`] source (a node keeps the hashes of perfect
//! subtrees) and verified by pure functions, the RFC's own algorithms. Proofs are at most
//! [`MAX_PROOF_HASHES`] hashes (trees up to 2^64 leaves need fewer).

use sha2::{Digest as _, Sha256};

/// A SHA-256 hash.
pub type Hash = [u8; 32];

/// The longest proof accepted.
pub const MAX_PROOF_HASHES: usize = 64;

/// Why a proof does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The index is not below the tree size, or the old size is above the new.
    #[error("the proof is about positions outside the tree")]
    OutOfRange,
    /// The proof has the wrong number of hashes for these sizes.
    #[error("the proof has the wrong length")]
    WrongLength,
    /// The hashes do not lead to the root.
    #[error("the proof does not lead to the root")]
    Mismatch,
}

/// A proof as it travels (byte strings): `None` if a hash is not 32 bytes or there are more than
/// [`MAX_PROOF_HASHES`].
pub fn hashes_from<T: AsRef<[u8]>>(list: &[T]) -> Option<Vec<Hash>> {
    if list.len() > MAX_PROOF_HASHES {
        return None;
    }
    list.iter().map(|h| h.as_ref().try_into().ok()).collect()
}

/// `SHA-256(0x00 ‖ data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// `SHA-256(0x01 ‖ left ‖ right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root of the empty tree: `SHA-256("")`.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// Hashes of perfect subtrees: `subtree(level, i)` covers leaves `i·2^level .. (i+1)·2^level`.
pub trait Subtrees {
    /// Why a hash could not be read.
    type Error;
    /// The hash of one perfect subtree that lies within the tree.
    fn subtree(&self, level: u32, index: u64) -> Result<Hash, Self::Error>;
}

/// The largest power of two below `n` (`n >= 2`).
fn split(n: u64) -> u64 {
    1u64 << (63 - (n - 1).leading_zeros())
}

/// The root of leaves `lo..hi` (`lo` aligned as the RFC's recursion leaves it).
fn range_root<S: Subtrees>(s: &S, lo: u64, hi: u64) -> Result<Hash, S::Error> {
    let n = hi - lo;
    if n.is_power_of_two() && lo.is_multiple_of(n) {
        let level = n.trailing_zeros();
        return s.subtree(level, lo >> level);
    }
    let k = split(n);
    Ok(node_hash(
        &range_root(s, lo, lo + k)?,
        &range_root(s, lo + k, hi)?,
    ))
}

/// The root of the first `size` leaves.
pub fn root<S: Subtrees>(s: &S, size: u64) -> Result<Hash, S::Error> {
    if size == 0 {
        return Ok(empty_root());
    }
    range_root(s, 0, size)
}

/// The audit path of leaf `index` in the tree of the first `size` leaves (RFC 9162 §2.1.3.1);
/// `None` when `index >= size`.
pub fn inclusion_proof<S: Subtrees>(
    s: &S,
    index: u64,
    size: u64,
) -> Result<Option<Vec<Hash>>, S::Error> {
    if index >= size {
        return Ok(None);
    }
    let mut out = Vec::new();
    let (mut m, mut lo, mut hi) = (index, 0u64, size);
    // Walk down, collecting siblings; the RFC lists them from the leaf up.
    while hi - lo > 1 {
        let k = split(hi - lo);
        if m < k {
            out.push(range_root(s, lo + k, hi)?);
            hi = lo + k;
        } else {
            out.push(range_root(s, lo, lo + k)?);
            lo += k;
            m -= k;
        }
    }
    out.reverse();
    Ok(Some(out))
}

/// The consistency proof from the first `old` leaves to the first `new` (RFC 9162 §2.1.4.1);
/// `None` unless `old <= new`. Empty when `old` is 0 or equal to `new`.
pub fn consistency_proof<S: Subtrees>(
    s: &S,
    old: u64,
    new: u64,
) -> Result<Option<Vec<Hash>>, S::Error> {
    if old > new {
        return Ok(None);
    }
    if old == 0 || old == new {
        return Ok(Some(Vec::new()));
    }
    let mut out = Vec::new();
    let (mut m, mut lo, hi) = (old, 0u64, new);
    let mut hi = hi;
    let mut whole = true;
    loop {
        let n = hi - lo;
        if m == n {
            if !whole {
                out.push(range_root(s, lo, hi)?);
            }
            break;
        }
        let k = split(n);
        if m <= k {
            out.push(range_root(s, lo + k, hi)?);
            hi = lo + k;
        } else {
            out.push(range_root(s, lo, lo + k)?);
            lo += k;
            m -= k;
            whole = false;
        }
    }
    out.reverse();
    Ok(Some(out))
}

/// Checks that `leaf` (a leaf hash) is at `index` in the tree of `size` leaves with `root`
/// (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if root_from_inclusion(leaf, index, size, proof)? != *root {
        return Err(ProofError::Mismatch);
    }
    Ok(())
}

/// The root an audit path leads to from `leaf` (a leaf hash) at `index` of `size` leaves: RFC
/// 9162 §2.1.3.2's walk, refusing a place outside the tree and a path of the wrong length for
/// that place.
pub fn root_from_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
) -> Result<Hash, ProofError> {
    if index >= size {
        return Err(ProofError::OutOfRange);
    }
    if proof.len() > MAX_PROOF_HASHES {
        return Err(ProofError::WrongLength);
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            return Err(ProofError::WrongLength);
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::WrongLength);
    }
    Ok(r)
}

/// Checks that the tree of `new` leaves with `new_root` extends the tree of `old` leaves with
/// `old_root` (RFC 9162 §2.1.4.2). Any tree extends the empty one.
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if old > new {
        return Err(ProofError::OutOfRange);
    }
    if proof.len() > MAX_PROOF_HASHES {
        return Err(ProofError::WrongLength);
    }
    if old == new {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength);
        }
        return if old_root == new_root {
            Ok(())
        } else {
            Err(ProofError::Mismatch)
        };
    }
    if old == 0 {
        return if proof.is_empty() {
            Ok(())
        } else {
            Err(ProofError::WrongLength)
        };
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let Some((first, rest)) = path.split_first() else {
        return Err(ProofError::WrongLength);
    };
    let (mut f, mut s) = (old - 1, new - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if s == 0 {
            return Err(ProofError::WrongLength);
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::WrongLength);
    }
    if fr != *old_root || sr != *new_root {
        return Err(ProofError::Mismatch);
    }
    Ok(())
}

/// The perfect-subtree hashes of a growing log, level by level (level 0: leaf hashes), for
/// whoever holds the whole log: a node, an auditor replaying it, a test.
#[derive(Debug, Clone, Default)]
pub struct Tree {
    levels: Vec<Vec<Hash>>,
}

impl Tree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Leaves so far.
    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    /// Appends a leaf (its data, e.g. an entry id).
    pub fn push(&mut self, data: &[u8]) {
        self.push_hash(leaf_hash(data));
    }

    /// Appends a leaf given as its hash. A tree whose "leaves" are the roots of consecutive
    /// perfect subtrees of one height holds the upper levels of the tree over their leaves.
    pub fn push_hash(&mut self, mut hash: Hash) {
        let mut level = 0;
        loop {
            if self.levels.len() == level {
                self.levels.push(Vec::new());
            }
            let row = &mut self.levels[level];
            row.push(hash);
            let n = row.len();
            if n % 2 == 1 {
                return;
            }
            hash = node_hash(&row[n - 2], &row[n - 1]);
            level += 1;
        }
    }

    /// Forgets every leaf from `size` on (nothing if the tree is smaller).
    pub fn truncate(&mut self, size: u64) {
        for (level, row) in self.levels.iter_mut().enumerate() {
            row.truncate((size >> level) as usize);
        }
    }

    /// The root of the first `size` leaves (`None` above the size).
    pub fn root_at(&self, size: u64) -> Option<Hash> {
        (size <= self.size()).then(|| match root(self, size) {
            Ok(h) => h,
            Err(never) => match never {},
        })
    }
}

impl Subtrees for Tree {
    type Error = std::convert::Infallible;
    fn subtree(&self, level: u32, index: u64) -> Result<Hash, Self::Error> {
        // Callers ask only for subtrees within the tree, which are all complete here.
        Ok(self
            .levels
            .get(level as usize)
            .and_then(|row| row.get(index as usize))
            .copied()
            .unwrap_or([0; 32]))
    }
}

#[cfg(test)]
mod tests;
