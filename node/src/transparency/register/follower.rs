//! The follower: the one task that writes the register. At start it reads the arrival log from
//! the store into it. Then it takes in the entries the ledger's writer announces once it has
//! made them durable ([`Ledger::accepted`]: decoded already, with their arrival index), in index
//! order, without reading them again. What it did not get that way (entries accepted before it
//! subscribed, or announcements it fell behind on: `Lagged`, or a gap in the indexes) it reads
//! from the store from where the register stands, as at start: nothing is lost, and what waits
//! for it in memory is bounded by the ledger's channel. Store reads and the lookups some entries
//! need (the grant a revocation names, whether a policy version is a draft) run off the async
//! threads, and the register's lock is held only while entries are applied, so pages are never
//! kept waiting on the store.

use std::borrow::Borrow;
use std::sync::Arc;
use std::time::Duration;

use consent_proto::body::Body;
use consent_proto::entry::Entry;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio_util::sync::CancellationToken;

use super::Shared;
use crate::ledger::{Accepted, Ledger, LedgerError};

/// Entries read from the log per step while catching up.
const READ_BATCH: usize = 4096;
/// Announced entries taken in at once (one hold of the register's lock).
const APPLY_BATCH: usize = 4096;
/// How long the follower waits before reading the log again after a failed read.
const RETRY: Duration = Duration::from_secs(5);

/// Reads `ledger`'s log into `register`, then takes in the entries `announced` brings
/// (subscribed to [`Ledger::accepted`] before the call, so nothing committed in between is
/// missed), until `cancel` fires. Entries that cannot be read are logged and skipped (the store
/// check is the place that refuses a damaged store, not the page).
pub(crate) async fn follow(
    ledger: Ledger,
    register: Shared,
    mut announced: broadcast::Receiver<Arc<Accepted>>,
    cancel: CancellationToken,
) {
    // What was accepted before the subscription is in the store only.
    let mut catch_up = Some(ledger.durable_size());
    loop {
        if cancel.is_cancelled() {
            break;
        }
        let Some(at) = position(&register) else {
            return;
        };
        if catch_up.is_some_and(|target| at >= target) {
            catch_up = None;
        }
        if catch_up.is_some() {
            let (l, r) = (ledger.clone(), register.clone());
            match tokio::task::spawn_blocking(move || read_batch(&l, &r, at)).await {
                Ok(Ok(0)) => {
                    tracing::warn!(
                        from = at,
                        "transparency register: the log ends before the node's count of it; following new entries"
                    );
                    catch_up = None;
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "transparency register: cannot read the log");
                    tokio::select! {
                        () = cancel.cancelled() => break,
                        () = tokio::time::sleep(RETRY) => {}
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "transparency register task failed");
                    return;
                }
            }
        } else {
            tokio::select! {
                () = cancel.cancelled() => break,
                received = announced.recv() => match received {
                    Ok(first) => {
                        let mut batch = vec![first];
                        while batch.len() < APPLY_BATCH {
                            match announced.try_recv() {
                                Ok(next) => batch.push(next),
                                // Empty, or behind: a gap in the indexes says so.
                                Err(_) => break,
                            }
                        }
                        match take_in(&ledger, &register, batch).await {
                            Some(Ok(true)) => {}
                            Some(Ok(false)) => catch_up = Some(ledger.durable_size()),
                            Some(Err(e)) => {
                                tracing::error!(error = %e, "transparency register: cannot read what an entry names; reading the log");
                                catch_up = Some(ledger.durable_size());
                            }
                            None => return,
                        }
                    }
                    Err(RecvError::Lagged(missed)) => {
                        tracing::debug!(missed, "transparency register: behind the writer's announcements; reading the log");
                        catch_up = Some(ledger.durable_size());
                    }
                    Err(RecvError::Closed) => break,
                },
            }
        }
    }
}

/// How far into the log the register has read; `None` (logged) if its lock is poisoned.
fn position(register: &Shared) -> Option<u64> {
    match register.read() {
        Ok(r) => Some(r.read_to),
        Err(_) => {
            tracing::error!("transparency register: its lock is poisoned; it stops following");
            None
        }
    }
}

