//! What appending one accepted entry writes: the entry and its indexes (by id, by `(feed, seq)`,
//! the arrival log), the feed head, and the materialised state that checks, watches and
//! answering records read (grants, opt-outs, accreditations, watch and expiry indexes, requests
//! awaiting an acknowledgement, through `answers`; consultations, stances, responses and
//! outcomes; delegations and what delegates sign, through `delegations`).

use std::sync::Arc;

use consent_proto::Entry;
use consent_proto::body::{Body, Grant, Position, Revoke};
use consent_proto::ids::{EntryId, FeedId};
use consent_proto::validate::FeedState;
use consent_proto::vocab::{ConsultationResult, RequestKind};

use super::super::staged::Staged;
use super::super::tables::{
    self, AccreditationRecord, ConsultationRecord, CountsRecord, DelegatedGrantRecord, FeedRecord,
    GrantRecord, ResponseRecord, RevocationRecord, ScopeRecord, StanceRecord,
};
use super::{Accepted, Writer, answers, delegations};
use crate::store::{KvStore, StoreError};

impl Writer {
    /// Stages an accepted entry, its indexes and its effect on the materialised state.
    /// `arrived_ms` is when the entry reached this node (node clock; for an entry held pending,
    /// when it was first received): answer times are bounded by it.
    pub(super) fn append(
        &mut self,
        staged: &mut Staged<'_, dyn KvStore>,
        entry: &Entry,
        state: &FeedState,
        arrived_ms: u64,
    ) -> Result<u64, StoreError> {
        let index = self.counters.log_size;
        self.counters.log_size += 1;
        self.stage_indexes(staged, entry, index);
        // What validity compared a new policy version with: the feed's policies before it.
        let before = match &entry.body {
            Body::Policy(_) => staged
                .feed_record(&entry.feed)?
                .map(|r| (r.policy_head, r.policy_base)),
            _ => None,
        };
        let record = self.advance_head(staged, entry, state)?;

        let role = consent_proto::vocab::Role::from_wire(record.role);
        // Any entry of a collector's or registrar's feed (a key rotation included: sessions
        // are checked against the cached current key) changes what checks know of collectors.
        if matches!(entry.body, Body::Accreditation(_) | Body::Suspension(_))
            || role != Some(consent_proto::vocab::Role::Citizen)
        {
            self.collectors_changed = true;
        }
        // The collector this entry concerns, for its watch stream.
        let concerns = match &entry.body {
            Body::Policy(_) | Body::Stance(_) | Body::Response(_) | Body::Outcome(_) => {
                stage_consultation(staged, entry, state, before.unwrap_or_default())?
            }
            _ => stage_effects(staged, entry, arrived_ms, index, &mut self.touched)?,
        };
        if let Some(collector) = concerns {
            staged.put(tables::watch_key(&collector, index), entry.id.0.to_vec());
        }
        Ok(index)
    }

    /// Stages the entry by id, by `(feed, seq)` and at `index` in the arrival log, and notes it
    /// for the caches, the tree and the announcement.
    fn stage_indexes(&mut self, staged: &mut Staged<'_, dyn KvStore>, entry: &Entry, index: u64) {
        let feed = entry.feed;
        self.touched.push(feed);
        self.appended.push(entry.id);
        let encoded = entry.encode();
        staged.put(
            tables::entry_key(&entry.id),
            tables::entry_value(index, &encoded),
        );
        if self.announce.is_some() {
            self.just_accepted.push(Arc::new(Accepted {
                index: Some(index),
                entry: entry.clone(),
                encoded,
            }));
        }
        staged.put(tables::seq_key(&feed, entry.seq), entry.id.0.to_vec());
        staged.put(tables::log_key(index), entry.id.0.to_vec());
    }

    /// Stages the feed record with `entry` as its head (a new record for an inception, a rotation
    /// row for a key change) and returns it.
    fn advance_head(
        &mut self,
        staged: &mut Staged<'_, dyn KvStore>,
        entry: &Entry,
        state: &FeedState,
    ) -> Result<FeedRecord, StoreError> {
        let feed = entry.feed;
        let record = if entry.seq == 0 {
            self.counters.feeds += 1;
            FeedRecord::incept(state)
        } else {
            let mut record = staged
                .feed_record(&feed)?
                .ok_or_else(|| StoreError::Corrupt(format!("feed record missing for {feed:?}")))?;
            let rotated = matches!(entry.body, Body::Rotation(_));
            if let Some(row) = record.advance(state, rotated) {
                staged.put(
                    tables::rotation_key(&feed, entry.seq),
                    tables::encode(&row)?,
                );
            }
            record
        };
        staged.put(tables::feed_key(&feed), tables::encode(&record)?);
        Ok(record)
    }
}

