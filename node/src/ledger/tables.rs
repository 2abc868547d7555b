//! The on-disk layout: one ordered keyspace split into tables by a one-byte prefix, and the
//! records stored in them (postcard-encoded, versioned by [`SCHEMA_VERSION`]).
//!
//! | table | key | value |
//! |---|---|---|
//! | `E` entries | `E` id | arrival index (8, BE) ‖ encoded `SignedEntry` |
//! | `S` by seq | `S` feed seq(8, BE) | entry id |
//! | `F` feeds | `F` feed | [`FeedRecord`] |
//! | `R` rotations | `R` feed seq(8, BE) | [`RotationRecord`]: the keys a rotation introduced, and where the keys before it came from |
//! | `L` log | `L` index(8, BE) | entry id |
//! | `G` grants | `G` subject collector seq(8, BE) | [`GrantRecord`] (with its [`ScopeRecord`] if the grant or its policy has a scope) |
//! | `O` opt-outs | `O` subject collector | seq (8, BE) of the latest opt-out of sale/sharing |
//! | `A` accreditations | `A` collector registrar | [`AccreditationRecord`] |
//! | `P` pending | `P` entry id | [`PendingRecord`] |
//! | `Q` equivocations | `Q` feed seq(8, BE) | [`ProofRecord`] |
//! | `W` watch | `W` collector index(8, BE) | entry id: what concerns a collector, in arrival order |
//! | `X` expiries | `X` collector valid_until(8, BE) grant id | subject feed id |
//! | `K` answers | `K` collector request id | [`AnswerRecord`]: when asked, when acknowledged |
//! | `N` answer summary | `N` collector | [`super::answers::AnswerSummary`]: counts and a histogram of answer times |
//! | `U` unanswered | `U` collector asked(8, BE) request id | `[1]`: requests not acknowledged yet, oldest first |
//! | `V` unanswered per day | `V` collector day(8, BE) | count (8, BE): of them, how many were asked that UTC day |
//! | `Z` freezes | `Z` number(8, BE) | feed id: the feeds frozen, in the order this node froze them |
//! | `C` consultations | `C` draft id | [`ConsultationRecord`]: a Policy entry with a consultation |
//! | `T` stances | `T` draft feed | [`StanceRecord`]: the feed's latest stance on the draft (by seq) |
//! | `H` responses | `H` draft reason(1) | [`ResponseRecord`]: the collector's latest response to that objection reason |
//! | `B` outcomes | `B` draft time(8, BE) id | `[approved as u8]`: every valid outcome; the first key is the first outcome |
//! | `Y` consultations by collector | `Y` collector seq(8, BE) | draft id |
//! | `J` consultations by closing | `J` closes(8, BE) draft | collector id |
//! | `j` delegations | `j` person delegation | [`DelegationRecord`]: a Delegation entry of the person's feed, and its end by the Undelegations present |
//! | `d` delegated grants | `d` person collector time(8, BE) grant | [`DelegatedGrantRecord`]: a Grant signed by a delegate on behalf of the person |
//! | `y` delegations by collector | `y` delegation collector | `[]`: the collectors a delegation lists or a statement under it named (where its Undelegations are watched) |
//! | `b` endorsements | `b` grant endorser endorsement | [`EndorsementRecord`]: the co-guardian's half of a 2-of-2 grant |
//! | `h` revocations by other feeds | `h` grant revoker | [`RevocationRecord`]: every Revoke but a feed's own, without `on_behalf`, of its own grant (a delegate's, or the person's of a delegate's grant) |
//! | `i` delegated opt-outs | `i` person collector time(8, BE) request | delegation id: opt-outs of sale/sharing signed by a delegate |
//! | `t` delegations by delegate | `t` delegate person delegation | `[]` |
//! | `l` delegated entries by person | `l` person index(8, BE) | entry id: every entry a delegate signed naming the person (its on_behalf, or the delegation it resigns), in arrival order |
//! | `k` log blocks | `k` block(8, BE) | the Merkle hash (32 bytes) of arrival log entries `64·block .. 64·(block+1)`: one row per whole block, written with the commit that completes it; start-up rebuilds the tree from them (`super::tree`) |
//! | `M` meta | `M` name | see [`meta`]: the schema, counters, genesis and start-up position ([`StartupPosition`]), and the rows of the node's log module (its latest checkpoint, the checkpoints it cosigned for other nodes, fork proofs), which it saves through the writer |
//!
//! The key builders and records of the consultation and delegation tables are in
//! `consultations` and `delegations`, the feed and grant records in `feeds` and `grants`, the
//! start-up position in `startup`; all are re-exported here.