/// Takes in a batch of announced entries: on this thread when none needs a store read (the
/// common case: grants, requests), else on a blocking thread. `Some(Ok(false))`: a gap, the rest
/// is to be read from the store; `None`: the task failed.
async fn take_in(
    ledger: &Ledger,
    register: &Shared,
    batch: Vec<Arc<Accepted>>,
) -> Option<Result<bool, LedgerError>> {
    if !batch.iter().any(|a| needs_store(&a.entry)) {
        return Some(take_announced(ledger, register, &batch));
    }
    let (l, r) = (ledger.clone(), register.clone());
    match tokio::task::spawn_blocking(move || take_announced(&l, &r, &batch)).await {
        Ok(taken) => Some(taken),
        Err(e) => {
            tracing::error!(error = %e, "transparency register task failed");
            None
        }
    }
}

/// Applies announced entries in index order from where the register stands: those before it
/// were read already (from the store); one past it means some were missed, so it stops there
/// and answers `false` (the rest is read from the store). The conflicting entries of frozen
/// feeds are not in the log: skipped. Blocking when an entry [`needs_store`].
fn take_announced(
    ledger: &Ledger,
    register: &Shared,
    batch: &[Arc<Accepted>],
) -> Result<bool, LedgerError> {
    let Ok(mut next) = register.read().map(|r| r.read_to) else {
        return Ok(true);
    };
    let mut items = Vec::with_capacity(batch.len());
    let mut contiguous = true;
    for accepted in batch {
        let Some(index) = accepted.index else {
            continue;
        };
        if index < next {
            continue;
        }
        if index > next {
            contiguous = false;
            break;
        }
        let (granted, gated) = lookups(ledger, &accepted.entry)?;
        items.push((index, Some((&accepted.entry, granted, gated))));
        next = index + 1;
    }
    apply(register, items);
    Ok(contiguous)
}

/// Whether taking `entry` in reads the store: a revocation (the grant it names) or a policy
/// version put to consultation (whether it is a draft).
fn needs_store(entry: &Entry) -> bool {
    match &entry.body {
        Body::Revoke(_) => true,
        Body::Policy(p) => p.consultation.is_some(),
        _ => false,
    }
}

/// What taking `entry` in needs from the store: the grant a revocation names, and whether a
/// policy version put to consultation is a draft (the store's record; missing: taken as a
/// draft, fail closed). Blocking for the entries [`needs_store`] names; free for the others.
fn lookups(ledger: &Ledger, entry: &Entry) -> Result<(Option<Entry>, bool), LedgerError> {
    let granted = match &entry.body {
        Body::Revoke(r) => ledger.entry(&r.grant)?.map(|(_, e)| e),
        _ => None,
    };
    let gated = match &entry.body {
        Body::Policy(p) if p.consultation.is_some() => ledger
            .consultation_summary(&entry.id, ledger.now_ms())?
            .is_none_or(|summary| summary.facts.gated),
        _ => false,
    };
    Ok((granted, gated))
}

/// An entry to take in at its arrival index, with what its [`lookups`] found (`None`: not
/// readable, skipped).
type Item<E> = (u64, Option<(E, Option<Entry>, bool)>);

/// Applies entries in index order under one hold of the register's lock; the register's
/// position moves past each.
fn apply<E: Borrow<Entry>>(register: &Shared, items: Vec<Item<E>>) {
    let Ok(mut register) = register.write() else {
        return;
    };
    for (index, item) in items {
        if let Some((entry, granted, gated)) = item
            && let Err(e) =
                register.apply_entry(<E as Borrow<Entry>>::borrow(&entry), |_| granted, |_| gated)
        {
            tracing::warn!(index, error = %e, "transparency register: entry skipped");
        }
        register.read_to = index + 1;
    }
}

/// Reads one batch of the log from the store from `from`: decodes the entries and does their
/// lookups before taking the register's lock. Returns how many log rows it read. Blocking.
fn read_batch(ledger: &Ledger, register: &Shared, from: u64) -> Result<usize, LedgerError> {
    let batch = ledger.log_range(from, READ_BATCH)?;
    let read = batch.len();
    let mut decoded = Vec::with_capacity(read);
    for (index, id, signed) in batch {
        match signed.as_ref().map(Entry::from_signed) {
            Some(Ok(entry)) => {
                let (granted, gated) = lookups(ledger, &entry)?;
                decoded.push((index, Some((entry, granted, gated))));
            }
            _ => {
                tracing::warn!(index, %id, "transparency register: entry not readable, skipped");
                decoded.push((index, None));
            }
        }
    }
    apply(register, decoded);
    Ok(read)
}

#[cfg(test)]
mod tests;
