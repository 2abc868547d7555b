//! What both benchmark binaries share: the result table (printed and as JSON), gRPC connections
//! and the concurrent submit driver.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Instant;

use consent_proto::Entry;
use consent_proto::pb;
use consent_proto::vocab::{DataCategory as C, Purpose as P};
use prost::bytes::Bytes;
use tonic::transport::Channel;

/// Concurrent callers for unary calls.
pub const CALLERS: usize = 64;

/// Runs `callers` concurrent callers for `phase`: caller `i` is `caller(i, stop)`, which calls
/// until `stop` is set and returns what it measured. Returns how long the phase lasted (s) and
/// every caller's result, in order.
pub async fn for_phase<T, F, Fut>(
    callers: usize,
    phase: std::time::Duration,
    caller: F,
) -> anyhow::Result<(f64, Vec<T>)>
where
    F: Fn(usize, std::sync::Arc<std::sync::atomic::AtomicBool>) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>> + Send + 'static,
    T: Send + 'static,
{
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let tasks: Vec<_> = (0..callers)
        .map(|i| tokio::spawn(caller(i, std::sync::Arc::clone(&stop))))
        .collect();
    let start = Instant::now();
    tokio::time::sleep(phase).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut out = Vec::with_capacity(callers);
    for t in tasks {
        out.push(t.await??);
    }
    Ok((start.elapsed().as_secs_f64(), out))
}
/// HTTP/2 connections per client.
pub const CONNECTIONS: usize = 4;

pub struct Row {
    pub name: String,
    pub value: f64,
    pub unit: &'static str,
    pub baseline: Option<(String, f64)>,
    /// The ratio (value / baseline) an issue asks for: at least this; a negative `-t`, made by
    /// [`at_most`], asks for at most `t` (a cost, where less is better). A row without a
    /// baseline holds its value itself to the target (a restart of at most 3 s).
    pub target: Option<f64>,
    pub extra: String,
}

/// The target of a ratio that must stay at or below `t` (a cost, such as CPU per answer):
/// printed as `<= t`, written to JSON as `"target": t, "target_is": "at most"`.
pub fn at_most(t: f64) -> Option<f64> {
    Some(-t)
}

/// How a target reads: `>= t`, or `<= t` for one made by [`at_most`].
fn target_text(t: f64) -> String {
    if t < 0.0 {
        format!("<= {:.2}", -t)
    } else {
        format!(">= {t:.2}")
    }
}

pub async fn connect(addr: SocketAddr) -> anyhow::Result<Vec<Channel>> {
    let mut out = Vec::new();
    for _ in 0..CONNECTIONS {
        out.push(
            Channel::from_shared(format!("http://{addr}"))?
                .tcp_nodelay(true)
                .connect()
                .await?,
        );
    }
    Ok(out)
}

/// Submits `entries` one by one in their order on one connection (entries that refer to other
/// feeds, such as a registrar's accreditation of a collector, must not race their targets).
pub async fn submit_in_order(channel: &Channel, entries: &[Entry]) -> anyhow::Result<()> {
    let mut client = pb::ledger_client::LedgerClient::new(channel.clone());
    for e in entries {
        let r = client
            .submit(pb::SubmitRequest {
                entry: Some(e.to_signed()),
            })
            .await?
            .into_inner();
        anyhow::ensure!(
            r.status() == pb::SubmitStatus::Accepted,
            "setup entry not accepted: {r:?}"
        );
    }
    Ok(())
}

