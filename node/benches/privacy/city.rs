//! The simulated city of the linkage benchmark: its residents and what their wallets sign, when
//! and to which node (with the wallet-side [`Mitigations`] applied), and the ground truth (which
//! pairwise feeds are one person's) that only the simulator keeps. Its collectors are
//! [`crate::collectors`].
//!
//! Every citizen entry is signed the way the `consent` CLI signs it, with the client's own
//! derivation (`consent_client::wallet`): one pairwise feed per collector, whose inception is the
//! wallet's (dated at its pseudo-random instant of 2020, so the inception's `time_ms` says
//! nothing); grants, revocations and requests dated by the wallet's clock to the millisecond, a
//! grant's `valid_from` being that same instant (as `consent grant` sets it); `wallet rotate`
//! moving every feed of the wallet to its pre-committed next key, one feed after the other.
//!
//! # Who does what (the constants below)
//! - **Residents** (`--residents`): each has one sign-up sitting at a random moment of the first
//!   80% of the span, granting to 1-4 collectors (weights [`SITTING_SIZES`]; collectors chosen by
//!   popularity, the first of the catalogue most often). Per collector the CLI submits the
//!   feed's inception, then the grant 150-600 ms later; the next collector follows 2-10 s later
//!   (its policy shown, confirmed). Later, at least 10 minutes after the sign-up: with
//!   probability 0.3 a sitting revoking 2 or more of those grants at once (all of them when there
//!   are 1 or 2), 2-10 s apart; with 0.1 `wallet rotate` (every feed, 100-400 ms apart); with 0.1
//!   the same request (access, erasure, ...) to 2 or more of the collectors, 3-15 s apart.
//!   Each resident has an attitude kept in every grant: the least (the first purpose and the
//!   first category of each policy, and revocations that ask for erasure), the usual (the first
//!   two of each), or everything the policy lists (weights [`ATTITUDES`]).
//! - **Background** (`--rates`, events per minute of city time): independent residents with one
//!   feed each, as a Poisson process: 60% a new resident's single grant (inception + grant), 30%
//!   the revocation of such a grant, 10% a request.
//!
//! The residents, their choices and the times of their sittings depend only on `--seed`, not on
//! the background rate or the mitigations, so every run of one invocation has the same people.
//!
//! Modules: `mitigate` (when and where each entry leaves, as the wallet's send schedule decides),
//! `sign` (every entry signed, in sending order, with the client's own derivation).

#[path = "city/mitigate.rs"]
mod mitigate;
#[path = "city/sign.rs"]
mod sign;

use std::collections::HashMap;

use consent_client::privacy;
use consent_proto::Entry;
use consent_proto::body::BodyKind;
use consent_proto::ids::FeedId;
use consent_proto::vocab::RequestKind;

use crate::collectors::{self, MAX_COLLECTORS};
use crate::mitigations::Mitigations;
use crate::rng::Rng;

/// City time starts at 2025-06-16T06:00:00Z: a day in the past, which validation accepts (a
/// `time_ms` may be anything from 2020 on, up to 5 minutes ahead of the node's clock, and not
/// before the feed's previous entry).
pub const START_MS: u64 = 1_750_053_600_000;
const SECOND: u64 = 1_000;
const MINUTE: u64 = 60 * SECOND;

