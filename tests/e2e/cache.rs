//! The SDK's decision cache against a real node: exact through 10,000 grants, revocations and
//! opt-outs interleaved with checks (and a freeze), turning to deny at a grant's expiry with no
//! event in flight, and failing closed when its stream and its node are gone.

use std::time::Duration;

use consent_client::cache::{CacheConfig, DecisionCache, Source, Stale};
use consent_client::collector::Collector;
use consent_proto::entry::Author;
use consent_proto::fixtures::{self, T0};
use consent_proto::ids::EntryId;
use consent_proto::pb::{self, Decision, Reason};
use consent_proto::vocab::{DataCategory as C, Purpose as P, RequestKind, Role};
use consent_tests::eventually;
use consent_tests::harness::{TestNode, citizen_granting, fixture_genesis, submit_ok};

const WAIT: Duration = Duration::from_secs(30);
const PURPOSES: [P; 3] = [P::ServiceProvision, P::Research, P::ThirdPartySharing];
const CATEGORIES: [C; 2] = [C::Location, C::Vehicle];

/// A small deterministic generator (splitmix64): the same run every time.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A node with the fixture scene, a session, and a cache following the collector's stream (and
/// the task that follows it).
struct Setup {
    node: TestNode,
    scene: fixtures::Scene,
    cache: DecisionCache,
    asker: Collector,
    follower: tokio::task::JoinHandle<()>,
}

async fn setup(config: CacheConfig) -> Setup {
    let node = TestNode::start(&fixture_genesis()).await;
    let scene = fixtures::scene(T0);
    let mut ledger = node.ledger().await;
    for e in &scene.entries {
        submit_ok(&mut ledger, e).await;
    }
    let me = &scene.collector;
    let url = node.url();
    let connect = || Collector::connect(&url, me.key().clone(), me.feed());
    let watcher = connect().await.expect("session");
    let asker = connect().await.expect("session");
    let cache = DecisionCache::new(me.feed(), config);
    let follower = cache.follow(watcher);
    let size = node.status().await.entries;
    assert!(cache.reached(size, WAIT).await, "cache caught up");
    Setup {
        node,
        scene,
        cache,
        asker,
        follower,
    }
}

