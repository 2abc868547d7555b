//! Soak: two real `consentd` nodes replicating under mixed load for `CONSENT_SOAK_SECS` seconds
//! (default 20 in the normal suite; `scripts/faults --soak` runs 600). First a population of
//! residents with a grant each is submitted to A and B syncs it (40,000 on runs of 5 minutes or
//! more: more than the decision cache holds, so the node's caches fill during warm-up, as on a
//! city's node). Then writers submit citizens, grants and revocations to both nodes, a collector
//! checks in batches at each node (the newest citizens and a spread over the whole population;
//! the one at B fails over to A) and follows its watch stream, and node B is killed (-9) and
//! restarted half way through.
//! At the end: no error (a submit refused while B was down is retried at A, as a client with two
//! endpoints does), no acknowledged entry missing at either node, every decision as written,
//! every grant and revocation seen once on the watch stream, and node A's memory flat after
//! warm-up (reported always with its timeline and the parts `/metrics` names, asserted on runs
//! of 5 minutes or more: on fjall at most [`FLAT_SLACK_KIB`] of growth besides its block cache
//! filling (bounded by `[store] cache_mib`), what cycles in its bounded parts; on sled, whose memory grows with what it writes, at most 4 KB per entry; see
//! docs/benchmarks.md).
//! `CONSENT_SOAK_ENGINE=sled` runs both nodes on sled (fjall, the default, otherwise).

use crate::common;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::Launch;
use consent_proto::fixtures::{self, DAY, T0};
use consent_proto::vocab::{DataCategory, Purpose, Role};
use consent_proto::{Entry, EntryId, FeedId, pb};
use pb::ledger_client::LedgerClient;
use tokio::sync::Mutex;
use tokio_stream::StreamExt;
use tonic::transport::{Channel, Endpoint};

/// What the writers did: entries acknowledged, and each citizen's expected decision.
#[derive(Default)]
struct Written {
    entries: Vec<EntryId>,
    citizens: Vec<(FeedId, bool)>,
    /// Grant ids, and the ids of the grants later revoked.
    grants: HashSet<[u8; 32]>,
    revokes: HashSet<[u8; 32]>,
}

struct Load {
    urls: std::sync::RwLock<[String; 2]>,
    b_down: AtomicBool,
    errors: Mutex<Vec<String>>,
    written: Mutex<Written>,
    retried: AtomicU64,
    pending: AtomicU64,
    checks: AtomicU64,
    stop: AtomicBool,
}

impl Load {
    async fn error(&self, what: String) {
        self.errors.lock().await.push(what);
    }

