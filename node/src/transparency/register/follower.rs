//! The follower: the one task that writes the register. At start it loads the register's saved
//! form ([`persist`]) when it describes this node's log, and reads from the store only the log
//! after it (all of it without one). Then it takes in the entries the ledger's writer announces
//! once it has made them durable ([`Ledger::accepted`]: decoded already, with their arrival
//! index), in index order, without reading them again. What it did not get that way (entries
//! accepted before it subscribed, or announcements it fell behind on: `Lagged`, or a gap in the
//! indexes) it reads from the store from where the register stands, as at start: nothing is
//! lost, and what waits for it in memory is bounded by the ledger's channel; it never reads past
//! what is durable. It saves the register every [`persist::SAVE_EVERY`] entries and when the
//! node stops, keyed with the node's key ([`Saving`]). Store reads, the
//! lookups some entries need (the grant a revocation names, whether a policy version is a
//! draft) and saves run off the async threads, and the register's lock is held only while
//! entries are applied, so pages are never kept waiting on the store. `consentd check-store
//! --full` compares the saved register with the one the log gives ([`compare_saved`]).

use std::borrow::Borrow;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
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

/// Where the follower keeps the register's saved form, and the key of its checksum.
#[derive(Debug, Clone)]
pub(crate) struct Saving {
    /// The node's data directory.
    pub dir: PathBuf,
    /// The key of the file's MAC, from the node's secret key.
    pub key: persist::FileKey,
}

