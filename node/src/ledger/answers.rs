//! Answer times: when a collector was asked and when it answered, as this node can vouch for
//! them, and the per-collector figures the writer keeps up to date so that reading them costs a
//! few keys, never a scan of every request.
//!
//! # Times
//!
//! An entry's signed time is whatever its author chose: a citizen could date a request years
//! back to make a collector look overdue, and a collector could date its acknowledgement at the
//! request to look instant. What the node can vouch for is when an entry reached it (its arrival,
//! the time its receipt carries). So answers are timed as
//!
//! - asked = max(request time, request arrival − W)
//! - answered = max(ack time, ack arrival − W, asked)
//!
//! with W = [`TOLERANCE`] (10 minutes) for propagation and clock skew: backdating a request or an
//! acknowledgement moves a figure by at most W. (Dating an entry forward is bounded by the
//! validation's clock-skew limit, 5 minutes.) An entry that reached this node late — the node was
//! offline, or received the feed later — is timed from when it arrived here: the figures are this
//! node's view, and two nodes can differ. Requests stored before layout 4 kept no arrival time and
//! keep their signed times (answered times are raised to at least the asked time).
//!
//! # Figures
//!
//! The writer keeps, per collector: the counts and a fixed log-scale histogram of answer times
//! ([`AnswerSummary`], table `N`), the unanswered requests ordered by asked time (table `U`: the
//! oldest is the first key), and how many unanswered requests were asked on each UTC day (table
//! `V`). [`read`] reads the summary, the first `U` key, and for the overdue count one `V` key per
//! day before the deadline's day plus the `U` keys of that one day.
//!
//! The median and 95th percentile are read from the histogram: the answer time at rank
//! `⌊n × q⌋` (0-based, at most `n − 1`) of the `n` answers, reported as the upper end of its
//! histogram bucket ([`reported_ms`]): exact to the second below 16 s, then at most 12.5 % above
//! the exact time.

use std::time::Duration;

use consent_proto::ids::FeedId;
use serde::{Deserialize, Serialize};

use super::tables;
use crate::store::{KvStore, StoreError};

/// How long a collector has to answer a request: one month (GDPR Art. 12(3)), as 30 days.
pub const ANSWER_DEADLINE: Duration = Duration::from_secs(30 * 24 * 3600);

/// W: how far before its arrival at this node an entry's signed time is believed.
pub const TOLERANCE: Duration = Duration::from_secs(10 * 60);

/// One UTC day, ms (the unit of table `V`).
pub const DAY_MS: u64 = 86_400_000;

const TOLERANCE_MS: u64 = 10 * 60 * 1000;
const DEADLINE_MS: u64 = 30 * DAY_MS;

/// Histogram buckets per power of two of the answer time in seconds (as a bit count: 8).
const SUB_BITS: u32 = 3;
const SUB: u64 = 1 << SUB_BITS;

/// How a collector answers requests (see [`read`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnswerStats {
    /// Requests and erasure demands received.
    pub requests: u64,
    /// Of which acknowledged.
    pub answered: u64,
    /// Median time to acknowledge, ms (see [`reported_ms`]).
    pub median_ms: Option<u64>,
    /// 95th percentile, ms (see [`reported_ms`]).
    pub p95_ms: Option<u64>,
    /// Not acknowledged yet.
    pub unanswered: u64,
    /// When the oldest unacknowledged request was asked, Unix ms.
    pub oldest_unanswered_ms: Option<u64>,
    /// Unacknowledged and asked more than [`ANSWER_DEADLINE`] ago.
    pub overdue: u64,
    /// Acknowledged more than [`ANSWER_DEADLINE`] after being asked.
    pub late: u64,
}

/// When a request was asked, from its signed time and when it reached this node.
pub fn asked_ms(signed_ms: u64, arrived_ms: u64) -> u64 {
    signed_ms.max(arrived_ms.saturating_sub(TOLERANCE_MS))
}

/// When an acknowledgement answered a request asked at `asked_ms`, from the acknowledgement's
/// signed time and when it reached this node.
pub fn answered_ms(signed_ms: u64, arrived_ms: u64, asked_ms: u64) -> u64 {
    signed_ms
        .max(arrived_ms.saturating_sub(TOLERANCE_MS))
        .max(asked_ms)
}

/// The histogram bucket of an answer time: whole seconds below 16 s, then eight buckets per
/// power of two of the seconds.
pub fn bucket(took_ms: u64) -> usize {
    let s = took_ms / 1000;
    if s < 2 * SUB {
        return s as usize;
    }
    let e = 63 - s.leading_zeros(); // floor(log2 s), at least 4
    let sub = (s >> (e - SUB_BITS)) & (SUB - 1);
    (u64::from(e - SUB_BITS + 1) * SUB + sub) as usize
}

