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
//! | `M` meta | `M` name | see [`meta`]: the schema, counters and genesis, and the rows of the node's log module (its latest checkpoint, the checkpoints it cosigned for other nodes, fork proofs), which it saves through the writer |

use std::sync::Arc;

use consent_proto::decide::{AccreditationFacts, GrantFacts};
use consent_proto::ids::{Digest, EntryId, FeedId};
use consent_proto::pb;
use consent_proto::scope::{GrantScope, PolicyScope, ScopeFacts};
use consent_proto::validate::{FeedState, KeyState, Missing};
use consent_proto::vocab::{CategorySet, ObjectionSet, PurposeSet, Role};
use serde::{Deserialize, Serialize};

use crate::store::StoreError;

/// Version of this layout. A store of version 5 (or 3 or 4, through the versions between) is
/// migrated at start (see `fsck::prepare` and `migrate`); a store written by any other version
/// is refused.
///
/// - 4: feed key histories in `R` rows, answer figures in `N`, `U`, `V`.
/// - 5: grant records carry their scope ([`ScopeRecord`]).
/// - 6: consultations (`C`, `T`, `H`, `B`, `Y`, `J`, `I`); feed records carry their latest and
///   base policy entries, grant records the draft they name.
/// - 7: delegations (`j`, `d`, `y`, `b`, `h`, `i`, `t`, `l`): new tables only.
pub const SCHEMA_VERSION: u32 = 7;

