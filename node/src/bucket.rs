//! A token bucket: what the node's rate limits count with (the p2p discipline's per-peer budgets,
//! the API's per-address limits). Leaf module: it imports nothing of the node.

use std::time::Instant;

/// A token bucket: holds up to `burst` tokens, refilled at `rate` a second.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    /// A bucket holding `burst` tokens at `now`.
    pub(crate) fn full(burst: f64, now: Instant) -> Self {
        Self {
            tokens: burst,
            at: now,
        }
    }

    /// Refills for the time passed; the tokens there now.
    pub(crate) fn level(&mut self, rate: f64, burst: f64, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(burst);
        self.at = now;
        self.tokens
    }

    /// Takes `cost` tokens if there are that many.
    pub(crate) fn take(&mut self, cost: f64, rate: f64, burst: f64, now: Instant) -> bool {
        if self.level(rate, burst, now) >= cost {
            self.tokens -= cost;
            true
        } else {
            false
        }
    }
}
