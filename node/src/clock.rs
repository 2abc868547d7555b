//! The node's wall clock, in Unix milliseconds. A running node reads the system clock; a test
//! hands the node a manual clock and moves it, so that nothing waits for time to pass (grant and
//! accreditation expiry, collector session lifetime, pending expiry, freshness, receipts' and
//! checkpoints' times all read this clock). Leaf module: it imports nothing of the node.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A wall clock: the system's, or one moved by hand. Cloning shares it.
#[derive(Clone, Debug, Default)]
pub struct Clock(Option<Arc<AtomicU64>>);

/// Two clocks are equal when both are the system clock, or both are the same manual clock (one
/// shared cell, not merely the same reading).
impl PartialEq for Clock {
    fn eq(&self, other: &Clock) -> bool {
        match (&self.0, &other.0) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl Eq for Clock {}

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock(None)
    }

    /// A clock that stands at `start_ms` until moved ([`Clock::advance`], [`Clock::set`]).
    pub fn manual(start_ms: u64) -> Clock {
        Clock(Some(Arc::new(AtomicU64::new(start_ms))))
    }

    /// Milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> u64 {
        match &self.0 {
            Some(manual) => manual.load(Ordering::Acquire),
            None => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
                .unwrap_or(0),
        }
    }

    /// Moves a manual clock forward by `ms` (a manual clock never goes back); `false` on the
    /// system clock, which cannot be moved.
    pub fn advance(&self, ms: u64) -> bool {
        match &self.0 {
            Some(manual) => {
                manual.fetch_add(ms, Ordering::AcqRel);
                true
            }
            None => false,
        }
    }

    /// Sets a manual clock to `ms` if that is later than where it stands; `false` on the system
    /// clock.
    pub fn set(&self, ms: u64) -> bool {
        match &self.0 {
            Some(manual) => {
                manual.fetch_max(ms, Ordering::AcqRel);
                true
            }
            None => false,
        }
    }

    /// Whether this is a manual clock.
    pub fn is_manual(&self) -> bool {
        self.0.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told_and_only_forward() {
        let clock = Clock::manual(1_000);
        let shared = clock.clone();
        assert_eq!(clock.now_ms(), 1_000);
        assert!(shared.advance(500));
        assert_eq!(clock.now_ms(), 1_500);
        assert!(clock.set(1_200), "a manual clock accepts a set");
        assert_eq!(clock.now_ms(), 1_500, "but never goes back");
        assert!(clock.set(9_000));
        assert_eq!(shared.now_ms(), 9_000);
    }

    #[test]
    fn clocks_are_equal_when_they_are_the_same_clock() {
        assert_eq!(Clock::system(), Clock::default());
        let manual = Clock::manual(5);
        assert_eq!(manual, manual.clone());
        assert_ne!(
            manual,
            Clock::manual(5),
            "another cell, though it reads the same"
        );
        assert_ne!(manual, Clock::system());
    }

    #[test]
    fn the_system_clock_reads_the_time_and_cannot_be_moved() {
        let clock = Clock::system();
        let before = clock.now_ms();
        assert!(before > 1_700_000_000_000, "after 2023: {before}");
        assert!(!clock.advance(1));
        assert!(!clock.set(u64::MAX));
        assert!(clock.now_ms() >= before);
    }
}
