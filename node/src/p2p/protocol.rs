//! The wire protocol between nodes: names (versioned, and bound to the network's genesis so that
//! nodes of another network cannot even negotiate them) and the pull-sync messages.
//!
//! This page specifies what travels between nodes. With the `consent-proto` crate docs (entries,
//! ids, validation) it is meant to be enough to write a node in another language. The numbers
//! are this module's constants, [`super::discipline`]'s and [`consent_proto::limits`]'.
//!
//! # Transport and names
//!
//! libp2p over TCP (Noise, then Yamux) and over QUIC. A node's libp2p identity is its Ed25519
//! node key: the peer id names the key whose text form (`node1…`) signs its checkpoints and
//! receipts. In the names below, `<network>` is the first 16 characters of the network's genesis
//! digest: the lowercase hex of BLAKE3 over `"consent-ledger/genesis/v1\n"`, the network id,
//! `"\n"`, then each registrar feed id in its text form (`reg1…`), sorted, each followed by
//! `"\n"` and, when the genesis has `[consultation]`,
//! `"consultation widening_min_days=" N " objection_threshold=" K "\n"`
//! ([`crate::genesis::Genesis::digest`]).
//!
//! | what | name |
//! |---|---|
//! | identify `protocolVersion` | `/consent-ledger/<network>/5.0.0` |
//! | gossipsub topic (push of new entries) | `/consent-ledger/<network>/entries/1` |
//! | request-response (pull, anti-entropy, witnessing) | `/consent-ledger/<network>/sync/5` |
//! | Kademlia | `/consent-ledger/<network>/kad/1` |
//!
//! Nodes that cannot speak with each other part at once ([`compatibility`]): a peer whose
//! identify `protocolVersion` is anything else (another network, or another version of this
//! network's protocol), or whose identify `protocols` do not list this node's sync protocol, is
//! disconnected and removed from Kademlia, with one warning naming the peer, why, and both
//! versions; a sync request that fails because the peer does not support the protocol is treated
//! the same. Each refusal counts in `consent_peers_refused_total{reason}` (`other-network`,
//! `other-version`, `no-common-sync`). The identify major version follows the sync protocol's, so
//! that nodes of releases that cannot sync with each other part at once. Any change to what
//! travels between nodes renames the sync protocol and raises the identify major version
//! (`/sync/2` paged `Heads` with `after`; `/sync/3`: entries may carry scopes, which a node of
//! `/sync/2` would find non-canonical and blame the relay for; `/sync/4`: entries may carry
//! consultations, stances, responses and outcomes, likewise unknown to a node of `/sync/3`;
//! `/sync/5`: entries may carry delegations, undelegations, endorsements and `on_behalf`, unknown
//! to a node of `/sync/4`); see the consent-proto crate docs, "Versioning".
//!
//! # Push: gossipsub
//!
//! The topic is used as its own hash (gossipsub's identity topic). A message on it is one
//! encoded `SignedEntry` (the protobuf bytes exactly as signed), at most [`MAX_GOSSIP_BYTES`]
//! (9,216). A longer message on the topic, in a frame of up to [`MAX_GOSSIP_FRAME_BYTES`]
//! (256 KiB, which is read), is invalid and penalised; a longer frame is dropped. Messages are
//! signed by their publisher (gossipsub's strict signing); a message's id is the BLAKE3 hash of
//! its data, so the same entry from two nodes is one message. A node forwards a message only after its write path took the entry:
//! accepted, a duplicate, or an equivocation (forwarding that spreads the proof). An entry held
//! pending is forwarded once what it waits for arrives. An invalid entry is rejected and counts
//! against the peer that relayed it; an entry refused for a reason that does not show the relay
//! misbehaved (`Rejection::blameless`: a clock ahead of ours, a feed frozen here, another branch
//! of a forked feed) is ignored, not forwarded, and costs the relay nothing.
//!
//! # Pull: the sync protocol
//!
//! ## Framing
//!
//! One request per stream. The requester opens a stream, negotiates the sync protocol name,
//! writes one CBOR data item (RFC 8949), the request, and closes its writing side. The responder
//! reads to the end of the stream, at most [`MAX_REQUEST_BYTES`] (40,960), decodes the request,
//! writes one CBOR item, the response, and closes the stream. The requester reads at most
//! [`MAX_RESPONSE_BYTES`] (2,113,536: 256 entries of 8 KiB, plus 16 KiB). Bytes past a limit are
//! not read, so an oversized message is cut short and does not decode. Send nothing after the
//! item (this node ignores trailing bytes; do not rely on it). A request that does not decode
//! (including one naming a variant this node does not know, or one cut at the limit) is dropped
//! unanswered and counts as garbage against its sender. A response that does not decode counts
//! as garbage against the responder, unless it merely ends early (no offence: an overloaded peer
//! may close the stream without answering; an oversized response looks the same). A response not
//! received within 20 s fails the request; the peer is compared again later.
//!
//! ## Encoding: serde's data model in CBOR
//!
//! The messages are [`SyncRequest`] and [`SyncResponse`] below, serialised by serde with its
//! default, externally tagged, representation of enums, through `cbor4ii`. In CBOR:
//!
//! | Rust | CBOR written | also read |
//! |---|---|---|
//! | unit variant (`Done`) | the variant name as a text string: `"Done"` | |
//! | struct variant (`Range { feed, from_seq, limit }`) | a map of exactly one pair, head byte `0xa1`: the variant name (text) → a map from each field name (text) to its value, in declaration order | fields in any order; unknown field names are skipped; an indefinite-length inner map |
//! | newtype variant (`Entries(…)`, `Digests(…)`, `Heads(…)`, `Refused(…)`) | a map of exactly one pair (`0xa1`): the variant name → the value | |
//! | `u32`, `u64` | an unsigned integer (major type 0), shortest form | longer forms up to the type's width; negative or too large values do not decode |
//! | `[u8; 32]` (feed and entry ids) | an **array of 32 unsigned integers** 0..=255 (`0x98 0x20`, then each byte as `0x00`..`0x17`, or `0x18 xx` from 24 up) — **not** a byte string | only a definite-length array of exactly 32, each integer in the 1- or 2-byte form |
//! | `Vec<u8>` (`prefix`) | an array of unsigned integers, not a byte string | |
//! | `ByteBuf` (entries, digests, heads, proof hashes) | a byte string (major type 2) | an indefinite-length (chunked) byte string; an array does not decode |
//! | `String` (notes, reasons) | a text string (UTF-8) | |
//! | `Option<T>` (`after`, `at`) | `null` (`0xf6`) for none, else the value itself, unwrapped | `undefined` (`0xf7`) as none; a missing `after` or `at` field as none |
//! | `Vec<T>` | a definite-length array | an indefinite-length array |
//! | `([u8; 32], u64)` (a `Ranges` want) | an array of 2: the id, the seq | only a definite-length array of 2 |
//!
//! The outer map of a variant must have the head byte `0xa1` (definite length, one pair); a text
//! string names only a unit variant. Variant and field names are case-sensitive text strings,
//! exactly as in the Rust source below. A field given twice, or a missing field other than an
//! `Option`, does not decode.
//!
//! ## Messages
//!
//! | request | fields | cost | answer |
//! |---|---|---|---|
//! | `Range` | `feed`, `from_seq`, `limit` | 1 | `Entries`: the responder's entries of `feed` at seq ≥ `from_seq`, ascending, at most min(`limit`, 256) |
//! | `Entries` | `ids`: at most 64 entry ids | 1 | `Entries`: those it holds, in the order asked (the others left out) |
//! | `Ranges` | `wants`: at most 64 `[feed, from_seq]` | 1 | `Entries`: for each want in order, the feed's entries from `from_seq`, ascending, until 256 in all |
//! | `Proofs` | `feeds`: at most 64 feed ids | 1 | `Entries`: for each feed in order, each equivocation proof it keeps (one per seq, by seq): the entry it held at that seq first, then the conflicting one; no more feeds once 256 entries are reached |
//! | `Digests` | `prefix`: 0 or 1 bytes | 20 (0 bytes), 4 (1 byte) | `Digests`: 256 child digests of 8 bytes, concatenated (2,048 bytes) |
//! | `Heads` | `prefix`: 1 or 2 bytes; `after`: a feed id or null | 2 | `Heads`: at most 4,096 heads of 73 bytes, concatenated (see "Heads" below) |
//! | `Checkpoint` | `at`: a tree size or null; `since`: a tree size | 2 (`at` null), 10 (`at` set: the responder signs a note) | `Checkpoint { note, proof }`: its latest signed checkpoint note (`at` null) or one it signs now for its tree at size `at`, and the RFC 9162 consistency proof from size `since` to the note's size, as 32-byte hashes (none for `since` = 0) |
//! | `Cosign` | `note`: a checkpoint note with the requester's cosignature, at most 16 KiB | 4 | `Done` when a cosignature of the responder's latest checkpoint was taken (from a member, or without a member list from the sending node's own key) |
//! | `Fork` | `first`, `second`: two notes of one origin for one size with different roots, at most 16 KiB each | 4 | `Done` when the evidence is new or known |
//!
//! `Entries` items are encoded `SignedEntry`s, each a byte string. Any request may instead be
//! answered `Refused(reason)`, a text the requester only logs (a `Refused` answer is no offence).
//! A request that breaks the table (more than 64 ids, wants or feeds; a prefix of another length;
//! a note over 16 KiB) is answered `Refused` and counts as a bad message against the requester.
//! A `Digests` or `Heads` request answered with another kind, and a malformed `Digests`, `Heads`
//! or `Checkpoint` answer (a wrong length; proof hashes that are not 32 bytes), count as a bad
//! message against the responder; other unexpected answers are ignored.
//!
//! ## Examples (CBOR diagnostic notation, then hex)
//!
//! Ids are shown as the 32 bytes `00 01 … 1f`, `[0, 1, …, 31]`, which show both integer forms:
//! `F` below stands for the array `[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17,
//! 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31]`, whose encoding is
//! `9820 000102030405060708090a0b0c0d0e0f1011121314151617 1818 1819 181a 181b 181c 181d 181e 181f`.
//!
//! ```text
//! {"Range": {"feed": F, "from_seq": 5, "limit": 256}}
//!   a1 65 52616e6765 a3 64 66656564 F 68 66726f6d5f736571 05 65 6c696d6974 190100
//! {"Entries": {"ids": [F]}}
//!   a1 67 456e7472696573 a1 63 696473 81 F
//! {"Ranges": {"wants": [[F, 0]]}}
//!   a1 66 52616e676573 a1 65 77616e7473 81 82 F 00
//! {"Proofs": {"feeds": [F]}}
//!   a1 66 50726f6f6673 a1 65 6665656473 81 F
//! {"Digests": {"prefix": []}}
//!   a1 67 44696765737473 a1 66 707265666978 80
//! {"Digests": {"prefix": [171]}}
//!   a1 67 44696765737473 a1 66 707265666978 81 18ab
//! {"Heads": {"prefix": [171, 205], "after": null}}
//!   a1 65 4865616473 a2 66 707265666978 82 18ab 18cd 65 6166746572 f6
//! {"Heads": {"prefix": [0, 1], "after": F}}
//!   a1 65 4865616473 a2 66 707265666978 82 00 01 65 6166746572 F
//! {"Checkpoint": {"at": null, "since": 0}}
//!   a1 6a 436865636b706f696e74 a2 62 6174 f6 65 73696e6365 00
//! {"Checkpoint": {"at": 1000, "since": 900}}
//!   a1 6a 436865636b706f696e74 a2 62 6174 1903e8 65 73696e6365 190384
//! {"Cosign": {"note": "…"}}
//!   a1 66 436f7369676e a1 64 6e6f7465 <text string>
//! {"Fork": {"first": "…", "second": "…"}}
//!   a1 64 466f726b a2 65 6669727374 <text string> 66 7365636f6e64 <text string>
//! ```
//!
//! Answers:
//!
//! ```text
//! {"Entries": [h'0a…', h'0a…']}           a1 67 456e7472696573 82 <byte string> <byte string>
//! {"Entries": []}                         a1 67 456e7472696573 80
//! {"Digests": h'…' (2,048 bytes)}         a1 67 44696765737473 590800 <2,048 bytes>
//! {"Heads": h'…' (73 × n bytes)}          a1 65 4865616473 <byte string>
//! {"Checkpoint": {"note": "…", "proof": [h'…' (32 bytes), …]}}
//!   a1 6a 436865636b706f696e74 a2 64 6e6f7465 <text string> 65 70726f6f66 <array of byte strings>
//! "Done"                                  64 446f6e65
//! {"Refused": "rate limited; slow down"}  a1 67 52656675736564 77 72617465206c696d697465643b20736c6f7720646f776e
//! ```
//!
//! ## Rates and offences
//!
//! Each peer has a token bucket for sync requests: 2,000 cost units a second, a burst of 4,000
//! (`REQUEST_RATE`, `REQUEST_BURST` in [`super::discipline`]); a request over it is answered
//! `Refused("rate limited; slow down")` and counts as over-rate. This node paces its own requests
//! to each peer at half that (1,000 a second, a burst of 2,000), at most 32 in flight, so an
//! honest node never trips a peer's limit. Pushed entries: 20,000 a second, a burst of 40,000 per
//! peer (`GOSSIP_RATE`, `GOSSIP_BURST`); above that they are ignored: not processed, not
//! forwarded, not penalised. Entries refused as belonging to another branch of a forked feed
//! (`wrong-prev`, `unproven-conflict`): 50 a second, a burst of 500 per peer (`BRANCH_RATE`,
//! `BRANCH_BURST`); never an offence, but while the peer's budget is spent its pushes are ignored
//! and the entries in its sync answers are not processed (anti-entropy fetches what is valid
//! later). Offences weigh: invalid entry 20, garbage 20, bad message 10, over-rate 2; a peer's
//! score halves every 60 s and at 100 the peer is banned for 10 minutes. Gossipsub's own peer
//! score (fed with this one) bans a peer below -80, except a member node of the genesis list or
//! a bootstrap peer: below -80 gossipsub ignores its gossip until its score recovers, sync with
//! it goes on, and only its offence score bans it (`discipline::gossip_sentence`). A message
//! signed by this node that a peer sends back (one it published before a restart) is taken like
//! any other, not held against the peer. A node dials its bootstrap peers, and the member nodes
//! whose address Kademlia knows, again every 30 s while it is not connected to them and they are
//! not banned or blocked (`REDIAL_EVERY`).
//!
//! # Anti-entropy
//!
//! **Head digest.** One feed's contribution, 16 bytes: for a feed that is not frozen,
//! `BLAKE3(feed id ‖ head seq (8 bytes, big-endian) ‖ head entry id ‖ 0x00)[..16]`; for a frozen
//! feed, `BLAKE3(feed id ‖ 0x01)[..16]` (no domain prefix in either; see
//! [`crate::ledger::head_digest`]). A frozen feed leaves its head out so that nodes holding
//! different branches of it agree once both have frozen it; the flag is in so that a node that
//! missed the equivocation finds the feed differing.
//!
//! **`Digests { prefix }`.** Child `i` (0..=255) under `prefix` is the XOR of the head digests of
//! the feeds whose id starts with `prefix ‖ i` (16 zero bytes when there are none). The answer
//! carries the first [`DIGEST_BYTES`] (8) bytes of each child, children in order.
//!
//! **`Heads { prefix, after }`.** The answer is the responder's feeds whose id starts with
//! `prefix`, ascending by id (unsigned bytes), each strictly after `after` when it is set, at
//! most [`MAX_HEADS`] (4,096); each head is 73 bytes: feed id (32) ‖ head seq (8, big-endian) ‖
//! head entry id (32) ‖ frozen (`0x00` or `0x01`). A page shorter than 4,096 is the last; after a
//! full page the requester asks for the next with `after` = the page's last feed id. A page that
//! is not a whole number of heads, longer than 4,096, with another frozen byte, a feed outside
//! the prefix, not strictly ascending, or not after `after`, is a bad message.
//!
//! **A round** (what this node does; only the answers' rules above are binding on a peer). When
//! a peer subscribes to the topic, every 30 s, and after pulled entries are accepted or an
//! exchange failed (then only once this node's requests to that peer are all answered), a node
//! asks the peer `Digests { [] }`. For each child where the peer's digest differs from its own (a
//! zero digest too: XOR digests can be ground to zero, so zero is not taken to mean empty): if its own is zero, `Heads { [i] }`; otherwise `Digests { [i] }` and then, when
//! more than 16 of its children differ, `Heads { [i] }` (the whole bucket, paged), else for each
//! differing child `j`, `Heads { [i, j] }`. For each of the peer's heads: a feed frozen there and
//! not here is asked for with `Proofs`; a feed frozen here is not pulled further; an unknown feed
//! is pulled from seq 0, a feed the peer is ahead in from this node's head seq + 1, and a feed
//! where both hold another entry at the same seq from that seq (which shows the fork). Pulls go
//! out as `Ranges` of at most 64 wants and `Proofs` of at most 64 feeds. A full page of one
//! feed's entries (256) is followed by a `Range` from the next seq; a batch of ranges cut at 256
//! entries, by a new round.
//!
//! # Another branch of a forked feed
//!
//! Some refusals depend on which branch of a feed a node holds, not on the sender: `wrong-prev`
//! (an entry at this node's head seq + 1 whose `prev` is not this node's head) and
//! `unproven-conflict` (another entry at a seq this node holds, not signed by the author's keys as
//! of the seq before it on this node's branch). Each names `fetch_from`, on this node's branch:
//! for `wrong-prev`, the seq of the inception or of the latest `Rotation` at or before the head
//! seq; for `unproven-conflict` at seq `s`, the seq of the inception or of the latest `Rotation`
//! at or before `s − 1`; 0 when `s` is 0 or when this node has a hole below its head. The
//! sender's entries from there on either show the fork (an equivocation, judged by keys both
//! branches share) or are refused in turn with a `fetch_from` further back, so successive pulls
//! reach the fork. Rules:
//!
//! - The node asks the peer that sent the entry for a **branch pull**: `Range { feed, from_seq:
//!   fetch_from, limit: 256 }`. Its answer must hold only entries of that feed at seq ≥
//!   `from_seq`; anything else is a bad message, and none of it is processed.
//! - From the answer to a branch pull of `(feed, from_seq)`, a further branch pull of that feed is
//!   made only if the new `fetch_from` is below `from_seq` (from any other pulled answer: below
//!   the lowest seq of that feed in it), at most one per feed per answer. Pulls of a feed thus
//!   reach strictly further back each time, and a peer that serves entries proving nothing
//!   cannot make two nodes loop. The `Range` that continues a full page is checked the same way.
//! - After gossip, at most one branch pull per refused entry; and refused entries count against
//!   the sender's budget of entries from other branches (rate-limited per peer, see
//!   [`super::discipline`]).

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