/// Undelegations a [`DelegationRecord`] lists at most (the first ones to arrive); every one
/// present counts for its end, listed or not.
pub const UNDELEGATIONS_LISTED: usize = 16;

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
/// `C` draft
pub fn consultation_key(draft: &EntryId) -> Vec<u8> {
    key(prefix::CONSULTATION, &[&draft.0])
}
/// `T` draft feed
pub fn stance_key(draft: &EntryId, feed: &FeedId) -> Vec<u8> {
    key(prefix::STANCE, &[&draft.0, &feed.0])
}
/// `T` draft
pub fn stance_prefix(draft: &EntryId) -> Vec<u8> {
    key(prefix::STANCE, &[&draft.0])
}
/// `D` closes draft
pub fn undecided_by_closing_key(closes_ms: u64, draft: &EntryId) -> Vec<u8> {
    key(
        prefix::UNDECIDED_BY_CLOSING,
        &[&closes_ms.to_be_bytes(), &draft.0],
    )
}
/// `I` draft
pub fn stance_counts_key(draft: &EntryId) -> Vec<u8> {
    key(prefix::STANCE_COUNTS, &[&draft.0])
}
/// `H` draft reason (its wire number)
pub fn response_key(draft: &EntryId, reason: u8) -> Vec<u8> {
    key(prefix::RESPONSE, &[&draft.0, &[reason]])
}
/// `H` draft
pub fn response_prefix(draft: &EntryId) -> Vec<u8> {
    key(prefix::RESPONSE, &[&draft.0])
}
/// `B` draft time id
pub fn outcome_key(draft: &EntryId, time_ms: u64, outcome: &EntryId) -> Vec<u8> {
    key(
        prefix::OUTCOME,
        &[&draft.0, &time_ms.to_be_bytes(), &outcome.0],
    )
}
/// `B` draft
pub fn outcome_prefix(draft: &EntryId) -> Vec<u8> {
    key(prefix::OUTCOME, &[&draft.0])
}
/// `Y` collector seq
pub fn consultation_by_collector_key(collector: &FeedId, seq: u64) -> Vec<u8> {
    key(
        prefix::CONSULTATION_BY_COLLECTOR,
        &[&collector.0, &seq.to_be_bytes()],
    )
}
/// `Y` collector
pub fn consultation_by_collector_prefix(collector: &FeedId) -> Vec<u8> {
    key(prefix::CONSULTATION_BY_COLLECTOR, &[&collector.0])
}
/// `J` closes draft
pub fn consultation_by_closing_key(closes_ms: u64, draft: &EntryId) -> Vec<u8> {
    key(
        prefix::CONSULTATION_BY_CLOSING,
        &[&closes_ms.to_be_bytes(), &draft.0],
    )
}
/// `j` person delegation
pub fn delegation_key(person: &FeedId, delegation: &EntryId) -> Vec<u8> {
    key(prefix::DELEGATION, &[&person.0, &delegation.0])
}
/// `j` person
pub fn delegation_prefix(person: &FeedId) -> Vec<u8> {
    key(prefix::DELEGATION, &[&person.0])
}
/// `d` person collector time grant
pub fn delegated_grant_key(
    person: &FeedId,
    collector: &FeedId,
    time_ms: u64,
    grant: &EntryId,
) -> Vec<u8> {
    key(
        prefix::DELEGATED_GRANT,
        &[&person.0, &collector.0, &time_ms.to_be_bytes(), &grant.0],
    )
}
/// `d` person collector
pub fn delegated_grant_prefix(person: &FeedId, collector: &FeedId) -> Vec<u8> {
    key(prefix::DELEGATED_GRANT, &[&person.0, &collector.0])
}
/// `y` delegation collector
pub fn delegation_collector_key(delegation: &EntryId, collector: &FeedId) -> Vec<u8> {
    key(prefix::DELEGATION_COLLECTOR, &[&delegation.0, &collector.0])
}
/// `y` delegation
pub fn delegation_collector_prefix(delegation: &EntryId) -> Vec<u8> {
    key(prefix::DELEGATION_COLLECTOR, &[&delegation.0])
}
/// `b` grant endorser endorsement
pub fn endorsement_key(grant: &EntryId, endorser: &FeedId, endorsement: &EntryId) -> Vec<u8> {
    key(
        prefix::ENDORSEMENT,
        &[&grant.0, &endorser.0, &endorsement.0],
    )
}
/// `b` grant
pub fn endorsement_prefix(grant: &EntryId) -> Vec<u8> {
    key(prefix::ENDORSEMENT, &[&grant.0])
}
/// `h` grant revoker
pub fn revocation_key(grant: &EntryId, revoker: &FeedId) -> Vec<u8> {
    key(prefix::REVOCATION, &[&grant.0, &revoker.0])
}
/// `h` grant
pub fn revocation_prefix(grant: &EntryId) -> Vec<u8> {
    key(prefix::REVOCATION, &[&grant.0])
}
/// `i` person collector time request
pub fn delegated_opt_out_key(
    person: &FeedId,
    collector: &FeedId,
    time_ms: u64,
    request: &EntryId,
) -> Vec<u8> {
    key(
        prefix::DELEGATED_OPT_OUT,
        &[&person.0, &collector.0, &time_ms.to_be_bytes(), &request.0],
    )
}
/// `i` person collector
pub fn delegated_opt_out_prefix(person: &FeedId, collector: &FeedId) -> Vec<u8> {
    key(prefix::DELEGATED_OPT_OUT, &[&person.0, &collector.0])
}
/// `t` delegate person delegation
pub fn delegation_by_delegate_key(
    delegate: &FeedId,
    person: &FeedId,
    delegation: &EntryId,
) -> Vec<u8> {
    key(
        prefix::DELEGATION_BY_DELEGATE,
        &[&delegate.0, &person.0, &delegation.0],
    )
}
/// `t` delegate
pub fn delegation_by_delegate_prefix(delegate: &FeedId) -> Vec<u8> {
    key(prefix::DELEGATION_BY_DELEGATE, &[&delegate.0])
}
/// `l` person index
pub fn delegated_log_key(person: &FeedId, index: u64) -> Vec<u8> {
    key(prefix::DELEGATED_LOG, &[&person.0, &index.to_be_bytes()])
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

/// What the node keeps per feed: its head and the keys in force now. The key history lives apart
/// (`R` rows, one per rotation), so appending to a feed costs the same however often it rotated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedRecord {
    /// Role number.
    pub role: i32,
    /// Head seq.
    pub head_seq: u64,
    /// Head id.
    pub head_id: [u8; 32],
    /// Head time.
    pub head_time_ms: u64,
    /// The key in force (signs the next entry that is not a rotation).
    pub key: [u8; 32],
    /// Seq of the inception or rotation that introduced `key`.
    pub key_since: u64,
    /// Committed next-key digest.
    pub next_key_digest: [u8; 32],
    /// Frozen after an equivocation.
    pub frozen: bool,
    /// Last policy version.
    pub policy_version: u32,
    /// The feed's latest Policy entry (collectors; `None` before the first).
    pub policy_head: Option<[u8; 32]>,
    /// Its latest Policy entry that is not a draft (the *base* validity compares with).
    pub policy_base: Option<[u8; 32]>,
}