use consent_proto::decide::AccreditationFacts;
use consent_proto::ids::{EntryId, FeedId};
use consent_proto::validate::Missing;
use serde::{Deserialize, Serialize};

use crate::store::StoreError;

mod consultations;
mod delegations;
mod feeds;
mod grants;
mod startup;

pub use self::consultations::{
    ConsultationRecord, CountsRecord, ResponseRecord, StanceRecord, consultation_by_closing_key,
    consultation_by_collector_key, consultation_by_collector_prefix, consultation_key, outcome_key,
    outcome_prefix, response_key, response_prefix, stance_counts_key, stance_key, stance_prefix,
    undecided_by_closing_key,
};
pub use self::delegations::{
    DelegatedGrantRecord, DelegationRecord, EndorsementRecord, RevocationRecord,
    UNDELEGATIONS_LISTED, delegated_grant_key, delegated_grant_prefix, delegated_log_key,
    delegated_opt_out_key, delegated_opt_out_prefix, delegating_key, delegation_by_delegate_key,
    delegation_by_delegate_prefix, delegation_collector_key, delegation_collector_prefix,
    delegation_key, delegation_prefix, endorsement_key, endorsement_prefix, revocation_key,
    revocation_prefix,
};
pub use self::feeds::{FeedRecord, FeedRecordV3, FeedRecordV5, RotationRecord, StoredKeys};
pub use self::grants::{GrantRecord, GrantRecordV4, GrantRecordV5, ScopeRecord};
pub use self::startup::StartupPosition;

/// Version of this layout. A store of version 7 (or 3 to 6, through the versions between) is
/// migrated at start (see `fsck::prepare` and `migrate`); a store written by any other version
/// is refused.
///
/// - 4: feed key histories in `R` rows, answer figures in `N`, `U`, `V`.
/// - 5: grant records carry their scope ([`ScopeRecord`]).
/// - 6: consultations (`C`, `T`, `H`, `B`, `Y`, `J`, `I`); feed records carry their latest and
///   base policy entries, grant records the draft they name.
/// - 7: delegations (`j`, `d`, `y`, `b`, `h`, `i`, `t`, `l`): new tables only.
/// - 8: the hashes of the arrival log's whole blocks (`k`) and the start-up position
///   (`Mstartup`), so that start-up checks only what came after the position.
pub const SCHEMA_VERSION: u32 = 9;

/// Table prefixes.
pub mod prefix {
    /// Entries by id.
    pub const ENTRY: u8 = b'E';
    /// Entry ids by (feed, seq).
    pub const SEQ: u8 = b'S';
    /// Feed records.
    pub const FEED: u8 = b'F';
    /// Rotations: the key history of each feed, apart from its record.
    pub const ROTATION: u8 = b'R';
    /// Arrival log.
    pub const LOG: u8 = b'L';
    /// Grants.
    pub const GRANT: u8 = b'G';
    /// Opt-outs.
    pub const OPT_OUT: u8 = b'O';
    /// Accreditations.
    pub const ACCREDITATION: u8 = b'A';
    /// Pending entries.
    pub const PENDING: u8 = b'P';
    /// Equivocation proofs.
    pub const PROOF: u8 = b'Q';
    /// What concerns each collector, by arrival index (collectors' watch streams).
    pub const WATCH: u8 = b'W';
    /// Grants by collector and expiry time.
    pub const EXPIRY: u8 = b'X';
    /// Requests (and revocations asking for erasure) to each collector, and its answers.
    pub const ANSWER: u8 = b'K';
    /// Each collector's answer figures, kept up to date by the writer.
    pub const ANSWER_SUMMARY: u8 = b'N';
    /// Requests not acknowledged yet, by collector and asked time.
    pub const UNANSWERED: u8 = b'U';
    /// How many requests not acknowledged yet were asked on each UTC day, by collector.
    pub const UNANSWERED_DAYS: u8 = b'V';
    /// Feeds frozen, numbered in the order this node froze them (collectors' watch streams).
    pub const FREEZE: u8 = b'Z';
    /// Consultations, by draft id.
    pub const CONSULTATION: u8 = b'C';
    /// Each feed's latest stance on a draft.
    pub const STANCE: u8 = b'T';
    /// The collector's latest response to each objection reason of a draft.
    pub const RESPONSE: u8 = b'H';
    /// Outcomes of a draft, by time and id.
    pub const OUTCOME: u8 = b'B';
    /// Consultations by collector and seq of the draft.
    pub const CONSULTATION_BY_COLLECTOR: u8 = b'Y';
    /// Consultations by closing time.
    pub const CONSULTATION_BY_CLOSING: u8 = b'J';
    /// The counts of each draft's stances, kept by the writer as stances arrive.
    pub const STANCE_COUNTS: u8 = b'I';
    /// Consultations neither withdrawn nor decided, by closing time (the open ones are read
    /// from here, so withdrawn ones cannot crowd them out).
    pub const UNDECIDED_BY_CLOSING: u8 = b'D';
    /// Delegations, by person and delegation id.
    pub const DELEGATION: u8 = b'j';
    /// Persons with a Delegation (a `j` row), by person, no value: a decision asks with one
    /// point read whether a subject delegates (almost none do), instead of a prefix scan.
    pub const DELEGATING: u8 = b'g';
    /// Grants signed by delegates, by person, collector, signed time and id.
    pub const DELEGATED_GRANT: u8 = b'd';
    /// The collectors each delegation concerns (watch routing of its Undelegations).
    pub const DELEGATION_COLLECTOR: u8 = b'y';
    /// Endorsements of delegated grants, by grant and endorser.
    pub const ENDORSEMENT: u8 = b'b';
    /// Revocations of a grant by feeds other than its own (or with `on_behalf`), by grant and
    /// revoker.
    pub const REVOCATION: u8 = b'h';
    /// Opt-outs of sale/sharing signed by delegates, by person, collector and signed time.
    pub const DELEGATED_OPT_OUT: u8 = b'i';
    /// Delegations by the delegate they name.
    pub const DELEGATION_BY_DELEGATE: u8 = b't';
    /// Entries delegates signed naming a person, by person and arrival index.
    pub const DELEGATED_LOG: u8 = b'l';
    /// The Merkle hashes of the arrival log's whole blocks of 64 entries, by block number.
    pub const BLOCK: u8 = b'k';
    /// Meta values.
    pub const META: u8 = b'M';
}

