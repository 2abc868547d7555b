//! The wire protocol between nodes: names (versioned, and bound to the network's genesis so that
//! nodes of another network cannot even negotiate them) and the pull-sync messages.

use serde::{Deserialize, Serialize};

/// Entries one sync response carries at most.
pub const MAX_RANGE: u32 = 256;
/// Ids one `Entries` request names at most.
pub const MAX_IDS: usize = 64;
/// Heads one response carries at most (a two-byte bucket holds ~15 feeds per million).
pub const MAX_HEADS: usize = 4096;
/// Largest sync request, bytes.
pub const MAX_REQUEST_BYTES: u64 = 16 * 1024;
/// Largest sync response, bytes (MAX_RANGE entries of at most 8 KiB, plus framing).
pub const MAX_RESPONSE_BYTES: u64 = (MAX_RANGE as u64) * 8 * 1024 + 16 * 1024;
/// Largest gossip message, bytes (one entry).
pub const MAX_GOSSIP_BYTES: usize = consent_proto::limits::MAX_ENTRY_BYTES + 1024;

/// Largest gossipsub frame read; a message above [`MAX_GOSSIP_BYTES`] in a frame up to this size
/// is seen and penalised as invalid.
pub const MAX_GOSSIP_FRAME_BYTES: usize = 256 * 1024;

/// The first 16 hex digits of the genesis digest: enough to keep networks apart in names.
fn network(genesis_digest: &str) -> &str {
    &genesis_digest[..genesis_digest.len().min(16)]
}

/// The gossipsub topic new entries are pushed on.
pub fn topic(genesis_digest: &str) -> String {
    format!("/consent-ledger/{}/entries/1", network(genesis_digest))
}

/// The request-response protocol for pulling entries.
pub fn sync_protocol(genesis_digest: &str) -> String {
    format!("/consent-ledger/{}/sync/1", network(genesis_digest))
}

/// The Kademlia protocol (a separate DHT per network).
pub fn kad_protocol(genesis_digest: &str) -> String {
    format!("/consent-ledger/{}/kad/1", network(genesis_digest))
}

/// What identify announces; a peer announcing anything else is disconnected.
pub fn identify_version(genesis_digest: &str) -> String {
    format!("/consent-ledger/{}/1.0.0", network(genesis_digest))
}

/// A pull request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SyncRequest {
    /// Entries of `feed` from `from_seq`, at most `limit` (capped at [`MAX_RANGE`]).
    Range {
        /// Feed id.
        feed: [u8; 32],
        /// First seq.
        from_seq: u64,
        /// Most entries.
        limit: u32,
    },
    /// Entries by id (at most [`MAX_IDS`]).
    Entries {
        /// Entry ids.
        ids: Vec<[u8; 32]>,
    },
    /// Several feed ranges at once (at most [`MAX_IDS`] feeds, [`MAX_RANGE`] entries in all).
    Ranges {
        /// `(feed, from_seq)` pairs.
        wants: Vec<([u8; 32], u64)>,
    },
    /// The equivocation proofs (both entries) of frozen feeds (at most [`MAX_IDS`] feeds).
    Proofs {
        /// Feed ids.
        feeds: Vec<[u8; 32]>,
    },
    /// Anti-entropy: the 256 child digests under a feed-id prefix of 0 or 1 bytes.
    Digests {
        /// The prefix.
        prefix: Vec<u8>,
    },
    /// Anti-entropy: the heads of the feeds under a feed-id prefix of 1 or 2 bytes.
    Heads {
        /// The prefix.
        prefix: Vec<u8>,
    },
}

/// A pull response: encoded `SignedEntry`s, in feed order for a range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SyncResponse {
    /// The entries the node holds.
    Entries(Vec<Vec<u8>>),
    /// 256 child digests of 16 bytes.
    Digests(Vec<[u8; 16]>),
    /// `(feed, seq, head id, frozen)` for each feed under the prefix (at most [`MAX_HEADS`]).
    Heads(Vec<crate::ledger::FeedHead>),
    /// The request was refused (too large, malformed).
    Refused(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_bound_to_the_network() {
        let a = "0123456789abcdef0123";
        let b = "fedcba9876543210fedc";
        assert_ne!(topic(a), topic(b));
        assert_ne!(sync_protocol(a), sync_protocol(b));
        assert!(sync_protocol(a).starts_with("/consent-ledger/0123456789abcdef/"));
    }
}