impl FeedRecord {
    /// The validation view of this record.
    pub fn state(&self) -> Result<FeedState, StoreError> {
        Ok(FeedState {
            role: Role::from_wire(self.role)
                .ok_or_else(|| StoreError::Corrupt("feed record with a bad role".into()))?,
            head_seq: self.head_seq,
            head_id: EntryId(self.head_id),
            head_time_ms: self.head_time_ms,
            signing_key: self.key,
            next_key_digest: Digest(self.next_key_digest),
            frozen: self.frozen,
            policy_version: self.policy_version,
            policy_head: self.policy_head.map(EntryId),
            policy_base: self.policy_base.map(EntryId),
        })
    }

    /// The keys in force now.
    pub fn keys(&self) -> KeyState {
        KeyState {
            signing_key: self.key,
            next_key_digest: Digest(self.next_key_digest),
            since: self.key_since,
        }
    }

    /// Advances the record to a new validated state at `seq`. For a rotation, returns the `R`
    /// row to store: the keys it replaced, so older keys stay reachable.
    pub fn advance(&mut self, state: &FeedState, rotated: bool) -> Option<RotationRecord> {
        let replaced = rotated.then(|| RotationRecord {
            previous: self.keys().into(),
        });
        self.head_seq = state.head_seq;
        self.head_id = state.head_id.0;
        self.head_time_ms = state.head_time_ms;
        self.key = state.signing_key;
        self.next_key_digest = state.next_key_digest.0;
        self.frozen = state.frozen;
        self.policy_version = state.policy_version;
        self.policy_head = state.policy_head.map(|id| id.0);
        self.policy_base = state.policy_base.map(|id| id.0);
        if rotated {
            self.key_since = state.head_seq;
        }
        replaced
    }

    /// A new record for an inception.
    pub fn incept(state: &FeedState) -> Self {
        FeedRecord {
            role: state.role as i32,
            head_seq: 0,
            head_id: state.head_id.0,
            head_time_ms: state.head_time_ms,
            key: state.signing_key,
            key_since: 0,
            next_key_digest: state.next_key_digest.0,
            frozen: false,
            policy_version: 0,
            policy_head: None,
            policy_base: None,
        }
    }
}

/// A feed record as layouts 4 and 5 stored it (no policy entries), read only to migrate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedRecordV5 {
    /// Role number.
    pub role: i32,
    /// Head seq.
    pub head_seq: u64,
    /// Head id.
    pub head_id: [u8; 32],
    /// Head time.
    pub head_time_ms: u64,
    /// The key in force.
    pub key: [u8; 32],
    /// Seq of the inception or rotation that introduced `key`.
    pub key_since: u64,
    /// Committed next-key digest.
    pub next_key_digest: [u8; 32],
    /// Frozen after an equivocation.
    pub frozen: bool,
    /// Last policy version.
    pub policy_version: u32,
}

