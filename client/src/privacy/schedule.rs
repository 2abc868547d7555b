//! The send schedule: when each entry a command signed is sent, and to which of the nodes the
//! wallet knows ([`plan`], [`node_for`]).
//!
//! A command (`consent grant`, `consent request`, `consent wallet rotate`, ...) signs its entries
//! at once, with the sitting's (coarse) time, and hands them to [`plan`]:
//! - each feed the command wrote to draws **one delay** uniformly in `0..=spread`: its entries of
//!   this command (a new feed's inception and its first grant) leave together, at `now + delay`,
//!   independently of the other feeds';
//! - an entry that must **leave at once** (a revocation, an opt-out, an erasure request) is due
//!   `now`;
//! - a feed's entries leave **in feed order**: an entry is due no later than any later entry of
//!   its feed, so one leaving at once takes every queued entry of its feed with it, and a grant
//!   due before its feed's prepared inception pulls the inception to the grant's moment.
//!
//! Nothing else is delayed or reordered: an overdue entry is sent by the next `consent` command
//! that opens the wallet (several overdue ones then leave together: run `consent queue` from a
//! timer, e.g. every few minutes, for sends close to their moments).
//!
//! [`node_for`] gives each pairwise feed a node of its own among those the wallet knows, fixed
//! for the feed and derived from the wallet's secret, so that nobody can predict it from the
//! feed id and all of a person's feeds do not reach the network through one node.

use consent_proto::ids::FeedId;

const SEND_NODE: &str = "consent-ledger wallet v1 send node";

/// Uniform random draws, so that the benchmark can replay the schedule with its own seeded
/// generator and tests with fixed numbers.
pub trait Draw {
    /// A number in `0..=max`, uniformly.
    fn up_to(&mut self, max: u64) -> u64;
}

/// Draws from the operating system's randomness.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsDraw;

impl Draw for OsDraw {
    fn up_to(&mut self, max: u64) -> u64 {
        if max == 0 {
            return 0;
        }
        let mut bytes = [0u8; 16];
        if getrandom::fill(&mut bytes).is_err() {
            // No randomness at all (the keystore could not have been created either).
            return max / 2;
        }
        // 128 random bits reduced mod at most 2^64: a bias below 2^-64.
        (u128::from_le_bytes(bytes) % (u128::from(max) + 1)) as u64
    }
}

/// One entry a command signed: its feed (any key: the CLI uses feed ids, the benchmark its own)
/// and whether it must leave at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outgoing<F> {
    /// The feed it extends.
    pub feed: F,
    /// A revocation, an opt-out, an erasure request: never delayed.
    pub at_once: bool,
}

/// An entry already in the queue, earlier in its feed than anything the command signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Waiting<F> {
    /// The feed it extends.
    pub feed: F,
    /// When it is due, Unix ms.
    pub due_ms: u64,
}

/// When each entry is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Each outgoing entry's moment, Unix ms, in the order given.
    pub due_ms: Vec<u64>,
    /// Each waiting entry's moment, in the order given: as before, or earlier when a later entry
    /// of its feed leaves first.
    pub waiting_due_ms: Vec<u64>,
}

