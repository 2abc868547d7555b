//! Unlinkability of a citizen's pairwise feeds, wallet side: what the wallet does so that the
//! public ledger does not tell which of its feeds are one person's, and the setting that chooses
//! it ([`Settings`], stored with the wallet).
//!
//! # What pairwise feeds protect, and what they do not
//! One feed per collector means that no key, id or field links two of a person's feeds: a
//! collector learns only its own subject id, and two collectors comparing notes cannot match
//! their subjects through the ledger's identifiers. But the ledger is public and people act in
//! sittings: the linkage benchmark (docs/privacy.md) shows that, with entries dated to the
//! millisecond and sent one after the other, the *times* and the *arrival order* of a sitting's
//! entries link most of a person's feeds. The mitigations here reduce those two signals (they do
//! not remove them):
//! - **coarse signed times** ([`coarse`]): a citizen entry's `time_ms` is rounded down to a
//!   granularity (15 minutes by default; a multiple of 2.5 minutes that divides a day) where no
//!   rule needs it exact; a grant's `valid_from` is rounded *up* from the moment it is due to be
//!   sent (a consent never starts before it was given, nor while it waits unsent), its
//!   `valid_until` down (never longer than asked);
//! - **a spread send schedule** ([`schedule`]): the entries of one command leave each feed at an
//!   independent random moment of a window (30 minutes by default), from a send queue that
//!   survives the CLI exiting ([`queue`]); **revocations, opt-outs, erasure and restriction
//!   requests leave at once**, taking the queued entries of their feed with them;
//! - **inceptions made ahead of use** (`consent wallet prepare`): every feed the wallet may need,
//!   at independent random moments of a day, so that an inception says nothing about later use;
//! - **a node per feed** ([`schedule::node_for`]) when the wallet knows several nodes.
//!
//! What they do not protect: a node operator sees the address a wallet connects from and when
//! (all of a person's feeds come from one address unless the network path hides it: Tor or a
//! mix network, not this wallet); a collector sees its own subjects, their checks and its own
//! records; several revocations made at once stay adjacent (withdrawing is never delayed unless
//! the person asks: `consent revoke --all --spread`); what a person signs in someone else's name,
//! delegations, undelegations, endorsements, stances and the rotations of delegate feeds (and of
//! `consent wallet takeover`) keep exact times and leave at once; a spread grant is not in force
//! until it is sent, and an entry leaves only when a `consent` command runs after its moment (a
//! timer running `consent queue` sends close to the moments); and a setting other than the
//! default marks the wallet's entries among everyone else's. docs/privacy.md measures what an
//! attacker still achieves.
//!
//! # Layout
//! - [`coarse`]: the coarse-time rule (what `time_ms`, `valid_from` and `valid_until` to sign).
//! - [`schedule`]: when each signed entry is sent, and to which node.
//! - [`queue`]: the send queue (what waits, in what order), its file (encrypted, atomic, beside
//!   the keystore) and its lock.

use consent_proto::body::{Body, BodyKind};
use consent_proto::limits::DELEGATED_ENTRY_TOLERANCE_MS;
use consent_proto::vocab::RequestKind;
use serde::{Deserialize, Serialize};

use self::coarse::Exactness;

pub mod coarse;
pub mod queue;
pub mod schedule;

/// Default granularity of signed times: 15 minutes.
pub const DEFAULT_COARSE_MS: u64 = 15 * 60_000;
/// Default window over which a command's entries are sent: 30 minutes.
pub const DEFAULT_SPREAD_MS: u64 = 30 * 60_000;
/// Default window over which `consent wallet prepare` sends its inceptions: 24 hours.
pub const DEFAULT_PREPARE_MS: u64 = 24 * 3_600_000;
/// Largest granularity of signed times: one day.
pub const MAX_COARSE_MS: u64 = 86_400_000;
/// Every granularity of signed times is a multiple of this (2.5 minutes: half the 5-minute
/// admission bound of entries in someone's name, the grid those use) and divides a day, so that
/// every grid holds the finer ones and the day's boundaries (a date, a coming of age at UTC
/// midnight, is on every grid).
pub const COARSE_STEP_MS: u64 = DELEGATED_ENTRY_TOLERANCE_MS / 2;
/// Largest spread window: one day (a grant is not in force until it is sent).
pub const MAX_SPREAD_MS: u64 = 86_400_000;
/// Largest window of `consent wallet prepare`: seven days.
pub const MAX_PREPARE_MS: u64 = 7 * 86_400_000;
/// Smallest window that is not "off": one second.
pub const MIN_PRIVACY_MS: u64 = 1_000;
/// Most nodes a wallet spreads its feeds over.
pub const MAX_NODES: usize = 16;

