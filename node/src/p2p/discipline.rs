//! Per-peer discipline: what a peer did wrong (offences with weights that decay over time), how
//! much it may ask of this node (token buckets for sync requests and pushed entries), and when it
//! is banned. Pure bookkeeping: the swarm task asks, acts on the answers, and feeds the offence
//! score into gossipsub as the application score so both views of a peer agree.
//!
//! Two scores can ban a peer: its offence score here ([`Discipline::offend`], at [`BAN_SCORE`]),
//! and its gossipsub score, below the graylist ([`gossip_sentence`]) — except for a member node
//! or a bootstrap peer, which only its offences ban (see [`gossip_sentence`] for why).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::bucket::Bucket;

use libp2p::PeerId;

use super::behaviour::GRAYLIST_SCORE;

/// Something a peer did wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Offence {
    /// An entry that fails validation (bad signature, broken chain, outside its policy...).
    InvalidEntry,
    /// Bytes that do not decode (a gossip message, a sync request or response).
    Garbage,
    /// A well-formed sync message that breaks the protocol (wrong shape, over a limit).
    BadMessage,
    /// A sync request over the peer's rate.
    OverRate,
}

impl Offence {
    /// Score each offence adds; a peer is banned at [`BAN_SCORE`].
    fn weight(self) -> f64 {
        match self {
            Offence::InvalidEntry | Offence::Garbage => 20.0,
            Offence::BadMessage => 10.0,
            Offence::OverRate => 2.0,
        }
    }

    /// A stable name for logs and status.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Offence::InvalidEntry => "invalid-entry",
            Offence::Garbage => "garbage",
            Offence::BadMessage => "bad-message",
            Offence::OverRate => "over-rate",
        }
    }
}

/// Offence score at which a peer is banned (five invalid entries in quick succession).
pub(crate) const BAN_SCORE: f64 = 100.0;
/// Offence scores halve this often: an honest peer that relayed a few bad things once recovers.
const HALF_LIFE: Duration = Duration::from_secs(60);
/// How long a ban lasts.
pub(crate) const BAN_FOR: Duration = Duration::from_secs(600);
/// Sync request budget per peer: cost units per second, and the burst allowed.
const REQUEST_RATE: f64 = 2000.0;
const REQUEST_BURST: f64 = 4000.0;
/// Pushed entries a peer may send per second, and the burst allowed. Above it they are ignored
/// (not processed, not forwarded, not penalised): anti-entropy fetches them later at our pace.
const GOSSIP_RATE: f64 = 20_000.0;
const GOSSIP_BURST: f64 = 40_000.0;
/// Entries from a peer whose refusal depends on which branch of a forked feed this node holds
/// (`wrong-prev`, `unproven-conflict`): never an offence, but each costs a store read, possibly a
/// signature check and a pull. A real fork produces a few; past this budget (per second, burst)
/// the peer's pushes and pulled entries are not processed until it refills (nothing is lost:
/// anti-entropy fetches them later, at our pace).
const BRANCH_RATE: f64 = 50.0;
const BRANCH_BURST: f64 = 500.0;
/// Records kept at most (peers with a decayed score are forgotten first).
const MAX_RECORDS: usize = 4096;

/// This node's own sync requests to one peer, paced at half the budget every node grants its
/// peers: an honest node that has much to fetch (catching up after a crash, say) waits its turn
/// instead of tripping the peer's rate limit and being banned for it.
#[derive(Debug, Clone)]
pub(crate) struct Pace(Bucket);

impl Default for Pace {
    fn default() -> Self {
        Self(Bucket::full(REQUEST_BURST / 2.0, Instant::now()))
    }
}

impl Pace {
    /// Takes `cost` from the budget if it is there.
    pub(crate) fn take(&mut self, cost: f64, now: Instant) -> bool {
        self.0
            .take(cost, REQUEST_RATE / 2.0, REQUEST_BURST / 2.0, now)
    }
}

/// What is known about one peer.
#[derive(Debug, Clone)]
struct Record {
    score: f64,
    scored_at: Instant,
    offences: u64,
    requests: Bucket,
    gossip: Bucket,
    branches: Bucket,
}

impl Record {
    fn new(now: Instant) -> Self {
        Self {
            score: 0.0,
            scored_at: now,
            offences: 0,
            requests: Bucket::full(REQUEST_BURST, now),
            gossip: Bucket::full(GOSSIP_BURST, now),
            branches: Bucket::full(BRANCH_BURST, now),
        }
    }

    fn decayed(&self, now: Instant) -> f64 {
        let halves =
            now.saturating_duration_since(self.scored_at).as_secs_f64() / HALF_LIFE.as_secs_f64();
        self.score * 0.5f64.powf(halves)
    }
}

/// What to do after an offence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sentence {
    /// Keep the peer (its score went down).
    Keep,
    /// Ban it now.
    Ban,
}