    /// Submits at the writer's node; while B is down, a refused submit is retried at A. Returns
    /// the node that took it (the citizen's next entries go there too: the other node may not
    /// hold this one yet), or `None` after an error.
    async fn submit(
        &self,
        target: usize,
        entry: &Entry,
        clients: &mut Clients,
        chain_pending: bool,
    ) -> Option<(usize, bool)> {
        let urls = self.urls.read().map(|u| u.clone()).unwrap_or_default();
        for (attempt, url) in [&urls[target], &urls[0]].into_iter().enumerate() {
            let answer = match clients.get(url).await {
                Ok(ledger) => ledger
                    .submit(pb::SubmitRequest {
                        entry: Some(entry.to_signed()),
                    })
                    .await
                    .map_err(|s| s.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match answer {
                Ok(r) if r.get_ref().status() == pb::SubmitStatus::Accepted => {
                    return Some((if attempt == 0 { target } else { 0 }, false));
                }
                // Retried at A after B failed the call: B may have stored and passed on the
                // entry before it went down, so A already holds it — the entry is in.
                Ok(r) if attempt == 1 && r.get_ref().status() == pb::SubmitStatus::Duplicate => {
                    return Some((0, false));
                }
                // Failing over, A may not hold the predecessor B acknowledged just before it
                // went down: A holds the entry until sync brings it (checked at the end).
                // So are the citizen's next entries there, until it arrives.
                Ok(r)
                    if (attempt == 1 || chain_pending)
                        && r.get_ref().status() == pb::SubmitStatus::Pending =>
                {
                    self.pending.fetch_add(1, Ordering::Relaxed);
                    return Some((0, true));
                }
                Ok(r) => {
                    self.error(format!("not accepted: {:?}", r.get_ref())).await;
                    return None;
                }
                Err(_) if target == 1 && self.b_down.load(Ordering::SeqCst) => {
                    clients.0.remove(url);
                    self.retried.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    self.error(format!("submit at {url}: {e}")).await;
                    return None;
                }
            }
        }
        None
    }
}

/// A writer's connections, by URL.
#[derive(Default)]
struct Clients(HashMap<String, LedgerClient<Channel>>);

impl Clients {
    async fn get(
        &mut self,
        url: &str,
    ) -> Result<&mut LedgerClient<Channel>, tonic::transport::Error> {
        if !self.0.contains_key(url) {
            let channel = Endpoint::from_shared(url.to_string())?
                .connect_timeout(Duration::from_secs(1))
                .connect()
                .await?;
            self.0.insert(url.to_string(), LedgerClient::new(channel));
        }
        Ok(self.0.get_mut(url).expect("inserted above"))
    }
}

async fn writer(load: Arc<Load>, scene: Arc<fixtures::Scene>, w: usize) {
    let mut clients = Clients::default();
    for i in 0u64.. {
        if load.stop.load(Ordering::SeqCst) {
            return;
        }
        let mut target = (i as usize + w) % 2;
        let (mut c, c0) = fixtures::author(Role::Citizen, &format!("soak-{w}-{i}"), T0);
        let body = fixtures::grant(
            scene.collector.feed(),
            scene.policy,
            &[Purpose::Research],
            &[DataCategory::Location],
            T0,
            None,
        );
        let g = fixtures::append(&mut c, T0 + DAY, body);
        let revoke = (i % 4 == 3)
            .then(|| fixtures::append(&mut c, T0 + 2 * DAY, fixtures::revoke(g.id, i % 8 == 7)));
        let mut entries = vec![c0, g.clone()];
        let mut pending = false;
        entries.extend(revoke.clone());
        for e in &entries {
            match load.submit(target, e, &mut clients, pending).await {
                Some((at, held)) => (target, pending) = (at, pending || held),
                None => return,
            }
        }
        let mut written = load.written.lock().await;
        written.entries.extend(entries.iter().map(|e| e.id));
        written.citizens.push((c.feed(), revoke.is_none()));
        written.grants.insert(g.id.0);
        if revoke.is_some() {
            written.revokes.insert(g.id.0);
        }
        drop(written);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Submits `citizens` residents, each an inception and a grant to the scene's collector, to
/// `url` in batches, and records them as written (expected to allow).
async fn preload(load: &Load, scene: &fixtures::Scene, url: &str, citizens: u64) {
    let mut ledger = common::client(url).await;
    let mut batch = Vec::new();
    let mut residents = Vec::new();
    for i in 0..citizens {
        let (mut c, c0) = fixtures::author(Role::Citizen, &format!("resident-{i}"), T0);
        let body = fixtures::grant(
            scene.collector.feed(),
            scene.policy,
            &[Purpose::Research],
            &[DataCategory::Location],
            T0,
            None,
        );
        let g = fixtures::append(&mut c, T0 + DAY, body);
        residents.push((c.feed(), g.id));
        batch.extend([c0, g]);
        if batch.len() < 1_000 && i + 1 < citizens {
            continue;
        }
        let answer = ledger
            .submit_batch(pb::SubmitBatchRequest {
                entries: batch.iter().map(Entry::to_signed).collect(),
            })
            .await
            .expect("preload batch")
            .into_inner();
        assert_eq!(answer.results.len(), batch.len());
        for (r, e) in answer.results.iter().zip(&batch) {
            let status = r.response.as_ref().map(|r| r.status());
            assert_eq!(
                status,
                Some(pb::SubmitStatus::Accepted),
                "{:?}: {r:?}",
                e.id
            );
        }
        let mut written = load.written.lock().await;
        written.entries.extend(batch.drain(..).map(|e| e.id));
        for (c, g) in residents.drain(..) {
            written.citizens.push((c, true));
            written.grants.insert(g.0);
        }
    }
}

/// The last `n` lines of `text`.
fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Picks `n` of `len` indexes spread pseudo-randomly by `round` (no two rounds alike).
fn spread(round: u64, n: usize, len: usize) -> impl Iterator<Item = usize> {
    (0..n as u64).map(move |j| {
        // SplitMix64 of (round, j): uniform enough to touch the whole population.
        let mut z = (round << 16 | j).wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) % len.max(1) as u64) as usize
    })
}

/// A collector checking in batches at node `first` (0: A, 1: B), failing over to the other
/// when it goes away.
async fn checker(load: Arc<Load>, scene: Arc<fixtures::Scene>, first: usize) {
    let urls = load.urls.read().map(|u| u.clone()).unwrap_or_default();
    let urls = [urls[first].as_str(), urls[1 - first].as_str()];
    let mut collector = consent_client::collector::Collector::connect_any(
        &urls,
        scene.collector.key().clone(),
        scene.collector.feed(),
    )
    .await
    .expect("collector session");
    for round in 0u64.. {
        if load.stop.load(Ordering::SeqCst) {
            break;
        }
        // The 100 newest citizens and 100 of the whole population.
        let subjects: Vec<FeedId> = {
            let written = load.written.lock().await;
            let all = &written.citizens;
            all.iter()
                .rev()
                .take(100)
                .map(|(c, _)| *c)
                .chain(
                    spread(round << 1 | first as u64, 100, all.len())
                        .filter_map(|i| all.get(i).map(|(c, _)| *c)),
                )
                .collect()
        };
        let checks = subjects
            .iter()
            .map(|c| collector.request(*c, Purpose::Research, DataCategory::Location))
            .collect::<Vec<_>>();
        let n = checks.len() as u64;
        if n > 0 {
            match collector.check_batch(checks).await {
                Ok(_) => {
                    load.checks.fetch_add(n, Ordering::Relaxed);
                }
                Err(e) => load.error(format!("check batch: {e}")).await,
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Residents preloaded before a soak of 5 minutes or more: more subjects than the decision cache
/// holds (32k subject-collector pairs), so it fills and turns over during warm-up.
const POPULATION: u64 = 40_000;

/// On fjall (the default) a node's memory is bounded and its caches fill during warm-up: after
/// it, RSS may move only by what cycles in the bounded parts — memtables filling and being
/// flushed (0–16 MiB), the decision cache turning over (emptied partition by partition when
/// full). Measured: within 176–187 MiB from the second to the tenth minute (docs/benchmarks.md).
const FLAT_SLACK_KIB: u64 = 24 * 1024;
/// sled keeps what it writes in memory: on sled, the most RSS a node may add per entry written
/// after warm-up (measured ~1.5–2.4 KB).
const SLED_MAX_RSS_BYTES_PER_ENTRY: u64 = 4096;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_load_with_a_restart_loses_nothing_and_memory_stays_flat() {
    let secs: u64 = std::env::var("CONSENT_SOAK_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    // CONSENT_SOAK_ENGINE=sled runs both nodes on sled (fjall, the default, otherwise).
    let engine = std::env::var("CONSENT_SOAK_ENGINE").unwrap_or_else(|_| "fjall".into());
    let temp = tempfile::tempdir().expect("tempdir");
    let genesis = temp.path().join("genesis.toml");
    common::genesis(&genesis, "soak");
    let a_launch = Launch {
        engine: engine.clone(),
        ..Launch::default()
    };
    let scene = Arc::new(fixtures::scene(T0));
    let (a_dir, b_dir) = (temp.path().join("a"), temp.path().join("b"));
    let (a, a_url) = common::start(&a_dir, &genesis, &a_launch);
    common::submit_scene(&a_url, &scene).await;
    let b_launch = Launch {
        bootstrap: vec![a.p2p_addr()],
        ..a_launch.clone()
    };
    let (mut b, b_url) = common::start(&b_dir, &genesis, &b_launch);
    // B holds the registrar, collector, policy and accreditation before any grant reaches it.
    let deadline = Instant::now() + Duration::from_secs(60);
    while common::status(&b_url).await.entries < scene.entries.len() as u64 {
        assert!(Instant::now() < deadline, "B did not sync the scene");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let load = Arc::new(Load {
        urls: std::sync::RwLock::new([a_url.clone(), b_url.clone()]),
        b_down: AtomicBool::new(false),
        errors: Mutex::new(Vec::new()),
        written: Mutex::new(Written::default()),
        retried: AtomicU64::new(0),
        pending: AtomicU64::new(0),
        checks: AtomicU64::new(0),
        stop: AtomicBool::new(false),
    });

    // The collector's watch stream at A: every grant and revocation, once.
    let seen = Arc::new(Mutex::new((HashSet::new(), HashSet::new(), 0u64)));
    let watcher = {
        let (seen, url, scene, load) = (seen.clone(), a_url.clone(), scene.clone(), load.clone());
        tokio::spawn(async move {
            let mut collector = consent_client::collector::Collector::connect(
                &url,
                scene.collector.key().clone(),
                scene.collector.feed(),
            )
            .await
            .expect("collector session");
            let mut stream = collector
                .watch(Default::default(), 500)
                .await
                .expect("watch");
            while let Some(event) = stream.next().await {
                let event = match event {
                    Ok(e) => e,
                    Err(e) => {
                        load.errors
                            .lock()
                            .await
                            .push(format!("watch stream ended: {e}"));
                        return;
                    }
                };
                let mut seen = seen.lock().await;
                let grant = <[u8; 32]>::try_from(&event.grant[..]).unwrap_or([0; 32]);
                match event.kind() {
                    pb::WatchKind::Grant => {
                        let fresh = seen.0.insert(grant);
                        seen.2 += u64::from(!fresh);
                    }
                    pb::WatchKind::Revoke => {
                        let fresh = seen.1.insert(grant);
                        seen.2 += u64::from(!fresh);
                    }
                    _ => {}
                }
            }
        })
    };

    // A population first, as a city's node holds: the collector checks across it, so the node's
    // bounded caches fill during warm-up.
    let population: u64 = std::env::var("CONSENT_SOAK_POPULATION")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if secs >= 300 { POPULATION } else { 500 });
    let preloaded = Instant::now();
    preload(&load, &scene, &a_url, population).await;
    let submitted = preloaded.elapsed();
    // B pulls them from A (anti-entropy) before the clock starts: both nodes hold the city.
    let total = common::status(&a_url).await.entries;
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let at_b = common::status(&b_url).await.entries;
        if at_b >= total {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "B holds {at_b} of A's {total} entries after the preload"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "soak: {population} residents with a grant each submitted to A in {:.1} s, held by B \
         {:.1} s later",
        submitted.as_secs_f64(),
        (preloaded.elapsed() - submitted).as_secs_f64()
    );

    let mut tasks = Vec::new();
    for w in 0..2 {
        tasks.push(tokio::spawn(writer(load.clone(), scene.clone(), w)));
    }
    for first in 0..2 {
        tasks.push(tokio::spawn(checker(load.clone(), scene.clone(), first)));
    }

    // Run, sampling A's memory; restart B half way.
    let started = Instant::now();
    let a_pid = a.child.id();
    // (seconds, A's RSS KiB, entries written, A's store KiB on disk)
    let mut samples: Vec<(f64, u64, usize, u64)> = Vec::new();
    // What A's /metrics says of its memory, every 5 s.
    let mut reports: Vec<(f64, Vec<(String, f64)>)> = Vec::new();
    let mut restarted = false;
    while started.elapsed() < Duration::from_secs(secs) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let entries = load.written.lock().await.entries.len();
        let disk = common::proc::dir_bytes(&a_dir) / 1024;
        samples.push((
            started.elapsed().as_secs_f64(),
            common::proc::rss_kib(a_pid),
            entries,
            disk,
        ));
        if samples.len() % 10 == 1 {
            reports.push((
                started.elapsed().as_secs_f64(),
                common::memory_report(&a_dir),
            ));
        }
        if !restarted && started.elapsed() >= Duration::from_secs(secs / 2) {
            restarted = true;
            load.b_down.store(true, Ordering::SeqCst);
            b.kill_9();
            let (nb, url) = common::start(&b_dir, &genesis, &b_launch);
            b = nb;
            if let Ok(mut urls) = load.urls.write() {
                urls[1] = url;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
            load.b_down.store(false, Ordering::SeqCst);
        }
    }
    load.stop.store(true, Ordering::SeqCst);
    for t in tasks {
        t.await.expect("load task");
    }
    let errors = load.errors.lock().await.clone();
    assert!(errors.is_empty(), "errors under load: {errors:?}");
    let written = std::mem::take(&mut *load.written.lock().await);

    // Both nodes hold everything, decide as written, and the watch saw each event once.
    let b_url = load.urls.read().map(|u| u[1].clone()).unwrap_or(b_url);
    // Each may still be pulling the other's last entries: both counts are read each time.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let at_a = common::status(&a_url).await.entries;
        let at_b = common::status(&b_url).await.entries;
        if at_a == at_b {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "A and B did not converge: A holds {at_a} entries, B {at_b}; B's log ends:\n{}",
            last_lines(&b.log(), 40)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for url in [&a_url, &b_url] {
        let allowed: Vec<FeedId> = written
            .citizens
            .iter()
            .filter(|(_, a)| *a)
            .map(|(c, _)| *c)
            .collect();
        common::assert_survived(url, &scene, &written.entries, &allowed).await;
        let mut collector = consent_client::collector::Collector::connect(
            url,
            scene.collector.key().clone(),
            scene.collector.feed(),
        )
        .await
        .expect("collector session");
        for chunk in written.citizens.chunks(1_000) {
            let checks = chunk
                .iter()
                .map(|(c, _)| collector.request(*c, Purpose::Research, DataCategory::Location))
                .collect();
            let answers = collector.check_batch(checks).await.expect("checks");
            for ((c, allow), a) in chunk.iter().zip(answers) {
                assert_eq!(
                    a.decision() == pb::Decision::Allow,
                    *allow,
                    "{c:?} at {url}"
                );
            }
        }
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let s = seen.lock().await;
        if s.0.len() == written.grants.len() && s.1.len() == written.revokes.len() {
            assert_eq!(s.2, 0, "events repeated on the watch stream");
            assert!(written.grants.iter().all(|g| s.0.contains(g)));
            assert!(written.revokes.iter().all(|g| s.1.contains(g)));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "watch saw {} of {} grants, {} of {} revocations",
            s.0.len(),
            written.grants.len(),
            s.1.len(),
            written.revokes.len()
        );
        drop(s);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    watcher.abort();

    // Memory: A's RSS after warm-up (first fifth of the run) against the end, next to how much
    // its store grew on disk meanwhile; and the timeline, a tenth of the run apart.
    for k in 1..=10 {
        if let Some((t, rss, entries, disk)) =
            samples.get((samples.len() * k / 10).saturating_sub(1))
        {
            eprintln!(
                "  {t:>6.0} s: {entries:>7} entries written, A RSS {:>4} MiB, A data dir {:>4} MiB",
                rss / 1024,
                disk / 1024
            );
            // The parts of A's memory its metrics name, closest report before this sample.
            if let Some((_, parts)) = reports.iter().rev().find(|(rt, _)| rt <= t) {
                let parts: Vec<String> = parts
                    .iter()
                    .map(|(part, v)| match part.as_str() {
                        "decision_pairs" | "proof_blocks" => format!("{part} {v:.0}"),
                        _ => format!("{part} {:.1} MiB", v / f64::from(1 << 20)),
                    })
                    .collect();
                eprintln!("          {}", parts.join(", "));
            }
        }
    }
    let warm = samples.len() / 5;
    let median = |s: &[(f64, u64, usize, u64)], pick: fn(&(f64, u64, usize, u64)) -> u64| {
        let mut r: Vec<u64> = s.iter().map(pick).collect();
        r.sort_unstable();
        r.get(r.len() / 2).copied().unwrap_or(0)
    };
    let tail = samples.len().saturating_sub(warm.max(1));
    let (warm_window, end_window) = (&samples[warm..2 * warm.max(1)], &samples[tail..]);
    let (rss_warm, rss_end) = (median(warm_window, |s| s.1), median(end_window, |s| s.1));
    let disk_growth_kib = median(end_window, |s| s.3).saturating_sub(median(warm_window, |s| s.3));
    let entries_warm = samples.get(warm).map(|s| s.2).unwrap_or(0);
    let added = written.entries.len().saturating_sub(entries_warm) as u64;
    let growth_kib = rss_end.saturating_sub(rss_warm);
    // fjall's block cache fills with what is read, up to its configured size (512 MiB by default):
    // bounded, not a leak; its growth is told apart (A's /metrics names it).
    let block_cache_at = |t: f64| -> u64 {
        reports
            .iter()
            .rev()
            .find(|(rt, _)| *rt <= t)
            .and_then(|(_, parts)| parts.iter().find(|(p, _)| p == "store_block_cache"))
            .map_or(0, |(_, v)| (*v as u64) / 1024)
    };
    let warm_t = warm_window.get(warm_window.len() / 2).map_or(0.0, |s| s.0);
    let end_t = end_window.get(end_window.len() / 2).map_or(0.0, |s| s.0);
    let cache_growth_kib = block_cache_at(end_t).saturating_sub(block_cache_at(warm_t));
    drop(b);
    drop(a);
    common::assert_store_checks(&b_dir, &genesis, &engine);
    eprintln!(
        "soak {secs} s on {engine}: {} entries written ({} submits retried at A while B was down, {} held \
         pending there until sync), {} checks, \
         {} grants and {} revocations watched once each, B restarted and converged, 0 errors; \
         A RSS {} MiB after warm-up -> {} MiB at the end (+{} KiB, {:.0} B per entry added; \
         its store grew {} KiB on disk meanwhile)",
        written.entries.len(),
        load.retried.load(Ordering::Relaxed),
        load.pending.load(Ordering::Relaxed),
        load.checks.load(Ordering::Relaxed),
        written.grants.len(),
        written.revokes.len(),
        rss_warm / 1024,
        rss_end / 1024,
        growth_kib,
        growth_kib as f64 * 1024.0 / added.max(1) as f64,
        disk_growth_kib
    );
    if secs >= 300 {
        if engine == "sled" {
            // What must not happen on sled is memory growing faster than sled's own keeping of
            // what it writes: a leak in checks, watches or sessions (millions of checks and watch
            // events here) would.
            let per_entry = growth_kib * 1024 / added.max(1);
            assert!(
                per_entry <= SLED_MAX_RSS_BYTES_PER_ENTRY,
                "A's memory grew {growth_kib} KiB for {added} entries written ({per_entry} B each)"
            );
        } else {
            let beyond_cache = growth_kib.saturating_sub(cache_growth_kib);
            assert!(
                beyond_cache <= FLAT_SLACK_KIB,
                "A's memory is not flat after warm-up: it grew {growth_kib} KiB ({cache_growth_kib} \
                 KiB of it the block cache filling) while {added} entries were written (at most \
                 {FLAT_SLACK_KIB} KiB beside the block cache: memtables and caches cycling)"
            );
        }
    }
}
