//! The follower: reads the arrival log into the register from the start, then follows it as it
//! grows, a batch at a time, off the async threads and without keeping pages waiting.

use std::time::Duration;

use consent_proto::body::Body;
use consent_proto::entry::Entry;
use tokio_util::sync::CancellationToken;

use super::Shared;
use crate::ledger::{Ledger, LedgerError};

/// Entries read from the log per step while catching up.
const READ_BATCH: usize = 4096;
/// How often the follower looks for new entries once caught up.
const POLL: Duration = Duration::from_millis(250);

/// Reads `ledger`'s arrival log into `register` from where it stopped, until it is caught up or
/// `cancel` fires; then follows new entries. Entries that cannot be read are logged and skipped
/// (the store check is the place that refuses a damaged store, not the page).
pub(crate) async fn follow(ledger: Ledger, register: Shared, cancel: CancellationToken) {
    loop {
        let from = register.read().map(|r| r.read_to).unwrap_or(u64::MAX);
        let caught_up = from >= ledger.stats().log_size;
        if caught_up {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(POLL) => continue,
            }
        }
        let (l, r) = (ledger.clone(), register.clone());
        match tokio::task::spawn_blocking(move || read_batch(&l, &r, from)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::error!(error = %e, "transparency register: cannot read the log");
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "transparency register task failed");
                return;
            }
        }
        if cancel.is_cancelled() {
            return;
        }
    }
}

/// Reads one batch: decodes the entries and looks up the grants revocations name before taking
/// the register's lock, so pages are never kept waiting on the store.
fn read_batch(ledger: &Ledger, register: &Shared, from: u64) -> Result<(), LedgerError> {
    let batch = ledger.log_range(from, READ_BATCH)?;
    let mut decoded = Vec::with_capacity(batch.len());
    for (index, id, signed) in batch {
        match signed.as_ref().map(Entry::from_signed) {
            Some(Ok(entry)) => {
                let granted = match &entry.body {
                    Body::Revoke(r) => ledger.entry(&r.grant)?.map(|(_, e)| e),
                    _ => None,
                };
                // Whether a version put to consultation is a draft: the store's record (missing:
                // taken as a draft, fail closed).
                let gated = match &entry.body {
                    Body::Policy(p) if p.consultation.is_some() => ledger
                        .consultation_summary(&entry.id, ledger.now_ms())?
                        .is_none_or(|summary| summary.facts.gated),
                    _ => false,
                };
                decoded.push((index, Some((entry, granted, gated))));
            }
            _ => {
                tracing::warn!(index, %id, "transparency register: entry not readable, skipped");
                decoded.push((index, None));
            }
        }
    }
    let Ok(mut register) = register.write() else {
        return Ok(());
    };
    for (index, item) in decoded {
        if let Some((entry, granted, gated)) = item
            && let Err(e) = register.apply_entry(&entry, |_| granted, |_| gated)
        {
            tracing::warn!(index, error = %e, "transparency register: entry skipped");
        }
        register.read_to = index + 1;
    }
    Ok(())
}