/// Submits `entries` with `CALLERS` concurrent callers (per-feed order kept: a caller owns whole
/// feeds), `batch` entries per call. Returns call latencies in µs.
pub async fn submit_all(
    channels: &[Channel],
    entries: &[Entry],
    batch: usize,
) -> anyhow::Result<Vec<u32>> {
    let callers = if batch == 1 { CALLERS } else { 4 };
    let mut per_caller: Vec<Vec<Entry>> = vec![Vec::new(); callers];
    for e in entries {
        let slot = (u64::from_le_bytes(e.feed.0[..8].try_into().expect("8 bytes")) % callers as u64)
            as usize;
        per_caller[slot].push(e.clone());
    }
    let mut tasks = Vec::new();
    for (i, mine) in per_caller.into_iter().enumerate() {
        let mut client = pb::ledger_client::LedgerClient::new(channels[i % channels.len()].clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            for chunk in mine.chunks(batch) {
                let t = Instant::now();
                if batch == 1 {
                    // Receipts signed in groups, as the SDK asks.
                    let r = client
                        .submit(consent_client::node::grouped(pb::SubmitRequest {
                            entry: Some(chunk[0].to_signed()),
                        }))
                        .await?
                        .into_inner();
                    anyhow::ensure!(
                        r.status() == pb::SubmitStatus::Accepted,
                        "not accepted: {r:?}"
                    );
                } else {
                    let r = client
                        .submit_batch(consent_client::node::grouped(pb::SubmitBatchRequest {
                            entries: chunk.iter().map(Entry::to_signed).collect(),
                        }))
                        .await?
                        .into_inner();
                    anyhow::ensure!(
                        r.results.iter().all(|x| x
                            .response
                            .as_ref()
                            .is_some_and(|r| r.status() == pb::SubmitStatus::Accepted)),
                        "batch not fully accepted"
                    );
                }
                lat.push(t.elapsed().as_micros() as u32);
            }
            anyhow::Ok(lat)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    Ok(all)
}

pub fn check_request(
    subject: &consent_proto::ids::FeedId,
    collector: &consent_proto::ids::FeedId,
) -> pb::CheckRequest {
    pb::CheckRequest {
        subject: Bytes::copy_from_slice(&subject.0),
        collector: Bytes::copy_from_slice(&collector.0),
        purpose: P::ServiceProvision as i32,
        category: C::Location as i32,
        at_ms: 0,
        ..Default::default()
    }
}

pub fn percentiles(mut lat: Vec<u32>) -> String {
    if lat.is_empty() {
        return String::new();
    }
    lat.sort_unstable();
    let at = |q: f64| lat[((lat.len() as f64 * q) as usize).min(lat.len() - 1)] as f64 / 1000.0;
    format!(
        "p50 {:.2} ms, p99 {:.2} ms, p999 {:.2} ms",
        at(0.50),
        at(0.99),
        at(0.999)
    )
}

pub fn print_table(rows: &[Row]) {
    println!();
    println!(
        "{:<52} {:>14} {:<12} {:>26} {:>8} {:>7}  latency",
        "measurement", "value", "unit", "baseline", "ratio", "target"
    );
    for r in rows {
        let (base, ratio) = match &r.baseline {
            Some((name, v)) => (
                format!("{name} {}", human(*v)),
                format!("{:.3}", r.value / v),
            ),
            None => (String::new(), String::new()),
        };
        let target = r.target.map(target_text).unwrap_or_default();
        println!(
            "{:<52} {:>14} {:<12} {:>26} {:>8} {:>7}  {}",
            r.name,
            human(r.value),
            r.unit,
            base,
            ratio,
            target,
            r.extra
        );
    }
}

pub fn to_json(rows: &[Row]) -> String {
    let items: Vec<String> = rows
        .iter()
        .map(|r| {
            let (bn, bv) = r.baseline.clone().unwrap_or_default();
            format!(
                "  {{\"name\": {:?}, \"value\": {:.1}, \"unit\": {:?}, \"baseline\": {:?}, \"baseline_value\": {:.1}, \"ratio\": {}, \"target\": {}, \"target_is\": {}, \"latency\": {:?}}}",
                r.name,
                r.value,
                r.unit,
                bn,
                bv,
                if bv > 0.0 { format!("{:.3}", r.value / bv) } else { "null".into() },
                r.target.map(|t| t.abs().to_string()).unwrap_or_else(|| "null".into()),
                match r.target {
                    Some(t) if t < 0.0 => "\"at most\"",
                    Some(_) => "\"at least\"",
                    None => "null",
                },
                r.extra
            )
        })
        .collect();
    format!("[\n{}\n]\n", items.join(",\n"))
}

/// A figure with as many decimals as it needs (latencies in ms need some; rates do not).
fn human(v: f64) -> String {
    if v < 100.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.0}")
    }
}

/// The second set of subjects of the check benchmarks: a street policy (the fixture's scope,
/// published by the scene's collector as its next version) and citizens holding grants to it,
/// each narrowed one of six ways (not at all, a zone, a sensor, a sensor kind, a time window, a
/// floor form), and the check each one's context allows.
pub struct Street {
    /// The policy entry (after the scene's entries, before the grants).
    pub policy: Entry,
    /// Inceptions and grants, in an order a node accepts.
    pub entries: Vec<Entry>,
    /// One check per citizen, with a context its grant covers.
    pub checks: Vec<pb::CheckRequest>,
    /// The purpose and category asked.
    pub purpose: P,
    /// The category asked.
    pub category: C,
}

