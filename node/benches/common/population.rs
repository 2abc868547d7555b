//! Checks of subjects drawn uniformly at random from a whole population (the storage bench's
//! Check and CheckBatch rows, issue 23): every call asks about citizens from anywhere in the
//! store, so at a city's size the node's caches hold a small share of them and the answers come
//! from the store. Unary Check from [`CALLERS`] callers and CheckBatch ([`BATCH`] per call) from
//! 4, as in the node bench (`load.rs`), but each call draws new subjects; every decision must be
//! an allow (each citizen holds a grant), so the phases also check that the store kept them.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use consent_client::collector::Bearer;
use consent_proto::ids::FeedId;
use consent_proto::pb;
use tonic::transport::Channel;

use crate::common::{CALLERS, check_request, for_phase};

/// Checks per CheckBatch call.
pub(crate) const BATCH: usize = 1000;

/// Callers of CheckBatch.
const BATCH_CALLERS: usize = 4;

/// A small deterministic generator (SplitMix64): the same draws on every run, no dependency.
pub(crate) struct Draw(u64);

impl Draw {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (multiply-shift: a bias below n / 2^64), `n > 0`.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }
}

/// A random member of `population` (not empty).
fn pick(population: &[FeedId], draw: &mut Draw) -> FeedId {
    population[draw.below(population.len())]
}

/// Unary checks of subjects drawn uniformly from `population` (each must be allowed) for
/// `phase`: `(checks/s, latencies µs)`.
pub(crate) async fn checks(
    channels: &[Channel],
    population: &Arc<Vec<FeedId>>,
    collector: FeedId,
    bearer: &Bearer,
    phase: Duration,
) -> anyhow::Result<(f64, Vec<u32>)> {
    anyhow::ensure!(!population.is_empty(), "no subjects to check");
    let (secs, lats) = for_phase(CALLERS, phase, |i, stop| {
        let mut client = pb::consent_client::ConsentClient::with_interceptor(
            channels[i % channels.len()].clone(),
            bearer.clone(),
        );
        let population = Arc::clone(population);
        async move {
            let mut draw = Draw::new(i as u64 + 1);
            let mut lat = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let req = check_request(&pick(&population, &mut draw), &collector);
                let t = Instant::now();
                let r = client.check(req).await?.into_inner();
                anyhow::ensure!(
                    r.decision() == pb::Decision::Allow,
                    "a citizen of the store was denied: {:?}",
                    r.reason()
                );
                lat.push(t.elapsed().as_micros() as u32);
            }
            anyhow::Ok(lat)
        }
    })
    .await?;
    let all: Vec<u32> = lats.into_iter().flatten().collect();
    Ok((all.len() as f64 / secs, all))
}

/// CheckBatch calls of [`BATCH`] subjects drawn uniformly from `population` (new ones every
/// call; each must be allowed) for `phase`: `(decisions/s, call latencies µs)`.
pub(crate) async fn batches(
    channels: &[Channel],
    population: &Arc<Vec<FeedId>>,
    collector: FeedId,
    bearer: &Bearer,
    phase: Duration,
) -> anyhow::Result<(f64, Vec<u32>)> {
    anyhow::ensure!(!population.is_empty(), "no subjects to check");
    let (secs, results) = for_phase(BATCH_CALLERS, phase, |i, stop| {
        let mut client = pb::consent_client::ConsentClient::with_interceptor(
            channels[i % channels.len()].clone(),
            bearer.clone(),
        );
        let population = Arc::clone(population);
        async move {
            let mut draw = Draw::new(0x5EED_0000 + i as u64);
            let (mut lat, mut decisions) = (Vec::new(), 0usize);
            while !stop.load(Ordering::Relaxed) {
                let checks = (0..BATCH)
                    .map(|_| check_request(&pick(&population, &mut draw), &collector))
                    .collect();
                let t = Instant::now();
                let r = client
                    .check_batch(pb::CheckBatchRequest { checks })
                    .await?
                    .into_inner();
                anyhow::ensure!(
                    r.decisions.len() == BATCH
                        && r.decisions
                            .iter()
                            .all(|d| d.decision() == pb::Decision::Allow),
                    "a citizen of the store was denied in a batch"
                );
                decisions += r.decisions.len();
                lat.push(t.elapsed().as_micros() as u32);
            }
            anyhow::Ok((decisions, lat))
        }
    })
    .await?;
    let (mut decisions, mut all) = (0, Vec::new());
    for (d, l) in results {
        decisions += d;
        all.extend(l);
    }
    Ok((decisions as f64 / secs, all))
}
