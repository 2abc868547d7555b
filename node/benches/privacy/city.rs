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

use std::collections::{BTreeMap, HashMap};

use anyhow::Context;
use consent_client::privacy::schedule::{Outgoing, Waiting};
use consent_client::privacy::{self, schedule};
use consent_client::wallet;
use consent_proto::Entry;
use consent_proto::body::{Body, BodyKind, Grant, Request, Revoke};
use consent_proto::entry::Author;
use consent_proto::fixtures::DAY;
use consent_proto::ids::{EntryId, FeedId};
use consent_proto::validate::Rejection;
use consent_proto::vocab::RequestKind;

use crate::collectors::{self, Collector, MAX_COLLECTORS};
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

    /// Decides when and where each entry is sent, as the `consent` wallet does with the
    /// mitigations turned on: each command's entries planned by the wallet's send schedule
    /// (`privacy::schedule::plan`, with what waits in the feed's queue), revocations, opt-outs,
    /// erasure and restriction requests at once (`privacy::handling`), a node of its own per feed
    /// (`privacy::schedule::node_for`), inceptions of every collector's feed prepared the day
    /// before (`consent wallet prepare --collectors all --over 24h`). What a command does not
    /// send itself leaves as the wallet's sender sends it ([`Builder::timer_sends`]), or at its
    /// very moment with an exact sender.
    fn mitigate(&mut self, rng: &mut Rng, collectors: &[Collector]) {
        let m = self.config.mitigations.clone();
        let spread = m.spread_ms.unwrap_or(0);
        if m.pre_created_inceptions {
            // `prepare --collectors all`: a feed for every collector, used or not.
            let mut has: Vec<Vec<bool>> = vec![vec![false; collectors.len()]; self.wallets.len()];
            for it in &self.intents {
                if matches!(it.op, Op::Incept) {
                    has[it.person as usize][it.collector] = true;
                }
            }
            for (person, feeds) in has.iter().enumerate() {
                for (collector, used) in feeds.iter().enumerate() {
                    if !used {
                        let g = self.group();
                        self.push(person as u32, collector, Op::Incept, START_MS - DAY, g);
                    }
                }
            }
        }
        for it in &mut self.intents {
            it.send_ms = it.signed_ms;
            it.due_ms = it.signed_ms;
            it.node = self.wallets[it.person as usize].home;
        }
        if m.spread_nodes {
            let nodes = self.config.nodes;
            let mut chosen: HashMap<(u32, usize), usize> = HashMap::new();
            for it in &mut self.intents {
                let (person, collector) = (it.person, it.collector);
                let master = &self.wallets[person as usize].master;
                it.node = *chosen.entry((person, collector)).or_insert_with(|| {
                    let feed = wallet::pairwise_feed(master, &collectors[collector].feed);
                    schedule::node_for(master, &feed, nodes)
                });
            }
        }
        // Whether a command sends the entry itself (it is due at the command's moment), and the
        // moments a wallet's own commands (other than withdrawals) run its sender.
        let mut by_command = vec![false; self.intents.len()];
        let mut runs_at: HashMap<u32, Vec<u64>> = HashMap::new();
        // Each feed's queue: the entries planned so far, in feed order.
        let mut queued: HashMap<(u32, usize), Vec<usize>> = HashMap::new();
        let mut prepared = vec![false; self.intents.len()];
        if m.pre_created_inceptions {
            let mut by_person: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
            for (i, it) in self.intents.iter().enumerate() {
                if matches!(it.op, Op::Incept) {
                    by_person.entry(it.person).or_default().push(i);
                }
            }
            for inceptions in by_person.values() {
                let outgoing: Vec<Outgoing<(u32, usize)>> = inceptions
                    .iter()
                    .map(|&i| Outgoing {
                        feed: (self.intents[i].person, self.intents[i].collector),
                        at_once: false,
                    })
                    .collect();
                let plan = schedule::plan(&outgoing, &[], START_MS - DAY, DAY, rng);
                for (&i, due) in inceptions.iter().zip(plan.due_ms) {
                    self.intents[i].send_ms = due;
                    self.intents[i].due_ms = due;
                    prepared[i] = true;
                    let it = &self.intents[i];
                    queued.entry((it.person, it.collector)).or_default().push(i);
                }
            }
        }
        // The commands (a grant with its feed's inception, a revocation, ...), in the order
        // their wallets send them: at the last entry each signs.
        let mut groups: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
        for (i, it) in self.intents.iter().enumerate() {
            if !prepared[i] {
                groups.entry(it.group).or_default().push(i);
            }
        }
        let intents = &self.intents;
        let sent_at = |cmd: &Vec<usize>| cmd.iter().map(|&i| intents[i].signed_ms).max();
        let mut commands: Vec<(u64, Vec<usize>)> = groups
            .into_values()
            .filter_map(|cmd| sent_at(&cmd).map(|t| (t, cmd)))
            .collect();
        commands.sort_by_key(|(t, cmd)| (*t, cmd.first().copied()));
        for (t, cmd) in commands {
            let outgoing: Vec<Outgoing<(u32, usize)>> = cmd
                .iter()
                .map(|&i| {
                    let it = &self.intents[i];
                    Outgoing {
                        feed: (it.person, it.collector),
                        at_once: handling(it.op).at_once,
                    }
                })
                .collect();
            if !outgoing.iter().any(|o| o.at_once)
                && let Some(&first) = cmd.first()
            {
                runs_at
                    .entry(self.intents[first].person)
                    .or_default()
                    .push(t);
            }
            // What still waits in those feeds' queues when the command runs.
            let mut waiting_at: Vec<usize> = Vec::new();
            let mut waiting: Vec<Waiting<(u32, usize)>> = Vec::new();
            for o in &outgoing {
                if let Some(q) = queued.get_mut(&o.feed) {
                    q.retain(|&i| self.intents[i].send_ms > t);
                    for &i in q.iter() {
                        if !waiting_at.contains(&i) {
                            waiting_at.push(i);
                            waiting.push(Waiting {
                                feed: o.feed,
                                due_ms: self.intents[i].send_ms,
                            });
                        }
                    }
                }
            }
            let plan = schedule::plan(&outgoing, &waiting, t, spread, rng);
            for (&i, due) in waiting_at.iter().zip(plan.waiting_due_ms) {
                // (Its `due_ms` stays what was drawn when it was signed: a grant's valid_from
                // was rounded up from it.)
                self.intents[i].send_ms = due;
                // Pulled to the command's moment: the command sends it.
                by_command[i] |= due <= t;
            }
            for ((&i, due), o) in cmd.iter().zip(plan.due_ms).zip(&outgoing) {
                // Not delayed: it leaves when the command sends it (a new feed's inception just
                // before its grant, as the CLI submits them).
                if due != t {
                    self.intents[i].send_ms = due;
                    self.intents[i].due_ms = due;
                } else {
                    by_command[i] = true;
                }
                queued.entry(o.feed).or_default().push(i);
            }
        }
        if let Some(every) = m.send_every_ms {
            self.timer_sends(rng, every, &by_command, &runs_at);
        }
        // A feed's entries leave in the order they were signed: a delayed one goes out no later
        // than the next (the plan keeps this; an entry left at its own signed time may come
        // before an earlier one pulled to the command's moment).
        let mut by_feed: Vec<usize> = (0..self.intents.len()).collect();
        by_feed.sort_by_key(|&i| {
            let it = &self.intents[i];
            (it.person, it.collector, it.signed_ms, i)
        });
        for w in (1..by_feed.len()).rev() {
            let (a, b) = (by_feed[w - 1], by_feed[w]);
            let (x, y) = (&self.intents[a], &self.intents[b]);
            if (x.person, x.collector) == (y.person, y.collector) && x.send_ms > y.send_ms {
                self.intents[a].send_ms = self.intents[b].send_ms;
            }
        }
    }

    /// The sender the wallet has: an entry its command did not send leaves at the first run of
    /// the wallet's sender at or after its moment. The runs are a timer running `consent queue`
    /// every `every` ms (from a phase of the wallet's own) and the wallet's own commands other
    /// than withdrawals (`runs_at`); each run sends the due entries of every feed that has a
    /// withdrawal among them and of at most one other feed, the most overdue
    /// (`Queue::due_now`); the rest wait for the next run.
    fn timer_sends(
        &mut self,
        rng: &mut Rng,
        every: u64,
        by_command: &[bool],
        runs_at: &HashMap<u32, Vec<u64>>,
    ) {
        let mut by_person: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
        for (i, it) in self.intents.iter().enumerate() {
            if !by_command[i] {
                by_person.entry(it.person).or_default().push(i);
            }
        }
        for (person, mut waiting) in by_person {
            let phase = rng.below(every.max(1));
            let mut commands = runs_at.get(&person).cloned().unwrap_or_default();
            commands.sort_unstable();
            // The first run at or after `x`.
            let next_run = |x: u64| {
                let tick = x + (phase + every - x % every) % every;
                commands
                    .iter()
                    .copied()
                    .find(|c| *c >= x)
                    .map_or(tick, |c| c.min(tick))
            };
            let mut t = match waiting.iter().map(|&i| self.intents[i].send_ms).min() {
                Some(first) => next_run(first),
                None => continue,
            };
            while !waiting.is_empty() {
                let due: Vec<usize> = waiting
                    .iter()
                    .copied()
                    .filter(|&i| self.intents[i].send_ms <= t)
                    .collect();
                if due.is_empty() {
                    let first = waiting
                        .iter()
                        .map(|&i| self.intents[i].send_ms)
                        .min()
                        .unwrap_or(t);
                    t = next_run(first.max(t + 1));
                    continue;
                }
                let withdrawing: Vec<usize> = due
                    .iter()
                    .filter(|&&i| handling(self.intents[i].op).at_once)
                    .map(|&i| self.intents[i].collector)
                    .collect();
                let mut by_due = due.clone();
                by_due.sort_by_key(|&i| (self.intents[i].send_ms, i));
                let other = by_due
                    .iter()
                    .map(|&i| self.intents[i].collector)
                    .find(|c| !withdrawing.contains(c));
                let sent: Vec<usize> = due
                    .into_iter()
                    .filter(|&i| {
                        let c = self.intents[i].collector;
                        withdrawing.contains(&c) || Some(c) == other
                    })
                    .collect();
                for &i in &sent {
                    self.intents[i].send_ms = t;
                }
                waiting.retain(|i| !sent.contains(i));
                t = next_run(t + 1);
            }
        }
    }

    /// Signs every entry in sending order, with each feed's own author.
    fn sign(
        &self,
        collectors: &[Collector],
    ) -> anyhow::Result<(Vec<Planned>, HashMap<FeedId, u32>)> {
        struct Feed {
            author: Author,
            grant: Option<EntryId>,
            rotations: u32,
            /// The last entry's signed time: the floor of the next one's.
            last_ms: u64,
        }
        let m = &self.config.mitigations;
        let mut order: Vec<usize> = (0..self.intents.len()).collect();
        order.sort_by_key(|&i| (self.intents[i].send_ms, self.intents[i].signed_ms, i));
        let mut feeds: HashMap<(u32, usize), Feed> = HashMap::new();
        let mut owner = HashMap::new();
        let mut planned = Vec::with_capacity(order.len());
        for i in order {
            let it = &self.intents[i];
            let w = &self.wallets[it.person as usize];
            let col = &collectors[it.collector];
            let key = (it.person, it.collector);
            let entry = if let Op::Incept = it.op {
                let (author, entry) =
                    wallet::pairwise_inception(&w.master, &col.feed).map_err(invalid)?;
                owner.insert(entry.feed, it.person);
                feeds.insert(
                    key,
                    Feed {
                        author,
                        grant: None,
                        rotations: 0,
                        last_ms: entry.time_ms,
                    },
                );
                entry
            } else {
                let feed = feeds
                    .get_mut(&key)
                    .context("an entry planned before its feed's inception")?;
                // The wallet's coarse-time rule, as `privacy::handling` asks for this entry.
                let time_ms = m.time_ms(it.signed_ms, feed.last_ms, handling(it.op).exactness);
                let entry = match it.op {
                    Op::Incept => unreachable!("handled above"),
                    Op::Grant => {
                        let (purposes, categories) = match w.attitude {
                            Attitude::Least => (1, 1),
                            Attitude::Usual => (2, 2),
                            Attitude::Everything => (usize::MAX, usize::MAX),
                        };
                        let offer = col.offer;
                        let grant = Body::Grant(Grant {
                            collector: col.feed,
                            policy: col.policy,
                            purposes: offer.purposes.iter().copied().take(purposes).collect(),
                            categories: offer.categories.iter().copied().take(categories).collect(),
                            retention_days: offer.retention_days,
                            valid_from: m.valid_from(it.signed_ms, it.due_ms, time_ms),
                            valid_until: None,
                            scope: None,
                            on_behalf: None,
                        });
                        let e = feed.author.append(time_ms, grant).map_err(invalid)?;
                        feed.grant = Some(e.id);
                        e
                    }
                    Op::Revoke { erase } => {
                        let grant = feed.grant.take().context("a revocation without a grant")?;
                        let body = Body::Revoke(Revoke {
                            grant,
                            erase,
                            on_behalf: None,
                        });
                        feed.author.append(time_ms, body).map_err(invalid)?
                    }
                    Op::Rotate => {
                        let next = wallet::pairwise_key(&w.master, &col.feed, feed.rotations + 2);
                        feed.rotations += 1;
                        feed.author.rotate(time_ms, next).map_err(invalid)?
                    }
                    Op::Request(kind) => {
                        let body = Body::Request(Request {
                            collector: col.feed,
                            kind,
                            details_digest: None,
                            on_behalf: None,
                        });
                        feed.author.append(time_ms, body).map_err(invalid)?
                    }
                };
                feed.last_ms = entry.time_ms;
                entry
            };
            planned.push(Planned {
                send_ms: it.send_ms,
                node: it.node,
                entry,
            });
        }
        Ok((planned, owner))
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

fn invalid(e: Rejection) -> anyhow::Error {
    anyhow::anyhow!("the simulator signed an entry that is not valid: {e}")
}