/// How many collectors one sign-up sitting grants to: 1, 2, 3 or 4, with these weights.
const SITTING_SIZES: [f64; 4] = [0.35, 0.30, 0.20, 0.15];
/// From submitting a feed's inception to submitting its grant (the CLI reads the head back,
/// signs, submits).
const INCEPTION_TO_GRANT_MS: (u64, u64) = (150, 600);
/// Between two grants of one sitting (the next `consent grant`: its policy shown, confirmed).
const BETWEEN_GRANTS_MS: (u64, u64) = (2 * SECOND, 10 * SECOND);
/// Share of residents who later revoke several grants in one sitting.
const REVOKE_SITTING: f64 = 0.3;
/// Between two revocations of one sitting.
const BETWEEN_REVOCATIONS_MS: (u64, u64) = (2 * SECOND, 10 * SECOND);
/// Share of residents who later run `wallet rotate`.
const ROTATE_SITTING: f64 = 0.1;
/// Between two rotations of one `wallet rotate` (one process, one submit per feed).
const BETWEEN_ROTATIONS_MS: (u64, u64) = (100, 400);
/// Share of residents who later send the same request to several collectors.
const REQUEST_SITTING: f64 = 0.1;
/// Between two requests of one sitting.
const BETWEEN_REQUESTS_MS: (u64, u64) = (3 * SECOND, 15 * SECOND);
/// Later sittings start at least this long after the sign-up ends.
const LATER_AFTER_MS: u64 = 10 * MINUTE;
/// Sign-ups fall in this first share of the span, so that later sittings have room.
const SIGNUP_SHARE: f64 = 0.8;
/// A background event is a new resident's single grant, a revocation or a request.
const BACKGROUND_MIX: [f64; 3] = [0.6, 0.3, 0.1];
/// Attitudes: the least, the usual, everything.
const ATTITUDES: [f64; 3] = [0.3, 0.5, 0.2];
/// Seeds of the background and mitigation random streams (xor the run's seed), kept apart from
/// the residents' stream so that neither changes who the residents are.
const BACKGROUND_STREAM: u64 = 0x6261_636b_6772_6f75;
const MITIGATION_STREAM: u64 = 0x6d69_7469_6761_7465;

/// One simulated city.
pub struct CityConfig {
    /// Residents with sittings (the people whose feeds the attacker tries to link).
    pub residents: usize,
    /// Collectors (at most [`MAX_COLLECTORS`]).
    pub collectors: usize,
    /// Length of the city's day, ms.
    pub span_ms: u64,
    /// Background events per minute of city time.
    pub background_per_min: f64,
    /// Nodes the wallets talk to.
    pub nodes: usize,
    /// Seed of every random choice.
    pub seed: u64,
    /// What the wallets do to hide.
    pub mitigations: Mitigations,
}

/// An entry, when its wallet sends it and to which node.
pub struct Planned {
    /// City time of sending, Unix ms (the order of submission).
    pub send_ms: u64,
    /// Index of the node it goes to.
    pub node: usize,
    /// The signed entry.
    pub entry: Entry,
}

/// A simulated city, ready to submit.
pub struct City {
    /// The registrar that accredits the collectors (the network genesis lists it).
    pub registrar: FeedId,
    /// Registrar, collectors, policies and accreditations, in an order a node accepts.
    pub setup: Vec<Entry>,
    /// Every citizen entry, in the order of sending.
    pub planned: Vec<Planned>,
    /// Ground truth: the person (resident or background) behind each citizen feed.
    pub owner: HashMap<FeedId, u32>,
    /// Residents with two feeds or more.
    pub residents_multi: usize,
    /// Background events generated.
    pub background_events: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Attitude {
    Least,
    Usual,
    Everything,
}

struct Wallet {
    master: [u8; 32],
    attitude: Attitude,
    home: usize,
}

#[derive(Clone, Copy)]
enum Op {
    Incept,
    Grant,
    Revoke { erase: bool },
    Rotate,
    Request(RequestKind),
}

/// Something a wallet does to one of its feeds: signed at `signed_ms`, due at `due_ms`, sent at
/// `send_ms`.
struct Intent {
    person: u32,
    collector: usize,
    op: Op,
    signed_ms: u64,
    /// Entries of one group leave together when sends are spread (a feed's inception and grant).
    group: u32,
    /// The moment the wallet's schedule drew for it (a grant's `valid_from` is rounded up from
    /// it).
    due_ms: u64,
    /// When it really leaves (with a timer: the first run at or after `due_ms`).
    send_ms: u64,
    node: usize,
}

impl City {
    /// Generates the city: collectors, residents, background, mitigations, then signs every
    /// entry in sending order.
    pub fn build(config: &CityConfig) -> anyhow::Result<City> {
        anyhow::ensure!(
            (1..=MAX_COLLECTORS).contains(&config.collectors),
            "1..={MAX_COLLECTORS} collectors"
        );
        let (registrar, collectors, setup) = collectors::setup(config.collectors, START_MS);
        let mut b = Builder {
            config,
            wallets: Vec::new(),
            intents: Vec::new(),
            groups: 0,
        };
        let residents_multi = b.residents(&mut Rng::new(config.seed));
        let background_events = b.background(&mut Rng::new(config.seed ^ BACKGROUND_STREAM));
        b.mitigate(&mut Rng::new(config.seed ^ MITIGATION_STREAM), &collectors);
        let (planned, owner) = b.sign(&collectors)?;
        Ok(City {
            registrar,
            setup,
            planned,
            owner,
            residents_multi,
            background_events,
        })
    }
}

struct Builder<'a> {
    config: &'a CityConfig,
    wallets: Vec<Wallet>,
    intents: Vec<Intent>,
    groups: u32,
}

