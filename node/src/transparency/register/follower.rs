//! The follower: the one task that writes the register. At start it loads the register's saved
//! form ([`persist`]) when it describes this node's log, and reads from the store only the log
//! after it (all of it without one). Then it takes in the entries the ledger's writer announces
//! once it has made them durable ([`Ledger::accepted`]: decoded already, with their arrival
//! index), in index order, without reading them again. What it did not get that way (entries
//! accepted before it subscribed, or announcements it fell behind on: `Lagged`, or a gap in the
//! indexes) it reads from the store from where the register stands, as at start: nothing is
//! lost, and what waits for it in memory is bounded by the ledger's channel. It saves the
//! register every [`persist::SAVE_EVERY`] entries and when the node stops. Store reads, the
//! lookups some entries need (the grant a revocation names, whether a policy version is a
//! draft) and saves run off the async threads, and the register's lock is held only while
//! entries are applied, so pages are never kept waiting on the store.

use std::borrow::Borrow;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use consent_proto::body::Body;
use consent_proto::entry::Entry;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio_util::sync::CancellationToken;

use super::{Register, Shared, persist, read_policies};
use crate::ledger::{Accepted, Ledger, LedgerError};

/// Entries read from the log per step while catching up.
const READ_BATCH: usize = 4096;
/// Announced entries taken in at once (one hold of the register's lock).
const APPLY_BATCH: usize = 4096;
/// How long the follower waits before reading the log again after a failed read.
const RETRY: Duration = Duration::from_secs(5);

/// Builds `register` from the saved form in `data_dir` (`None`: nothing is saved) and `ledger`'s
/// log, then takes in the entries `announced` brings (subscribed to [`Ledger::accepted`] before
/// the call, so nothing committed in between is missed), until `cancel` fires; then saves it.
/// Entries that cannot be read are logged and skipped (the store check is the place that
/// refuses a damaged store, not the page).
pub(crate) async fn follow(
    ledger: Ledger,
    register: Shared,
    mut announced: broadcast::Receiver<Arc<Accepted>>,
    data_dir: Option<PathBuf>,
    cancel: CancellationToken,
) {
    if let Some(dir) = data_dir.clone() {
        let (l, r) = (ledger.clone(), register.clone());
        if let Err(e) = tokio::task::spawn_blocking(move || load(&l, &r, &dir)).await {
            tracing::error!(error = %e, "transparency register task failed");
            return;
        }
    }
    let Some(mut saved_at) = position(&register) else {
        return;
    };
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
        if let Some(dir) = &data_dir
            && let Some(at) = position(&register)
            && at >= saved_at.saturating_add(persist::SAVE_EVERY)
        {
            // A failed save is not retried before the next SAVE_EVERY entries.
            save(&ledger, &register, dir).await;
            saved_at = at;
        }
    }
    // A clean stop: the next start reads only what comes after.
    if let Some(dir) = &data_dir
        && position(&register).is_some_and(|at| at > saved_at)
    {
        save(&ledger, &register, dir).await;
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

/// Loads the register's saved form from `data_dir` into `register` (still empty) when it
/// describes this node's log; else says why not (a warning, unless there is none and the log is
/// empty: a new node) and leaves it empty, to be read from the log. Blocking.
fn load(ledger: &Ledger, register: &Shared, data_dir: &Path) {
    let loaded = persist::read(data_dir).and_then(|bytes| match bytes {
        None => Ok(None),
        Some(bytes) => restore(ledger, &bytes).map(Some),
    });
    match loaded {
        Ok(Some(saved)) => {
            tracing::info!(
                log_size = saved.read_to,
                "transparency register: loaded its saved state; reading the log after it"
            );
            if let Ok(mut register) = register.write() {
                *register = saved;
            }
        }
        Ok(None) if ledger.durable_size() == 0 => {}
        Ok(None) => tracing::warn!(
            path = %persist::path(data_dir).display(),
            "transparency register: no saved state; reading the whole log"
        ),
        Err(why) => tracing::warn!(
            path = %persist::path(data_dir).display(),
            %why,
            "transparency register: its saved state is not used; reading the whole log"
        ),
    }
}

/// The register a file's bytes hold, if it describes this node's log: the log's Merkle root at
/// its position is the one saved. `Err` says why not. Blocking.
fn restore(ledger: &Ledger, bytes: &[u8]) -> Result<Register, String> {
    let saved = persist::decode(bytes)?;
    if ledger.tree().root_at(saved.log_size) != Some(saved.root) {
        return Err(format!(
            "it describes another log (or a longer one) than the store's at {} entries",
            saved.log_size
        ));
    }
    persist::restore(saved, ledger.registrars().clone(), |id| {
        read_policies(ledger, std::slice::from_ref(id)).map(|mut found| found.pop())
    })
}

/// Saves the register to `data_dir` off the async threads; a failure is logged (the next start
/// reads more of the log).
async fn save(ledger: &Ledger, register: &Shared, data_dir: &Path) {
    let (l, r, dir) = (ledger.clone(), register.clone(), data_dir.to_path_buf());
    let saved = tokio::task::spawn_blocking(move || {
        let (at, bytes) = {
            let register = r
                .read()
                .map_err(|_| "the register's lock is poisoned".to_string())?;
            let root = l
                .tree()
                .root_at(register.read_to)
                .ok_or_else(|| "the log's root at its position cannot be read".to_string())?;
            let bytes = persist::encode(&persist::saved(&register, root))?;
            (register.read_to, bytes)
        };
        persist::write(&dir, &bytes)
            .map_err(|e| format!("cannot write {}: {e}", persist::path(&dir).display()))?;
        Ok::<u64, String>(at)
    })
    .await;
    match saved {
        Ok(Ok(at)) => tracing::debug!(log_size = at, "transparency register: state saved"),
        Ok(Err(why)) => tracing::warn!(
            %why,
            "transparency register: state not saved; the next start reads more of the log"
        ),
        Err(e) => tracing::error!(error = %e, "transparency register task failed"),
    }
}

#[cfg(test)]
mod tests;
