//! Accepted entries the p2p task fell behind publishing (the ledger's broadcast lagged), summed
//! between log reports so a node at full ingest says it once every few seconds, not many times
//! a second.

use std::time::{Duration, Instant};

/// How often entries the task fell behind publishing are reported (summed) in the log.
const UNPUBLISHED_REPORT_EVERY: Duration = Duration::from_secs(10);

/// Accepted entries the task fell behind publishing, summed between reports.
#[derive(Debug, Default)]
pub(super) struct Unpublished {
    count: u64,
    last_report: Option<Instant>,
}

impl Unpublished {
    pub(super) fn add(&mut self, n: u64) {
        self.count = self.count.saturating_add(n);
    }

    /// The count to report now, if any and if [`UNPUBLISHED_REPORT_EVERY`] passed since the
    /// last report.
    pub(super) fn take_due(&mut self, now: Instant) -> Option<u64> {
        let due = self
            .last_report
            .is_none_or(|at| now.duration_since(at) >= UNPUBLISHED_REPORT_EVERY);
        if self.count == 0 || !due {
            return None;
        }
        self.last_report = Some(now);
        Some(std::mem::take(&mut self.count))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpublished_entries_are_summed_and_reported_at_most_every_ten_seconds() {
        let t0 = Instant::now();
        let mut u = Unpublished::default();
        assert_eq!(u.take_due(t0), None, "nothing to report");
        u.add(3);
        u.add(4);
        assert_eq!(u.take_due(t0), Some(7));
        u.add(5);
        assert_eq!(u.take_due(t0 + Duration::from_secs(9)), None, "too soon");
        u.add(1);
        assert_eq!(
            u.take_due(t0 + UNPUBLISHED_REPORT_EVERY),
            Some(6),
            "summed since the last report"
        );
        assert_eq!(u.take_due(t0 + 3 * UNPUBLISHED_REPORT_EVERY), None);
    }
}