/// Names of meta values.
pub mod meta {
    /// `u32` BE: [`super::SCHEMA_VERSION`].
    pub const SCHEMA: &[u8] = b"Mschema";
    /// Three `u64` BE: entries in the arrival log, feeds known, feeds frozen.
    pub const COUNTERS: &[u8] = b"Mcounters";
    /// UTF-8: BLAKE3 hex digest of the genesis this store belongs to.
    pub const GENESIS: &[u8] = b"Mgenesis";
    /// UTF-8: this node's latest signed checkpoint note, with the cosignatures it collected.
    pub const CHECKPOINT: &[u8] = b"Mcheckpoint";
    /// Prefix of `Mwitness/` origin (UTF-8 node id) -> UTF-8: the latest checkpoint note this
    /// node cosigned for that node ([`super::witnessed_key`]).
    pub const WITNESSED: &[u8] = b"Mwitness/";
    /// Prefix of `Mfork/` origin (UTF-8 node id) -> UTF-8: two notes that node signed for one
    /// tree size with different roots, `first ‖ "\n\n" ‖ second` ([`super::fork_key`]).
    pub const FORKS: &[u8] = b"Mfork/";
    /// [`super::StartupPosition`], checksummed: what the start-up check and the Merkle tree
    /// need at a log size the writer reached (written by the writer only).
    pub const STARTUP: &[u8] = b"Mstartup";
}

fn key(prefix: u8, parts: &[&[u8]]) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + parts.iter().map(|p| p.len()).sum::<usize>());
    k.push(prefix);
    for p in parts {
        k.extend_from_slice(p);
    }
    k
}