/// The wallet's privacy setting (`consent wallet privacy`). A wallet that stores none uses
/// [`Settings::default`]: coarse times (15 minutes) and a spread send (30 minutes), the one node
/// given on the command line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// Granularity of the signed times of citizen entries, ms (`None`: exact to the
    /// millisecond).
    #[serde(default)]
    pub coarse_ms: Option<u64>,
    /// Window over which a command's entries (other than revocations, opt-outs and erasure
    /// requests) are sent, ms (`None`: at once).
    #[serde(default)]
    pub spread_ms: Option<u64>,
    /// Nodes (URLs) the wallet spreads its pairwise feeds over, one node per feed (empty: the
    /// node given with `--node`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            coarse_ms: Some(DEFAULT_COARSE_MS),
            spread_ms: Some(DEFAULT_SPREAD_MS),
            nodes: Vec::new(),
        }
    }
}

impl Settings {
    /// Everything off: exact times, sent at once, to the one node (the wallet before these
    /// mitigations).
    pub fn off() -> Self {
        Settings {
            coarse_ms: None,
            spread_ms: None,
            nodes: Vec::new(),
        }
    }

    /// Checks the bounds: a granularity that is a multiple of 2.5 minutes and divides a day
    /// ([`granularity_allowed`]), a window in 1 s..=1 day, at most [`MAX_NODES`] distinct nodes.
    pub fn check(&self) -> Result<(), String> {
        if let Some(ms) = self.coarse_ms
            && !granularity_allowed(ms)
        {
            return Err(
                "--coarse: a multiple of 2.5 minutes that divides a day (2m30s, 5m, 7m30s, 10m, \
                 15m, 20m, 30m, 40m, 45m, 1h, 2h, 3h, 4h, 6h, 8h, 12h, 1d, ...), or off"
                    .into(),
            );
        }
        if let Some(ms) = self.spread_ms
            && !(MIN_PRIVACY_MS..=MAX_SPREAD_MS).contains(&ms)
        {
            return Err("--spread: from 1s to 1d (or off)".into());
        }
        if self.nodes.len() > MAX_NODES {
            return Err(format!("--nodes: at most {MAX_NODES}"));
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(twice) = self.nodes.iter().find(|n| !seen.insert(n.as_str())) {
            return Err(format!("--nodes: {twice} is listed twice"));
        }
        Ok(())
    }

    /// The setting as the wallet applies it: a granularity stored before the rule of
    /// [`granularity_allowed`] (e.g. 7m) becomes the largest allowed one below it.
    pub fn effective(&self) -> Settings {
        Settings {
            coarse_ms: self.coarse_ms.map(allowed_granularity),
            ..self.clone()
        }
    }

    /// One line for people: `coarse times 15m, spread 30m, 2 nodes`.
    pub fn describe(&self) -> String {
        let d = |ms: u64| humantime::format_duration(std::time::Duration::from_millis(ms));
        let coarse = match self.coarse_ms {
            Some(ms) => format!("signed times rounded to {}", d(ms)),
            None => "exact signed times".into(),
        };
        let spread = match self.spread_ms {
            Some(ms) => format!("entries sent at random moments within {}", d(ms)),
            None => "entries sent at once".into(),
        };
        let nodes = match self.nodes.len() {
            0 => "the node given with --node".to_string(),
            n => format!("{n} nodes, one per feed"),
        };
        format!("{coarse}; {spread}; {nodes}")
    }
}

/// Whether `ms` may be a granularity of signed times: a multiple of [`COARSE_STEP_MS`] (2.5
/// minutes) that divides a day.
pub fn granularity_allowed(ms: u64) -> bool {
    ms > 0 && ms.is_multiple_of(COARSE_STEP_MS) && MAX_COARSE_MS.is_multiple_of(ms)
}

/// The largest allowed granularity ([`granularity_allowed`]) not above `ms` (2.5 minutes at
/// least).
pub fn allowed_granularity(ms: u64) -> u64 {
    let steps = MAX_COARSE_MS / COARSE_STEP_MS;
    (1..=steps)
        .rev()
        .filter(|d| steps.is_multiple_of(*d))
        .map(|d| d * COARSE_STEP_MS)
        .find(|g| *g <= ms)
        .unwrap_or(COARSE_STEP_MS)
}

/// How the wallet dates and sends an entry of its own feeds, by what it says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Handling {
    /// How exact its signed time must be ([`coarse::signed_time`]).
    pub exactness: Exactness,
    /// Sent at once, never queued: withdrawing is never delayed, and an entry whose admission
    /// reads the node's clock cannot wait.
    pub at_once: bool,
}