impl FeedRecordV5 {
    /// The layout-6 record, with these policy entries (no Policy entry stored before layout 6
    /// can be a draft, so both are the latest Policy entry).
    pub fn upgrade(self, policy: Option<[u8; 32]>) -> FeedRecord {
        FeedRecord {
            role: self.role,
            head_seq: self.head_seq,
            head_id: self.head_id,
            head_time_ms: self.head_time_ms,
            key: self.key,
            key_since: self.key_since,
            next_key_digest: self.next_key_digest,
            frozen: self.frozen,
            policy_version: self.policy_version,
            policy_head: policy,
            policy_base: policy,
        }
    }
}

/// Keys as stored in a [`RotationRecord`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredKeys {
    /// The signing key.
    pub key: [u8; 32],
    /// The committed next-key digest.
    pub next_key_digest: [u8; 32],
    /// Seq of the inception or rotation that introduced it.
    pub since: u64,
}

impl From<KeyState> for StoredKeys {
    fn from(k: KeyState) -> Self {
        StoredKeys {
            key: k.signing_key,
            next_key_digest: k.next_key_digest.0,
            since: k.since,
        }
    }
}

impl From<StoredKeys> for KeyState {
    fn from(k: StoredKeys) -> Self {
        KeyState {
            signing_key: k.key,
            next_key_digest: Digest(k.next_key_digest),
            since: k.since,
        }
    }
}

/// The `R` row of a rotation at some seq: the keys in force before it (a chain back to the
/// inception through each `previous.since`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotationRecord {
    /// The keys the rotation replaced.
    pub previous: StoredKeys,
}

/// A feed record as layout version 3 stored it (every key inline), read only to migrate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedRecordV3 {
    /// Role number.
    pub role: i32,
    /// Head seq.
    pub head_seq: u64,
    /// Head id.
    pub head_id: [u8; 32],
    /// Head time.
    pub head_time_ms: u64,
    /// Signing keys with the seq from which each signs (inception, then each rotation).
    pub keys: Vec<(u64, [u8; 32])>,
    /// Committed next-key digest.
    pub next_key_digest: [u8; 32],
    /// Frozen after an equivocation.
    pub frozen: bool,
    /// Last policy version.
    pub policy_version: u32,
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

/// A grant as checks read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantRecord {
    /// Grant entry id.
    pub id: [u8; 32],
    /// Purpose bits.
    pub purposes: u32,
    /// Category bits.
    pub categories: u32,
    /// Valid from.
    pub valid_from: u64,
    /// Valid until (0: open).
    pub valid_until: u64,
    /// Revoked.
    pub revoked: bool,
    /// `Some` iff the grant's policy declares a scope or the grant narrows one; `None`: the
    /// rule needs no context for this grant (every grant of layout 4).
    pub scope: Option<ScopeRecord>,
    /// The policy the grant names when it is a draft (a widening put to consultation): the
    /// grant counts only once the draft takes effect. `None` for every other grant.
    pub draft: Option<[u8; 32]>,
}

/// What a scoped grant's record keeps of its scope: the policy that declares it (read through
/// the checks' policy cache) and the grant's own narrowing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeRecord {
    /// The policy entry the grant names.
    pub policy: [u8; 32],
    /// The grant's narrowing: the canonical `pb::GrantScope` bytes; empty: it narrows nothing.
    pub narrowing: Vec<u8>,
}

impl ScopeRecord {
    /// The record of a grant under `policy` (whose scope is `policy_scope`) narrowing by `grant`:
    /// `None` when neither has a scope.
    pub fn of(
        policy: &EntryId,
        policy_scope: Option<&PolicyScope>,
        grant: Option<&GrantScope>,
    ) -> Option<Self> {
        if policy_scope.is_none() && grant.is_none() {
            return None;
        }
        Some(ScopeRecord {
            policy: policy.0,
            narrowing: grant
                .map(|g| prost::Message::encode_to_vec(&g.to_wire()))
                .unwrap_or_default(),
        })
    }