/// `E` id
pub fn entry_key(id: &EntryId) -> Vec<u8> {
    key(prefix::ENTRY, &[&id.0])
}
/// `S` feed seq
pub fn seq_key(feed: &FeedId, seq: u64) -> Vec<u8> {
    key(prefix::SEQ, &[&feed.0, &seq.to_be_bytes()])
}
/// `S` feed
pub fn seq_prefix(feed: &FeedId) -> Vec<u8> {
    key(prefix::SEQ, &[&feed.0])
}
/// `F` feed
pub fn feed_key(feed: &FeedId) -> Vec<u8> {
    key(prefix::FEED, &[&feed.0])
}
/// `R` feed seq
pub fn rotation_key(feed: &FeedId, seq: u64) -> Vec<u8> {
    key(prefix::ROTATION, &[&feed.0, &seq.to_be_bytes()])
}
/// `L` index
pub fn log_key(index: u64) -> Vec<u8> {
    key(prefix::LOG, &[&index.to_be_bytes()])
}
/// `k` block
pub fn block_key(block: u64) -> Vec<u8> {
    key(prefix::BLOCK, &[&block.to_be_bytes()])
}
/// `G` subject collector seq
pub fn grant_key(subject: &FeedId, collector: &FeedId, seq: u64) -> Vec<u8> {
    key(
        prefix::GRANT,
        &[&subject.0, &collector.0, &seq.to_be_bytes()],
    )
}
/// `G` subject collector
pub fn grant_prefix(subject: &FeedId, collector: &FeedId) -> Vec<u8> {
    key(prefix::GRANT, &[&subject.0, &collector.0])
}
/// `O` subject collector
pub fn opt_out_key(subject: &FeedId, collector: &FeedId) -> Vec<u8> {
    key(prefix::OPT_OUT, &[&subject.0, &collector.0])
}
/// `W` collector index
pub fn watch_key(collector: &FeedId, index: u64) -> Vec<u8> {
    key(prefix::WATCH, &[&collector.0, &index.to_be_bytes()])
}
/// `X` collector valid_until grant
pub fn expiry_key(collector: &FeedId, valid_until: u64, grant: &EntryId) -> Vec<u8> {
    key(
        prefix::EXPIRY,
        &[&collector.0, &valid_until.to_be_bytes(), &grant.0],
    )
}
/// `K` collector request
pub fn answer_key(collector: &FeedId, request: &EntryId) -> Vec<u8> {
    key(prefix::ANSWER, &[&collector.0, &request.0])
}
/// `N` collector
pub fn answer_summary_key(collector: &FeedId) -> Vec<u8> {
    key(prefix::ANSWER_SUMMARY, &[&collector.0])
}
/// `U` collector asked request
pub fn unanswered_key(collector: &FeedId, asked_ms: u64, request: &EntryId) -> Vec<u8> {
    key(
        prefix::UNANSWERED,
        &[&collector.0, &asked_ms.to_be_bytes(), &request.0],
    )
}
/// `U` collector asked: the first key of the requests asked at `asked_ms` (a range bound).
pub fn unanswered_from(collector: &FeedId, asked_ms: u64) -> Vec<u8> {
    key(prefix::UNANSWERED, &[&collector.0, &asked_ms.to_be_bytes()])
}
/// `U` collector
pub fn unanswered_prefix(collector: &FeedId) -> Vec<u8> {
    key(prefix::UNANSWERED, &[&collector.0])
}
/// `V` collector day
pub fn unanswered_day_key(collector: &FeedId, day: u64) -> Vec<u8> {
    key(prefix::UNANSWERED_DAYS, &[&collector.0, &day.to_be_bytes()])
}
/// `A` collector registrar
pub fn accreditation_key(collector: &FeedId, registrar: &FeedId) -> Vec<u8> {
    key(prefix::ACCREDITATION, &[&collector.0, &registrar.0])
}
/// `A` collector
pub fn accreditation_prefix(collector: &FeedId) -> Vec<u8> {
    key(prefix::ACCREDITATION, &[&collector.0])
}
/// `Z` number
pub fn freeze_key(number: u64) -> Vec<u8> {
    key(prefix::FREEZE, &[&number.to_be_bytes()])
}
/// `P` id
pub fn pending_key(id: &EntryId) -> Vec<u8> {
    key(prefix::PENDING, &[&id.0])
}
/// `Q` feed seq
pub fn proof_prefix(feed: &FeedId) -> Vec<u8> {
    key(prefix::PROOF, &[&feed.0])
}

/// The `Q` row of `feed`'s equivocation at `seq`.
pub fn proof_key(feed: &FeedId, seq: u64) -> Vec<u8> {
    key(prefix::PROOF, &[&feed.0, &seq.to_be_bytes()])
}
/// Where the record of `grant` (an accepted Grant entry, body `g`) lives: its `G` row, or for a
/// grant signed on behalf of a person, its `d` row.
pub fn grant_row(grant: &consent_proto::Entry, g: &consent_proto::body::Grant) -> Vec<u8> {
    match &g.on_behalf {
        None => grant_key(&grant.feed, &g.collector, grant.seq),
        Some(on_behalf) => {
            delegated_grant_key(&on_behalf.person, &g.collector, grant.time_ms, &grant.id)
        }
    }
}
/// `Mwitness/` origin
pub fn witnessed_key(origin: &str) -> Vec<u8> {
    [meta::WITNESSED, origin.as_bytes()].concat()
}
/// `Mfork/` origin
pub fn fork_key(origin: &str) -> Vec<u8> {
    [meta::FORKS, origin.as_bytes()].concat()
}