/// The wallet rule (the spec's *Signed times of citizen entries*), which the linkage benchmark
/// applies too; the `consent` CLI follows it, and signs exact (finer than the rule needs) what it
/// says may be rounded in someone's name, and the rotations of its delegate feeds and of `consent
/// wallet takeover` (sent at once); it queues revocations only when the person asks (`consent
/// revoke --all --spread`):
/// - a grant, a rotation, a request other than a withdrawal: coarse, spread;
/// - a revocation, an erasure or restriction request: coarse, at once;
/// - an opt-out of sale, own or in someone's name, and an undelegation: exact, at once. They
///   withdraw, and the decision rule compares their signed times with times signed in other
///   feeds (an opt-out denies under grants signed at or before it; an undelegation ends what the
///   delegate's withdrawals count at its signed time): rounding a withdrawal down could only
///   lose it;
/// - anything else signed in someone's name, an endorsement: within the 5-minute admission bound
///   ([`Exactness::DELEGATED`]), at once;
/// - a feed's inception: dated by its derivation, sent with the feed's first entry (or at its
///   prepared moment);
/// - anything else (a delegation, a stance: their times are compared with other feeds' and
///   with windows): exact, at once.
pub fn handling(body: &Body) -> Handling {
    let (request, on_behalf) = match body {
        Body::Grant(g) => (None, g.on_behalf.is_some()),
        Body::Revoke(r) => (None, r.on_behalf.is_some()),
        Body::Request(r) => (Some(r.kind), r.on_behalf.is_some()),
        _ => (None, false),
    };
    handling_of(body.kind(), request, on_behalf)
}

/// [`handling`] by the body's kind, its request kind (for a request) and whether it is signed in
/// someone's name (for a simulator that schedules entries before it signs them).
pub fn handling_of(kind: BodyKind, request: Option<RequestKind>, on_behalf: bool) -> Handling {
    use Exactness::{Coarse, Exact};
    let (exactness, at_once) = match kind {
        // Withdrawals whose signed time the decision rule compares across feeds: exact.
        BodyKind::Request if request == Some(RequestKind::OptOutSale) => (Exact, true),
        BodyKind::Undelegation => (Exact, true),
        _ if on_behalf => (Exactness::DELEGATED, true),
        BodyKind::Endorsement => (Exactness::DELEGATED, true),
        // Dated by its derivation (2020); it leaves with the feed's first entry, or at the
        // moment `consent wallet prepare` drew.
        BodyKind::Inception => (Exact, false),
        BodyKind::Grant | BodyKind::Rotation => (Coarse, false),
        BodyKind::Revoke => (Coarse, true),
        BodyKind::Request => match request {
            Some(RequestKind::Erasure | RequestKind::Restriction) => (Coarse, true),
            _ => (Coarse, false),
        },
        _ => (Exact, true),
    };
    Handling { exactness, at_once }
}

#[cfg(test)]
mod tests {
    use super::*;
    use consent_proto::body::{Request, Revoke};
    use consent_proto::ids::{EntryId, FeedId};

