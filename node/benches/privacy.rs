//! `cargo bench -p consent-node --bench privacy` (run by `scripts/bench --only privacy`): the
//! linkage benchmark. A simulated city's residents sign up with several collectors in one
//! sitting, later revoke several at once, rotate every feed together, ask several collectors the
//! same thing, among independent background activity; their wallets sign with the client's own
//! code and send to real nodes that replicate. An attacker that reads only public data (every
//! node's `GetLog`, the transparency site's JSON) then guesses which pairwise feeds are one
//! person's. Each figure is printed beside **chance** (what a random linker achieves over the
//! same candidate pairs) and the ratio. Design and how to read the table: docs/privacy.md.
//!
//! Modules, one job each: `city` (residents, their sittings, the ground truth), `collectors`
//! (the catalogue and its setup entries), `mitigations` (what a wallet may do to hide), `rng`,
//! `net` (the nodes and the submission), `observe` (what the attacker reads), `attack` (how it
//! links and its score).
//!
//! # Time
//! The city's day is dated in the past (from 2025-06-16T06:00:00Z) and the nodes run on the
//! system clock: validation bounds an entry's `time_ms` only from above (5 minutes past the
//! node's clock), from below (2020) and by the feed's previous entry, so an entry signed with any
//! past city time is accepted, exactly as the wallet would have signed it that day. No manual
//! clock is needed, and none is wanted: moving the nodes' clock by hours in seconds would expire
//! pending entries and trip freshness in the middle of the run. The entries are submitted in the
//! order of the city time at which their wallets send them, as fast as the nodes accept them
//! (see the `net` module for what that compression does to arrival order).
//!
//! # Runs
//! One run per background rate with exact times sent at once (the wallet with `--now`, or before
//! issue 24), then one run per `--mitigate` setting at the middle rate (default: two, the
//! `consent` wallet's default setting and every wallet-side mitigation), each on fresh nodes with
//! the same residents. The mitigations are the wallet's own code (`consent_client::privacy`,
//! see the `mitigations` module).
//!
//! Options: `--residents N` (default 2000), `--collectors C` (6, at most 8), `--hours H` (length
//! of the city's day, 24: the residents' sign-ups, over its first 80%, make about 4 grants a
//! minute), `--rates a,b,c` (background events per minute of city time, on top: 1,4,12),
//! `--nodes N` (2, at least 2), `--seed S` (1), `--mitigate SPEC` (repeatable; `none` for no
//! mitigated run; SPEC as `wallet-default` or
//! `coarse=15m,spread=30m,timer=5m,spread-nodes,precreate`, each item optional; `timer=exact`
//! models a sender that sends each entry at its very moment, which no wallet has),
//! `--quick` (300 residents, 6 hours, rates 1,4: a CI-sized run), `--json PATH`.

use std::time::{Duration, Instant};

use anyhow::Context;

#[path = "privacy/attack.rs"]
mod attack;
#[path = "privacy/city.rs"]
mod city;
#[path = "privacy/collectors.rs"]
mod collectors;
mod common;
#[path = "privacy/mitigations.rs"]
mod mitigations;
#[path = "privacy/net.rs"]
mod net;
#[path = "privacy/observe.rs"]
mod observe;
#[path = "privacy/rng.rs"]
mod rng;

use common::Row;
use mitigations::Mitigations;

/// The mitigated runs when `--mitigate` is not given: what the `consent` wallet does by default,
/// and every wallet-side mitigation (the default with a node per feed and inceptions prepared
/// the day before).
const DEFAULT_MITIGATIONS: [&str; 2] = [
    "wallet-default",
    "coarse=15m,spread=30m,timer=5m,spread-nodes,precreate",
];

struct Options {
    residents: usize,
    collectors: usize,
    hours: f64,
    rates: Vec<f64>,
    nodes: usize,
    seed: u64,
    mitigations: Vec<Mitigations>,
    json: Option<String>,
}

