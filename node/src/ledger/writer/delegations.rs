//! What appending a Delegation, an Undelegation, an Endorsement, or a statement a delegate signs
//! on behalf of a person writes (the grant, revocation and opt-out rows themselves are staged in
//! `append`). Validity has checked everything these read: a delegated entry names a Delegation
//! present, an Undelegation a Delegation present, an Endorsement a delegated Grant present.
//!
//! Every such entry marks the person's feed changed (`touched`), so the checks' cache of what
//! they know about the person (`decisions`) is dropped at the commit that changes it: an
//! Undelegation ends the delegation for every check from then on. Watch streams: a Delegation
//! joins the stream of each collector it lists; an Undelegation that of each collector in its
//! delegation's `y` rows (listed, or named by a statement made under it); an Endorsement that of
//! its grant's collector.

use consent_proto::Entry;
use consent_proto::body::{Body, Delegation, Endorsement, OnBehalf, Undelegation};
use consent_proto::ids::FeedId;

use super::super::staged::Staged;
use super::super::tables::{self, DelegationRecord, EndorsementRecord};
use crate::store::{KvStore, StoreError};

/// Whether a revocation, an opt-out (`withdrawal`: judged by
/// [`consent_proto::delegation::withdrawal_counts`]) or another request (access, erasure, ...:
/// judged like a grant, by `DelegationState::counts`, so `void_from_ms` voids a request an
/// ex-delegate backdated) `entry` signed in `on_behalf`'s name counts as the delegation stands
/// when it is written: what the node delivers to the collector (awaiting an answer, its watch
/// stream). Not a decision: checks judge revocations and opt-outs again with the undelegations
/// present then.
pub(super) fn counts_when_written(
    staged: &Staged<'_, dyn KvStore>,
    entry: &Entry,
    on_behalf: &OnBehalf,
    withdrawal: bool,
) -> Result<bool, StoreError> {
    let Some(record) = staged.delegation_record(&on_behalf.person, &on_behalf.delegation)? else {
        // Validity required the delegation present: fail closed.
        return Ok(false);
    };
    let state = record.state(on_behalf.delegation, on_behalf.person)?;
    Ok(if withdrawal {
        consent_proto::delegation::withdrawal_counts(Some((&state, entry.time_ms)))
    } else {
        state.counts(entry.time_ms)
    })
}

/// The rows every statement a delegate signs on behalf of a person stages: the person's
/// delegated log (`l`, for `ListDelegated`), the collector under the delegation (`y`, where its
/// Undelegations go), and the person's feed marked changed.
pub(super) fn statement(
    staged: &mut Staged<'_, dyn KvStore>,
    entry: &Entry,
    on_behalf: &OnBehalf,
    collector: &FeedId,
    index: u64,
    touched: &mut Vec<FeedId>,
) {
    touched.push(on_behalf.person);
    staged.put(
        tables::delegated_log_key(&on_behalf.person, index),
        entry.id.0.to_vec(),
    );
    staged.put(
        tables::delegation_collector_key(&on_behalf.delegation, collector),
        Vec::new(),
    );
}

/// A Delegation of `entry.feed` (the person): its `j` row, the person's `g` row, its `t` row
/// under the delegate, and for each collector it lists a `y` row and a row in that collector's
/// watch stream.
pub(super) fn delegation(
    staged: &mut Staged<'_, dyn KvStore>,
    entry: &Entry,
    d: &Delegation,
    index: u64,
) -> Result<Option<FeedId>, StoreError> {
    staged.put(
        tables::delegation_key(&entry.feed, &entry.id),
        tables::encode(&DelegationRecord::of(entry.time_ms, d))?,
    );
    staged.put(tables::delegating_key(&entry.feed), Vec::new());
    staged.put(
        tables::delegation_by_delegate_key(&d.delegate, &entry.feed, &entry.id),
        Vec::new(),
    );
    for collector in &d.collectors {
        staged.put(
            tables::delegation_collector_key(&entry.id, collector),
            Vec::new(),
        );
        staged.put(tables::watch_key(collector, index), entry.id.0.to_vec());
    }
    Ok(None)
}

/// An Undelegation, by the person or by the delegate resigning: the delegation's end moves to
/// its `void_from_ms` if that is earlier, and it joins the watch stream of every collector the
/// delegation concerns.
pub(super) fn undelegation(
    staged: &mut Staged<'_, dyn KvStore>,
    entry: &Entry,
    u: &Undelegation,
    index: u64,
    touched: &mut Vec<FeedId>,
) -> Result<Option<FeedId>, StoreError> {
    let (_, delegation) = staged.entry_with_index(&u.delegation)?.ok_or_else(|| {
        StoreError::Corrupt(format!("undelegated delegation {} missing", u.delegation))
    })?;
    if !matches!(delegation.body, Body::Delegation(_)) {
        return Err(StoreError::Corrupt(format!(
            "undelegation {} names {}, which is not a delegation",
            entry.id, u.delegation
        )));
    }
    let person = delegation.feed;
    let mut record = staged
        .delegation_record(&person, &u.delegation)?
        .ok_or_else(|| {
            StoreError::Corrupt(format!("delegation record missing for {}", u.delegation))
        })?;
    record.undelegate(
        &entry.id,
        consent_proto::delegation::void_from(u, entry.time_ms),
        entry.time_ms,
    );
    staged.put(
        tables::delegation_key(&person, &u.delegation),
        tables::encode(&record)?,
    );
    touched.push(person);
    if entry.feed != person {
        // The delegate resigning: an entry a delegate signed about the person.
        staged.put(
            tables::delegated_log_key(&person, index),
            entry.id.0.to_vec(),
        );
    }
    let prefix = tables::delegation_collector_prefix(&u.delegation);
    for (key, _) in staged.scan_prefix(&prefix)? {
        let collector = FeedId(tables::bytes32(&key[prefix.len()..])?);
        staged.put(tables::watch_key(&collector, index), entry.id.0.to_vec());
    }
    Ok(None)
}

/// An Endorsement of a delegated grant: its `b` row under the grant; it joins the grant's
/// collector's watch stream.
pub(super) fn endorsement(
    staged: &mut Staged<'_, dyn KvStore>,
    entry: &Entry,
    e: &Endorsement,
    index: u64,
    touched: &mut Vec<FeedId>,
) -> Result<Option<FeedId>, StoreError> {
    let (_, granted) = staged
        .entry_with_index(&e.grant)?
        .ok_or_else(|| StoreError::Corrupt(format!("endorsed grant {} missing", e.grant)))?;
    let Body::Grant(g) = &granted.body else {
        return Err(StoreError::Corrupt(format!(
            "endorsement {} names {}, which is not a grant",
            entry.id, e.grant
        )));
    };
    let record = EndorsementRecord {
        delegation: e.on_behalf.delegation.0,
        signed_ms: entry.time_ms,
    };
    staged.put(
        tables::endorsement_key(&e.grant, &entry.feed, &entry.id),
        tables::encode(&record)?,
    );
    statement(staged, entry, &e.on_behalf, &g.collector, index, touched);
    Ok(Some(g.collector))
}
