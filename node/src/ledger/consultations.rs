//! Consultations as the ledger reads them: a draft's facts for the state machine and the
//! decision rule (its `C` row and its `B` rows, without those of registrars whose feed is
//! frozen), the counts of its stances (its `I` row, kept by the writer as stances arrive: O(1)
//! per read), and the pages and details the API and the transparency site show. Blocking: call these off the
//! async threads.
//!
//! State, effect and counting are consent-proto's pure functions (`consent_proto::consultation`)
//! over these facts, so every node reading the same entries answers the same.

use consent_proto::Entry;
use consent_proto::body::Body;
use consent_proto::consultation::{self, Counts, DraftFacts, OutcomeFacts, State};
use consent_proto::ids::{EntryId, FeedId};

use super::staged::Staged;
use super::tables::{self, ConsultationRecord, CountsRecord, ResponseRecord, prefix};
use super::{Ledger, LedgerError, prefix_end};
use crate::store::{KvStore, StoreError};

/// Rows a [`Ledger::consultations`] call scans at most (consultations of the listing order that
/// the filter skips count too); a page cut short by it carries a token to go on.
pub const MAX_SCANNED: usize = 4_096;
/// Outcomes a [`ConsultationRead`] holds at most (the first ones by `(time_ms, id)`; the first
/// decides). Only genesis registrars sign outcomes, and each is at most one entry's size: this
/// keeps a `GetConsultation` answer far below a gRPC message's 4 MiB whatever they sign.
pub const MAX_OUTCOMES_READ: usize = 64;

/// Which consultations [`Ledger::consultations`] lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsultationFilter {
    /// One collector's, oldest first; `None`: every collector's, closing first.
    pub collector: Option<FeedId>,
    /// Only those open now (their window not closed, not withdrawn, not decided).
    pub open_only: bool,
    /// The page token of the previous page (`None`: from the start).
    pub after: Option<Vec<u8>>,
    /// Most consultations in the page.
    pub limit: usize,
}

impl ConsultationFilter {
    /// Whether [`Self::after`] is a token this filter's listing order can have given.
    pub fn token_valid(&self) -> bool {
        let Some(token) = &self.after else {
            return true;
        };
        match &self.collector {
            Some(collector) => {
                token.len() == 1 + 32 + 8
                    && token.starts_with(&tables::consultation_by_collector_prefix(collector))
            }
            None => {
                let table = if self.open_only {
                    prefix::UNDECIDED_BY_CLOSING
                } else {
                    prefix::CONSULTATION_BY_CLOSING
                };
                token.len() == 1 + 8 + 32 && token[0] == table
            }
        }
    }
}

/// One consultation in a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsultationSummary {
    /// What the state machine reads.
    pub facts: DraftFacts,
    /// The policy's name.
    pub name: String,
    /// Its state when read.
    pub state: State,
    /// The counts of its stances.
    pub counts: Counts,
}

/// One consultation in full.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsultationRead {
    /// Its summary.
    pub summary: ConsultationSummary,
    /// The draft (a Policy entry with a consultation).
    pub draft: Entry,
    /// What validity compared it with: the base, then the previous version if it is another
    /// (empty for a first policy).
    pub compared: Vec<Entry>,
    /// The collector's latest response to each objection reason, in reason order.
    pub responses: Vec<Entry>,
    /// The valid outcomes, by `(time_ms, id)` (at most [`MAX_OUTCOMES_READ`]): the first is the
    /// one that counts.
    pub outcomes: Vec<Entry>,
    /// The arrival-log size when read.
    pub log_size: u64,
}

/// The `C` row of `draft`, if it is a consultation.
pub(crate) fn record<S: KvStore + ?Sized>(
    view: &Staged<'_, S>,
    draft: &EntryId,
) -> Result<Option<ConsultationRecord>, StoreError> {
    view.get(&tables::consultation_key(draft))?
        .map(|v| tables::decode(&v, "consultation"))
        .transpose()
}

/// The counted outcomes of `draft` folded into `facts`: every `B` row whose registrar's feed is
/// not frozen (an equivocating registrar's outcomes do not count, on any node that holds the
/// proof). Only genesis registrars sign outcomes, so a draft has few rows.
fn note_outcomes<S: KvStore + ?Sized>(
    view: &Staged<'_, S>,
    draft: &EntryId,
    facts: &mut DraftFacts,
) -> Result<(), StoreError> {
    let mut frozen: std::collections::HashMap<[u8; 32], bool> = Default::default();
    for (key, value) in view.scan_prefix(&tables::outcome_prefix(draft))? {
        let (outcome, registrar) = outcome_facts(&key, &value)?;
        let is_frozen = match frozen.get(&registrar) {
            Some(f) => *f,
            None => {
                let f = view
                    .feed_record(&FeedId(registrar))?
                    .is_some_and(|r| r.frozen);
                frozen.insert(registrar, f);
                f
            }
        };
        if !is_frozen {
            facts.note_outcome(outcome);
        }
    }
    Ok(())
}