    /// The grant's narrowing, decoded and validated again (`purposes`: the grant's).
    pub fn narrowing(&self, purposes: PurposeSet) -> Result<Option<GrantScope>, StoreError> {
        if self.narrowing.is_empty() {
            return Ok(None);
        }
        let wire: pb::GrantScope = prost::Message::decode(self.narrowing.as_slice())
            .map_err(|e| StoreError::Corrupt(format!("grant scope does not decode: {e}")))?;
        GrantScope::from_wire(&wire, purposes)
            .map(Some)
            .map_err(|e| StoreError::Corrupt(format!("stored grant scope is not valid: {e}")))
    }
}

impl GrantRecord {
    /// The decision-rule view. `policy_scope` is the scope of the policy [`Self::scope`] names
    /// (`None` if it declares none, or if the grant is unscoped: then it is not read);
    /// `in_effect_from` is when the grant's policy takes effect
    /// (`consent_proto::consultation::ALWAYS` unless it is a draft: [`Self::draft`]).
    pub fn facts(
        &self,
        seq: u64,
        policy_scope: Option<Arc<PolicyScope>>,
        in_effect_from: u64,
    ) -> Result<GrantFacts, StoreError> {
        let purposes = PurposeSet::from_bits(self.purposes);
        let scope = match &self.scope {
            None => None,
            Some(record) => ScopeFacts::resolve(policy_scope, record.narrowing(purposes)?),
        };
        Ok(GrantFacts {
            id: EntryId(self.id),
            seq,
            purposes,
            categories: CategorySet::from_bits(self.categories),
            valid_from: self.valid_from,
            valid_until: (self.valid_until != 0).then_some(self.valid_until),
            revoked: self.revoked,
            scope,
            in_effect_from,
            // Own grants: read only against a delegated opt-out (none before delegation).
            time_ms: 0,
            via: None,
        })
    }
}

/// A grant record as layout version 4 stored it (no scope), read only to migrate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantRecordV4 {
    /// Grant entry id.
    pub id: [u8; 32],
    /// Purpose bits.
    pub purposes: u32,
    /// Category bits.
    pub categories: u32,
    /// Valid from.
    pub valid_from: u64,
    /// Valid until (0: open).
    pub valid_until: u64,
    /// Revoked.
    pub revoked: bool,
}

impl From<GrantRecordV4> for GrantRecordV5 {
    fn from(old: GrantRecordV4) -> Self {
        GrantRecordV5 {
            id: old.id,
            purposes: old.purposes,
            categories: old.categories,
            valid_from: old.valid_from,
            valid_until: old.valid_until,
            revoked: old.revoked,
            scope: None,
        }
    }
}

/// A grant record as layout version 5 stored it (no draft), read only to migrate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantRecordV5 {
    /// Grant entry id.
    pub id: [u8; 32],
    /// Purpose bits.
    pub purposes: u32,
    /// Category bits.
    pub categories: u32,
    /// Valid from.
    pub valid_from: u64,
    /// Valid until (0: open).
    pub valid_until: u64,
    /// Revoked.
    pub revoked: bool,
    /// Its scope.
    pub scope: Option<ScopeRecord>,
}

impl From<GrantRecordV5> for GrantRecord {
    fn from(old: GrantRecordV5) -> Self {
        GrantRecord {
            id: old.id,
            purposes: old.purposes,
            categories: old.categories,
            valid_from: old.valid_from,
            valid_until: old.valid_until,
            revoked: old.revoked,
            scope: old.scope,
            draft: None,
        }
    }
}

/// A Policy entry with a consultation (its `C` row).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsultationRecord {
    /// The collector's feed.
    pub collector: [u8; 32],
    /// The draft's seq in it.
    pub seq: u64,
    /// Its policy version.
    pub version: u32,
    /// Its signed time (the window opens).
    pub time_ms: u64,
    /// The window closes (exclusive).
    pub closes_ms: u64,
    /// A widening: it takes effect only when approved. `false`: a voluntary consultation.
    pub gated: bool,
    /// The time of the collector's next Policy entry, which withdraws it.
    pub superseded_ms: Option<u64>,
    /// The feed's latest Policy entry before it (what validity compared it with).
    pub prev: Option<[u8; 32]>,
    /// The feed's latest Policy entry before it that is not a draft (validity compared it with
    /// this one too).
    pub base: Option<[u8; 32]>,
}

