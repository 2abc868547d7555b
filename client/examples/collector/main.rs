//! A street of sensors whose gateway honours scoped consent:
//! `cargo run -p consent-client --example collector`.
//!
//! Self-contained: it starts a throwaway node (loopback, temporary directory) with a registrar
//! and the city's sensor operator, whose policy (`fixtures::street_scene`) declares two zones of
//! the Oudegracht (H3 cells), four sensors (a number-plate reader on the wharf; a camera, an
//! air-quality sensor and a Wi-Fi counter on the street), the hours it collects (every day
//! 06:00-24:00, UTC+01:00 all year) and the forms it keeps data in per purpose. Five residents
//! consent, each differently:
//!
//! - ana: the whole policy;
//! - ben: parking only, on the wharf (zone 1), by the number-plate reader (sensor 1), Monday to
//!   Friday 07:00-19:00;
//! - chloe: urban planning only as aggregates (her floor), and environmental monitoring;
//! - dan: only air-quality sensors, for environmental monitoring and urban planning;
//! - eve: parking, and billing at least pseudonymised.
//!
//! Then the gateway runs the loop a real one runs, for a fixed list of observations across
//! sensors, places (in a zone, finer inside it, coarser than it, elsewhere), times (weekday,
//! evening, weekend, night) and purposes:
//!
//! 1. before keeping anything, it checks consent with the observation's context (which sensor,
//!    named by its id and its kind, which cell, when, the form it would like:
//!    `DecisionCache::check_or_ask_with`, a local cache kept exact by the watch stream, or the
//!    node); when the answer is `FORM_NOT_COVERED` it checks again with the form the answer
//!    requires;
//! 2. it keeps the observation only on ALLOW, transformed to the form allowed
//!    (`consent_client::transforms`: raw, pseudonymised under its own key, binned, or counted
//!    into an aggregate that is released only for groups of at least k distinct people);
//! 3. it watches: when a resident revokes and asks for erasure, it erases every record of theirs
//!    (pseudonymised ones found through its key) and acknowledges with a signed Ack entry.
//!
//! At the end it **proves**, per resident, with a checker of its own written from the grant
//! entry and the policy (not the SDK's rule), that every record it kept lies in that resident's
//! grant (purpose, sensor, place, hour, form), that ben has nothing from other sensors, places or
//! hours, that chloe has no per-person planning record, that every aggregate row counts at least
//! k people, and that eve's records were erased. It exits non-zero otherwise.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Duration;

use consent_client::cache::{CacheConfig, DecisionCache, Source};
use consent_client::collector::Collector;
use consent_client::transforms::{
    self, AggregateRow, Aggregator, Applied, Observation, PseudonymKey, Record,
};
use consent_node::Node;
use consent_node::config::Config;
use consent_node::genesis::Genesis;
use consent_proto::body::{AckAnswer, Body, Grant, Policy};
use consent_proto::entry::Author;
use consent_proto::fixtures::{self, Scene, T0};
use consent_proto::pb::{self, Reason};
use consent_proto::scope::{Context, FormSpec, GrantScope, PolicyScope, Sensor, TimeWindow, Zone};
use consent_proto::vocab::{DataCategory, Form, Purpose, Role, SensorKind, SensorKindSet};
use consent_proto::{Entry, FeedId};
use h3o::{CellIndex, LatLng, Resolution};
use prost::bytes::Bytes;
use tokio_stream::StreamExt;

mod proof;

const HOUR: u64 = 3_600_000;
const DAY: u64 = 86_400_000;
/// Monday 2025-06-16 00:00 at UTC+01:00 (the street policy's fixed offset).
const MONDAY: u64 = 1_750_028_400_000;

/// A resident: a name, the wallet's author of their pairwise feed, their grant entry, and how
/// it narrows the policy, in words.
struct Resident {
    name: &'static str,
    author: Author,
    grant: Entry,
    narrows: &'static str,
}

