//! The attacker of the linkage benchmark: how it links pairwise feeds from what it read
//! ([`crate::observe`]), and its score against the ground truth. Like everyone, it knows that a
//! person has at most one feed per collector, so it never links two feeds of one collector.
//!
//! # Signals
//! Each signal cuts a sequence of events into **bursts**: consecutive events at most a gap
//! apart. It guesses that the feeds of one burst are one person's (every pair of them, with
//! different collectors); a burst of more than [`MAX_BURST`] events says nothing (a person has at
//! most one feed per collector) and is skipped.
//! - **time proximity**: the entries' signed `time_ms`, one sequence per kind of entry (grants,
//!   revocations, rotations, requests of one kind: a sitting does one thing to several feeds),
//!   and the grants' `valid_from` as a sequence of its own (an honest attacker reads every
//!   public field: a wallet that coarsened `time_ms` but left `valid_from` exact would give the
//!   moment away there). Inceptions are left out: the wallet dates them at a pseudo-random
//!   instant of 2020.
//! - **arrival adjacency**: positions in a node's log, one sequence per kind (inceptions
//!   included) and per node; the links of every node together. It needs no `time_ms` at all.
//! - **same choices**: what a grant consents to relative to its collector's policy (one purpose
//!   or all of them, one category or all of them; the policy read from the transparency site).
//!   Alone it links everyone of one attitude; it serves as a filter of the others.
//! - **same bucket**: every pair of entries of one kind whose signed value is the very same (a
//!   coarse `time_ms`, or a grant's `valid_from`), however many share it. Under coarse times a
//!   bucket of 15 minutes holds far more than [`MAX_BURST`] entries, so time proximity skips it;
//!   this signal keeps it. Alone it links a whole bucket; with arrival adjacency or the same
//!   choices it narrows to one person.
//! - **repeated sittings**: pairs that two different kinds of sitting link (by time or arrival):
//!   a sign-up and a revocation, a revocation and a rotation, ... Few persons have two such
//!   sittings, but two coincidences are rarely chance.
//! - **combined**: the best of a few fixed rules over the above (either signal; both; both or
//!   repeated sittings; the same bucket with arrival adjacency; with or without the
//!   same-choices filter).
//!
//! The gap of each kind is the best of a fixed grid ([`TIME_GAPS_MS`], [`POSITION_GAPS`]) by F1
//! against the ground truth, and so is the combined rule: an attacker can calibrate so on its own
//! simulation of the city (the background rate is public: it is in the log), so these figures are
//! what a careful attacker reaches, not a lucky one.
//!
//! # Score
//! Precision: the share of the pairs it links that are one person's. Recall: the share of all
//! pairs of one person's feeds that it links. **Chance**: the precision of a linker that picks
//! pairs at random among the candidates (pairs of citizen feeds with different collectors) —
//! true pairs / candidate pairs; beside a recall, the recall of such a linker making as many
//! links. Fully linked: the share of persons with two feeds or more all of whose pairs are linked
//! by the combined rule; its chance is what a random linker with as many links achieves.

use std::collections::{BTreeMap, HashMap, HashSet};

use consent_proto::ids::FeedId;

use crate::observe::{Kind, Observation};

/// Bursts longer than this are skipped.
pub const MAX_BURST: usize = 16;
/// The gaps tried for time proximity, ms.
pub const TIME_GAPS_MS: [u64; 7] = [100, 500, 1_000, 3_000, 10_000, 30_000, 60_000];
/// The gaps tried for arrival adjacency, log positions.
pub const POSITION_GAPS: [u64; 6] = [1, 2, 3, 4, 6, 10];

/// Links and how many of them are right.
#[derive(Clone, Copy, Default)]
struct Score {
    links: u64,
    correct: u64,
}

/// One signal's links, scored.
pub struct Signal {
    /// Pairs linked.
    pub links: u64,
    /// Of them, pairs of one person's feeds.
    pub correct: u64,
    /// How it was set (gaps, rule) and what each part gave.
    pub detail: String,
}

