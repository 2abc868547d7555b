//! The consultation tables (`C`, `T`, `H`, `B`, `Y`, `J`, `I`, `D`): their key builders and the
//! records stored in them.

use consent_proto::ids::{EntryId, FeedId};
use consent_proto::vocab::ObjectionSet;
use serde::{Deserialize, Serialize};

use super::{key, prefix};

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