/// A record the gateway keeps: which sensor saw it, for which purpose, in which form.
struct Row {
    sensor: u32,
    purpose: Purpose,
    record: Record,
}

/// The gateway's database: per-person records and released aggregates.
#[derive(Default)]
struct Database {
    rows: Vec<Row>,
    aggregates: Vec<(Purpose, AggregateRow)>,
    suppressed: usize,
}

/// Per purpose, the forms a gateway would like to keep an observation in.
type Wanted = &'static [(Purpose, &'static [Form])];

/// What the gateway keeps from a kind of sensor: the category, and per purpose the forms it would
/// like (it learns from the answer when a more protective one is required).
fn wants(kind: SensorKind) -> (DataCategory, Wanted) {
    match kind {
        SensorKind::NumberPlateReader => (
            DataCategory::Vehicle,
            &[
                (Purpose::ServiceProvision, &[Form::Raw]),
                (Purpose::Billing, &[Form::Raw]),
            ],
        ),
        SensorKind::Camera => (
            DataCategory::Imagery,
            &[(Purpose::UrbanPlanning, &[Form::Raw])],
        ),
        SensorKind::AirQuality => (
            DataCategory::Environmental,
            &[(
                Purpose::EnvironmentalMonitoring,
                &[Form::Raw, Form::Aggregated],
            )],
        ),
        SensorKind::WifiCounter => (
            DataCategory::DeviceId,
            &[(Purpose::UrbanPlanning, &[Form::Raw])],
        ),
        _ => (DataCategory::Location, &[]),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // A throwaway network with one node.
    let dir = tempfile::tempdir()?;
    let scene = fixtures::street_scene(T0);
    let node = start_node(dir.path(), &scene).await?;
    let url = node.grpc_url();
    let mut ledger = pb::ledger_client::LedgerClient::connect(url.clone()).await?;
    for e in &scene.entries {
        ledger.submit(submit(e)).await?;
    }
    let policy = scene
        .entries
        .iter()
        .find_map(|e| match &e.body {
            Body::Policy(p) if e.id == scene.policy => Some(p.clone()),
            _ => None,
        })
        .ok_or_else(|| anyhow::anyhow!("the scene has no policy"))?;
    let scope = policy
        .scope
        .clone()
        .ok_or_else(|| anyhow::anyhow!("the street policy has no scope"))?;
    let mut residents = consenting_residents(&mut ledger, &scene, &policy).await?;
    println!(
        "node at {url}; the policy \"{}\": {} zones, {} sensors, {} (UTC{:+03}:{:02}, all year)",
        policy.name,
        scope.zones.len(),
        scope.sensors.len(),
        scope
            .windows
            .iter()
            .map(|w| w.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        scope.utc_offset_minutes / 60,
        (scope.utc_offset_minutes % 60).abs()
    );
    for r in &residents {
        println!("  {} consented to {}", r.name, r.narrows);
    }

    // The gateway: a session, a watch, a decision cache, its pseudonym key and a database.
    let mut operator = scene.collector.clone();
    let mut gateway = Collector::connect(&url, operator.key().clone(), operator.feed()).await?;
    let mut watch = gateway.watch(Bytes::new(), 500).await?;
    // Checks are answered from a decision cache kept exact by a second watch stream (it fetches
    // the policy of each grant it meets); when it is stale the node is asked, and when that
    // fails too the answer is deny.
    let cache = DecisionCache::new(operator.feed(), CacheConfig::default());
    let _follow =
        cache.follow(Collector::connect(&url, operator.key().clone(), operator.feed()).await?);
    let mut status = pb::node_client::NodeClient::connect(url.clone()).await?;
    caught_up(&cache, &mut status).await?;
    let key = PseudonymKey::generate().map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let mut aggregators: HashMap<Purpose, Aggregator> = scope
        .forms
        .iter()
        .flat_map(|pf| pf.offers.iter().map(move |spec| (pf.purpose, spec)))
        .filter_map(|(purpose, spec)| {
            Aggregator::new(spec, scope.utc_offset_minutes).map(|a| (purpose, a))
        })
        .collect();
    let mut db = Database::default();
    let mut gate = Gate {
        cache: &cache,
        gateway: &mut gateway,
        scope: &scope,
        key: &key,
        db: &mut db,
        aggregators: &mut aggregators,
    };

    // Two weeks of observations; eve withdraws between them.
    let first = gate.round(&residents, 0).await?;
    println!("week 1: {first}");
    let eve = residents
        .iter_mut()
        .find(|r| r.name == "eve")
        .ok_or_else(|| anyhow::anyhow!("no eve"))?;
    let revoke = fixtures::append(
        &mut eve.author,
        T0 + 2 * DAY,
        fixtures::revoke(eve.grant.id, true),
    );
    ledger.submit(submit(&revoke)).await?;
    println!("eve revoked her consent and asked for erasure");
    // Like a consistency token: no check answered from before the revocation.
    caught_up(&cache, &mut status).await?;
    // The gateway reacts to its watch stream: erase, then acknowledge.
    let cursor =
        erase_on_revocation(&mut watch, gate.db, gate.gateway, &mut operator, &key).await?;
    let second = gate.round(&residents, 1).await?;
    println!("week 2: {second}");

    report(&url, &db, &cursor, &operator).await?;
    proof::prove(&db, &residents, &scope, &key)?;
    println!(
        "proof: every record kept lies in its resident's grant (purpose, sensor, place, hour, \
         form); ben's come only from sensor 1 on the wharf on weekdays 07:00-19:00; chloe has no \
         per-person planning record; every aggregate counts at least k people; eve's records \
         are gone"
    );
    node.shutdown();
    node.join().await?;
    Ok(())
}

/// Starts a node on loopback, in `dir`, for a network whose registrar is the scene's.
async fn start_node(dir: &Path, scene: &Scene) -> anyhow::Result<Node> {
    let genesis = Genesis {
        network_id: "example-city".into(),
        registrars: vec![scene.registrar.feed().typed(Role::Registrar).to_string()],
        bootstrap: vec![],
        nodes: vec![],
        members_only: false,
        names: Default::default(),
        consultation: None,
    };
    let genesis_path = dir.join("genesis.toml");
    std::fs::write(
        &genesis_path,
        genesis.to_toml().map_err(anyhow::Error::msg)?,
    )?;
    let mut config = Config {
        data_dir: dir.join("node"),
        grpc_listen: "127.0.0.1:0".parse()?,
        genesis: Some(genesis_path),
        log_level: "warn".into(),
        ..Config::default()
    };
    config.p2p.enabled = false;
    Ok(Node::start(config).await?)
}

/// The request that submits `entry`.
fn submit(entry: &Entry) -> pb::SubmitRequest {
    pb::SubmitRequest {
        entry: Some(entry.to_signed()),
    }
}

/// Five residents consent, each narrowing the policy differently; their wallets sign, the
/// gateway never learns who they are.
async fn consenting_residents(
    ledger: &mut pb::ledger_client::LedgerClient<tonic::transport::Channel>,
    scene: &Scene,
    policy: &Policy,
) -> anyhow::Result<Vec<Resident>> {
    use Purpose::{Billing, EnvironmentalMonitoring, ServiceProvision, UrbanPlanning};
    let categories: Vec<DataCategory> = policy.categories.iter().collect();
    let weekdays =
        TimeWindow::new(0b001_1111, 7 * 60, 19 * 60).ok_or_else(|| anyhow::anyhow!("a window"))?;
    let mut air_quality = SensorKindSet::EMPTY;
    air_quality.insert(SensorKind::AirQuality);
    let consents: [(&str, &[Purpose], GrantScope, &str); 5] = [
        (
            "ana",
            &[
                ServiceProvision,
                Billing,
                UrbanPlanning,
                EnvironmentalMonitoring,
            ],
            GrantScope::default(),
            "the whole policy",
        ),
        (
            "ben",
            &[ServiceProvision, Billing],
            GrantScope {
                zones: vec![1],
                sensors: vec![1],
                windows: vec![weekdays],
                ..GrantScope::default()
            },
            "parking and billing, on the wharf (zone 1), by sensor 1, mon-fri 07:00-19:00",
        ),
        (
            "chloe",
            &[UrbanPlanning, EnvironmentalMonitoring],
            GrantScope {
                forms: vec![(UrbanPlanning, Form::Aggregated)],
                ..GrantScope::default()
            },
            "urban planning only as aggregates, and environmental monitoring",
        ),
        (
            "dan",
            &[EnvironmentalMonitoring, UrbanPlanning],
            GrantScope {
                sensor_kinds: air_quality,
                ..GrantScope::default()
            },
            "environmental monitoring and urban planning, by air-quality sensors only",
        ),
        (
            "eve",
            &[ServiceProvision, Billing],
            GrantScope {
                forms: vec![(Billing, Form::Pseudonymised)],
                ..GrantScope::default()
            },
            "parking, and billing at least pseudonymised",
        ),
    ];
    let mut residents = Vec::new();
    for (name, purposes, narrowing, narrows) in consents {
        let (mut author, inception) = fixtures::author(Role::Citizen, name, T0);
        let grant = fixtures::append(
            &mut author,
            T0 + DAY,
            fixtures::scoped_grant(
                scene.collector.feed(),
                scene.policy,
                purposes,
                &categories,
                narrowing,
            ),
        );
        ledger.submit(submit(&inception)).await?;
        ledger.submit(submit(&grant)).await?;
        residents.push(Resident {
            name,
            author,
            grant,
            narrows,
        });
    }
    Ok(residents)
}

/// The gateway's side of a round: what it checks with, and where it keeps what it may.
struct Gate<'a> {
    cache: &'a DecisionCache,
    gateway: &'a mut Collector,
    scope: &'a PolicyScope,
    key: &'a PseudonymKey,
    db: &'a mut Database,
    aggregators: &'a mut HashMap<Purpose, Aggregator>,
}

/// What a round did.
#[derive(Default)]
struct Tally {
    observations: usize,
    checks: usize,
    kept: usize,
    aggregated: usize,
    denied: BTreeMap<String, usize>,
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} observations, {} checks: {} records kept, {} counted into aggregates; denied:",
            self.observations, self.checks, self.kept, self.aggregated
        )?;
        for (reason, n) in &self.denied {
            write!(f, " {reason} {n},")?;
        }
        Ok(())
    }
}