/// Whether a peer is banned for its gossipsub score `score` (looked at once a second, and at
/// each offence). `named`: the peer is one this node was told about — a member node the genesis
/// lists, or a peer of its bootstrap list.
///
/// Below [`GRAYLIST_SCORE`] gossipsub ignores whatever the peer sends on gossip. Another peer is
/// then banned: forged signatures and oversized messages are seen by gossipsub alone (the node's
/// offences never count them), and only a ban stops what they cost. A named peer is not: it
/// stays graylisted until its score recovers, anti-entropy with it goes on (what it answers is
/// judged by this node's own checks), and only its offences ([`Discipline::offend`]) ban it.
/// Gossipsub's part of the score also falls for things an honest node does when it restarts or
/// is overloaded — a GRAFT within the backoff, IWANT promises not kept in time, its own messages
/// echoed back to a restarted node (see `behaviour.rs`) — and three CI runs saw a node restarted
/// during anti-entropy ban its only peer on that part alone and never catch up: a node that bans
/// the peers it was given to reach the network can cut itself off from it.
pub(crate) fn gossip_sentence(score: f64, named: bool) -> Sentence {
    if score < GRAYLIST_SCORE && !named {
        Sentence::Ban
    } else {
        Sentence::Keep
    }
}

/// The discipline book for every peer this node has dealt with.
#[derive(Debug, Default)]
pub(crate) struct Discipline {
    records: HashMap<PeerId, Record>,
    banned: HashMap<PeerId, Instant>,
}

impl Discipline {
    fn record(&mut self, peer: PeerId, now: Instant) -> &mut Record {
        if self.records.len() >= MAX_RECORDS && !self.records.contains_key(&peer) {
            self.records.retain(|_, r| r.decayed(now) >= 1.0);
        }
        self.records.entry(peer).or_insert_with(|| Record::new(now))
    }

    /// Records an offence; says whether the peer must now be banned.
    pub(crate) fn offend(&mut self, peer: PeerId, offence: Offence, now: Instant) -> Sentence {
        let record = self.record(peer, now);
        record.score = record.decayed(now) + offence.weight();
        record.scored_at = now;
        record.offences += 1;
        if record.score >= BAN_SCORE {
            self.banned.insert(peer, now + BAN_FOR);
            Sentence::Ban
        } else {
            Sentence::Keep
        }
    }

    /// The peer's offence score now (0 for a peer that never offended).
    pub(crate) fn score(&self, peer: &PeerId, now: Instant) -> f64 {
        self.records.get(peer).map_or(0.0, |r| r.decayed(now))
    }

    /// Offences recorded for the peer in all.
    pub(crate) fn offences(&self, peer: &PeerId) -> u64 {
        self.records.get(peer).map_or(0, |r| r.offences)
    }

    /// Whether a sync request of `cost` units is within the peer's rate (and takes it if so).
    pub(crate) fn allow_request(&mut self, peer: PeerId, cost: f64, now: Instant) -> bool {
        self.record(peer, now)
            .requests
            .take(cost, REQUEST_RATE, REQUEST_BURST, now)
    }

    /// Whether a pushed entry from the peer is within its rate.
    pub(crate) fn allow_gossip(&mut self, peer: PeerId, now: Instant) -> bool {
        self.record(peer, now)
            .gossip
            .take(1.0, GOSSIP_RATE, GOSSIP_BURST, now)
    }

    /// Counts `n` entries from the peer refused because they belong to another branch of a feed
    /// (never an offence; see [`BRANCH_RATE`]).
    pub(crate) fn other_branch(&mut self, peer: PeerId, n: usize, now: Instant) {
        let bucket = &mut self.record(peer, now).branches;
        for _ in 0..n {
            if !bucket.take(1.0, BRANCH_RATE, BRANCH_BURST, now) {
                break;
            }
        }
    }

    /// Whether entries from the peer are processed now: false while it has spent its budget of
    /// entries from other branches (they are then left to anti-entropy).
    pub(crate) fn within_branch_budget(&mut self, peer: PeerId, now: Instant) -> bool {
        self.record(peer, now)
            .branches
            .level(BRANCH_RATE, BRANCH_BURST, now)
            >= 1.0
    }

    /// Bans a peer now (for a reason found elsewhere, e.g. its gossipsub score).
    pub(crate) fn ban(&mut self, peer: PeerId, now: Instant) {
        self.banned.insert(peer, now + BAN_FOR);
    }

    /// Whether the peer is banned now.
    pub(crate) fn is_banned(&self, peer: &PeerId, now: Instant) -> bool {
        self.banned.get(peer).is_some_and(|until| *until > now)
    }

    /// Bans that have run out (removed from the book; the caller lifts them in the swarm).
    pub(crate) fn expired_bans(&mut self, now: Instant) -> Vec<PeerId> {
        let expired: Vec<PeerId> = self
            .banned
            .iter()
            .filter(|(_, until)| **until <= now)
            .map(|(p, _)| *p)
            .collect();
        for peer in &expired {
            self.banned.remove(peer);
            self.records.remove(peer);
        }
        expired
    }