/// The upper end (exclusive) of bucket `i`, ms.
pub fn bucket_upper_ms(i: usize) -> u64 {
    let i = i as u64;
    let upper_s = if i < 2 * SUB {
        i + 1
    } else {
        let group = i / SUB; // at least 2
        let sub = i % SUB;
        let shift = u32::try_from(group - 1).unwrap_or(u32::MAX).min(63);
        (SUB + sub + 1).checked_shl(shift).unwrap_or(u64::MAX)
    };
    upper_s.saturating_mul(1000)
}

/// How an answer time is reported: the upper end of its bucket.
pub fn reported_ms(took_ms: u64) -> u64 {
    bucket_upper_ms(bucket(took_ms))
}

/// A collector's answer figures (table `N`), updated by the writer as requests and
/// acknowledgements are accepted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnswerSummary {
    /// Requests and revocations asking for erasure received.
    pub requests: u64,
    /// Of which acknowledged.
    pub answered: u64,
    /// Acknowledged more than [`ANSWER_DEADLINE`] after being asked.
    pub late: u64,
    /// Answers per [`bucket`] of their answer time (as long as the highest bucket used).
    pub histogram: Vec<u64>,
}

impl AnswerSummary {
    /// Counts a request.
    pub fn ask(&mut self) {
        self.requests = self.requests.saturating_add(1);
    }

    /// Counts an answer that took `took_ms`.
    pub fn answer(&mut self, took_ms: u64) {
        self.answered = self.answered.saturating_add(1);
        self.late += u64::from(took_ms > DEADLINE_MS);
        let i = bucket(took_ms);
        if self.histogram.len() <= i {
            self.histogram.resize(i + 1, 0);
        }
        if let Some(n) = self.histogram.get_mut(i) {
            *n = n.saturating_add(1);
        }
    }

    /// The answer time at rank `⌊answered × num / den⌋` (0-based, at most `answered − 1`),
    /// reported as its bucket's upper end; `None` without answers.
    pub fn quantile_ms(&self, num: u64, den: u64) -> Option<u64> {
        let last = self.answered.checked_sub(1)?;
        let rank = (u128::from(self.answered) * u128::from(num) / u128::from(den.max(1)))
            .min(u128::from(last)) as u64;
        let mut seen = 0u64;
        for (i, n) in self.histogram.iter().enumerate() {
            seen = seen.saturating_add(*n);
            if seen > rank {
                return Some(bucket_upper_ms(i));
            }
        }
        None
    }
}

/// Reads a stored summary (empty when the collector was never asked anything).
pub fn summary(
    get: impl FnOnce(&[u8]) -> Result<Option<Vec<u8>>, StoreError>,
    collector: &FeedId,
) -> Result<AnswerSummary, StoreError> {
    Ok(get(&tables::answer_summary_key(collector))?
        .map(|v| tables::decode(&v, "answer summary"))
        .transpose()?
        .unwrap_or_default())
}

/// The asked time in a `U` key.
pub fn asked_in_key(key: &[u8]) -> Result<u64, StoreError> {
    key.get(33..41)
        .ok_or_else(|| StoreError::Corrupt("malformed unanswered-request key".into()))
        .and_then(tables::be_u64)
}

/// `collector`'s figures as of `now_ms`.
pub fn read(
    store: &dyn KvStore,
    collector: &FeedId,
    now_ms: u64,
) -> Result<AnswerStats, StoreError> {
    let s = summary(|k| store.get(k), collector)?;
    let oldest = match store
        .scan_prefix(&tables::unanswered_prefix(collector))
        .next()
        .transpose()?
    {
        Some((key, _)) => Some(asked_in_key(&key)?),
        None => None,
    };
    let overdue = match oldest {
        Some(oldest) => overdue(store, collector, oldest, now_ms)?,
        None => 0,
    };
    Ok(AnswerStats {
        requests: s.requests,
        answered: s.answered,
        median_ms: s.quantile_ms(1, 2),
        p95_ms: s.quantile_ms(95, 100),
        unanswered: s.requests.saturating_sub(s.answered),
        oldest_unanswered_ms: oldest,
        overdue,
        late: s.late,
    })
}

/// Unanswered requests asked before `now_ms − deadline` (`now − asked > deadline`): the day
/// counts of the days before the cut-off's day, plus the requests of that day before it.
fn overdue(
    store: &dyn KvStore,
    collector: &FeedId,
    oldest: u64,
    now_ms: u64,
) -> Result<u64, StoreError> {
    let Some(cutoff) = now_ms.checked_sub(DEADLINE_MS) else {
        return Ok(0);
    };
    if oldest >= cutoff {
        return Ok(0);
    }
    let day = cutoff / DAY_MS;
    let mut n = 0u64;
    for pair in store.scan_range(
        &tables::unanswered_day_key(collector, 0),
        &tables::unanswered_day_key(collector, day),
    ) {
        let (_, count) = pair?;
        n = n.saturating_add(tables::be_u64(&count)?);
    }
    for pair in store.scan_range(
        &tables::unanswered_from(collector, day * DAY_MS),
        &tables::unanswered_from(collector, cutoff),
    ) {
        pair?;
        n = n.saturating_add(1);
    }
    Ok(n)
}

#[cfg(test)]
mod tests;