/// The places a sensor's observation may come from: its zone's first cell, a finer cell inside
/// it, a coarser cell around it, and a cell far away (a reading relayed from elsewhere).
fn places(scope: &PolicyScope, sensor: &Sensor) -> anyhow::Result<Vec<CellIndex>> {
    let zone = sensor
        .zone
        .and_then(|z| scope.zone(z))
        .or_else(|| scope.zones.first())
        .ok_or_else(|| anyhow::anyhow!("no zone"))?;
    let own = zone
        .cells
        .first()
        .ok_or_else(|| anyhow::anyhow!("an empty zone"))?;
    let own = CellIndex::try_from(own.raw())?;
    let finer = own
        .center_child(Resolution::try_from(zone.resolution + 1)?)
        .ok_or_else(|| anyhow::anyhow!("no finer cell"))?;
    let coarser = own
        .parent(Resolution::try_from(zone.resolution.saturating_sub(2))?)
        .ok_or_else(|| anyhow::anyhow!("no coarser cell"))?;
    let amsterdam = LatLng::new(52.3731, 4.8926)?.to_cell(Resolution::Twelve);
    Ok(vec![own, finer, coarser, amsterdam])
}

impl Gate<'_> {
    /// One week of observations: every resident passes every sensor at every place at four
    /// times (Monday 08:30, Monday 20:30, Saturday 11:00, Tuesday 03:00 local time).
    async fn round(&mut self, residents: &[Resident], week: u64) -> anyhow::Result<Tally> {
        let mut tally = Tally::default();
        let base = MONDAY + week * 7 * DAY;
        let times = [
            base + 8 * HOUR + HOUR / 2,
            base + 20 * HOUR + HOUR / 2,
            base + 5 * DAY + 11 * HOUR,
            base + DAY + 3 * HOUR,
        ];
        let scope = self.scope;
        for resident in residents {
            for sensor in &scope.sensors {
                for (i, cell) in places(scope, sensor)?.into_iter().enumerate() {
                    for (j, observed_ms) in times.iter().copied().enumerate() {
                        let obs = Observation {
                            subject: resident.author.feed(),
                            observed_ms,
                            cell,
                            value: (10 * i + j) as f64,
                        };
                        tally.observations += 1;
                        self.observe(sensor, obs, &mut tally).await;
                    }
                }
            }
        }
        // Every bin of the week has ended: release the groups of at least k people.
        for (purpose, aggregator) in self.aggregators.iter_mut() {
            let released = aggregator.release(base + 7 * DAY);
            self.db.suppressed += released.suppressed;
            self.db
                .aggregates
                .extend(released.rows.into_iter().map(|r| (*purpose, r)));
        }
        Ok(tally)
    }

    /// Checks and keeps one observation, for every purpose the gateway wants it for.
    async fn observe(&mut self, sensor: &Sensor, obs: Observation, tally: &mut Tally) {
        let subject = obs.subject;
        let (category, wanted) = wants(sensor.kind);
        for &(purpose, forms) in wanted {
            let mut kept: Vec<Form> = Vec::new();
            for &want in forms {
                // The sensor by its id and kind: a grant under an older policy version, where
                // the id may have been another kind of sensor, does not cover it.
                let context = obs.context(Some(sensor), Some(want));
                let mut answer = self
                    .cache
                    .check_or_ask_with(self.gateway, subject, purpose, category, &context)
                    .await;
                tally.checks += 1;
                let mut form = want;
                if answer.reason == Reason::FormNotCovered
                    && let Some(required) = answer.required_form
                    && required != want
                {
                    // Keep it in the form the resident's grant and the policy require.
                    form = required;
                    let again = Context {
                        form: Some(required),
                        ..context
                    };
                    answer = self
                        .cache
                        .check_or_ask_with(self.gateway, subject, purpose, category, &again)
                        .await;
                    tally.checks += 1;
                }
                if let Source::FailedClosed(why) = &answer.source {
                    eprintln!("  check failed, not keeping ({why})");
                }
                if !answer.allowed() {
                    *tally
                        .denied
                        .entry(format!("{:?}", answer.reason))
                        .or_default() += 1;
                    continue;
                }
                if kept.contains(&form) {
                    continue;
                }
                kept.push(form);
                let Some(spec) = self.scope.offer(purpose, form) else {
                    continue;
                };
                self.keep(sensor.id, purpose, spec, obs, tally);
            }
        }
    }

    /// Keeps `obs` in the form `spec` describes.
    fn keep(
        &mut self,
        sensor: u32,
        purpose: Purpose,
        spec: &FormSpec,
        obs: Observation,
        tally: &mut Tally,
    ) {
        match transforms::apply(spec, self.key, self.scope.utc_offset_minutes, obs) {
            Applied::Record(record) => {
                self.db.rows.push(Row {
                    sensor,
                    purpose,
                    record,
                });
                tally.kept += 1;
            }
            Applied::Aggregate => {
                if let Some(aggregator) = self.aggregators.get_mut(&purpose)
                    && aggregator.add(self.key, &obs)
                {
                    tally.aggregated += 1;
                }
            }
        }
    }
}