/// Stages what `entry`'s body changes in the materialised state; returns the collector it
/// concerns (whose watch stream it joins at `index`), if any. A statement signed on behalf of a
/// person also marks the person's feed changed (`touched`: checks about the person cache what
/// it changes).
fn stage_effects(
    staged: &mut Staged<'_, dyn KvStore>,
    entry: &Entry,
    arrived_ms: u64,
    index: u64,
    touched: &mut Vec<FeedId>,
) -> Result<Option<FeedId>, StoreError> {
    let feed = entry.feed;
    match &entry.body {
        Body::Grant(g) => {
            stage_grant(staged, entry, g)?;
            if let Some(on_behalf) = &g.on_behalf {
                delegations::statement(staged, entry, on_behalf, &g.collector, index, touched);
            }
            Ok(Some(g.collector))
        }
        Body::Revoke(r) => stage_revoke(staged, entry, r, arrived_ms, index, touched),
        Body::Request(r) => {
            // An ex-delegate's request stays in the log (valid), but is not delivered to the
            // collector: not awaiting its answer, not in its watch stream.
            let delivered = match &r.on_behalf {
                Some(on_behalf) => delegations::counts_when_written(
                    staged,
                    entry,
                    on_behalf,
                    r.kind == RequestKind::OptOutSale,
                )?,
                None => true,
            };
            if delivered {
                answers::asked(staged, &r.collector, &entry.id, entry.time_ms, arrived_ms)?;
            }
            match &r.on_behalf {
                None if r.kind == RequestKind::OptOutSale => {
                    staged.put(
                        tables::opt_out_key(&feed, &r.collector),
                        entry.seq.to_be_bytes().to_vec(),
                    );
                }
                None => {}
                Some(on_behalf) => {
                    // A delegate's opt-out counts while its delegation does, by signed time:
                    // kept apart from the person's own (`O`), read by checks with its delegation.
                    if r.kind == RequestKind::OptOutSale {
                        staged.put(
                            tables::delegated_opt_out_key(
                                &on_behalf.person,
                                &r.collector,
                                entry.time_ms,
                                &entry.id,
                            ),
                            on_behalf.delegation.0.to_vec(),
                        );
                    }
                    delegations::statement(staged, entry, on_behalf, &r.collector, index, touched);
                }
            }
            Ok(delivered.then_some(r.collector))
        }
        Body::Delegation(d) => delegations::delegation(staged, entry, d, index),
        Body::Undelegation(u) => delegations::undelegation(staged, entry, u, index, touched),
        Body::Endorsement(e) => delegations::endorsement(staged, entry, e, index, touched),
        Body::Accreditation(a) => {
            let record = AccreditationRecord::Accredited {
                from_ms: entry.time_ms,
                until_ms: a.valid_until,
            };
            staged.put(
                tables::accreditation_key(&a.collector, &feed),
                tables::encode(&record)?,
            );
            Ok(Some(a.collector))
        }
        Body::Suspension(s) => {
            staged.put(
                tables::accreditation_key(&s.collector, &feed),
                tables::encode(&AccreditationRecord::Suspended)?,
            );
            Ok(Some(s.collector))
        }
        Body::Ack(a) => {
            answers::answered(staged, &feed, &a.request, entry.time_ms, arrived_ms)?;
            Ok(None)
        }
        _ => Ok(None),
    }
}

/// Stages a grant's record (with its scope if it or its policy has one: a `G` row, or for a
/// grant signed on behalf of a person a `d` row under the person) and, if it lapses, its expiry
/// index entry (naming the person as its subject).
fn stage_grant(
    staged: &mut Staged<'_, dyn KvStore>,
    entry: &Entry,
    g: &Grant,
) -> Result<(), StoreError> {
    let feed = entry.feed;
    let subject = g.on_behalf.as_ref().map_or(feed, |o| o.person);
    if let Some(until) = g.valid_until {
        staged.put(
            tables::expiry_key(&g.collector, until, &entry.id),
            subject.0.to_vec(),
        );
    }
    // Validation just read the policy the grant names (a grant waits for its policy).
    let policy = staged
        .entry_with_index(&g.policy)?
        .ok_or_else(|| StoreError::Corrupt(format!("granted policy {} missing", g.policy)))?
        .1;
    let Body::Policy(policy) = &policy.body else {
        return Err(StoreError::Corrupt(format!(
            "grant {} names {}, which is not a policy",
            entry.id, g.policy
        )));
    };
    // A draft's `C` row was staged with it, and a grant waits for its policy.
    let draft = consultation(staged, &g.policy)?
        .filter(|c| c.gated)
        .map(|_| g.policy.0);
    let record = GrantRecord {
        id: entry.id.0,
        purposes: g.purposes.bits(),
        categories: g.categories.bits(),
        valid_from: g.valid_from,
        valid_until: g.valid_until.unwrap_or(0),
        revoked: false,
        scope: ScopeRecord::of(&g.policy, policy.scope.as_ref(), g.scope.as_ref()),
        draft,
    };
    let row = tables::grant_row(entry, g);
    let value = match &g.on_behalf {
        None => tables::encode(&record)?,
        Some(on_behalf) => tables::encode(&DelegatedGrantRecord {
            grant: record,
            seq: entry.seq,
            delegate: feed.0,
            delegation: on_behalf.delegation.0,
        })?,
    };
    staged.put(row, value);
    Ok(())
}