/// An outcome's facts and its registrar's feed from its `B` row.
fn outcome_facts(key: &[u8], value: &[u8]) -> Result<(OutcomeFacts, [u8; 32]), StoreError> {
    if key.len() != 1 + 32 + 8 + 32 || value.len() != 1 + 32 {
        return Err(StoreError::Corrupt("malformed outcome row".into()));
    }
    Ok((
        OutcomeFacts {
            id: EntryId(tables::bytes32(&key[41..])?),
            time_ms: tables::be_u64(&key[33..41])?,
            approved: value[0] == 1,
        },
        tables::bytes32(&value[1..])?,
    ))
}

/// What the state machine and the decision rule read of `draft` (`None`: no consultation).
pub(crate) fn facts<S: KvStore + ?Sized>(
    view: &Staged<'_, S>,
    draft: &EntryId,
) -> Result<Option<DraftFacts>, StoreError> {
    let Some(c) = record(view, draft)? else {
        return Ok(None);
    };
    let mut facts = DraftFacts {
        id: *draft,
        collector: FeedId(c.collector),
        version: c.version,
        time_ms: c.time_ms,
        closes_ms: c.closes_ms,
        gated: c.gated,
        superseded_ms: c.superseded_ms,
        first_approval: None,
        first_changes_required: None,
    };
    note_outcomes(view, draft, &mut facts)?;
    Ok(Some(facts))
}

/// The counts of `draft`'s stances (each feed's latest), as the writer keeps them.
pub(crate) fn counts<S: KvStore + ?Sized>(
    view: &Staged<'_, S>,
    draft: &EntryId,
) -> Result<Counts, StoreError> {
    Ok(match view.get(&tables::stance_counts_key(draft))? {
        Some(v) => tables::decode::<CountsRecord>(&v, "stance counts")?.counts(),
        None => Counts::default(),
    })
}

/// When a grant on `draft` counts from (`consultation::NEVER` if the draft's record is gone:
/// fail closed).
pub(crate) fn in_effect_from<S: KvStore + ?Sized>(
    view: &Staged<'_, S>,
    draft: &EntryId,
) -> Result<u64, StoreError> {
    Ok(facts(view, draft)?.map_or(consultation::NEVER, |f| consultation::in_effect_from(&f)))
}

/// The summary of the consultation `draft` as of `now_ms` (`None`: no consultation).
fn summary<S: KvStore + ?Sized>(
    view: &Staged<'_, S>,
    draft: &EntryId,
    now_ms: u64,
) -> Result<Option<(ConsultationSummary, Entry)>, StoreError> {
    let Some(facts) = facts(view, draft)? else {
        return Ok(None);
    };
    let Some((_, entry)) = view.entry_with_index(draft)? else {
        return Err(StoreError::Corrupt(format!(
            "consultation {draft} names no stored entry"
        )));
    };
    let Body::Policy(policy) = &entry.body else {
        return Err(StoreError::Corrupt(format!(
            "consultation {draft} is not a policy"
        )));
    };
    let name = policy.name.clone();
    let counts = counts(view, draft)?;
    Ok(Some((
        ConsultationSummary {
            state: consultation::state(&facts, now_ms),
            facts,
            name,
            counts,
        },
        entry,
    )))
}