/// Builds `register` from the saved form `saving` names (`None`: nothing is saved) and
/// `ledger`'s log, then takes in the entries `announced` brings (subscribed to
/// [`Ledger::accepted`] before the call, so nothing committed in between is missed), until
/// `cancel` fires; then saves it. Entries that cannot be read are logged and skipped (the store
/// check is the place that refuses a damaged store, not the page).
pub(crate) async fn follow(
    ledger: Ledger,
    register: Shared,
    mut announced: broadcast::Receiver<Arc<Accepted>>,
    saving: Option<Saving>,
    cancel: CancellationToken,
) {
    if let Some(saving) = saving.clone() {
        let (l, r) = (ledger.clone(), register.clone());
        if let Err(e) = tokio::task::spawn_blocking(move || load(&l, &r, &saving)).await {
            tracing::error!(error = %e, "transparency register task failed");
            return;
        }
    }
    let Some(mut saved_at) = position(&register) else {
        return;
    };
    // Cleared when no later save can work (`save`).
    let mut saves = saving.is_some();
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
        if let Some(target) = catch_up {
            let (l, r) = (ledger.clone(), register.clone());
            match tokio::task::spawn_blocking(move || read_batch(&l, &r, at, target)).await {
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
        if saves
            && let Some(saving) = &saving
            && let Some(at) = position(&register)
            && at >= saved_at.saturating_add(persist::SAVE_EVERY)
        {
            // A failed save is not retried before the next SAVE_EVERY entries.
            saves = save(&ledger, &register, saving).await;
            saved_at = at;
        }
    }
    // A clean stop: the next start reads only what comes after.
    if saves
        && let Some(saving) = &saving
        && position(&register).is_some_and(|at| at > saved_at)
    {
        save(&ledger, &register, saving).await;
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
/// position moves past each. An entry not readable (`None`), or that cannot be taken in, is
/// skipped and counted (`Register::skipped`).
fn apply<E: Borrow<Entry>>(register: &Shared, items: Vec<Item<E>>) {
    let Ok(mut register) = register.write() else {
        return;
    };
    for (index, item) in items {
        match item {
            Some((entry, granted, gated)) => {
                if let Err(e) = register.apply_entry(
                    <E as Borrow<Entry>>::borrow(&entry),
                    |_| granted,
                    |_| gated,
                ) {
                    tracing::warn!(index, error = %e, "transparency register: entry skipped");
                    register.skipped += 1;
                }
            }
            None => register.skipped += 1,
        }
        register.read_to = index + 1;
    }
}

/// Reads one batch of the log from the store from `from`, never at `until` or past it (the log
/// known durable when the read was decided on, or the position a saved register describes):
/// decodes the entries and does their lookups before taking the register's lock. Returns how
/// many log rows it read. Blocking.
fn read_batch(
    ledger: &Ledger,
    register: &Shared,
    from: u64,
    until: u64,
) -> Result<usize, LedgerError> {
    let limit = usize::try_from(until.saturating_sub(from))
        .unwrap_or(usize::MAX)
        .min(READ_BATCH);
    if limit == 0 {
        return Ok(0);
    }
    let batch = ledger.log_range(from, limit)?;
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

/// Loads the register's saved form from `saving` into `register` (still empty) when this node
/// wrote it and it describes this node's log; else says why not (a warning, unless there is
/// none and the log is empty: a new node) and leaves it empty, to be read from the log.
/// Blocking.
fn load(ledger: &Ledger, register: &Shared, saving: &Saving) {
    let data_dir = saving.dir.as_path();
    let loaded = persist::read(data_dir).and_then(|bytes| match bytes {
        None => Ok(None),
        Some(bytes) => restore(ledger, &bytes, &saving.key).map(Some),
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

/// The register a file's bytes hold, if `key` wrote them and they describe this node's log: the
/// log's Merkle root at its position is the one saved. `Err` says why not. Blocking.
fn restore(ledger: &Ledger, bytes: &[u8], key: &persist::FileKey) -> Result<Register, String> {
    let saved = persist::decode(bytes, key)?;
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

/// Why a save did not happen.
enum NotSaved {
    /// This time (why); the next save may work.
    Now(String),
    /// Nor can any later one in this process (why): entries were skipped, or the saved form is
    /// larger than a start reads.
    ForGood(String),
}

/// Saves the register as `saving` says off the async threads; a failure is logged (the next
/// start reads more of the log). `false` when no later save in this process can work (said
/// once, here): the register skipped entries it could not take in (a register that misses them
/// is never saved, so that a start reads them again, from a repaired store too), or its saved
/// form would be larger than a start reads.
async fn save(ledger: &Ledger, register: &Shared, saving: &Saving) -> bool {
    let (l, r, dir, key) = (
        ledger.clone(),
        register.clone(),
        saving.dir.clone(),
        saving.key.clone(),
    );
    let saved = tokio::task::spawn_blocking(move || {
        let (at, bytes) = {
            let register = r
                .read()
                .map_err(|_| NotSaved::Now("the register's lock is poisoned".into()))?;
            if register.skipped > 0 {
                return Err(NotSaved::ForGood(format!(
                    "{} entries of the log could not be taken in (is the store damaged? run \
                     `consentd check-store`)",
                    register.skipped
                )));
            }
            let root = l.tree().root_at(register.read_to).ok_or_else(|| {
                NotSaved::Now("the log's root at its position cannot be read".into())
            })?;
            let bytes =
                persist::encode(&persist::saved(&register, root), &key).map_err(|e| match e {
                    persist::Unsaved::TooLarge(_) => NotSaved::ForGood(e.to_string()),
                    persist::Unsaved::Other(_) => NotSaved::Now(e.to_string()),
                })?;
            (register.read_to, bytes)
        };
        persist::write(&dir, &bytes).map_err(|e| {
            NotSaved::Now(format!(
                "cannot write {}: {e}",
                persist::path(&dir).display()
            ))
        })?;
        Ok::<u64, NotSaved>(at)
    })
    .await;
    match saved {
        Ok(Ok(at)) => tracing::debug!(log_size = at, "transparency register: state saved"),
        Ok(Err(NotSaved::Now(why))) => tracing::warn!(
            %why,
            "transparency register: state not saved; the next start reads more of the log"
        ),
        Ok(Err(NotSaved::ForGood(why))) => {
            tracing::warn!(
                %why,
                "transparency register: state not saved, nor saved again until the node restarts; the next start reads the log after the last state saved"
            );
            return false;
        }
        Err(e) => tracing::error!(error = %e, "transparency register task failed"),
    }
    true
}

/// What the saved register is, against the log (`consentd check-store --full`).
#[derive(Debug)]
pub(crate) enum Compared {
    /// There is none.
    Absent,
    /// A start would not load it either (why): it would read the whole log instead.
    NotUsed(String),
    /// It is the register the log's first `log_size` entries give.
    Same {
        /// Its position.
        log_size: u64,
    },
    /// It is not: `what` differs. It was deleted (the next start reads the whole log), or
    /// `deleted` says why not.
    Differs {
        /// Its position.
        log_size: u64,
        /// What differs.
        what: String,
        /// Whether the file was deleted.
        deleted: Result<(), String>,
    },
}

/// Compares the register saved as `saving` says with the one the log's entries up to its
/// position give, read from the store as a start without a saved register reads them. A file
/// that differs (edited by someone holding the node's key, or counted by a bug that left
/// [`super::RULES_VERSION`] as it was) is deleted. Blocking: it reads the log up to the file's
/// position.
pub(crate) fn compare_saved(ledger: &Ledger, saving: &Saving) -> Result<Compared, LedgerError> {
    let bytes = match persist::read(&saving.dir) {
        Ok(None) => return Ok(Compared::Absent),
        Ok(Some(bytes)) => bytes,
        Err(why) => return Ok(Compared::NotUsed(why)),
    };
    let saved = match restore(ledger, &bytes, &saving.key) {
        Ok(saved) => saved,
        Err(why) => return Ok(Compared::NotUsed(why)),
    };
    let log_size = saved.read_to;
    let rebuilt: Shared = Arc::new(RwLock::new(Register::new(ledger.registrars().clone())));
    while let Some(at) = position(&rebuilt)
        && at < log_size
    {
        if read_batch(ledger, &rebuilt, at, log_size)? == 0 {
            break;
        }
    }
    let rebuilt = rebuilt
        .read()
        .map_err(|_| LedgerError::Internal("the rebuilt register's lock is poisoned"))?;
    if *rebuilt == saved {
        return Ok(Compared::Same { log_size });
    }
    let what = differences(&saved, &rebuilt);
    let deleted = std::fs::remove_file(persist::path(&saving.dir)).map_err(|e| e.to_string());
    Ok(Compared::Differs {
        log_size,
        what,
        deleted,
    })
}

/// What differs between a saved register and the one rebuilt from the log: the collectors
/// (the first five named), or else its position or the consultations it follows.
fn differences(saved: &Register, rebuilt: &Register) -> String {
    const NAMED: usize = 5;
    let mut differing: Vec<String> = saved
        .collectors
        .iter()
        .filter(|(feed, c)| rebuilt.collectors.get(*feed) != Some(*c))
        .map(|(feed, _)| format!("{feed:?}"))
        .collect();
    differing.extend(
        rebuilt
            .collectors
            .keys()
            .filter(|feed| !saved.collectors.contains_key(*feed))
            .map(|feed| format!("{feed:?}")),
    );
    let n = differing.len();
    if n == 0 {
        return format!(
            "its position ({} against {}) or the consultations it follows",
            saved.read_to, rebuilt.read_to
        );
    }
    differing.truncate(NAMED);
    let more = if n > NAMED { ", …" } else { "" };
    format!("{n} collector(s): {}{more}", differing.join(", "))
}

#[cfg(test)]
mod tests;
