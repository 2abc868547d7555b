//! When and where each entry of the city leaves, as the `consent` wallet decides with the
//! mitigations turned on: the wallet's send schedule, a node of its own per feed, inceptions
//! prepared the day before, and the wallet's sender (a timer, the wallet's own commands).

use std::collections::{BTreeMap, HashMap};

use consent_client::privacy::schedule::{self, Outgoing, Waiting};
use consent_client::wallet;
use consent_proto::fixtures::DAY;

use super::{Builder, Op, START_MS, handling};
use crate::collectors::Collector;
use crate::rng::Rng;

impl Builder<'_> {
    /// Decides when and where each entry is sent, as the `consent` wallet does with the
    /// mitigations turned on: each command's entries planned by the wallet's send schedule
    /// (`privacy::schedule::plan`, with what waits in the feed's queue), revocations, opt-outs,
    /// erasure and restriction requests at once (`privacy::handling`), a node of its own per feed
    /// (`privacy::schedule::node_for`), inceptions of every collector's feed prepared the day
    /// before (`consent wallet prepare --collectors all --over 24h`). What a command does not
    /// send itself leaves as the wallet's sender sends it ([`Builder::timer_sends`]), or at its
    /// very moment with an exact sender.
    pub(super) fn mitigate(&mut self, rng: &mut Rng, collectors: &[Collector]) {
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
}