/// Reads a big-endian u64 value.
pub fn be_u64(bytes: &[u8]) -> Result<u64, StoreError> {
    bytes
        .try_into()
        .map(u64::from_be_bytes)
        .map_err(|_| StoreError::Corrupt(format!("expected 8 bytes, found {}", bytes.len())))
}

/// Reads a 32-byte value.
pub fn bytes32(bytes: &[u8]) -> Result<[u8; 32], StoreError> {
    bytes
        .try_into()
        .map_err(|_| StoreError::Corrupt(format!("expected 32 bytes, found {}", bytes.len())))
}

/// Encodes a record.
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    postcard::to_stdvec(value)
        .map_err(|e| StoreError::Corrupt(format!("cannot encode record: {e}")))
}

/// Decodes a record.
pub fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8], what: &str) -> Result<T, StoreError> {
    postcard::from_bytes(bytes)
        .map_err(|e| StoreError::Corrupt(format!("{what} record does not decode: {e}")))
}

/// A stored entry value: its arrival index and its encoded bytes.
pub fn entry_value(index: u64, encoded: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(8 + encoded.len());
    v.extend_from_slice(&index.to_be_bytes());
    v.extend_from_slice(encoded);
    v
}

/// Splits a stored entry value.
pub fn split_entry_value(value: &[u8]) -> Result<(u64, &[u8]), StoreError> {
    if value.len() < 8 {
        return Err(StoreError::Corrupt(
            "entry record shorter than its index".into(),
        ));
    }
    let (index, bytes) = value.split_at(8);
    Ok((be_u64(index)?, bytes))
}

/// A request to a collector (or a revocation asking for erasure) and the collector's answer,
/// timed as this node can vouch for them (see [`super::answers`]): the signed times, but never
/// more than the tolerance before the entry reached this node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnswerRecord {
    /// When it was asked, Unix ms: `max(request time, request arrival - tolerance)`.
    pub asked_ms: u64,
    /// When the first acknowledgement answered it, Unix ms:
    /// `max(ack time, ack arrival - tolerance, asked_ms)`.
    pub answered_ms: Option<u64>,
}

/// A registrar's latest statement about a collector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AccreditationRecord {
    /// Accredited from the entry time until `until_ms`.
    Accredited {
        /// From.
        from_ms: u64,
        /// Until (exclusive).
        until_ms: u64,
    },
    /// Suspended.
    Suspended,
}

impl AccreditationRecord {
    /// The decision-rule view.
    pub fn facts(&self, registrar: FeedId, registrar_frozen: bool) -> AccreditationFacts {
        match self {
            AccreditationRecord::Accredited { from_ms, until_ms } => {
                AccreditationFacts::Accredited {
                    registrar,
                    from_ms: *from_ms,
                    until_ms: *until_ms,
                    registrar_frozen,
                }
            }
            AccreditationRecord::Suspended => AccreditationFacts::Suspended { registrar },
        }
    }
}

/// What a pending entry waits for, in storable form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Awaited {
    /// `(feed, seq)`.
    Seq([u8; 32], u64),
    /// An entry id.
    Entry([u8; 32]),
    /// A feed's inception.
    Feed([u8; 32]),
}

impl From<Missing> for Awaited {
    fn from(m: Missing) -> Self {
        match m {
            Missing::Seq(f, s) => Awaited::Seq(f.0, s),
            Missing::Entry(e) => Awaited::Entry(e.0),
            Missing::Feed(f) => Awaited::Feed(f.0),
        }
    }
}

impl Awaited {
    /// The 32-byte id of what is awaited (a feed or an entry).
    pub fn id(&self) -> [u8; 32] {
        match self {
            Awaited::Seq(f, _) | Awaited::Feed(f) => *f,
            Awaited::Entry(e) => *e,
        }
    }
}

/// An entry held until what it awaits arrives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingRecord {
    /// The encoded `SignedEntry`.
    pub bytes: Vec<u8>,
    /// When it arrived, node clock.
    pub received_ms: u64,
    /// What it waits for.
    pub awaited: Awaited,
}

/// Two valid entries at one `(feed, seq)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofRecord {
    /// The entry the node held.
    pub held: Vec<u8>,
    /// The conflicting entry.
    pub conflicting: Vec<u8>,
    /// When the node saw it.
    pub detected_ms: u64,
}