/// The attacker's result against the ground truth.
pub struct Outcome {
    /// Citizen feeds that name a collector.
    pub feeds: usize,
    /// Persons with two of them or more.
    pub persons_multi: usize,
    /// Pairs of one person's feeds.
    pub true_pairs: u64,
    /// Pairs of feeds with different collectors.
    pub candidates: f64,
    /// Time proximity.
    pub time: Signal,
    /// Arrival adjacency.
    pub arrival: Signal,
    /// Same bucket: the very same signed value, whatever the bucket's size.
    pub bucket: Signal,
    /// Same choices, alone.
    pub choices: Signal,
    /// Repeated sittings: pairs that two kinds of sitting link.
    pub repeated: Signal,
    /// The best combined rule.
    pub combined: Signal,
    /// Share of persons with two feeds or more all of whose pairs the combined rule links.
    pub fully_linked: f64,
    /// The same for a random linker with as many links.
    pub fully_linked_chance: f64,
}

impl Outcome {
    /// True pairs / candidate pairs.
    pub fn chance_precision(&self) -> f64 {
        ratio(self.true_pairs as f64, self.candidates)
    }

    /// Correct links / links.
    pub fn precision(&self, s: &Signal) -> f64 {
        ratio(s.correct as f64, s.links as f64)
    }

    /// Correct links / true pairs.
    pub fn recall(&self, s: &Signal) -> f64 {
        ratio(s.correct as f64, self.true_pairs as f64)
    }

    /// The recall of a random linker making as many links.
    pub fn random_recall(&self, s: &Signal) -> f64 {
        ratio(s.links as f64, self.candidates).min(1.0)
    }
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { 0.0 }
}

fn pair(a: u32, b: u32) -> u64 {
    let (lo, hi) = if a < b { (a, b) } else { (b, a) };
    (u64::from(lo) << 32) | u64::from(hi)
}

fn unpair(p: u64) -> (usize, usize) {
    ((p >> 32) as usize, (p & 0xffff_ffff) as usize)
}

/// Every pair of feeds (different collectors) within a burst of `items` (sorted by position)
/// whose consecutive positions are at most `gap` apart, for bursts of at most [`MAX_BURST`].
fn bursts(items: &[(u64, u32)], gap: u64, collector: &[u16], out: &mut HashSet<u64>) {
    let mut start = 0;
    for end in 1..=items.len() {
        if end < items.len() && items[end].0 - items[end - 1].0 <= gap {
            continue;
        }
        let burst = &items[start..end];
        if burst.len() > 1 && burst.len() <= MAX_BURST {
            for (i, &(_, a)) in burst.iter().enumerate() {
                for &(_, b) in &burst[i + 1..] {
                    if a != b && collector[a as usize] != collector[b as usize] {
                        out.insert(pair(a, b));
                    }
                }
            }
        }
        start = end;
    }
}

/// The ground truth as the score needs it.
struct Judge {
    person: Vec<u32>,
    true_pairs: u64,
}

impl Judge {
    fn score(&self, links: &HashSet<u64>) -> Score {
        let correct = links
            .iter()
            .filter(|&&p| {
                let (a, b) = unpair(p);
                self.person[a] == self.person[b]
            })
            .count();
        Score {
            links: links.len() as u64,
            correct: correct as u64,
        }
    }

    fn f1(&self, s: Score) -> f64 {
        ratio(2.0 * s.correct as f64, (s.links + self.true_pairs) as f64)
    }
}

/// One kind's links at its best gap.
struct Part {
    kind: Kind,
    gap: u64,
    links: HashSet<u64>,
    score: Score,
}

/// For each kind, the gap of `gaps` whose links (made by `link`) score the best F1; kinds that
/// link nothing are left out.
fn best_parts<F>(kinds: &[Kind], gaps: &[u64], judge: &Judge, mut link: F) -> Vec<Part>
where
    F: FnMut(Kind, u64) -> HashSet<u64>,
{
    let mut parts = Vec::new();
    for &kind in kinds {
        let mut best: Option<Part> = None;
        for &gap in gaps {
            let links = link(kind, gap);
            let score = judge.score(&links);
            if best
                .as_ref()
                .is_none_or(|b| judge.f1(score) > judge.f1(b.score))
            {
                best = Some(Part {
                    kind,
                    gap,
                    links,
                    score,
                });
            }
        }
        if let Some(b) = best
            && b.score.links > 0
        {
            parts.push(b);
        }
    }
    parts
}

fn union(parts: &[Part]) -> HashSet<u64> {
    parts.iter().flat_map(|p| p.links.iter().copied()).collect()
}