/// Stages a revocation (and, with `erase`, records a request awaiting the collector's answer);
/// returns the grant's collector (`None` for a delegated revocation that does not count when
/// written: it is not delivered). A feed's Revoke of its own grant, in someone's name or not,
/// marks the grant's record revoked (`G` row, or `d` row for a delegate retracting its grant);
/// any other feed's (a delegate's, the person's of a delegate's grant) is an `h` row, which checks
/// count as the delegation it names says (always, for the person's own).
fn stage_revoke(
    staged: &mut Staged<'_, dyn KvStore>,
    entry: &Entry,
    r: &Revoke,
    arrived_ms: u64,
    index: u64,
    touched: &mut Vec<FeedId>,
) -> Result<Option<FeedId>, StoreError> {
    let granted = staged
        .entry_with_index(&r.grant)?
        .ok_or_else(|| StoreError::Corrupt(format!("revoked grant {} missing", r.grant)))?
        .1;
    let Body::Grant(g) = &granted.body else {
        return Ok(None);
    };
    // A revocation an ex-delegate signed in someone's name (not of its own grant) withdraws
    // nothing: it is not delivered to the collector (no erasure awaited, no watch event).
    let delivered = match &r.on_behalf {
        Some(on_behalf) if entry.feed != granted.feed => {
            delegations::counts_when_written(staged, entry, on_behalf, true)?
        }
        _ => true,
    };
    if r.erase && delivered {
        answers::asked(staged, &g.collector, &entry.id, entry.time_ms, arrived_ms)?;
    }
    // A feed's revocation of a grant it signed always counts, in someone's name or not: its
    // record is marked. Any other feed's is an `h` row, judged by the decision rule.
    if entry.feed == granted.feed {
        let key = tables::grant_row(&granted, g);
        let missing = || StoreError::Corrupt(format!("grant record missing for {}", r.grant));
        let value = match &g.on_behalf {
            None => {
                let mut record = staged.grant_record(&key)?.ok_or_else(missing)?;
                record.revoked = true;
                tables::encode(&record)?
            }
            Some(_) => {
                let mut record = staged.delegated_grant_record(&key)?.ok_or_else(missing)?;
                record.grant.revoked = true;
                tables::encode(&record)?
            }
        };
        staged.put(key, value);
    } else {
        let record = RevocationRecord {
            revoke: entry.id.0,
            delegation: r.on_behalf.as_ref().map(|o| o.delegation.0),
            signed_ms: entry.time_ms,
        };
        staged.put(
            tables::revocation_key(&r.grant, &entry.feed),
            tables::encode(&record)?,
        );
    }
    // The grant's subject: checks about it read the revocation.
    if let Some(person) = g.on_behalf.as_ref().map(|o| o.person) {
        touched.push(person);
    }
    if let Some(on_behalf) = &r.on_behalf {
        delegations::statement(staged, entry, on_behalf, &g.collector, index, touched);
    }
    Ok(delivered.then_some(g.collector))
}

/// A consultation's `C` row, if `draft` has one.
fn consultation(
    staged: &Staged<'_, dyn KvStore>,
    draft: &EntryId,
) -> Result<Option<ConsultationRecord>, StoreError> {
    staged
        .get(&tables::consultation_key(draft))?
        .map(|v| tables::decode(&v, "consultation"))
        .transpose()
}

/// The collector of the consultation `draft` (validation required it to be one).
fn consultation_collector(
    staged: &Staged<'_, dyn KvStore>,
    draft: &EntryId,
) -> Result<FeedId, StoreError> {
    consultation(staged, draft)?
        .map(|c| FeedId(c.collector))
        .ok_or_else(|| StoreError::Corrupt(format!("consultation {draft} has no record")))
}