/// The request-response protocol for pulling entries. Version 5: entries may carry
/// delegations, undelegations, endorsements and statements made on behalf of another feed
/// (version 4: consultations, stances, responses and outcomes; version 3: scopes; version 2:
/// `Heads` pages with `after`).
/// Any change to what travels in it renames it; nodes that speak only another version cannot
/// negotiate it and do not sync with each other.
pub fn sync_protocol(genesis_digest: &str) -> String {
    format!("/consent-ledger/{}/sync/5", network(genesis_digest))
}

/// The Kademlia protocol (a separate DHT per network).
pub fn kad_protocol(genesis_digest: &str) -> String {
    format!("/consent-ledger/{}/kad/1", network(genesis_digest))
}

/// What identify announces; a peer announcing anything else is disconnected. Its major version
/// follows the sync protocol's: nodes of releases that cannot sync with each other (a node of
/// `/sync/4` and one of `/sync/5`) part at once instead of gossiping without syncing.
pub fn identify_version(genesis_digest: &str) -> String {
    format!("/consent-ledger/{}/5.0.0", network(genesis_digest))
}

/// Why this node does not speak with a peer, from what the peer announced in identify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Incompatible {
    /// Its identify version names another network (another genesis), or is not a consent-ledger
    /// node's at all.
    OtherNetwork,
    /// Its identify version is another version of this network's protocol.
    OtherVersion,
    /// It does not announce this node's sync protocol.
    NoCommonSync,
}