/// Compares the cache with the node's CheckBatch for `queries` at one time.
async fn compare(
    cache: &DecisionCache,
    asker: &mut Collector,
    queries: &[(consent_proto::FeedId, P, C)],
) -> usize {
    let at = consent_client::time::now_ms();
    let requests = queries
        .iter()
        .map(|&(subject, purpose, category)| pb::CheckRequest {
            at_ms: at,
            ..asker.request(subject, purpose, category)
        })
        .collect();
    let node = asker.check_batch(requests).await.expect("node answers");
    let mut allows = 0;
    for (&(subject, purpose, category), n) in queries.iter().zip(&node) {
        let c = cache
            .check_at(subject, purpose, category, at)
            .expect("cache is fresh");
        let grant = n.grant.as_ref().try_into().ok().map(EntryId);
        assert_eq!(
            (c.decision, c.reason, c.grant),
            (n.decision(), n.reason(), grant),
            "{subject:?} {purpose:?} {category:?} at {at}"
        );
        allows += usize::from(c.decision == Decision::Allow);
    }
    allows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_stays_exact_through_10000_grants_and_revocations_interleaved_with_checks() {
    let Setup {
        node,
        scene,
        cache,
        mut asker,
        ..
    } = setup(CacheConfig::default()).await;
    let me = scene.collector.feed();
    let mut ledger = node.ledger().await;
    let now = consent_client::time::now_ms();
    let t = now - 60_000;
    // Each citizen, its grants not yet revoked, and its latest entry.
    let mut citizens: Vec<(Author, Vec<EntryId>, Option<consent_proto::Entry>)> = Vec::new();
    let mut incepts = Vec::new();
    for i in 0..100 {
        let (author, e) = fixtures::author(Role::Citizen, &format!("citizen-{i}"), t);
        incepts.push(e.to_signed());
        citizens.push((author, Vec::new(), None));
    }
    ledger
        .submit_batch(pb::SubmitBatchRequest { entries: incepts })
        .await
        .expect("citizens");

    let mut rng = Rng(42);
    let (mut written, mut checked, mut allows) = (0usize, 0usize, 0usize);
    while written < 10_000 {
        let mut batch = Vec::new();
        for _ in 0..250 {
            let (author, live, last) = &mut citizens[rng.below(100)];
            let roll = rng.below(100);
            let body = if roll < 35 && !live.is_empty() {
                let grant = live.swap_remove(rng.below(live.len()));
                fixtures::revoke(grant, rng.below(2) == 0)
            } else if roll < 40 {
                fixtures::request(me, RequestKind::OptOutSale)
            } else {
                let mut purposes: Vec<P> =
                    PURPOSES.into_iter().filter(|_| rng.below(2) == 0).collect();
                let mut categories: Vec<C> = CATEGORIES
                    .into_iter()
                    .filter(|_| rng.below(3) > 0)
                    .collect();
                if purposes.is_empty() {
                    purposes.push(PURPOSES[rng.below(3)]);
                }
                if categories.is_empty() {
                    categories.push(CATEGORIES[rng.below(2)]);
                }
                // Some grants run out while the test runs, some start in the future.
                let until = (roll >= 90).then(|| now + 1_000 + rng.below(20_000) as u64);
                let from = if roll == 89 { now + 3_600_000 } else { T0 };
                fixtures::grant(me, scene.policy, &purposes, &categories, from, until)
            };
            let is_grant = matches!(body, consent_proto::body::Body::Grant(_));
            let entry = fixtures::append(author, t, body);
            if is_grant {
                live.push(entry.id);
            }
            batch.push(entry.to_signed());
            *last = Some(entry);
        }
        written += batch.len();
        let results = ledger
            .submit_batch(pb::SubmitBatchRequest { entries: batch })
            .await
            .expect("batch")
            .into_inner()
            .results;
        assert!(
            results.iter().all(|r| r.error_code == 0),
            "every entry accepted"
        );
        let size = node.status().await.entries;
        assert!(cache.reached(size, WAIT).await, "cache reached {size}");
        let queries: Vec<_> = (0..250)
            .map(|_| {
                (
                    citizens[rng.below(100)].0.feed(),
                    PURPOSES[rng.below(3)],
                    CATEGORIES[rng.below(2)],
                )
            })
            .collect();
        allows += compare(&cache, &mut asker, &queries).await;
        checked += queries.len();
    }
    assert!(written >= 10_000 && checked >= 10_000);
    assert!(
        allows > 1_000 && allows < checked - 1_000,
        "a mix of answers: {allows} allows of {checked}"
    );

    // An equivocation freezes a citizen: the cache learns it from the stream, like the node.
    let (victim, _, head) = citizens
        .iter()
        .find(|(_, live, _)| !live.is_empty())
        .expect("a citizen with a grant");
    let head = head.as_ref().expect("a latest entry");
    let fork = consent_proto::Entry::sign(
        Some(victim.feed()),
        head.seq,
        head.prev,
        t,
        &fixtures::grant(
            me,
            scene.policy,
            &[P::Research],
            &[C::Vehicle],
            T0 + 1,
            None,
        ),
        victim.key(),
    )
    .expect("valid");
    let refused = ledger
        .submit(pb::SubmitRequest {
            entry: Some(fork.to_signed()),
        })
        .await
        .expect_err("equivocation");
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    eventually(WAIT, "the cache sees the freeze", || async {
        let c = cache.check(victim.feed(), P::Research, C::Location).ok()?;
        (c.reason == Reason::SubjectFrozen).then_some(())
    })
    .await;
    let queries: Vec<_> = citizens
        .iter()
        .flat_map(|(a, _, _)| PURPOSES.map(|p| (a.feed(), p, C::Location)))
        .collect();
    compare(&cache, &mut asker, &queries).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_expires_in_the_cache_with_no_event_in_flight() {
    let config = CacheConfig {
        max_stream_age: Duration::from_secs(120),
        ..CacheConfig::default()
    };
    let Setup {
        node,
        scene,
        cache,
        follower: task,
        ..
    } = setup(config).await;
    let me = &scene.collector;
    let mut ledger = node.ledger().await;
    let now = consent_client::time::now_ms();
    let until = now + 1_500;
    let (mut alice, a0) = fixtures::author(Role::Citizen, "alice", now - 1_000);
    let grant = fixtures::append(
        &mut alice,
        now - 1_000,
        fixtures::grant(
            me.feed(),
            scene.policy,
            &[P::Research],
            &[C::Location],
            T0,
            Some(until),
        ),
    );
    submit_ok(&mut ledger, &a0).await;
    submit_ok(&mut ledger, &grant).await;
    let size = node.status().await.entries;
    assert!(cache.reached(size, WAIT).await);
    // From here no event can reach the cache.
    task.abort();
    let _ = task.await;
    let position = cache.position();
    let first = cache
        .check(alice.feed(), P::Research, C::Location)
        .expect("fresh");
    assert_eq!(first.decision, Decision::Allow);
    let denied_at = eventually(WAIT, "the grant expires in the cache", || async {
        let c = cache.check(alice.feed(), P::Research, C::Location).ok()?;
        (c.decision == Decision::Deny).then(|| (c.reason, consent_client::time::now_ms()))
    })
    .await;
    assert_eq!(denied_at.0, Reason::Expired);
    assert!(denied_at.1 >= until, "never allowed past its expiry");
    assert_eq!(cache.position(), position, "no event applied");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_cache_asks_the_node_and_denies_when_the_node_is_gone_too() {
    let Setup {
        mut node,
        scene,
        cache,
        mut asker,
        ..
    } = setup(CacheConfig::default()).await;
    let now = consent_client::time::now_ms();
    let (alice, a0, grant) = citizen_granting(&scene, "alice", now, now, P::Research);
    let mut ledger = node.ledger().await;
    submit_ok(&mut ledger, &a0).await;
    submit_ok(&mut ledger, &grant).await;
    let size = node.status().await.entries;
    assert!(cache.reached(size, WAIT).await);
    let answer = cache
        .check_or_ask(&mut asker, alice.feed(), P::Research, C::Location)
        .await;
    assert!(answer.allowed());
    assert!(matches!(answer.source, Source::Cache { .. }));

    // A cache that has not caught up asks the node.
    let fresh = DecisionCache::new(scene.collector.feed(), CacheConfig::default());
    let answer = fresh
        .check_or_ask(&mut asker, alice.feed(), P::Research, C::Location)
        .await;
    assert!(answer.allowed());
    assert_eq!(
        answer.source,
        Source::Node {
            stale: Stale::NotLive
        }
    );

    // The node goes away: the stream ends, the cache stops answering, and checks deny.
    node.stop().await;
    eventually(WAIT, "the cache notices", || async {
        cache
            .check(alice.feed(), P::Research, C::Location)
            .is_err()
            .then_some(())
    })
    .await;
    let answer = cache
        .check_or_ask(&mut asker, alice.feed(), P::Research, C::Location)
        .await;
    assert!(!answer.allowed());
    assert_eq!(answer.reason, Reason::NodeNotFresh);
    assert!(matches!(answer.source, Source::FailedClosed(_)));
}