/// A feed's latest stance on a draft (its `T` row).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StanceRecord {
    /// The stance's seq in its feed (a higher one replaces it).
    pub seq: u64,
    /// Support (else objection).
    pub support: bool,
    /// The objection reasons ([`ObjectionSet`] bits; 0 for support).
    pub reasons: u8,
    /// The feed had granted to the draft's collector before the stance (a lower seq).
    pub affected: bool,
}

impl StanceRecord {
    /// The reasons as a set.
    pub fn reasons(&self) -> ObjectionSet {
        ObjectionSet::from_bits(u32::from(self.reasons))
    }

    /// What counting reads of it.
    pub fn facts(&self, feed: FeedId) -> consent_proto::consultation::StanceFacts {
        consent_proto::consultation::StanceFacts {
            feed,
            seq: self.seq,
            support: self.support,
            reasons: self.reasons(),
            affected: self.affected,
        }
    }
}

/// The counts of a draft's stances (its `I` row): per group `[support, object, reasons 1..=6]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountsRecord {
    /// Feeds that had granted to the collector before their stance.
    pub affected: [u64; 8],
    /// The others.
    pub others: [u64; 8],
}

impl CountsRecord {
    /// As counts.
    pub fn counts(&self) -> consent_proto::consultation::Counts {
        let tally = |t: &[u64; 8]| consent_proto::consultation::Tally {
            support: t[0],
            object: t[1],
            reasons: [t[2], t[3], t[4], t[5], t[6], t[7]],
        };
        consent_proto::consultation::Counts {
            affected: tally(&self.affected),
            others: tally(&self.others),
        }
    }

    /// From counts.
    pub fn of(c: &consent_proto::consultation::Counts) -> CountsRecord {
        let row = |t: &consent_proto::consultation::Tally| {
            let r = t.reasons;
            [t.support, t.object, r[0], r[1], r[2], r[3], r[4], r[5]]
        };
        CountsRecord {
            affected: row(&c.affected),
            others: row(&c.others),
        }
    }
}

/// The collector's latest response to one objection reason (its `H` row).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseRecord {
    /// The response's seq in the collector's feed.
    pub seq: u64,
    /// The response entry.
    pub id: [u8; 32],
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

/// A Delegation entry as checks and listings read it (its `j` row): what the decision rule
/// needs of it ([`Self::state`]), and its end by the Undelegations present. Its powers,
/// collectors and purposes are read from the entry (validity checks them, the rule does not).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DelegationRecord {
    /// The delegate feed.
    pub delegate: [u8; 32],
    /// `DelegationKind` wire number.
    pub kind: i32,
    /// The Delegation entry's signed time (it counts from then).
    pub from_ms: u64,
    /// `valid_until` (0: until undelegated).
    pub valid_until: u64,
    /// The co-signer whose endorsement each grant under it needs (guardians, 2-of-2).
    pub co_signer: Option<[u8; 32]>,
    /// The earliest `void_from_ms` of the Undelegations present (`None`: none is).
    pub undelegated_ms: Option<u64>,
    /// The earliest signed time of the Undelegations present (`None`: none is): where the
    /// delegate's withdrawals stop counting.
    pub withdrawn_ms: Option<u64>,
    /// The first [`UNDELEGATIONS_LISTED`] Undelegations to arrive, in arrival order.
    pub undelegations: Vec<[u8; 32]>,
}

impl DelegationRecord {
    /// The record of a Delegation entry signed at `time_ms`, with no Undelegation yet.
    pub fn of(time_ms: u64, d: &consent_proto::body::Delegation) -> Self {
        DelegationRecord {
            delegate: d.delegate.0,
            kind: d.kind as i32,
            from_ms: time_ms,
            valid_until: d.valid_until.unwrap_or(0),
            co_signer: d.co_signer.map(|f| f.0),
            undelegated_ms: None,
            withdrawn_ms: None,
            undelegations: Vec::new(),
        }
    }