impl Options {
    fn parse() -> anyhow::Result<Options> {
        let mut o = Options {
            residents: 2_000,
            collectors: 6,
            hours: 24.0,
            rates: vec![1.0, 4.0, 12.0],
            nodes: 2,
            seed: 1,
            mitigations: DEFAULT_MITIGATIONS
                .iter()
                .map(|spec| Mitigations::parse(spec))
                .collect::<anyhow::Result<_>>()?,
            json: None,
        };
        let mut mitigate_given = false;
        let mut args = std::env::args().skip(1);
        while let Some(a) = args.next() {
            let mut value = || args.next().with_context(|| format!("{a} needs a value"));
            match a.as_str() {
                "--residents" => o.residents = value()?.parse()?,
                "--collectors" => o.collectors = value()?.parse()?,
                "--hours" => o.hours = value()?.parse()?,
                "--rates" => {
                    o.rates = value()?
                        .split(',')
                        .map(|r| r.trim().parse::<f64>())
                        .collect::<Result<_, _>>()?
                }
                "--nodes" => o.nodes = value()?.parse()?,
                "--seed" => o.seed = value()?.parse()?,
                "--mitigate" => {
                    let spec = value()?;
                    if !mitigate_given {
                        o.mitigations.clear();
                        mitigate_given = true;
                    }
                    if spec != "none" {
                        o.mitigations.push(Mitigations::parse(&spec)?);
                    }
                }
                "--quick" => {
                    o.residents = 300;
                    o.hours = 6.0;
                    o.rates = vec![1.0, 4.0];
                }
                "--json" => o.json = Some(value()?),
                "--bench" => {}
                other => anyhow::bail!(
                    "unknown option {other}; use --residents N --collectors C --hours H \
                     --rates a,b,c --nodes N --seed S --mitigate SPEC --quick --json PATH"
                ),
            }
        }
        anyhow::ensure!(
            o.nodes >= 2,
            "--nodes: at least 2 (arrival orders must differ)"
        );
        anyhow::ensure!(
            (2..=collectors::MAX_COLLECTORS).contains(&o.collectors),
            "--collectors: 2..={}",
            collectors::MAX_COLLECTORS
        );
        anyhow::ensure!(
            o.hours > 0.0 && o.hours <= 24.0 * 7.0,
            "--hours: more than 0, at most a week"
        );
        anyhow::ensure!(
            !o.rates.is_empty() && o.rates.iter().all(|r| r.is_finite() && *r >= 0.0),
            "--rates: one or more rates >= 0"
        );
        Ok(o)
    }
}

fn main() -> anyhow::Result<()> {
    let options = Options::parse()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let started = Instant::now();
    let rows = runtime.block_on(async {
        let mut rows = Vec::new();
        for &rate in &options.rates {
            rows.extend(run(&options, rate, &Mitigations::default()).await?);
        }
        let middle = options.rates[options.rates.len() / 2];
        for m in &options.mitigations {
            rows.extend(run(&options, middle, m).await?);
        }
        anyhow::Ok(rows)
    })?;
    print_rows(&rows);
    eprintln!(
        "privacy bench: {:.0} s in all",
        started.elapsed().as_secs_f64()
    );
    if let Some(path) = options.json {
        std::fs::write(&path, rows_json(&rows)?)?;
        eprintln!("wrote {path}");
    }
    Ok(())
}

/// One city on fresh nodes: simulate, submit, let the attacker read and link, score.
async fn run(o: &Options, rate: f64, m: &Mitigations) -> anyhow::Result<Vec<Row>> {
    let label = if m.is_none() {
        format!("bg {}/min", num(rate))
    } else {
        format!("bg {}/min, {}", num(rate), m.label())
    };
    let config = city::CityConfig {
        residents: o.residents,
        collectors: o.collectors,
        span_ms: (o.hours * 3_600_000.0) as u64,
        background_per_min: rate,
        nodes: o.nodes,
        seed: o.seed,
        mitigations: m.clone(),
    };
    let city = city::City::build(&config)?;
    let span_min = o.hours * 60.0;
    eprintln!(
        "{label}: {} residents ({} with 2+ feeds) and {} background events over {} h: {} \
         entries ({}/min of city time), sent between {} and {}",
        o.residents,
        city.residents_multi,
        city.background_events,
        num(o.hours),
        city.planned.len(),
        sig(city.planned.len() as f64 / span_min),
        clock(city.planned.first().map_or(city::START_MS, |p| p.send_ms)),
        clock(city.planned.last().map_or(city::START_MS, |p| p.send_ms)),
    );
    let net = net::Net::start(o.nodes, city.registrar).await?;
    net.submit_setup(&city.setup).await?;
    let sent = net.submit(&city.planned).await?;
    let total = (city.setup.len() + city.planned.len()) as u64;
    net.converged(total, Duration::from_secs(300)).await?;
    eprintln!(
        "  submitted to {} nodes in {:.1} s ({:.0} entries/s){}",
        o.nodes,
        sent.elapsed.as_secs_f64(),
        city.planned.len() as f64 / sent.elapsed.as_secs_f64().max(1e-9),
        if sent.pending > 0 {
            format!(", {} held pending at first", sent.pending)
        } else {
            String::new()
        }
    );
    let seen = observe::observe(&net.grpc_addrs(), &net.site(0)?).await?;
    net.stop().await?;
    let out = attack::link(&seen, &city.owner);
    eprintln!(
        "  attacker read {} log entries: {} citizen feeds, {} persons with 2+ of them, {} true \
         pairs among {:.3e} candidates",
        seen.entries_read, out.feeds, out.persons_multi, out.true_pairs, out.candidates
    );
    Ok(rows(&label, &out))
}