    /// Peers banned now.
    pub(crate) fn banned(&self) -> usize {
        self.banned.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_from_other_branches_are_budgeted_without_blame() {
        let mut d = Discipline::default();
        let peer = PeerId::random();
        let start = Instant::now();
        assert!(d.within_branch_budget(peer, start));
        d.other_branch(peer, BRANCH_BURST as usize, start);
        assert!(!d.within_branch_budget(peer, start), "budget spent");
        assert_eq!(d.offences(&peer), 0, "never an offence");
        assert!(!d.is_banned(&peer, start));
        // It refills at the rate.
        assert!(d.within_branch_budget(peer, start + Duration::from_millis(100)));
    }

    #[test]
    fn a_paced_requester_never_trips_the_rate_limit() {
        let (mut d, mut pace) = (Discipline::default(), Pace::default());
        let peer = PeerId::random();
        let start = Instant::now();
        let mut sent = 0u32;
        // Ten simulated seconds of a requester that sends whenever its pace allows.
        for ms in 0..10_000u64 {
            let now = start + Duration::from_millis(ms);
            while pace.take(1.0, now) {
                assert!(d.allow_request(peer, 1.0, now), "refused at {ms} ms");
                sent += 1;
            }
        }
        assert!(sent > 5_000, "pacing too slow: {sent} requests in 10 s");
    }

    #[test]
    fn five_invalid_entries_in_a_row_ban_a_peer() {
        let mut d = Discipline::default();
        let peer = PeerId::random();
        let now = Instant::now();
        for _ in 0..4 {
            assert_eq!(d.offend(peer, Offence::InvalidEntry, now), Sentence::Keep);
        }
        assert_eq!(d.offend(peer, Offence::InvalidEntry, now), Sentence::Ban);
        assert!(d.is_banned(&peer, now));
        assert!(!d.is_banned(&peer, now + BAN_FOR));
        assert_eq!(d.expired_bans(now + BAN_FOR), vec![peer]);
        assert_eq!(d.score(&peer, now), 0.0);
    }

    #[test]
    fn scores_decay_so_rare_offences_never_ban() {
        let mut d = Discipline::default();
        let peer = PeerId::random();
        let start = Instant::now();
        for i in 0..100u32 {
            let now = start + HALF_LIFE * i;
            assert_eq!(d.offend(peer, Offence::InvalidEntry, now), Sentence::Keep);
        }
        assert!(d.score(&peer, start + HALF_LIFE * 100) < 41.0);
        assert_eq!(d.offences(&peer), 100);
    }

    #[test]
    fn the_request_bucket_refills_at_its_rate() {
        let mut d = Discipline::default();
        let peer = PeerId::random();
        let now = Instant::now();
        assert!(d.allow_request(peer, REQUEST_BURST, now));
        assert!(!d.allow_request(peer, 1.0, now));
        assert!(d.allow_request(peer, REQUEST_RATE / 2.0, now + Duration::from_millis(500)));
        assert!(!d.allow_request(peer, 10.0, now + Duration::from_millis(500)));
    }

    /// The crash test's flake: a node restarted during anti-entropy saw its only peer's gossip
    /// score fall to -90 without a single offence, banned it, and never caught up.
    #[test]
    fn a_member_or_bootstrap_peer_is_never_banned_for_its_gossip_score_alone() {
        let restart = -90.0;
        assert_eq!(gossip_sentence(restart, true), Sentence::Keep);
        assert_eq!(gossip_sentence(-10_000.0, true), Sentence::Keep);
        // Any other peer below the graylist is banned (forged or oversized gossip), and nobody
        // above it.
        assert_eq!(gossip_sentence(restart, false), Sentence::Ban);
        assert_eq!(gossip_sentence(GRAYLIST_SCORE, false), Sentence::Keep);
        assert_eq!(gossip_sentence(0.0, false), Sentence::Keep);
        // A named peer that really misbehaves is still banned by its offences.
        let mut d = Discipline::default();
        let member = PeerId::random();
        let now = Instant::now();
        for _ in 0..4 {
            assert_eq!(d.offend(member, Offence::InvalidEntry, now), Sentence::Keep);
        }
        assert_eq!(d.offend(member, Offence::InvalidEntry, now), Sentence::Ban);
        assert!(d.is_banned(&member, now));
    }

    #[test]
    fn peers_are_judged_separately() {
        let mut d = Discipline::default();
        let (bad, good) = (PeerId::random(), PeerId::random());
        let now = Instant::now();
        for _ in 0..5 {
            d.offend(bad, Offence::Garbage, now);
        }
        assert!(d.is_banned(&bad, now));
        assert!(!d.is_banned(&good, now));
        assert!(d.allow_gossip(good, now));
    }
}