/// Whose record it is: the subject of a raw record, the subject whose pseudonym (under the
/// gateway's key) a pseudonymised or binned one carries.
fn owner(record: &Record, key: &PseudonymKey, subject: &FeedId) -> bool {
    match record {
        Record::Raw(obs) => obs.subject == *subject,
        Record::Pseudonymised { pseudonym, .. } | Record::Binned { pseudonym, .. } => {
            *pseudonym == transforms::pseudonym(key, subject)
        }
    }
}

/// Reads the watch stream up to a revocation with erasure, erases that resident's records (the
/// pseudonymised ones found through the gateway's key) and acknowledges; returns the watch
/// cursor to resume from.
async fn erase_on_revocation(
    watch: &mut tonic::Streaming<pb::WatchEvent>,
    db: &mut Database,
    gateway: &mut Collector,
    operator: &mut Author,
    key: &PseudonymKey,
) -> anyhow::Result<Bytes> {
    loop {
        let event = tokio::time::timeout(Duration::from_secs(10), watch.next())
            .await?
            .ok_or_else(|| anyhow::anyhow!("watch ended"))??;
        if event.kind() == pb::WatchKind::Revoke && event.erase {
            let subject = FeedId::from_slice(&event.subject)?;
            let before = db.rows.len();
            db.rows.retain(|row| !owner(&row.record, key, &subject));
            let erased = before - db.rows.len();
            let signed = event
                .entry
                .as_ref()
                .ok_or_else(|| anyhow::anyhow!("no entry"))?;
            let revocation = Entry::from_signed(signed)
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .id;
            let ack = gateway.ack(operator, revocation, AckAnswer::Done).await?;
            println!(
                "  watch: revocation with erasure -> erased {erased} record(s), acknowledged ({ack})"
            );
            return Ok(event.cursor);
        }
    }
}