/// Stages what a policy version, a stance, a response or an outcome changes in the consultation
/// tables; returns the collector whose watch stream it joins (a response joins none: the
/// collector wrote it). `before` is the feed's `(policy_head, policy_base)` before a policy
/// version.
///
/// A policy version withdraws the feed's previous one if that is a consultation not yet
/// superseded; what checks decide may change then, but the collector's entry already marks
/// the collectors' facts changed, and grants on drafts are read apart from the subject cache
/// (`decisions`). So does an outcome, a registrar's entry.
fn stage_consultation(
    staged: &mut Staged<'_, dyn KvStore>,
    entry: &Entry,
    state: &FeedState,
    before: (Option<[u8; 32]>, Option<[u8; 32]>),
) -> Result<Option<FeedId>, StoreError> {
    match &entry.body {
        Body::Policy(p) => {
            let (prev, base) = before;
            if let Some(prev) = prev {
                let prev = EntryId(prev);
                if let Some(mut c) = consultation(staged, &prev)?
                    && c.superseded_ms.is_none()
                {
                    c.superseded_ms = Some(entry.time_ms);
                    staged.put(tables::consultation_key(&prev), tables::encode(&c)?);
                    staged.delete(tables::undecided_by_closing_key(c.closes_ms, &prev));
                }
            }
            if let Some(window) = &p.consultation {
                let record = ConsultationRecord {
                    collector: entry.feed.0,
                    seq: entry.seq,
                    version: p.version,
                    time_ms: entry.time_ms,
                    closes_ms: window.closes_ms,
                    // Validity keeps the base when the version is a draft.
                    gated: state.policy_base != Some(entry.id),
                    superseded_ms: None,
                    prev,
                    base,
                };
                staged.put(
                    tables::consultation_key(&entry.id),
                    tables::encode(&record)?,
                );
                staged.put(
                    tables::consultation_by_collector_key(&entry.feed, entry.seq),
                    entry.id.0.to_vec(),
                );
                staged.put(
                    tables::consultation_by_closing_key(window.closes_ms, &entry.id),
                    entry.feed.0.to_vec(),
                );
                staged.put(
                    tables::undecided_by_closing_key(window.closes_ms, &entry.id),
                    entry.feed.0.to_vec(),
                );
            }
            Ok(Some(entry.feed))
        }
        Body::Stance(s) => {
            let collector = consultation_collector(staged, &s.draft)?;
            let key = tables::stance_key(&s.draft, &entry.feed);
            let old = staged
                .get(&key)?
                .map(|v| tables::decode::<StanceRecord>(&v, "stance"))
                .transpose()?;
            // A feed's entries are accepted in seq order, so a stance is its feed's latest.
            if old.is_none_or(|o| o.seq < entry.seq) {
                let (support, reasons) = match &s.position {
                    Position::Support => (true, 0u8),
                    Position::Object(reasons) => (false, reasons.bits() as u8),
                };
                // Affected: the feed granted to the collector before this stance.
                let grants = tables::grant_prefix(&entry.feed, &collector);
                let before = tables::grant_key(&entry.feed, &collector, entry.seq);
                let affected = staged.first_in_range(&grants, &before)?.is_some();
                let record = StanceRecord {
                    seq: entry.seq,
                    support,
                    reasons,
                    affected,
                };
                staged.put(key, tables::encode(&record)?);
                let counts_key = tables::stance_counts_key(&s.draft);
                let mut counts = match staged.get(&counts_key)? {
                    Some(v) => tables::decode::<CountsRecord>(&v, "stance counts")?.counts(),
                    None => Default::default(),
                };
                counts.replace(
                    old.map(|o| o.facts(entry.feed)).as_ref(),
                    &record.facts(entry.feed),
                );
                staged.put(counts_key, tables::encode(&CountsRecord::of(&counts))?);
            }
            Ok(Some(collector))
        }
        Body::Response(r) => {
            let key = tables::response_key(&r.draft, r.reason as i32 as u8);
            let newer = match staged.get(&key)? {
                Some(v) => tables::decode::<ResponseRecord>(&v, "response")?.seq < entry.seq,
                None => true,
            };
            if newer {
                let record = ResponseRecord {
                    seq: entry.seq,
                    id: entry.id.0,
                };
                staged.put(key, tables::encode(&record)?);
            }
            Ok(None)
        }
        Body::Outcome(o) => {
            let approved = o.result == ConsultationResult::Approved;
            // The registrar's feed beside the result: outcomes of a registrar found to
            // equivocate (its feed frozen) stop counting.
            let mut value = vec![u8::from(approved)];
            value.extend_from_slice(&entry.feed.0);
            staged.put(
                tables::outcome_key(&o.draft, entry.time_ms, &entry.id),
                value,
            );
            if let Some(c) = consultation(staged, &o.draft)? {
                staged.delete(tables::undecided_by_closing_key(c.closes_ms, &o.draft));
            }
            Ok(Some(consultation_collector(staged, &o.draft)?))
        }
        _ => Ok(None),
    }
}
