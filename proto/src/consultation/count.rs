//! Counting stances: the latest stance of each feed (highest seq) on a draft, split into feeds
//! that had granted to the draft's collector before the stance (*affected*: a Grant naming the
//! collector at a lower seq of the same feed, revoked or not) and the others. Feed-local, so a
//! node can keep the counts as stances arrive ([`Counts::replace`]). Counts are signals to the registrar, not votes: one person can hold many
//! pseudonymous feeds.

use std::collections::HashMap;

use crate::ids::FeedId;
use crate::pb;
use crate::vocab::{ObjectionReason, ObjectionSet};

/// One stance, as a node materialises it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StanceFacts {
    /// The citizen feed.
    pub feed: FeedId,
    /// The stance's seq in it (a higher seq replaces a lower).
    pub seq: u64,
    /// Support (else objection).
    pub support: bool,
    /// The objection's reasons (empty for support).
    pub reasons: ObjectionSet,
    /// The feed holds a Grant naming the draft's collector at a lower seq (signed before).
    pub affected: bool,
}

/// Stances of one group.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Tally {
    /// Supporting stances.
    pub support: u64,
    /// Objecting stances.
    pub object: u64,
    /// Objecting stances per reason, at `wire number - 1`.
    pub reasons: [u64; 6],
}

/// Stances of affected feeds and of others.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Counts {
    /// Feeds with a grant naming the collector.
    pub affected: Tally,
    /// The others.
    pub others: Tally,
}

fn slot(r: ObjectionReason) -> Option<usize> {
    (r as i32 as usize).checked_sub(1).filter(|i| *i < 6)
}

impl Tally {
    /// Objecting stances that give `r`.
    pub fn reason(&self, r: ObjectionReason) -> u64 {
        slot(r).map_or(0, |i| self.reasons[i])
    }

    fn add(&mut self, s: &StanceFacts) {
        if s.support {
            self.support += 1;
            return;
        }
        self.object += 1;
        for r in s.reasons.iter() {
            if let Some(i) = slot(r) {
                self.reasons[i] += 1;
            }
        }
    }

    /// Takes `s` back out (saturating: a tally never goes below zero).
    fn remove(&mut self, s: &StanceFacts) {
        if s.support {
            self.support = self.support.saturating_sub(1);
            return;
        }
        self.object = self.object.saturating_sub(1);
        for r in s.reasons.iter() {
            if let Some(i) = slot(r) {
                self.reasons[i] = self.reasons[i].saturating_sub(1);
            }
        }
    }

    fn plus(&self, other: &Tally) -> Tally {
        let mut reasons = self.reasons;
        for (a, b) in reasons.iter_mut().zip(other.reasons) {
            *a += b;
        }
        Tally {
            support: self.support + other.support,
            object: self.object + other.object,
            reasons,
        }
    }

    /// The wire form: reasons with a non-zero count, in reason order.
    pub fn to_wire(&self) -> pb::Tally {
        pb::Tally {
            support: self.support,
            object: self.object,
            reasons: ObjectionReason::ALL
                .iter()
                .filter(|r| self.reason(**r) > 0)
                .map(|r| pb::ReasonCount {
                    reason: *r as i32,
                    count: self.reason(*r),
                })
                .collect(),
        }
    }

    /// From the wire form (reasons this release does not know are left out).
    pub fn from_wire(t: &pb::Tally) -> Tally {
        let mut tally = Tally {
            support: t.support,
            object: t.object,
            reasons: [0; 6],
        };
        for rc in &t.reasons {
            if let Some(i) = ObjectionReason::from_wire(rc.reason).and_then(slot) {
                tally.reasons[i] = rc.count;
            }
        }
        tally
    }
}

impl Counts {
    /// Counts `new`, a feed's stance that replaces `old` (that feed's earlier stance on the
    /// same draft, if any): what [`count`] gives when `new` joins the stances counted, kept
    /// incrementally.
    pub fn replace(&mut self, old: Option<&StanceFacts>, new: &StanceFacts) {
        if let Some(old) = old {
            if old.affected {
                self.affected.remove(old);
            } else {
                self.others.remove(old);
            }
        }
        if new.affected {
            self.affected.add(new);
        } else {
            self.others.add(new);
        }
    }

    /// Both groups together.
    pub fn total(&self) -> Tally {
        self.affected.plus(&self.others)
    }

    /// Reasons raised by at least `threshold` objecting stances (both groups together; at least
    /// one).
    pub fn raised(&self, threshold: u64) -> ObjectionSet {
        let total = self.total();
        ObjectionReason::ALL
            .iter()
            .copied()
            .filter(|r| total.reason(*r) >= threshold.max(1))
            .collect()
    }

    /// The wire form.
    pub fn to_wire(&self) -> pb::ConsultationCounts {
        pb::ConsultationCounts {
            affected: Some(self.affected.to_wire()),
            others: Some(self.others.to_wire()),
        }
    }

    /// From the wire form (a missing group counts nothing).
    pub fn from_wire(c: &pb::ConsultationCounts) -> Counts {
        Counts {
            affected: c
                .affected
                .as_ref()
                .map(Tally::from_wire)
                .unwrap_or_default(),
            others: c.others.as_ref().map(Tally::from_wire).unwrap_or_default(),
        }
    }
}

/// Counts the latest stance (highest seq) of each feed among `stances`, any order.
pub fn count<'a>(stances: impl IntoIterator<Item = &'a StanceFacts>) -> Counts {
    let mut latest: HashMap<FeedId, &StanceFacts> = HashMap::new();
    for s in stances {
        match latest.get(&s.feed) {
            Some(kept) if kept.seq >= s.seq => {}
            _ => {
                latest.insert(s.feed, s);
            }
        }
    }
    let mut counts = Counts::default();
    for s in latest.values() {
        if s.affected {
            counts.affected.add(s);
        } else {
            counts.others.add(s);
        }
    }
    counts
}

/// Of the reasons raised by at least `threshold` objecting stances, those `answered` (the reasons
/// of the responses an outcome lists) leaves out.
pub fn unanswered(counts: &Counts, threshold: u64, answered: ObjectionSet) -> ObjectionSet {
    counts
        .raised(threshold)
        .iter()
        .filter(|r| !answered.contains(*r))
        .collect()
}
