//! Mitigations of the linkage benchmark: what a wallet (or, later, a node) may do so that one
//! person's pairwise feeds are harder to link. The wallet-side ones are the `consent` wallet's
//! own code (`consent_client::privacy`): the simulator ([`crate::city`]) dates every entry with
//! its coarse-time rule ([`Mitigations::time_ms`], [`Mitigations::valid_from`]) and decides when
//! and where each entry is due with its send schedule (`privacy::schedule::plan`,
//! `privacy::schedule::node_for`), entry by entry as `privacy::handling` says; it then sends a
//! queued entry as the wallet's sender does (`timer`: at the first run of a timer or a command
//! of the wallet after its moment, one feed per run besides withdrawals), so the benchmark
//! measures what the wallet does. The node-side one is refused (docs/privacy.md says why it is
//! not built).

use anyhow::Context;
use consent_client::privacy::Settings;
use consent_client::privacy::coarse::{self, Exactness};

/// What a wallet (or a node) may do to make its feeds harder to link. All off by default: the
/// default runs measure today's behaviour. `--mitigate` turns some on for extra runs
/// ([`Mitigations::parse`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mitigations {
    /// Wallet (`coarse=15m`): every `time_ms` it signs rounded down to a multiple of this (an
    /// opt-out of sale exact), and a grant's `valid_from` rounded *up* (a consent never starts
    /// before it was given), by `privacy::coarse`. Validation
    /// accepts it: it bounds a time only from above (5 minutes past the node's clock) and by the
    /// feed's previous entry, and rounding down keeps a feed's times in order.
    pub coarse_time_ms: Option<u64>,
    /// Wallet (`spread=30m`): the entries of a command other than revocations, opt-outs and
    /// erasure requests are signed in the sitting (with its time, coarse or not) and each feed's
    /// sent at an independent random moment up to this much later, from a send queue that
    /// outlives the CLI (`privacy::schedule::plan`). A feed's inception and first grant leave
    /// together. Withdrawals are never delayed: the queued entries of their feed go just before.
    pub spread_ms: Option<u64>,
    /// Wallet (`timer=5m`): how the queued entries really leave. The wallet sends an entry only
    /// when a `consent` command runs at or after its moment: a timer running `consent queue`
    /// every this many ms (each wallet's at its own phase), and the wallet's own commands; one
    /// run sends the due entries of at most one feed besides withdrawals (`Queue::due_now`).
    /// `None`: an exact sender, each entry at its very moment (no wallet has one).
    pub send_every_ms: Option<u64>,
    /// Wallet (`spread-nodes`): each pairwise feed talks to a node of its own, not the person's
    /// one node.
    pub spread_nodes: bool,
    /// Wallet (`precreate`): as `consent wallet prepare --collectors all --over 24h` the day
    /// before the city's day: the inception of the wallet's feed for every collector (those it
    /// will never use too), each at its own random moment of that day.
    pub pre_created_inceptions: bool,
    /// Node (`hide-order`), not built: `GetLog` would reveal arrival order only to the commit
    /// group. [`Mitigations::parse`] refuses it (docs/privacy.md says why).
    pub hide_order_within_commit: bool,
    /// Set by `wallet-default`: what the `consent` wallet does when nobody changed its setting
    /// ([`Settings::default`]), with the timer the README sets up, for the label.
    pub wallet_default: bool,
}

/// The timer of `wallet-default`: `consent queue` every 5 minutes (README, *Privacy*).
pub const DEFAULT_TIMER_MS: u64 = 5 * 60_000;

impl Mitigations {
    /// Parses a comma-separated list: `wallet-default` (the `consent` wallet's default setting,
    /// coarse 15m and spread 30m, sent by a 5-minute timer), `coarse=15m`, `spread=30m`,
    /// `timer=5m` (or `timer=exact`: each entry at its very moment), `spread-nodes`, `precreate`
    /// (durations as humantime reads them; a later item overrides an earlier one).
    pub fn parse(spec: &str) -> anyhow::Result<Mitigations> {
        let mut m = Mitigations::default();
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (key, value) = item.split_once('=').unwrap_or((item, ""));
            let ms = |v: &str| -> anyhow::Result<u64> {
                let d = humantime::parse_duration(v)
                    .with_context(|| format!("{key}={v}: not a duration (e.g. 15m)"))?;
                anyhow::ensure!(d.as_millis() > 0, "{key}: must be more than 0");
                Ok(d.as_millis() as u64)
            };
            match key {
                "wallet-default" => {
                    let d = Settings::default();
                    m.coarse_time_ms = d.coarse_ms;
                    m.spread_ms = d.spread_ms;
                    m.send_every_ms = Some(DEFAULT_TIMER_MS);
                    m.wallet_default = true;
                }
                "coarse" => m.coarse_time_ms = Some(ms(value)?),
                "spread" => m.spread_ms = Some(ms(value)?),
                "timer" if value == "exact" => m.send_every_ms = None,
                "timer" => m.send_every_ms = Some(ms(value)?),
                "spread-nodes" => m.spread_nodes = true,
                "precreate" => m.pre_created_inceptions = true,
                "hide-order" => anyhow::bail!(
                    "hide-order is a node change (GetLog revealing order only to the commit \
                     group), not built: at a few entries a minute a commit group holds one entry \
                     (docs/privacy.md)"
                ),
                other => anyhow::bail!(
                    "unknown mitigation {other:?}: use wallet-default, coarse=DURATION, \
                     spread=DURATION, timer=DURATION|exact, spread-nodes, precreate"
                ),
            }
        }
        Ok(m)
    }

    /// Whether nothing is turned on.
    pub fn is_none(&self) -> bool {
        *self == Mitigations::default()
    }

    /// A short label for the table (`coarse 15m + spread 30m + ...`).
    pub fn label(&self) -> String {
        let d = |ms: u64| humantime::format_duration(std::time::Duration::from_millis(ms));
        let mut parts = Vec::new();
        if let Some(ms) = self.coarse_time_ms {
            parts.push(format!("coarse {}", d(ms)));
        }
        if let Some(ms) = self.spread_ms {
            parts.push(format!("spread {}", d(ms)));
            parts.push(match self.send_every_ms {
                Some(every) => format!("timer {}", d(every)),
                None => "exact sender".to_string(),
            });
        }
        if self.spread_nodes {
            parts.push("spread-nodes".to_string());
        }
        if self.pre_created_inceptions {
            parts.push("precreate".to_string());
        }
        if self.hide_order_within_commit {
            parts.push("hide-order".to_string());
        }
        if parts.is_empty() {
            "no mitigation".to_string()
        } else if self.wallet_default {
            format!("wallet default ({})", parts.join(" + "))
        } else {
            parts.join(" + ")
        }
    }

    /// The `time_ms` a wallet signs for an entry made at `at` after one signed at `floor_ms`
    /// (the wallet's rule: `privacy::coarse::signed_time`).
    pub fn time_ms(&self, at: u64, floor_ms: u64, exactness: Exactness) -> u64 {
        coarse::signed_time(self.coarse_time_ms, at, floor_ms, exactness)
    }

    /// The `valid_from` of a grant given at `at` and due to be sent at `due`
    /// (`privacy::coarse::valid_from_due`), never before its `time_ms`.
    pub fn valid_from(&self, at: u64, due: u64, time_ms: u64) -> u64 {
        coarse::valid_from_due(self.coarse_time_ms, at, due).max(time_ms)
    }
}