/// Prints what the gateway kept per form, its watch cursor and the node's public answering
/// record for the operator; fails unless the withdrawal was honoured.
async fn report(url: &str, db: &Database, cursor: &[u8], operator: &Author) -> anyhow::Result<()> {
    let mut forms: BTreeMap<(String, &'static str), usize> = BTreeMap::new();
    for row in &db.rows {
        *forms
            .entry((row.purpose.to_string(), row.record.form().name()))
            .or_default() += 1;
    }
    println!("\nkept, per purpose and form:");
    for ((purpose, form), n) in &forms {
        println!("  {purpose}: {n} {form}");
    }
    println!(
        "aggregates: {} row(s) released, {} group(s) suppressed for counting fewer than k people",
        db.aggregates.len(),
        db.suppressed
    );
    for (purpose, row) in db.aggregates.iter().take(3) {
        println!(
            "  {purpose}: bin {} cell {}: {} people, mean {:.1}",
            consent_client::time::format(row.bin_start_ms),
            row.cell,
            row.subjects,
            row.mean
        );
    }
    println!("watch cursor kept for a restart: {}", hex(cursor));
    let record = pb::node_client::NodeClient::connect(url.to_string())
        .await?
        .answer_times(pb::AnswerTimesRequest {
            collector: Bytes::copy_from_slice(&operator.feed().0),
        })
        .await?
        .into_inner();
    println!(
        "the node's public record for this operator: {} request(s), {} answered, {} open",
        record.requests, record.answered, record.unanswered
    );
    anyhow::ensure!(
        record.answered == 1,
        "the gateway did not acknowledge the withdrawal"
    );
    Ok(())
}

/// Waits until the cache reflects everything the node holds now.
async fn caught_up(
    cache: &DecisionCache,
    status: &mut pb::node_client::NodeClient<tonic::transport::Channel>,
) -> anyhow::Result<()> {
    let position = status
        .status(pb::StatusRequest {})
        .await?
        .into_inner()
        .entries;
    anyhow::ensure!(
        cache.reached(position, Duration::from_secs(10)).await,
        "the decision cache did not reach the node's position {position}"
    );
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