impl Builder<'_> {
    fn end(&self) -> u64 {
        START_MS + self.config.span_ms
    }

    fn wallet(&mut self, rng: &mut Rng) -> u32 {
        let person = self.wallets.len() as u32;
        let mut material = self.config.seed.to_le_bytes().to_vec();
        material.extend_from_slice(&person.to_le_bytes());
        let attitude = match rng.pick(&ATTITUDES) {
            0 => Attitude::Least,
            1 => Attitude::Usual,
            _ => Attitude::Everything,
        };
        self.wallets.push(Wallet {
            master: blake3::derive_key("consent-ledger privacy bench wallet", &material),
            attitude,
            home: rng.below(self.config.nodes as u64) as usize,
        });
        person
    }

    /// `k` distinct collectors, the more popular more often (weight 1 / (rank + 1)).
    fn choose(&self, rng: &mut Rng, k: usize) -> Vec<usize> {
        let mut left: Vec<usize> = (0..self.config.collectors).collect();
        let mut out = Vec::new();
        while out.len() < k && !left.is_empty() {
            let weights: Vec<f64> = left.iter().map(|&c| 1.0 / (c as f64 + 1.0)).collect();
            out.push(left.swap_remove(rng.pick(&weights)));
        }
        out
    }

    fn group(&mut self) -> u32 {
        self.groups += 1;
        self.groups
    }

    fn push(&mut self, person: u32, collector: usize, op: Op, at: u64, group: u32) {
        self.intents.push(Intent {
            person,
            collector,
            op,
            signed_ms: at,
            group,
            due_ms: at,
            send_ms: at,
            node: 0,
        });
    }

    /// A sign-up: per collector an inception and, shortly after, a grant. Returns when it ends.
    fn sign_up(&mut self, rng: &mut Rng, person: u32, chosen: &[usize], mut at: u64) -> u64 {
        for (i, &c) in chosen.iter().enumerate() {
            if i > 0 {
                at += rng.range(BETWEEN_GRANTS_MS);
            }
            let g = self.group();
            self.push(person, c, Op::Incept, at, g);
            at += rng.range(INCEPTION_TO_GRANT_MS);
            self.push(person, c, Op::Grant, at, g);
        }
        at
    }

    /// One sitting doing `op` to each of `feeds`, `gap` apart, from a random moment after
    /// `after` (none if the day ends first).
    fn sitting(
        &mut self,
        rng: &mut Rng,
        person: u32,
        feeds: &[usize],
        op: Op,
        gap: (u64, u64),
        after: u64,
    ) {
        let end = self.end();
        if after >= end {
            return;
        }
        let mut at = rng.between(after, end);
        for (i, &c) in feeds.iter().enumerate() {
            if i > 0 {
                at += rng.range(gap);
            }
            let g = self.group();
            self.push(person, c, op, at, g);
        }
    }

    /// The residents' sittings; returns how many have two feeds or more.
    fn residents(&mut self, rng: &mut Rng) -> usize {
        let mut multi = 0;
        let signups = (self.config.span_ms as f64 * SIGNUP_SHARE) as u64;
        for _ in 0..self.config.residents {
            let person = self.wallet(rng);
            let k = (rng.pick(&SITTING_SIZES) + 1).min(self.config.collectors);
            let chosen = self.choose(rng, k);
            if chosen.len() >= 2 {
                multi += 1;
            }
            let start = START_MS + rng.below(signups.max(1));
            let later = self.sign_up(rng, person, &chosen, start) + LATER_AFTER_MS;
            // Each later sitting is drawn whether or not it happens, so that a resident's choices
            // do not shift the next resident's.
            let (revokes, rotates, requests) = (
                rng.chance(REVOKE_SITTING),
                rng.chance(ROTATE_SITTING),
                rng.chance(REQUEST_SITTING),
            );
            let erase = self.wallets[person as usize].attitude == Attitude::Least;
            let revoked = rng.several(&chosen);
            let asked = rng.several(&chosen);
            let kind = RequestKind::ALL[rng.below(RequestKind::ALL.len() as u64) as usize];
            if revokes {
                let op = Op::Revoke { erase };
                self.sitting(rng, person, &revoked, op, BETWEEN_REVOCATIONS_MS, later);
            }
            if rotates {
                let gap = BETWEEN_ROTATIONS_MS;
                self.sitting(rng, person, &chosen, Op::Rotate, gap, later);
            }
            if requests {
                let op = Op::Request(kind);
                self.sitting(rng, person, &asked, op, BETWEEN_REQUESTS_MS, later);
            }
        }
        multi
    }

    /// Independent single-feed residents; returns the number of events.
    fn background(&mut self, rng: &mut Rng) -> usize {
        let rate = self.config.background_per_min;
        if rate <= 0.0 {
            return 0;
        }
        let end = self.end();
        let mean_gap_ms = MINUTE as f64 / rate;
        // (person, collector, when its grant was sent); `active` indexes the unrevoked ones.
        let mut loners: Vec<(u32, usize, u64)> = Vec::new();
        let mut active: Vec<usize> = Vec::new();
        let mut t = START_MS as f64;
        let mut events = 0;
        loop {
            t += rng.exp(mean_gap_ms);
            if t >= end as f64 {
                break;
            }
            let now = t as u64;
            events += 1;
            let kind = rng.pick(&BACKGROUND_MIX);
            if kind == 1 && !active.is_empty() {
                let slot = rng.below(active.len() as u64) as usize;
                let (person, collector, granted) = loners[active[slot]];
                if granted < now {
                    active.swap_remove(slot);
                    let erase = self.wallets[person as usize].attitude == Attitude::Least;
                    let g = self.group();
                    self.push(person, collector, Op::Revoke { erase }, now, g);
                    continue;
                }
            }
            if kind == 2 && !loners.is_empty() {
                let (person, collector, granted) = loners[rng.below(loners.len() as u64) as usize];
                if granted < now {
                    let kind = RequestKind::ALL[rng.below(RequestKind::ALL.len() as u64) as usize];
                    let g = self.group();
                    self.push(person, collector, Op::Request(kind), now, g);
                    continue;
                }
            }
            let person = self.wallet(rng);
            let collector = self.choose(rng, 1)[0];
            let granted = self.sign_up(rng, person, &[collector], now);
            active.push(loners.len());
            loners.push((person, collector, granted));
        }
        events
    }
}

/// How the wallet dates and sends what `op` signs (`privacy::handling_of`, the rule the CLI
/// applies).
fn handling(op: Op) -> privacy::Handling {
    match op {
        Op::Incept => privacy::handling_of(BodyKind::Inception, None, false),
        Op::Grant => privacy::handling_of(BodyKind::Grant, None, false),
        Op::Revoke { .. } => privacy::handling_of(BodyKind::Revoke, None, false),
        Op::Rotate => privacy::handling_of(BodyKind::Rotation, None, false),
        Op::Request(kind) => privacy::handling_of(BodyKind::Request, Some(kind), false),
    }
}