/// Plans one command's `outgoing` entries (each feed's in feed order) at `now_ms`, over a window
/// of `spread_ms` (0: every entry now), given the `waiting` ones (each feed's in feed order,
/// before the outgoing ones). See the module docs for the rule.
pub fn plan<F: Copy + Eq>(
    outgoing: &[Outgoing<F>],
    waiting: &[Waiting<F>],
    now_ms: u64,
    spread_ms: u64,
    draw: &mut dyn Draw,
) -> Plan {
    let mut delays: Vec<(F, u64)> = Vec::new();
    let mut due: Vec<u64> = Vec::with_capacity(outgoing.len());
    for o in outgoing {
        if o.at_once {
            due.push(now_ms);
            continue;
        }
        let delay = match delays.iter().find(|(f, _)| *f == o.feed) {
            Some((_, d)) => *d,
            None => {
                let d = if spread_ms == 0 {
                    0
                } else {
                    draw.up_to(spread_ms)
                };
                delays.push((o.feed, d));
                d
            }
        };
        due.push(now_ms.saturating_add(delay));
    }
    // Feed order, backwards: outgoing entries (last first), then waiting ones; each is due no
    // later than the earliest of the later entries of its feed.
    let mut earliest_later: Vec<(F, u64)> = Vec::new();
    let mut settle =
        |feed: F, due: &mut u64| match earliest_later.iter_mut().find(|(f, _)| *f == feed) {
            Some((_, later)) => {
                *due = (*due).min(*later);
                *later = *due;
            }
            None => earliest_later.push((feed, *due)),
        };
    for (o, d) in outgoing.iter().zip(due.iter_mut()).rev() {
        settle(o.feed, d);
    }
    let mut waiting_due: Vec<u64> = waiting.iter().map(|w| w.due_ms).collect();
    for (w, d) in waiting.iter().zip(waiting_due.iter_mut()).rev() {
        settle(w.feed, d);
    }
    Plan {
        due_ms: due,
        waiting_due_ms: waiting_due,
    }
}