impl Incompatible {
    /// A short name: the `reason` label of `consent_peers_refused_total`, and in the log line.
    pub fn name(self) -> &'static str {
        match self {
            Incompatible::OtherNetwork => "other-network",
            Incompatible::OtherVersion => "other-version",
            Incompatible::NoCommonSync => "no-common-sync",
        }
    }

    /// What the log line says.
    pub fn explain(self) -> &'static str {
        match self {
            Incompatible::OtherNetwork => {
                "peer of another network (or not a consent-ledger node); disconnecting"
            }
            Incompatible::OtherVersion => {
                "peer speaks another version of this network's protocol; disconnecting (upgrade \
                 the older node)"
            }
            Incompatible::NoCommonSync => {
                "peer does not speak this node's sync protocol; disconnecting (upgrade the older \
                 node)"
            }
        }
    }
}

/// Whether this node, which announces `ours` in identify and serves the sync protocol `sync`,
/// can speak with a peer that announced the version `theirs` and the protocols
/// `their_protocols`: the identify versions must be equal, and the peer must list `sync`.
pub fn compatibility<'a>(
    ours: &str,
    sync: &str,
    theirs: &str,
    mut their_protocols: impl Iterator<Item = &'a str>,
) -> Result<(), Incompatible> {
    if theirs != ours {
        let network = |version: &str| {
            version
                .strip_prefix("/consent-ledger/")
                .and_then(|rest| rest.split_once('/'))
                .map(|(network, _)| network.to_string())
        };
        let same_network = network(theirs).is_some_and(|n| Some(n) == network(ours));
        return Err(if same_network {
            Incompatible::OtherVersion
        } else {
            Incompatible::OtherNetwork
        });
    }
    if !their_protocols.any(|p| p == sync) {
        return Err(Incompatible::NoCommonSync);
    }
    Ok(())
}