fn describe(parts: &[Part], unit: &str) -> String {
    if parts.is_empty() {
        return "no links".to_string();
    }
    parts
        .iter()
        .map(|p| {
            format!(
                "{} <={}{unit} {:.0}% of {}",
                p.kind.name(),
                p.gap,
                100.0 * ratio(p.score.correct as f64, p.score.links as f64),
                p.score.links
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn signal(s: Score, detail: String) -> Signal {
    Signal {
        links: s.links,
        correct: s.correct,
        detail,
    }
}

/// Links the observed feeds and scores every signal against `owner` (feed -> person).
pub fn link(obs: &Observation, owner: &HashMap<FeedId, u32>) -> Outcome {
    let n = obs.feeds.len();
    // A feed the simulator does not know (none expected) is a person of its own.
    let person: Vec<u32> = obs
        .feeds
        .iter()
        .enumerate()
        .map(|(i, f)| owner.get(f).copied().unwrap_or(u32::MAX - i as u32))
        .collect();
    let mut of_person: HashMap<u32, Vec<u32>> = HashMap::new();
    for (i, p) in person.iter().enumerate() {
        of_person.entry(*p).or_default().push(i as u32);
    }
    let true_pairs: u64 = of_person
        .values()
        .map(|v| (v.len() as u64) * (v.len() as u64).saturating_sub(1) / 2)
        .sum();
    let judge = Judge { person, true_pairs };
    let mut per_collector: HashMap<u16, f64> = HashMap::new();
    for c in &obs.collector {
        *per_collector.entry(*c).or_default() += 1.0;
    }
    let candidates =
        ((n as f64).powi(2) - per_collector.values().map(|k| k * k).sum::<f64>()) / 2.0;

    // Time proximity: signed times, per kind.
    let mut timed: BTreeMap<Kind, Vec<(u64, u32)>> = BTreeMap::new();
    for &(kind, t, f) in &obs.timed {
        timed.entry(kind).or_default().push((t, f));
    }
    for v in timed.values_mut() {
        v.sort_unstable();
    }
    let kinds: Vec<Kind> = timed.keys().copied().collect();
    let time_parts = best_parts(&kinds, &TIME_GAPS_MS, &judge, |kind, gap| {
        let mut out = HashSet::new();
        bursts(&timed[&kind], gap, &obs.collector, &mut out);
        out
    });
    let time = union(&time_parts);

    // Arrival adjacency: log positions, per kind and node.
    let mut arrived: BTreeMap<Kind, Vec<Vec<(u64, u32)>>> = BTreeMap::new();
    for (node, seq) in obs.arrivals.iter().enumerate() {
        for &(at, kind, f) in seq {
            let per_node = arrived.entry(kind).or_default();
            per_node.resize_with(obs.arrivals.len(), Vec::new);
            per_node[node].push((at, f));
        }
    }
    let kinds: Vec<Kind> = arrived.keys().copied().collect();
    let arrival_parts = best_parts(&kinds, &POSITION_GAPS, &judge, |kind, gap| {
        let mut out = HashSet::new();
        for items in &arrived[&kind] {
            bursts(items, gap, &obs.collector, &mut out);
        }
        out
    });
    let arrival = union(&arrival_parts);

    // Same bucket: one kind's entries with the very same signed value (no burst cap: a coarse
    // bucket is exactly what the cap would skip).
    let mut buckets: BTreeMap<(Kind, u64), Vec<u32>> = BTreeMap::new();
    for &(kind, t, f) in &obs.timed {
        buckets.entry((kind, t)).or_default().push(f);
    }
    let mut bucket: HashSet<u64> = HashSet::new();
    let (mut shared, mut largest) = (0usize, 0usize);
    for feeds in buckets.values().filter(|f| f.len() > 1) {
        shared += 1;
        largest = largest.max(feeds.len());
        for (i, &a) in feeds.iter().enumerate() {
            for &b in &feeds[i + 1..] {
                if a != b && obs.collector[a as usize] != obs.collector[b as usize] {
                    bucket.insert(pair(a, b));
                }
            }
        }
    }

    // Same choices: counted, not listed (it links whole attitudes).
    let same = |p: &u64| {
        let (a, b) = unpair(*p);
        obs.choice[a].is_some() && obs.choice[a] == obs.choice[b]
    };
    let mut by_choice: HashMap<u8, HashMap<u16, f64>> = HashMap::new();
    for (i, c) in obs.choice.iter().enumerate() {
        if let Some(c) = c {
            *by_choice
                .entry(*c)
                .or_default()
                .entry(obs.collector[i])
                .or_default() += 1.0;
        }
    }
    let choice_links: f64 = by_choice
        .values()
        .map(|cols| {
            let all: f64 = cols.values().sum();
            (all * all - cols.values().map(|k| k * k).sum::<f64>()) / 2.0
        })
        .sum();
    let mut choice_correct = 0u64;
    for feeds in of_person.values() {
        for (i, &a) in feeds.iter().enumerate() {
            for &b in &feeds[i + 1..] {
                if same(&pair(a, b)) {
                    choice_correct += 1;
                }
            }
        }
    }
    let choices = Score {
        links: choice_links as u64,
        correct: choice_correct,
    };

    // Repeated sittings: pairs that two kinds of sitting link (a sign-up, by its grants' times
    // or its inceptions' or grants' arrival; a revocation; a rotation; a request of one kind).
    let mut sittings: HashMap<u64, HashSet<Kind>> = HashMap::new();
    for p in time_parts.iter().chain(&arrival_parts) {
        for l in &p.links {
            sittings.entry(*l).or_default().insert(p.kind.sitting());
        }
    }
    let repeated: HashSet<u64> = sittings
        .iter()
        .filter(|(_, kinds)| kinds.len() >= 2)
        .map(|(p, _)| *p)
        .collect();

    // Combined: the best of a few fixed rules.
    let either: HashSet<u64> = time.union(&arrival).copied().collect();
    let both: HashSet<u64> = time.intersection(&arrival).copied().collect();
    let both_or_repeated: HashSet<u64> = both.union(&repeated).copied().collect();
    let bucket_and_arrival: HashSet<u64> = bucket.intersection(&arrival).copied().collect();
    let rules: Vec<(&str, HashSet<u64>)> = vec![
        ("time proximity", time.clone()),
        ("arrival adjacency", arrival.clone()),
        ("time or arrival", either.clone()),
        (
            "time or arrival, same choices",
            either.iter().copied().filter(same).collect(),
        ),
        ("time and arrival", both.clone()),
        (
            "time and arrival, same choices",
            both.iter().copied().filter(same).collect(),
        ),
        ("repeated sittings", repeated.clone()),
        (
            "time and arrival, or repeated sittings",
            both_or_repeated.clone(),
        ),
        (
            "time and arrival, or repeated sittings; same choices",
            both_or_repeated.iter().copied().filter(same).collect(),
        ),
        (
            "same bucket, same choices",
            bucket.iter().copied().filter(same).collect(),
        ),
        ("same bucket and arrival", bucket_and_arrival.clone()),
        (
            "same bucket and arrival, same choices",
            bucket_and_arrival.iter().copied().filter(same).collect(),
        ),
    ];
    let mut best: Option<(&str, HashSet<u64>, Score)> = None;
    for (name, links) in rules {
        let score = judge.score(&links);
        if best
            .as_ref()
            .is_none_or(|(_, _, b)| judge.f1(score) > judge.f1(*b))
        {
            best = Some((name, links, score));
        }
    }
    let (rule, combined, combined_score) =
        best.unwrap_or(("none", HashSet::new(), Score::default()));

    // Persons fully linked.
    let multi: Vec<&Vec<u32>> = of_person.values().filter(|v| v.len() >= 2).collect();
    let fully = multi
        .iter()
        .filter(|feeds| {
            feeds.iter().enumerate().all(|(i, &a)| {
                feeds[i + 1..]
                    .iter()
                    .all(|&b| combined.contains(&pair(a, b)))
            })
        })
        .count();
    let q = ratio(combined_score.links as f64, candidates).min(1.0);
    let fully_chance = multi
        .iter()
        .map(|v| q.powi((v.len() * (v.len() - 1) / 2) as i32))
        .sum::<f64>();

    Outcome {
        feeds: n,
        persons_multi: multi.len(),
        true_pairs,
        candidates,
        time: signal(judge.score(&time), describe(&time_parts, " ms")),
        arrival: signal(
            judge.score(&arrival),
            describe(&arrival_parts, " positions"),
        ),
        bucket: signal(
            judge.score(&bucket),
            format!("{shared} values shared by 2+ entries of a kind, the largest by {largest}"),
        ),
        choices: signal(choices, "attitude kept in every grant".to_string()),
        repeated: signal(
            judge.score(&repeated),
            "pairs linked by two kinds of sitting (sign-up, revocation, rotation, request)"
                .to_string(),
        ),
        combined: signal(combined_score, format!("rule: {rule}")),
        fully_linked: ratio(fully as f64, multi.len() as f64),
        fully_linked_chance: ratio(fully_chance, multi.len() as f64),
    }
}