/// Which of `nodes` nodes the feed `feed` is sent to: fixed for the feed, derived from the
/// wallet's `secret` (`BLAKE3-derive-key("consent-ledger wallet v1 send node", secret || feed)`,
/// its first 8 bytes little-endian, mod `nodes`); 0 with one node or none.
pub fn node_for(secret: &[u8; 32], feed: &FeedId, nodes: usize) -> usize {
    if nodes <= 1 {
        return 0;
    }
    let d = crate::wallet::derive(SEND_NODE, &[secret, &feed.0]);
    let mut eight = [0u8; 8];
    eight.copy_from_slice(&d[..8]);
    (u64::from_le_bytes(eight) % nodes as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hands out the given numbers in turn (capped at `max`), recording each `max` asked.
    struct Fixed(Vec<u64>, Vec<u64>);

    impl Draw for Fixed {
        fn up_to(&mut self, max: u64) -> u64 {
            self.1.push(max);
            let v = if self.0.is_empty() {
                0
            } else {
                self.0.remove(0)
            };
            v.min(max)
        }
    }

    const NOW: u64 = 1_772_446_051_123;
    const SPREAD: u64 = 30 * 60_000;

    fn out(feed: u8, at_once: bool) -> Outgoing<u8> {
        Outgoing { feed, at_once }
    }

    #[test]
    fn each_feed_draws_one_delay_and_its_entries_leave_together() {
        let mut draw = Fixed(vec![600_000, 60_000], Vec::new());
        // A grant sitting over two new feeds: inception and grant of feed 1, of feed 2.
        let p = plan(
            &[out(1, false), out(1, false), out(2, false), out(2, false)],
            &[],
            NOW,
            SPREAD,
            &mut draw,
        );
        assert_eq!(
            p.due_ms,
            vec![NOW + 600_000, NOW + 600_000, NOW + 60_000, NOW + 60_000]
        );
        assert_eq!(
            draw.1,
            vec![SPREAD, SPREAD],
            "one draw per feed, over the window"
        );
        // No window: everything now, nothing drawn.
        let mut none = Fixed(vec![5], Vec::new());
        let p = plan(&[out(1, false), out(2, false)], &[], NOW, 0, &mut none);
        assert_eq!(p.due_ms, vec![NOW, NOW]);
        assert!(none.1.is_empty());
    }

    #[test]
    fn a_revocation_leaves_at_once_and_takes_its_feeds_queue_with_it() {
        let mut draw = Fixed(vec![900_000], Vec::new());
        // Feed 1 has a grant queued for later, feed 2 one too; a revocation in feed 1.
        let waiting = [
            Waiting {
                feed: 1u8,
                due_ms: NOW + 1_200_000,
            },
            Waiting {
                feed: 2,
                due_ms: NOW + 1_500_000,
            },
        ];
        let p = plan(&[out(1, true)], &waiting, NOW, SPREAD, &mut draw);
        assert_eq!(p.due_ms, vec![NOW], "never delayed");
        assert_eq!(
            p.waiting_due_ms,
            vec![NOW, NOW + 1_500_000],
            "feed 1's queued grant goes first, at once; feed 2's is untouched"
        );
        assert!(
            draw.1.is_empty(),
            "nothing drawn for an entry that leaves at once"
        );
    }

    #[test]
    fn a_feed_is_sent_in_order() {
        // A prepared inception due in 20 hours; the grant drawn 10 minutes: the inception goes
        // with the grant.
        let mut draw = Fixed(vec![600_000], Vec::new());
        let waiting = [Waiting {
            feed: 7u8,
            due_ms: NOW + 20 * 3_600_000,
        }];
        let p = plan(&[out(7, false)], &waiting, NOW, SPREAD, &mut draw);
        assert_eq!(p.due_ms, vec![NOW + 600_000]);
        assert_eq!(p.waiting_due_ms, vec![NOW + 600_000]);
        // --replace: revocations at once before the grant of the same feed; a spread grant after
        // an at-once entry stays later (only earlier entries are pulled).
        let mut draw = Fixed(vec![600_000], Vec::new());
        let p = plan(&[out(3, true), out(3, false)], &[], NOW, SPREAD, &mut draw);
        assert_eq!(p.due_ms, vec![NOW, NOW + 600_000]);
        // Every plan keeps each feed's order: due times never decrease along a feed.
        let mut draw = Fixed(vec![1_000_000, 10, 500_000], Vec::new());
        let waiting = [
            Waiting {
                feed: 1u8,
                due_ms: NOW + 2_000_000,
            },
            Waiting {
                feed: 1,
                due_ms: NOW + 3_000_000,
            },
        ];
        let outgoing = [out(1, false), out(2, false), out(1, false), out(4, false)];
        let p = plan(&outgoing, &waiting, NOW, SPREAD, &mut draw);
        let feed1: Vec<u64> = p
            .waiting_due_ms
            .iter()
            .copied()
            .chain(
                outgoing
                    .iter()
                    .zip(&p.due_ms)
                    .filter(|(o, _)| o.feed == 1)
                    .map(|(_, d)| *d),
            )
            .collect();
        assert!(feed1.windows(2).all(|w| w[0] <= w[1]), "{feed1:?}");
        assert!(p.due_ms.iter().all(|d| *d >= NOW && *d <= NOW + SPREAD));
    }

    #[test]
    fn each_feed_has_a_node_of_its_own_fixed_and_secret() {
        let secret = [9u8; 32];
        let feeds: Vec<FeedId> = (0..64u8).map(|i| FeedId([i; 32])).collect();
        let picks: Vec<usize> = feeds.iter().map(|f| node_for(&secret, f, 3)).collect();
        assert!(picks.iter().all(|n| *n < 3));
        for n in 0..3 {
            assert!(picks.contains(&n), "every node gets feeds: {picks:?}");
        }
        assert_eq!(node_for(&secret, &feeds[5], 3), picks[5], "fixed");
        let other: Vec<usize> = feeds.iter().map(|f| node_for(&[8; 32], f, 3)).collect();
        assert_ne!(picks, other, "another wallet spreads differently");
        assert_eq!(node_for(&secret, &feeds[1], 1), 0);
        assert_eq!(node_for(&secret, &feeds[1], 0), 0);
    }

    #[test]
    fn os_draws_stay_in_range() {
        let mut d = OsDraw;
        assert_eq!(d.up_to(0), 0);
        for _ in 0..100 {
            assert!(d.up_to(10) <= 10);
        }
        // The whole range: no overflow.
        let _ = d.up_to(u64::MAX);
    }
}