/// A pull request: one CBOR item per stream (see the module docs, "Encoding"; ids are arrays of
/// 32 integers, not byte strings). Each variant's cost against the peer's rate budget is in the
/// module docs, "Messages".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SyncRequest {
    /// Entries of `feed` from `from_seq`, at most `limit` (capped at [`MAX_RANGE`]): the
    /// responder's own branch, ascending by seq. As a branch pull (module docs, "Another branch
    /// of a forked feed"), an answer holding anything but `feed`'s entries at seq ≥ `from_seq` is
    /// a bad message.
    Range {
        /// Feed id.
        feed: [u8; 32],
        /// First seq.
        from_seq: u64,
        /// Most entries.
        limit: u32,
    },
    /// Entries by id (at most [`MAX_IDS`]): those the responder holds, in the order asked.
    Entries {
        /// Entry ids.
        ids: Vec<[u8; 32]>,
    },
    /// Several feed ranges at once (at most [`MAX_IDS`] feeds, [`MAX_RANGE`] entries in all):
    /// each want's entries in order, until the total is reached.
    Ranges {
        /// `(feed, from_seq)` pairs, each a CBOR array of 2.
        wants: Vec<([u8; 32], u64)>,
    },
    /// The equivocation proofs of frozen feeds (at most [`MAX_IDS`] feeds): for each feed, each
    /// pair the responder keeps, the entry it held first and the conflicting one second.
    Proofs {
        /// Feed ids.
        feeds: Vec<[u8; 32]>,
    },
    /// Anti-entropy: the 256 child digests under a feed-id prefix of 0 or 1 bytes (module docs,
    /// "Anti-entropy").
    Digests {
        /// The prefix (a CBOR array of integers, not a byte string).
        prefix: Vec<u8>,
    },
    /// Anti-entropy: the heads of the feeds under a feed-id prefix of 1 or 2 bytes, ascending by
    /// feed id (unsigned bytes), strictly after feed `after`, at most [`MAX_HEADS`]. A shorter
    /// page is the last; after a full one the requester asks again with `after` = its last feed.
    /// A page breaking these rules is a bad message.
    Heads {
        /// The prefix (a CBOR array of integers, not a byte string).
        prefix: Vec<u8>,
        /// The last feed of the page before (none, `null` or absent: from the start).
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

/// A pull response: one CBOR item. `ByteBuf`s travel as CBOR byte strings (not arrays of
/// numbers); `Done` is the text string `"Done"`, every other variant a one-pair map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SyncResponse {
    /// Encoded `SignedEntry`s the node holds, each a byte string; in feed order for a range.
    Entries(Vec<ByteBuf>),
    /// 256 child digests of [`DIGEST_BYTES`] each, concatenated (exactly 2,048 bytes).
    Digests(ByteBuf),
    /// Heads of [`HEAD_BYTES`] each, concatenated (at most [`MAX_HEADS`]): feed id ‖ head seq
    /// (8, BE) ‖ head entry id ‖ frozen (`0x00` or `0x01`).
    Heads(ByteBuf),
    /// A signed checkpoint note and a consistency proof (32-byte hashes).
    Checkpoint {
        /// The note.
        note: String,
        /// The proof from the size asked.
        proof: Vec<ByteBuf>,
    },
    /// Taken (the answer to `Cosign` and `Fork`).
    Done,
    /// The request was refused (over a limit, breaking the protocol, over the rate, or nothing
    /// to give): a reason for logs. No offence for the responder.
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
    fn peers_that_cannot_sync_are_told_apart_by_why() {
        fn listed<'a>(names: &'a [&'a str]) -> impl Iterator<Item = &'a str> + 'a {
            names.iter().copied()
        }
        let digest = "0123456789abcdef0123";
        let (ours, sync) = (identify_version(digest), sync_protocol(digest));
        let (ours, sync, kad) = (ours.as_str(), sync.as_str(), kad_protocol(digest));
        // A node of this release and network.
        assert_eq!(
            compatibility(
                ours,
                sync,
                ours,
                listed(&["/ipfs/id/1.0.0", sync, kad.as_str()])
            ),
            Ok(())
        );
        // Another network, whatever its version; not a consent-ledger node at all.
        let other = identify_version("fedcba9876543210fedc");
        assert_eq!(
            compatibility(ours, sync, &other, listed(&[])),
            Err(Incompatible::OtherNetwork)
        );
        assert_eq!(
            compatibility(ours, sync, "/ipfs/0.1.0", listed(&[sync])),
            Err(Incompatible::OtherNetwork)
        );
        // This network, another version (an older release's, or a newer one's).
        for version in ["1.0.0", "2.0.0", "3.0.0", "4.0.0", "6.0.0", "5.1.0"] {
            let theirs = format!("/consent-ledger/0123456789abcdef/{version}");
            assert_eq!(
                compatibility(ours, sync, &theirs, listed(&[sync])),
                Err(Incompatible::OtherVersion),
                "{theirs}"
            );
        }
        // The same identify version, without this node's sync protocol.
        let older_sync = "/consent-ledger/0123456789abcdef/sync/4";
        assert_eq!(
            compatibility(ours, sync, ours, listed(&[older_sync, kad.as_str()])),
            Err(Incompatible::NoCommonSync)
        );
        assert_eq!(Incompatible::NoCommonSync.name(), "no-common-sync");
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

    /// The encodings the module docs show a second implementer are the ones this node sends (the
    /// pieces below are the docs' hex, spaces removed).
    #[test]
    fn the_documented_examples_are_the_bytes_on_the_wire() {
        let f: [u8; 32] = std::array::from_fn(|i| i as u8);
        let f_hex = concat!(
            "9820",
            "000102030405060708090a0b0c0d0e0f1011121314151617",
            "1818181918",
            "1a181b181c181d181e181f"
        );
        let encode =
            |r: &SyncRequest| hex::encode(cbor4ii::serde::to_vec(Vec::new(), r).expect("encodes"));
        let cases: Vec<(SyncRequest, String)> = vec![
            (
                SyncRequest::Range {
                    feed: f,
                    from_seq: 5,
                    limit: 256,
                },
                format!("a16552616e6765a36466656564{f_hex}6866726f6d5f73657105656c696d6974190100"),
            ),
            (
                SyncRequest::Entries { ids: vec![f] },
                format!("a167456e7472696573a16369647381{f_hex}"),
            ),
            (
                SyncRequest::Ranges {
                    wants: vec![(f, 0)],
                },
                format!("a16652616e676573a16577616e74738182{f_hex}00"),
            ),
            (
                SyncRequest::Proofs { feeds: vec![f] },
                format!("a16650726f6f6673a165666565647381{f_hex}"),
            ),
            (
                SyncRequest::Digests { prefix: vec![] },
                "a16744696765737473a16670726566697880".into(),
            ),
            (
                SyncRequest::Digests { prefix: vec![171] },
                "a16744696765737473a1667072656669788118ab".into(),
            ),
            (
                SyncRequest::Heads {
                    prefix: vec![171, 205],
                    after: None,
                },
                "a1654865616473a2667072656669788218ab18cd656166746572f6".into(),
            ),
            (
                SyncRequest::Heads {
                    prefix: vec![0, 1],
                    after: Some(f),
                },
                format!("a1654865616473a266707265666978820001656166746572{f_hex}"),
            ),
            (
                SyncRequest::Checkpoint { at: None, since: 0 },
                "a16a436865636b706f696e74a2626174f66573696e636500".into(),
            ),
            (
                SyncRequest::Checkpoint {
                    at: Some(1000),
                    since: 900,
                },
                "a16a436865636b706f696e74a26261741903e86573696e6365190384".into(),
            ),
        ];
        for (request, documented) in cases {
            assert_eq!(encode(&request), documented, "{request:?}");
        }
        let done = cbor4ii::serde::to_vec(Vec::new(), &SyncResponse::Done).expect("encodes");
        assert_eq!(hex::encode(done), "64446f6e65");
    }
}