    /// Records an Undelegation `id` signed at `signed_ms` voiding the delegation from
    /// `void_from_ms` on.
    pub fn undelegate(&mut self, id: &EntryId, void_from_ms: u64, signed_ms: u64) {
        self.undelegated_ms = Some(
            self.undelegated_ms
                .map_or(void_from_ms, |v| v.min(void_from_ms)),
        );
        self.withdrawn_ms = Some(self.withdrawn_ms.map_or(signed_ms, |v| v.min(signed_ms)));
        if self.undelegations.len() < UNDELEGATIONS_LISTED && !self.undelegations.contains(&id.0) {
            self.undelegations.push(id.0);
        }
    }

    /// Its end, exclusive: the earliest of `valid_until` and every Undelegation's
    /// `void_from_ms` (`u64::MAX`: none).
    pub fn end_ms(&self) -> u64 {
        let until = if self.valid_until == 0 {
            u64::MAX
        } else {
            self.valid_until
        };
        until.min(self.undelegated_ms.unwrap_or(u64::MAX))
    }

    /// Where the delegate's revocations and opt-outs stop counting, exclusive: the earliest of
    /// `valid_until` and every Undelegation's signed time (`u64::MAX`: none).
    pub fn withdrawals_end_ms(&self) -> u64 {
        let until = if self.valid_until == 0 {
            u64::MAX
        } else {
            self.valid_until
        };
        until.min(self.withdrawn_ms.unwrap_or(u64::MAX))
    }

    /// When Undelegations ended it before `valid_until` (0: they did not).
    pub fn ended_early_ms(&self) -> u64 {
        let end = self.end_ms();
        match self.undelegated_ms {
            Some(v) if v == end && (self.valid_until == 0 || v < self.valid_until) => v,
            _ => 0,
        }
    }

    /// The kind.
    pub fn kind(&self) -> Result<consent_proto::vocab::DelegationKind, StoreError> {
        consent_proto::vocab::DelegationKind::from_wire(self.kind)
            .ok_or_else(|| StoreError::Corrupt("delegation record with a bad kind".into()))
    }

    /// The delegation as the decision rule reads it: the Delegation `id` of `person`'s feed.
    pub fn state(
        &self,
        id: EntryId,
        person: FeedId,
    ) -> Result<consent_proto::delegation::DelegationState, StoreError> {
        Ok(consent_proto::delegation::DelegationState {
            id,
            person,
            delegate: FeedId(self.delegate),
            kind: self.kind()?,
            from_ms: self.from_ms,
            end_ms: self.end_ms(),
            withdrawals_end_ms: self.withdrawals_end_ms(),
            co_signer: self.co_signer.map(FeedId),
        })
    }
}

/// A grant signed by a delegate on behalf of the person (its `d` row): the grant's record as
/// for an own grant ([`GrantRecord`]; `revoked` only by a Revoke of the delegate's own feed
/// in someone's name or not: every other feed's revocation is an `h` row), and where it comes
/// from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DelegatedGrantRecord {
    /// The grant as checks read it.
    pub grant: GrantRecord,
    /// Its seq in the delegate's feed.
    pub seq: u64,
    /// The delegate feed that signed it.
    pub delegate: [u8; 32],
    /// The Delegation it names.
    pub delegation: [u8; 32],
}

/// An Endorsement of a delegated grant (its `b` row).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndorsementRecord {
    /// The Delegation the endorser acts under (of the same person).
    pub delegation: [u8; 32],
    /// The Endorsement's signed time.
    pub signed_ms: u64,
}

/// A revocation of a grant by a feed other than the grant's (its `h` row).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevocationRecord {
    /// The Revoke entry.
    pub revoke: [u8; 32],
    /// The Delegation it was signed under (`None`: the person's own revocation of a delegate's
    /// grant, which always counts).
    pub delegation: Option<[u8; 32]>,
    /// Its signed time.
    pub signed_ms: u64,
}
