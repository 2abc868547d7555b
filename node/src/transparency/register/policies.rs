//! A collector's policy versions beyond what the register keeps in memory, read from the store:
//! the version in effect now with the one before it, and the history its page shows.

use consent_proto::body::Body;
use consent_proto::ids::EntryId;

use super::{Collector, PolicyVersion};
use crate::ledger::{Ledger, LedgerError};

/// A collector's policy version in effect, with the version signed just before it (to say what
/// changed).
#[derive(Debug, Clone)]
pub(crate) struct Current {
    /// The version in effect.
    pub version: PolicyVersion,
    /// The version before it in the collector's feed (whatever became of it), if kept.
    pub before: Option<PolicyVersion>,
}

/// The policy versions with these entry ids, oldest first, read from the store (a collector's
/// page shows more of its history than the register keeps in memory). Blocking.
pub(crate) fn read_policies(
    ledger: &Ledger,
    ids: &[EntryId],
) -> Result<Vec<PolicyVersion>, LedgerError> {
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some((_, entry)) = ledger.entry(id)?
            && let Body::Policy(policy) = entry.body
        {
            out.push(PolicyVersion {
                id: *id,
                at_ms: entry.time_ms,
                policy,
            });
        }
    }
    Ok(out)
}

/// The collector's policy version in effect at `now_ms` (the newest kept one that is not a
/// draft waiting for, or refused by, a registrar) and the version signed before it: from memory
/// when kept there, else read from the store. `None` when it has published none, or when none of
/// its kept versions is in effect. Blocking.
pub(crate) fn current_policy(
    ledger: &Ledger,
    collector: &Collector,
    now_ms: u64,
) -> Result<Option<Current>, LedgerError> {
    let ids: Vec<EntryId> = collector.policy_ids.iter().copied().collect();
    let Some(i) = collector
        .current_id(now_ms)
        .and_then(|current| ids.iter().rposition(|id| *id == current))
    else {
        return Ok(None);
    };
    let version = |id: &EntryId| -> Result<Option<PolicyVersion>, LedgerError> {
        match collector.recent.iter().find(|v| v.id == *id) {
            Some(kept) => Ok(Some(kept.clone())),
            None => Ok(read_policies(ledger, std::slice::from_ref(id))?.pop()),
        }
    };
    let Some(current) = version(&ids[i])? else {
        return Ok(None);
    };
    let before = match i.checked_sub(1) {
        Some(j) => version(&ids[j])?,
        None => None,
    };
    Ok(Some(Current {
        version: current,
        before,
    }))
}