/// The rows of one run.
fn rows(label: &str, o: &attack::Outcome) -> Vec<Row> {
    let pct = |v: f64| 100.0 * v;
    let chance = ("chance".to_string(), pct(o.chance_precision()));
    let precision_and_recall = |name: &str, s: &attack::Signal| {
        [
            Row {
                name: format!("{label}: {name}, precision"),
                value: pct(o.precision(s)),
                unit: "%",
                baseline: Some(chance.clone()),
                target: None,
                extra: s.detail.clone(),
            },
            Row {
                name: format!("{label}: {name}, recall"),
                value: pct(o.recall(s)),
                unit: "%",
                baseline: Some(("random, as many links".into(), pct(o.random_recall(s)))),
                target: None,
                extra: format!("{} links, {} right", s.links, s.correct),
            },
        ]
    };
    let mut rows = Vec::new();
    rows.extend(precision_and_recall("time proximity", &o.time));
    rows.extend(precision_and_recall("arrival adjacency", &o.arrival));
    rows.extend(precision_and_recall("same bucket", &o.bucket));
    rows.extend(precision_and_recall("repeated sittings", &o.repeated));
    rows.push(Row {
        name: format!("{label}: same choices, precision"),
        value: pct(o.precision(&o.choices)),
        unit: "%",
        baseline: Some(chance.clone()),
        target: None,
        extra: format!(
            "recall {}%; {} links; {}",
            sig(pct(o.recall(&o.choices))),
            o.choices.links,
            o.choices.detail
        ),
    });
    rows.extend(precision_and_recall("combined", &o.combined));
    rows.push(Row {
        name: format!("{label}: persons with 2+ feeds fully linked"),
        value: pct(o.fully_linked),
        unit: "%",
        baseline: Some(("chance".into(), pct(o.fully_linked_chance))),
        target: None,
        extra: format!(
            "{} persons, by the combined rule; {} feeds",
            o.persons_multi, o.feeds
        ),
    });
    rows
}

/// City time as `HH:MM` UTC, with the day relative to the city's day.
fn clock(ms: u64) -> String {
    let minutes = (ms as i64 - city::START_MS as i64).div_euclid(60_000) + 6 * 60;
    let (day, minute) = (minutes.div_euclid(24 * 60), minutes.rem_euclid(24 * 60));
    let day = match day {
        0 => String::new(),
        -1 => " the day before".to_string(),
        d => format!(" day {d:+}"),
    };
    format!("{:02}:{:02}{day}", minute / 60, minute % 60)
}

/// A whole number without decimals, else as [`sig`].
fn num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        sig(v)
    }
}

/// A figure with three significant digits where it is small (chance precisions are tiny).
fn sig(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 || !a.is_finite() {
        format!("{v}")
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        let decimals = ((-a.log10()).floor() as usize + 3).min(12);
        format!("{v:.decimals$}")
    }
}

/// The table, in the layout of the other benches (`common::print_table`), with small figures
/// in significant digits.
fn print_rows(rows: &[Row]) {
    println!();
    println!(
        "{:<72} {:>10} {:<5} {:>32} {:>9}  detail",
        "measurement", "value", "unit", "baseline", "ratio"
    );
    for r in rows {
        let (base, ratio) = match &r.baseline {
            Some((name, v)) if *v > 0.0 => (format!("{name} {}", sig(*v)), sig(r.value / v)),
            Some((name, v)) => (format!("{name} {}", sig(*v)), String::new()),
            None => (String::new(), String::new()),
        };
        println!(
            "{:<72} {:>10} {:<5} {:>32} {:>9}  {}",
            r.name,
            sig(r.value),
            r.unit,
            base,
            ratio,
            r.extra
        );
    }
}

/// The rows as JSON, in the schema of the other benches (`common::to_json`: name, value, unit,
/// baseline, baseline_value, ratio, target, latency), without rounding the small figures away.
fn rows_json(rows: &[Row]) -> anyhow::Result<String> {
    let items: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            let (bn, bv) = r.baseline.clone().unwrap_or_default();
            let ratio = (bv > 0.0).then(|| r.value / bv);
            serde_json::json!({
                "name": r.name,
                "value": r.value,
                "unit": r.unit,
                "baseline": bn,
                "baseline_value": bv,
                "ratio": ratio,
                "target": r.target,
                "latency": r.extra,
            })
        })
        .collect();
    Ok(serde_json::to_string_pretty(&items)? + "\n")
}
