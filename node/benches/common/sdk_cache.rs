//! The collector SDK's decision cache, fed by a real node's watch stream, checked on two threads.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use consent_proto::fixtures;
use consent_proto::pb;
use consent_proto::vocab::{DataCategory as C, Purpose as P};

/// Checks answered by the SDK's decision cache (following the node's watch stream) on two
/// threads: `(checks/s, latency summary)`. Latencies are of single calls timed one by one (the
/// clock reads, ~20 ns each, are included).
pub async fn checks(
    addr: SocketAddr,
    setup: &fixtures::Scene,
    subjects: &[consent_proto::ids::FeedId],
    phase: Duration,
) -> anyhow::Result<(f64, String)> {
    use consent_client::cache::{CacheConfig, DecisionCache};
    let me = setup.collector.feed();
    let watcher = consent_client::collector::Collector::connect(
        &format!("http://{addr}"),
        setup.collector.key().clone(),
        me,
    )
    .await?;
    let cache = DecisionCache::new(me, CacheConfig::default());
    let task = cache.follow(watcher);
    let client = pb::node_client::NodeClient::connect(format!("http://{addr}")).await;
    let size = client?
        .status(pb::StatusRequest {})
        .await?
        .into_inner()
        .entries;
    anyhow::ensure!(
        cache.reached(size, Duration::from_secs(60)).await,
        "the cache did not catch up"
    );
    let subjects = Arc::new(subjects.to_vec());
    let run = |cache: DecisionCache, subjects: Arc<Vec<consent_proto::ids::FeedId>>, i: usize| {
        std::thread::spawn(move || {
            let start = Instant::now();
            let mut n = 0usize;
            while start.elapsed() < phase {
                for _ in 0..1024 {
                    let s = subjects[(n * 7 + i) % subjects.len()];
                    let c = cache.check(s, P::ServiceProvision, C::Location);
                    if !c.is_ok_and(|c| c.decision == pb::Decision::Allow) {
                        return Err(anyhow::anyhow!("the cache did not allow: {c:?}"));
                    }
                    n += 1;
                }
            }
            Ok(n as f64 / start.elapsed().as_secs_f64())
        })
    };
    let threads: Vec<_> = (0..2)
        .map(|i| run(cache.clone(), Arc::clone(&subjects), i))
        .collect();
    let mut rate = 0.0;
    for t in threads {
        rate += t
            .join()
            .map_err(|_| anyhow::anyhow!("bench thread panicked"))??;
    }
    let mut lat = Vec::with_capacity(200_000);
    for n in 0..200_000 {
        let t = Instant::now();
        let c = cache.check(
            subjects[n % subjects.len()],
            P::ServiceProvision,
            C::Location,
        );
        lat.push(t.elapsed().as_nanos() as u64);
        std::hint::black_box(c).ok();
    }
    lat.sort_unstable();
    let at = |q: f64| lat[((lat.len() as f64 * q) as usize).min(lat.len() - 1)];
    task.abort();
    Ok((
        rate,
        format!(
            "p50 {} ns, p99 {} ns, p999 {} ns",
            at(0.5),
            at(0.99),
            at(0.999)
        ),
    ))
}

/// Checks with an observation context answered by the SDK's decision cache (following the
/// node's watch stream, which carries the street grants; the cache fetches their policy): each
/// subject of `street` with the context its grant covers, timed one by one on one thread.
/// `(p50 ns per check, latency summary with the target: p50 < 1,000 ns, met or not)`.
pub async fn context_checks(
    addr: SocketAddr,
    setup: &fixtures::Scene,
    street: &crate::common::Street,
) -> anyhow::Result<(f64, String)> {
    use consent_client::cache::{CacheConfig, DecisionCache};
    use consent_proto::ids::FeedId;
    use consent_proto::scope::Context;

    /// What the row promises: a cached check with context under a microsecond (median).
    const TARGET_P50_NS: u64 = 1_000;
    let me = setup.collector.feed();
    let watcher = consent_client::collector::Collector::connect(
        &format!("http://{addr}"),
        setup.collector.key().clone(),
        me,
    )
    .await?;
    let cache = DecisionCache::new(me, CacheConfig::default());
    let task = cache.follow(watcher);
    let client = pb::node_client::NodeClient::connect(format!("http://{addr}")).await;
    let size = client?
        .status(pb::StatusRequest {})
        .await?
        .into_inner()
        .entries;
    anyhow::ensure!(
        cache.reached(size, Duration::from_secs(60)).await,
        "the cache did not catch up"
    );
    let cases = street
        .checks
        .iter()
        .map(|c| {
            let subject = FeedId::from_slice(&c.subject)
                .map_err(|e| anyhow::anyhow!("a bench subject: {e:?}"))?;
            let context = Context::from_wire(c.context.as_ref())
                .map_err(|e| anyhow::anyhow!("a bench context: {e}"))?;
            anyhow::Ok((subject, context))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    anyhow::ensure!(!cases.is_empty(), "no checks with context");
    let now = consent_client::time::now_ms();
    for (subject, context) in &cases {
        let c = cache.check_with(*subject, street.purpose, street.category, context, now);
        anyhow::ensure!(
            c.as_ref().is_ok_and(|c| c.decision == pb::Decision::Allow),
            "the cache did not allow a check with context: {c:?}"
        );
    }
    let mut lat = Vec::with_capacity(200_000);
    for n in 0..200_000 {
        let (subject, context) = &cases[n % cases.len()];
        let t = Instant::now();
        let c = cache.check_with(*subject, street.purpose, street.category, context, now);
        lat.push(t.elapsed().as_nanos() as u64);
        std::hint::black_box(c).ok();
    }
    task.abort();
    lat.sort_unstable();
    let at = |q: f64| lat[((lat.len() as f64 * q) as usize).min(lat.len() - 1)];
    let p50 = at(0.5);
    let verdict = if p50 < TARGET_P50_NS {
        "met"
    } else {
        "NOT MET"
    };
    Ok((
        p50 as f64,
        format!(
            "p50 {p50} ns, p99 {} ns, p999 {} ns; target p50 < {TARGET_P50_NS} ns: {verdict}",
            at(0.99),
            at(0.999)
        ),
    ))
}
