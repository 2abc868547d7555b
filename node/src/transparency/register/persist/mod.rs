//! The register's saved form, so that a start reads only the log after it: the file
//! [`FILE`] in the node's data directory. **The follower owns it**: it alone writes it (every
//! [`SAVE_EVERY`] entries it takes in, and when the node stops) and reads it (when it starts);
//! the ledger never sees it. Without it the register is rebuilt from the log, as on a node's
//! first start.
//!
//! What it holds: the log position `P` it describes (the register took in the entries at
//! arrival indexes `0..P`), the Merkle root of the arrival log at `P` (which binds it to this
//! node's log: a file from another store, or from a store restored from an older backup, does
//! not match), a digest of the genesis registrars whose statements it counted, and for each
//! collector what the register keeps of it (counts, the ids of its kept policy versions, its
//! standing, consultation facts, consents per zone and form). It holds no policy text: the
//! latest versions kept in full are read from the store by id when it is loaded, and no citizen
//! id, as the register holds none.
//!
//! **What is trusted.** The figures a loaded file holds are shown as they are (nothing before
//! `P` is read again), so a file is loaded only if this node wrote it, under this release's
//! counting rules: its checksum is a MAC keyed with [`FileKey`], derived from the node's secret
//! key (whoever can edit the file but not read `node.key` cannot forge it), and its header names
//! the version of the form ([`VERSION`]) and of the counting rules
//! ([`super::RULES_VERSION`]). Its contents are held to the bounds the register keeps in memory
//! ([`restore`]). `consentd check-store --full` rebuilds the register from the log and compares
//! ([`super::follower::compare_saved`]): what catches a file written with the node's key by
//! anyone else, or counted by a bug that kept the rules version.
//!
//! Layout: `MAGIC` (8 bytes) ‖ `VERSION` (4, big-endian) ‖ `RULES_VERSION` (4, big-endian) ‖
//! keyed BLAKE3 of the 16 bytes before it and of what follows (32) ‖ the postcard encoding of
//! [`Saved`]. It is written to a temporary file created anew (never through a link, mode 0600),
//! synced, renamed over the old one and the directory synced, so a crash leaves the old file or
//! the new one; it is read only if it is a regular file (not a link, a FIFO or a device). A file
//! that is missing, of another version or other rules, damaged or written with another key (its
//! checksum), of another log or another set of registrars, or outside the bounds is not used:
//! the follower says why (a warning) and reads the whole log.

mod codec;
mod file;
mod rebuild;
mod snapshot;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use consent_proto::keys::SecretKey;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

pub(super) use codec::{Unsaved, decode, encode};
pub(super) use file::{read, write};
pub(super) use rebuild::restore;
pub(super) use snapshot::saved;

/// The file in the data directory.
pub(crate) const FILE: &str = "transparency-register";
/// Entries the follower takes in between two saves: a start after a crash reads at most this
/// many more entries of the log than the node appended since its last clean stop or save.
pub(crate) const SAVE_EVERY: u64 = 16_384;
/// What the file starts with.
const MAGIC: &[u8; 8] = b"CLREGST\n";
/// The version of the form; a file of another version is not read (1: an unkeyed checksum and
/// no rules version, never loaded by this release).
const VERSION: u32 = 2;
/// Bytes before the encoded state: magic, version, rules version, MAC.
const HEADER: usize = 8 + 4 + 4 + 32;
/// The bytes the MAC covers before the encoded state: magic, version, rules version.
const LABEL: usize = 8 + 4 + 4;
/// Largest file read or written (a bigger one is not read; a register whose form would be
/// bigger is not saved).
const MAX_FILE_BYTES: u64 = 1 << 30;
/// The context of the derivation of [`FileKey`] from the node's secret key.
const KEY_CONTEXT: &str = "consent-ledger transparency register v1";

/// The key of the file's MAC, derived from the node's secret key (BLAKE3 `derive_key` with
/// [`KEY_CONTEXT`]): a file is loaded only if it was written with it. Zeroised when the last
/// clone goes; its `Debug` shows nothing of it.
#[derive(Clone)]
pub(crate) struct FileKey(Arc<Zeroizing<[u8; 32]>>);

impl FileKey {
    /// The key of the node whose secret key is `node_key`.
    pub(crate) fn of(node_key: &SecretKey) -> Self {
        let seed = node_key.to_seed();
        Self(Arc::new(Zeroizing::new(blake3::derive_key(
            KEY_CONTEXT,
            seed.as_ref(),
        ))))
    }

    /// The MAC of a file whose first [`LABEL`] bytes are `label` and whose state is `body`.
    fn mac(&self, label: &[u8], body: &[u8]) -> blake3::Hash {
        let key: &[u8; 32] = &self.0;
        let mut h = blake3::Hasher::new_keyed(key);
        h.update(label);
        h.update(body);
        h.finalize()
    }
}

impl std::fmt::Debug for FileKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FileKey(..)")
    }
}
/// The register as saved.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Saved {
    /// The register took in the arrival log's entries `0..log_size`.
    pub log_size: u64,
    /// The Merkle root of the arrival log at `log_size`.
    pub root: [u8; 32],
    /// [`registrars_digest`](snapshot::registrars_digest) of the registrars whose statements it
    /// counted.
    pub registrars: [u8; 32],
    /// Every collector, by feed id.
    collectors: Vec<SavedCollector>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SavedCollector {
    feed: [u8; 32],
    since_ms: u64,
    policy_ids: Vec<[u8; 32]>,
    versions: u64,
    standing: Vec<([u8; 32], SavedStanding)>,
    grants: u64,
    unrevoked: u64,
    starts: Vec<(u64, u64)>,
    ends: Vec<(u64, u64)>,
    revocations: u64,
    erase_revocations: u64,
    requests: Vec<u64>,
    scope_counts: Vec<([u8; 32], SavedScope)>,
    consultations: Vec<SavedDraft>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
enum SavedStanding {
    Accredited { valid_until: u64, at_ms: u64 },
    Suspended { reason: String, at_ms: u64 },
}

/// [`ScopeCounts`](super::ScopeCounts), with purposes and forms as their wire numbers.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SavedScope {
    every_zone: u64,
    zones: Vec<(u32, u64)>,
    floors: Vec<(i32, i32, u64)>,
    unfloored: Vec<(i32, u64)>,
}

/// [`DraftFacts`](consent_proto::consultation::DraftFacts).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SavedDraft {
    id: [u8; 32],
    collector: [u8; 32],
    version: u32,
    time_ms: u64,
    closes_ms: u64,
    gated: bool,
    superseded_ms: Option<u64>,
    first_approval: Option<SavedOutcome>,
    first_changes_required: Option<SavedOutcome>,
}

/// [`OutcomeFacts`](consent_proto::consultation::OutcomeFacts).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct SavedOutcome {
    id: [u8; 32],
    time_ms: u64,
    approved: bool,
}

/// The path of the file in `data_dir`.
pub(crate) fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE)
}