/// `n` citizens with scoped grants to a street policy the scene's collector publishes (it takes
/// the collector's next seq: submit [`Street::policy`] right after the scene's entries).
pub fn street(setup: &mut consent_proto::fixtures::Scene, n: usize) -> Street {
    use consent_proto::body::{Body, Grant};
    use consent_proto::fixtures::{self, DAY, T0};
    use consent_proto::scope::{FormSpec, GrantScope, local_time};
    use consent_proto::vocab::{CategorySet, Form, PurposeSet, Role};

    let Body::Policy(mut policy) = fixtures::street_policy() else {
        panic!("the street policy fixture is a policy");
    };
    policy.version = 2;
    let scope = policy
        .scope
        .clone()
        .expect("the street policy declares a scope");
    let collector = setup.collector.feed();
    let policy_entry = fixtures::append(&mut setup.collector, T0, Body::Policy(policy.clone()));
    let purpose = policy
        .purposes
        .iter()
        .find(|p| !scope.offers(*p).is_empty())
        .expect("a purpose with forms");
    let category = policy.categories.iter().next().expect("a category");
    let form = |spec: &FormSpec| match spec {
        FormSpec::Raw => Form::Raw,
        FormSpec::Pseudonymised => Form::Pseudonymised,
        FormSpec::Binned { .. } => Form::Binned,
        FormSpec::Aggregated { .. } => Form::Aggregated,
    };
    let offers = scope.offers(purpose);
    // The most protective form offered meets every floor.
    let kept_as = form(&offers[offers.len() - 1]);
    let least = form(&offers[0]);
    // A sensor, its zone (or the first), and the finest cell inside that zone's first cell (so
    // every zone test takes a parent).
    let sensor = scope.sensors.first().expect("a sensor");
    let zone = sensor
        .zone
        .and_then(|z| scope.zone(z))
        .or(scope.zones.first())
        .expect("a zone");
    let cell = zone.cells[0].raw();
    let res = u64::from(zone.resolution);
    let finest = ((cell & !(0xF << 52)) | (15 << 52)) & !((1u64 << (3 * (15 - res))) - 1);
    let window = scope.windows.first().copied();
    let mut observed = T0 + DAY;
    if let Some(w) = window {
        loop {
            let (day, minute) = local_time(observed, scope.utc_offset_minutes);
            if w.contains(day, minute) {
                break;
            }
            observed += 15 * 60_000;
        }
    }
    let context = pb::ObservationContext {
        sensor: sensor.id,
        sensor_kind: sensor.kind as i32,
        cell: finest,
        observed_ms: observed,
        form: kept_as as i32,
    };
    let none = GrantScope {
        zones: Vec::new(),
        sensors: Vec::new(),
        sensor_kinds: Default::default(),
        windows: Vec::new(),
        forms: Vec::new(),
    };
    let narrowings: Vec<Option<GrantScope>> = vec![
        None,
        Some(GrantScope {
            zones: vec![zone.id],
            ..none.clone()
        }),
        Some(GrantScope {
            sensors: vec![sensor.id],
            ..none.clone()
        }),
        Some(GrantScope {
            sensor_kinds: [sensor.kind].into_iter().collect(),
            ..none.clone()
        }),
        window.map(|w| GrantScope {
            windows: vec![w],
            ..none.clone()
        }),
        Some(GrantScope {
            forms: vec![(purpose, least)],
            ..none.clone()
        }),
    ];
    let mut entries = Vec::with_capacity(2 * n);
    let mut checks = Vec::with_capacity(n);
    for i in 0..n {
        let (mut citizen, c0) = fixtures::author(Role::Citizen, &format!("street-{i}"), T0);
        let grant = Body::Grant(Grant {
            collector,
            policy: policy_entry.id,
            purposes: [purpose].into_iter().collect::<PurposeSet>(),
            categories: [category].into_iter().collect::<CategorySet>(),
            retention_days: policy.retention_days.min(30),
            valid_from: T0,
            valid_until: None,
            scope: narrowings[i % narrowings.len()].clone(),
            on_behalf: None,
        });
        entries.push(c0);
        entries.push(fixtures::append(&mut citizen, T0 + DAY, grant));
        let mut check = pb::CheckRequest {
            subject: Bytes::copy_from_slice(&citizen.feed().0),
            collector: Bytes::copy_from_slice(&collector.0),
            purpose: purpose as i32,
            category: category as i32,
            at_ms: 0,
            ..Default::default()
        };
        check.context = Some(context);
        checks.push(check);
    }
    Street {
        policy: policy_entry,
        entries,
        checks,
        purpose,
        category,
    }
}