    #[test]
    fn withdrawals_leave_at_once_and_opt_outs_stay_exact() {
        let request = |kind| {
            Body::Request(Request {
                collector: FeedId([1; 32]),
                kind,
                details_digest: None,
                on_behalf: None,
            })
        };
        let revoke = Body::Revoke(Revoke {
            grant: EntryId([2; 32]),
            erase: true,
            on_behalf: None,
        });
        assert_eq!(
            handling(&revoke),
            Handling {
                exactness: Exactness::Coarse,
                at_once: true
            }
        );
        assert_eq!(
            handling(&request(RequestKind::OptOutSale)),
            Handling {
                exactness: Exactness::Exact,
                at_once: true
            }
        );
        assert!(handling(&request(RequestKind::Erasure)).at_once);
        assert!(handling(&request(RequestKind::Restriction)).at_once);
        assert_eq!(
            handling(&request(RequestKind::Access)),
            Handling {
                exactness: Exactness::Coarse,
                at_once: false
            }
        );
        // Withdrawals compared across feeds by their signed time stay exact, in someone's name
        // too: rounding one down could only lose it.
        let exact_at_once = Handling {
            exactness: Exactness::Exact,
            at_once: true,
        };
        assert_eq!(
            handling_of(BodyKind::Request, Some(RequestKind::OptOutSale), true),
            exact_at_once
        );
        assert_eq!(
            handling_of(BodyKind::Undelegation, None, false),
            exact_at_once
        );
        // What else a delegate signs stays within the admission bound; consents may be coarse.
        assert_eq!(
            handling_of(BodyKind::Grant, None, true).exactness,
            Exactness::DELEGATED
        );
        assert_eq!(
            handling_of(BodyKind::Revoke, None, true),
            Handling {
                exactness: Exactness::DELEGATED,
                at_once: true
            }
        );
    }

    #[test]
    fn the_default_is_coarse_and_spread_and_bounds_are_checked() {
        let d = Settings::default();
        assert_eq!(d.coarse_ms, Some(DEFAULT_COARSE_MS));
        assert_eq!(d.spread_ms, Some(DEFAULT_SPREAD_MS));
        assert!(d.check().is_ok());
        assert!(Settings::off().check().is_ok());
        let too_coarse = Settings {
            coarse_ms: Some(MAX_COARSE_MS + 1),
            ..Settings::off()
        };
        assert!(too_coarse.check().is_err());
        // Granularities are multiples of 2.5 minutes that divide a day.
        for ok in [150_000, 300_000, 450_000, 900_000, 3_600_000, 86_400_000] {
            assert!(granularity_allowed(ok), "{ok}");
        }
        for bad in [0, 1_000, 60_000, 7 * 60_000, 25 * 60_000, 10 * 3_600_000] {
            assert!(!granularity_allowed(bad), "{bad}");
            let s = Settings {
                coarse_ms: Some(bad),
                ..Settings::off()
            };
            assert!(s.check().is_err(), "{bad}");
        }
        // A setting stored before the rule is applied as the largest allowed one below it.
        assert_eq!(allowed_granularity(7 * 60_000), 5 * 60_000);
        assert_eq!(allowed_granularity(1_000), 150_000);
        assert_eq!(allowed_granularity(10 * 3_600_000), 8 * 3_600_000);
        let old = Settings {
            coarse_ms: Some(7 * 60_000),
            ..Settings::default()
        };
        assert_eq!(old.effective().coarse_ms, Some(5 * 60_000));
        assert_eq!(d.effective(), d);
        let twice = Settings {
            nodes: vec!["http://a:1".into(), "http://a:1".into()],
            ..Settings::off()
        };
        assert!(twice.check().expect_err("twice").contains("twice"));
        // Stored as JSON in the keystore; an old wallet stores none (the default applies).
        let text = serde_json::to_string(&d).expect("json");
        assert_eq!(serde_json::from_str::<Settings>(&text).expect("back"), d);
        assert!(d.describe().contains("15m") && d.describe().contains("30m"));
    }
}
