//! The wire protocol between nodes: names (versioned, and bound to the network's genesis so that
//! nodes of another network cannot even negotiate them) and the pull-sync messages.

use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use crate::ledger::FeedHead;

/// Entries one sync response carries at most.
pub const MAX_RANGE: u32 = 256;
/// Ids one `Entries` request names at most.
pub const MAX_IDS: usize = 64;
/// Heads one response carries at most (a two-byte bucket holds ~15 feeds per million). A full
/// page is followed by a request for the next (`Heads { after }`), so however many feeds share
/// a prefix, every head is compared.
pub const MAX_HEADS: usize = 4096;
/// Bytes of one anti-entropy digest on the wire (the first bytes of the XOR of head digests).
pub const DIGEST_BYTES: usize = 8;
/// Bytes of one head on the wire: feed (32) ‖ seq (8, BE) ‖ head id (32) ‖ frozen (1).
pub const HEAD_BYTES: usize = 73;
/// Largest sync request, bytes (two checkpoint notes of evidence fit).
pub const MAX_REQUEST_BYTES: u64 = 40 * 1024;
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

/// The request-response protocol for pulling entries. Version 2: `Heads` pages with `after`.
/// Any change to what travels in it renames it; nodes that speak only another version cannot
/// negotiate it and do not sync with each other.
pub fn sync_protocol(genesis_digest: &str) -> String {
    format!("/consent-ledger/{}/sync/2", network(genesis_digest))
}

/// The Kademlia protocol (a separate DHT per network).
pub fn kad_protocol(genesis_digest: &str) -> String {
    format!("/consent-ledger/{}/kad/1", network(genesis_digest))
}

/// What identify announces; a peer announcing anything else is disconnected. Its major version
/// follows the sync protocol's: nodes of releases that cannot sync with each other (a node of
/// `/sync/1` and one of `/sync/2`) part at once instead of gossiping without syncing.
pub fn identify_version(genesis_digest: &str) -> String {
    format!("/consent-ledger/{}/2.0.0", network(genesis_digest))
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
    /// Anti-entropy: the heads of the feeds under a feed-id prefix of 1 or 2 bytes, in feed-id
    /// order, at most [`MAX_HEADS`], starting after feed `after` (the last of a full page).
    Heads {
        /// The prefix.
        prefix: Vec<u8>,
        /// The last feed of the page before (none: from the start).
        after: Option<[u8; 32]>,
    },
    /// Witnessing: the responder's latest signed checkpoint (`at: None`), or one it signs now for
    /// its tree at an earlier size, with a consistency proof from `since`.
    Checkpoint {
        /// An earlier tree size, or the latest.
        at: Option<u64>,
        /// Prove consistency from this size (0: no proof).
        since: u64,
    },
    /// Witnessing: the requester's cosignature of the responder's checkpoint (a signed note).
    Cosign {
        /// The note with the cosignature lines.
        note: String,
    },
    /// Evidence that a node forked its log: two notes it signed for one size with different roots.
    Fork {
        /// One note.
        first: String,
        /// The other.
        second: String,
    },
}

/// A pull response. Byte strings travel as CBOR byte strings (not arrays of numbers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SyncResponse {
    /// Encoded `SignedEntry`s the node holds, in feed order for a range.
    Entries(Vec<ByteBuf>),
    /// 256 child digests of [`DIGEST_BYTES`] each, concatenated.
    Digests(ByteBuf),
    /// Heads of [`HEAD_BYTES`] each, concatenated (at most [`MAX_HEADS`]).
    Heads(ByteBuf),
    /// A signed checkpoint note and a consistency proof (32-byte hashes).
    Checkpoint {
        /// The note.
        note: String,
        /// The proof from the size asked.
        proof: Vec<ByteBuf>,
    },
    /// Taken.
    Done,
    /// The request was refused (too large, malformed, over the rate).
    Refused(String),
}

/// 256 child digests in wire form.
pub fn digests_to_wire(digests: &[[u8; 16]]) -> ByteBuf {
    ByteBuf::from(
        digests
            .iter()
            .flat_map(|d| d[..DIGEST_BYTES].iter().copied())
            .collect::<Vec<u8>>(),
    )
}

/// 256 child digests from wire form (`None` unless exactly 256).
pub fn digests_from_wire(bytes: &[u8]) -> Option<Vec<[u8; DIGEST_BYTES]>> {
    if bytes.len() != 256 * DIGEST_BYTES {
        return None;
    }
    bytes
        .chunks_exact(DIGEST_BYTES)
        .map(|c| c.try_into().ok())
        .collect()
}

/// Heads in wire form.
pub fn heads_to_wire(heads: &[FeedHead]) -> ByteBuf {
    let mut out = Vec::with_capacity(heads.len() * HEAD_BYTES);
    for (feed, seq, head, frozen) in heads {
        out.extend_from_slice(feed);
        out.extend_from_slice(&seq.to_be_bytes());
        out.extend_from_slice(head);
        out.push(u8::from(*frozen));
    }
    ByteBuf::from(out)
}

/// Heads from wire form (`None` if malformed or over [`MAX_HEADS`]).
pub fn heads_from_wire(bytes: &[u8]) -> Option<Vec<FeedHead>> {
    if !bytes.len().is_multiple_of(HEAD_BYTES) || bytes.len() / HEAD_BYTES > MAX_HEADS {
        return None;
    }
    bytes
        .chunks_exact(HEAD_BYTES)
        .map(|c| {
            let feed: [u8; 32] = c[..32].try_into().ok()?;
            let seq = u64::from_be_bytes(c[32..40].try_into().ok()?);
            let head: [u8; 32] = c[40..72].try_into().ok()?;
            let frozen = match c[72] {
                0 => false,
                1 => true,
                _ => return None,
            };
            Some((feed, seq, head, frozen))
        })
        .collect()
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

    #[test]
    fn heads_and_digests_round_trip_and_reject_bad_lengths() {
        let heads = vec![
            ([1u8; 32], 7, [2u8; 32], false),
            ([3u8; 32], 0, [4u8; 32], true),
        ];
        let wire = heads_to_wire(&heads);
        assert_eq!(wire.len(), 2 * HEAD_BYTES);
        assert_eq!(heads_from_wire(&wire), Some(heads));
        assert_eq!(heads_from_wire(&wire[1..]), None);
        let mut bad = wire.to_vec();
        bad[HEAD_BYTES - 1] = 2;
        assert_eq!(heads_from_wire(&bad), None);
        let digests = vec![[9u8; 16]; 256];
        let wire = digests_to_wire(&digests);
        assert_eq!(wire.len(), 256 * DIGEST_BYTES);
        assert_eq!(
            digests_from_wire(&wire),
            Some(vec![[9u8; DIGEST_BYTES]; 256])
        );
        assert_eq!(digests_from_wire(&wire[..8]), None);
    }

    #[test]
    fn byte_strings_cost_one_byte_each_on_the_wire() {
        let response = SyncResponse::Digests(digests_to_wire(&[[0u8; 16]; 256]));
        let encoded = cbor4ii::serde::to_vec(Vec::new(), &response).expect("encodes");
        assert!(encoded.len() < 256 * DIGEST_BYTES + 32, "{}", encoded.len());
    }
}