impl Ledger {
    /// The consultation `draft` in full as of `now_ms` (`None`: `draft` is no Policy entry with a
    /// consultation held here).
    pub fn consultation(
        &self,
        draft: &EntryId,
        now_ms: u64,
    ) -> Result<Option<ConsultationRead>, LedgerError> {
        let _view = self.stats.view.read().ok();
        let log_size = self
            .stats
            .log_size
            .load(std::sync::atomic::Ordering::Acquire);
        let view = Staged::new(&*self.store);
        let Some((summary, entry)) = summary(&view, draft, now_ms)? else {
            return Ok(None);
        };
        let record = record(&view, draft)?
            .ok_or_else(|| StoreError::Corrupt(format!("consultation {draft} has no record")))?;
        let held = |id: [u8; 32]| -> Result<Entry, StoreError> {
            view.entry_with_index(&EntryId(id))?
                .map(|(_, e)| e)
                .ok_or_else(|| {
                    StoreError::Corrupt(format!(
                        "consultation {draft} names a missing entry {}",
                        EntryId(id)
                    ))
                })
        };
        let mut compared = Vec::new();
        if let Some(base) = record.base {
            compared.push(held(base)?);
        }
        if let Some(prev) = record.prev
            && record.base != Some(prev)
        {
            compared.push(held(prev)?);
        }
        let mut responses = Vec::new();
        for (_, value) in view.scan_prefix(&tables::response_prefix(draft))? {
            let r: ResponseRecord = tables::decode(&value, "response")?;
            responses.push(held(r.id)?);
        }
        let mut outcomes = Vec::new();
        for (key, value) in view
            .scan_prefix(&tables::outcome_prefix(draft))?
            .into_iter()
            .take(MAX_OUTCOMES_READ)
        {
            outcomes.push(held(outcome_facts(&key, &value)?.0.id.0)?);
        }
        Ok(Some(ConsultationRead {
            summary,
            draft: entry,
            compared,
            responses,
            outcomes,
            log_size,
        }))
    }

    /// The summary of the consultation `draft` as of `now_ms` (`None`: no consultation).
    pub fn consultation_summary(
        &self,
        draft: &EntryId,
        now_ms: u64,
    ) -> Result<Option<ConsultationSummary>, LedgerError> {
        let _view = self.stats.view.read().ok();
        Ok(summary(&Staged::new(&*self.store), draft, now_ms)?.map(|(s, _)| s))
    }

    /// The counts of `draft`'s stances (all zero for no consultation).
    pub fn consultation_counts(&self, draft: &EntryId) -> Result<Counts, LedgerError> {
        let _view = self.stats.view.read().ok();
        let view = Staged::new(&*self.store);
        Ok(counts(&view, draft)?)
    }

    /// A page of consultations: one collector's in the order it opened them (oldest first), or
    /// every collector's in closing order (closing first); `open_only`: those open at `now_ms`.
    /// Returns the page and the token of the next one (`None`: the listing ended). At most
    /// [`MAX_SCANNED`] rows are scanned per call. The filter's token must be valid
    /// ([`ConsultationFilter::token_valid`]).
    pub fn consultations(
        &self,
        f: &ConsultationFilter,
        now_ms: u64,
    ) -> Result<(Vec<ConsultationSummary>, Option<Vec<u8>>), LedgerError> {
        let (start, draft_at) = match &f.collector {
            Some(collector) => (tables::consultation_by_collector_prefix(collector), None),
            None if f.open_only => (
                // Open ones close after now, and are neither withdrawn nor decided.
                tables::undecided_by_closing_key(now_ms.saturating_add(1), &EntryId([0; 32])),
                Some(9),
            ),
            None => (vec![prefix::CONSULTATION_BY_CLOSING], Some(9)),
        };
        let table = match &f.collector {
            Some(collector) => tables::consultation_by_collector_prefix(collector),
            None if f.open_only => vec![prefix::UNDECIDED_BY_CLOSING],
            None => vec![prefix::CONSULTATION_BY_CLOSING],
        };
        let Some(end) = prefix_end(&table) else {
            return Ok((Vec::new(), None));
        };
        let from = match &f.after {
            Some(after) => {
                let mut next = after.clone();
                next.push(0);
                next.max(start)
            }
            None => start,
        };
        let _view = self.stats.view.read().ok();
        let view = Staged::new(&*self.store);
        let mut out = Vec::new();
        let mut last = None;
        for (scanned, pair) in self.store.scan_range(&from, &end).enumerate() {
            if out.len() >= f.limit || scanned >= MAX_SCANNED {
                return Ok((out, last));
            }
            let (key, value) = pair?;
            let draft = match draft_at {
                Some(at) => key
                    .get(at..at + 32)
                    .ok_or_else(|| StoreError::Corrupt("malformed closing key".into()))?,
                None => value.as_slice(),
            };
            let draft = EntryId(tables::bytes32(draft)?);
            last = Some(key);
            let Some((summary, _)) = summary(&view, &draft, now_ms)? else {
                return Err(StoreError::Corrupt(format!(
                    "consultation index names {draft}, which has no record"
                ))
                .into());
            };
            if f.open_only && summary.state != State::Open {
                continue;
            }
            out.push(summary);
        }
        Ok((out, None))
    }
}

#[cfg(test)]
mod tests;
