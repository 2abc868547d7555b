//! The SDK's decision cache and a real node decide scoped checks alike: the street scene, 40
//! residents with seeded random grant scopes (and validities), 10,000 seeded random observation
//! contexts asked of both (the cache's `check_with` against the node's `CheckBatch`: decision,
//! reason, grant named, required form); then again after revocations, and after the node's
//! clock passed some grants' expiry. Each kind of answer is reached (every scope reason, allow,
//! revoked, expired), so agreement means something.

use std::collections::BTreeMap;
use std::time::Duration;

use consent_client::cache::{CacheConfig, DecisionCache};
use consent_client::collector::Collector;
use consent_node::clock::Clock;
use consent_proto::body::{Body, Policy};
use consent_proto::entry::Author;
use consent_proto::fixtures::{self, T0};
use consent_proto::h3::Cell;
use consent_proto::ids::{EntryId, FeedId};
use consent_proto::pb::{self, Reason};
use consent_proto::scope::{Context, GrantScope, PolicyScope, TimeWindow};
use consent_proto::vocab::{DataCategory, Form, Purpose, Role, SensorKind};
use consent_tests::harness::{TestNode, fixture_genesis, submit_ok};

const WAIT: Duration = Duration::from_secs(30);
const HOUR: u64 = 3_600_000;
const DAY: u64 = 86_400_000;

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
        (self.next() % n.max(1) as u64) as usize
    }

    /// True with probability `percent` / 100.
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

/// The child of `cell` one resolution finer, with `digit` (0..=6) as its new digit; `None` at
/// resolution 15 or for a deleted pentagon child.
fn child(cell: Cell, digit: u64) -> Option<Cell> {
    let r = u64::from(cell.resolution());
    if r >= 15 {
        return None;
    }
    let c = r + 1;
    let shift = 3 * (15 - c);
    let raw = (cell.raw() & !(0xF << 52)) | (c << 52);
    Cell::new((raw & !(7 << shift)) | ((digit & 7) << shift))
}

/// A resident: the wallet's author, and its grants still in force.
struct Resident {
    author: Author,
    grants: Vec<EntryId>,
}

/// One question asked of both.
#[derive(Debug, Clone, Copy)]
struct Question {
    subject: FeedId,
    purpose: Purpose,
    category: DataCategory,
    context: Context,
}

/// The street: the node (its clock moved by hand), the scene, the policy, a cache following the
/// collector's stream, and a session to ask the node.
struct Street {
    node: TestNode,
    clock: Clock,
    scene: fixtures::Scene,
    policy: Policy,
    cache: DecisionCache,
    asker: Collector,
}

impl Street {
    fn scope(&self) -> &PolicyScope {
        self.policy
            .scope
            .as_ref()
            .expect("the street policy is scoped")
    }

    /// Waits until the cache reflects everything the node holds.
    async fn caught_up(&self) {
        let size = self.node.status().await.entries;
        assert!(
            self.cache.reached(size, WAIT).await,
            "the cache reached the node's position {size}"
        );
    }
}

async fn street() -> Street {
    let now = Clock::system().now_ms();
    let clock = Clock::manual(now);
    let scene = fixtures::street_scene(T0);
    let mut genesis = fixture_genesis();
    genesis.registrars = vec![scene.registrar.feed().typed(Role::Registrar).to_string()];
    let node = TestNode::start_with_clock(&genesis, clock.clone()).await;
    let mut ledger = node.ledger().await;
    for e in &scene.entries {
        submit_ok(&mut ledger, e).await;
    }
    let policy = scene
        .entries
        .iter()
        .find_map(|e| match &e.body {
            Body::Policy(p) if e.id == scene.policy => Some(p.clone()),
            _ => None,
        })
        .expect("the scene's policy");
    let me = &scene.collector;
    let url = node.url();
    let connect = || Collector::connect(&url, me.key().clone(), me.feed());
    let watcher = connect().await.expect("session");
    let asker = connect().await.expect("session");
    // Generous: the comparison must not fail because a loaded machine delayed a heartbeat.
    let config = CacheConfig {
        max_stream_age: Duration::from_secs(60),
        ..CacheConfig::default()
    };
    let cache = DecisionCache::new(me.feed(), config);
    // The task ends when the cache is dropped.
    let _follower = cache.follow(watcher);
    let street = Street {
        node,
        clock,
        scene,
        policy,
        cache,
        asker,
    };
    street.caught_up().await;
    street
}

/// A random narrowing that the policy accepts (`None`: the whole policy).
fn random_scope(rng: &mut Rng, scope: &PolicyScope, purposes: &[Purpose]) -> Option<GrantScope> {
    if rng.chance(25) {
        return None;
    }
    let mut g = GrantScope::default();
    if rng.chance(50) {
        g.zones = scope
            .zones
            .iter()
            .map(|z| z.id)
            .filter(|_| rng.chance(50))
            .collect();
    }
    if rng.chance(35) {
        g.sensors = scope
            .sensors
            .iter()
            .map(|s| s.id)
            .filter(|_| rng.chance(50))
            .collect();
    } else if rng.chance(35) {
        for s in &scope.sensors {
            if rng.chance(50) {
                g.sensor_kinds.insert(s.kind);
            }
        }
    }
    if rng.chance(35) {
        let outer = scope.windows.first().copied().unwrap_or(TimeWindow {
            days: 0x7f,
            start_minute: 0,
            end_minute: 1_440,
        });
        let days = outer.days & (1 + rng.below(127) as u8);
        let start = outer.start_minute
            + rng.below(usize::from(outer.end_minute - outer.start_minute)) as u16;
        let end = start + 1 + rng.below(usize::from(outer.end_minute - start)) as u16;
        if let Some(w) = TimeWindow::new(days, start, end) {
            g.windows.push(w);
        }
    }
    if rng.chance(50) {
        for &p in purposes {
            let offers = scope.offers(p);
            if !offers.is_empty() && rng.chance(50) {
                g.forms.push((p, offers[rng.below(offers.len())].form()));
            }
        }
    }
    (!g.is_empty() && g.within(scope).is_ok()).then_some(g)
}

/// 40 residents: a few with no grant, most with one or two grants of random purposes,
/// categories, scopes and validities (some ending a minute from `now`).
async fn residents(street: &Street, rng: &mut Rng, now: u64) -> Vec<Resident> {
    let mut ledger = street.node.ledger().await;
    let me = street.scene.collector.feed();
    let purposes: Vec<Purpose> = street.policy.purposes.iter().collect();
    let categories: Vec<DataCategory> = street.policy.categories.iter().collect();
    let signed = now - HOUR;
    let mut out = Vec::new();
    for i in 0..40 {
        let (mut author, inception) = fixtures::author(Role::Citizen, &format!("resident-{i}"), T0);
        submit_ok(&mut ledger, &inception).await;
        let mut grants = Vec::new();
        let count = if i % 10 == 0 { 0 } else { 1 + rng.below(2) };
        for _ in 0..count {
            let mut chosen: Vec<Purpose> = purposes
                .iter()
                .copied()
                .filter(|_| rng.chance(50))
                .collect();
            if chosen.is_empty() {
                chosen.push(rng.pick(&purposes));
            }
            let mut kinds: Vec<DataCategory> = categories
                .iter()
                .copied()
                .filter(|_| rng.chance(60))
                .collect();
            if kinds.is_empty() {
                kinds.push(rng.pick(&categories));
            }
            let valid_from = if rng.chance(20) { now - DAY } else { T0 };
            let valid_until = if rng.chance(25) {
                Some(now + 60_000)
            } else {
                None
            };
            let mut body = fixtures::grant(
                me,
                street.scene.policy,
                &chosen,
                &kinds,
                valid_from,
                valid_until,
            );
            if let Body::Grant(g) = &mut body {
                g.scope = random_scope(rng, street.scope(), &chosen);
            }
            let grant = fixtures::append(&mut author, signed, body);
            submit_ok(&mut ledger, &grant).await;
            grants.push(grant.id);
        }
        out.push(Resident { author, grants });
    }
    out
}

/// Cells to observe in: the zones' cells, finer cells inside them, coarser ones (never
/// covered), and one far away.
fn cells(scope: &PolicyScope) -> (Vec<Cell>, Vec<Cell>, Vec<Cell>, Cell) {
    let inside: Vec<Cell> = scope
        .zones
        .iter()
        .flat_map(|z| z.cells.iter().copied())
        .collect();
    let finer: Vec<Cell> = inside
        .iter()
        .flat_map(|c| (0..7).filter_map(|d| child(*c, d)))
        .collect();
    let coarser: Vec<Cell> = inside
        .iter()
        .filter_map(|c| c.parent(c.resolution().saturating_sub(1)))
        .collect();
    // Base cell 58 (a pentagon, in the Indian Ocean), resolution 10.
    let far = Cell::new(0x08a7_54e6_4992_ffff).expect("a cell");
    (inside, finer, coarser, far)
}

/// `n` random questions about `residents` (80% about a purpose their grants cover).
fn questions(
    rng: &mut Rng,
    street: &Street,
    residents: &[Resident],
    now: u64,
    n: usize,
) -> Vec<Question> {
    let scope = street.scope();
    let (inside, finer, coarser, far) = cells(scope);
    let purposes: Vec<Purpose> = street.policy.purposes.iter().collect();
    let categories: Vec<DataCategory> = street.policy.categories.iter().collect();
    let sensors: Vec<u32> = scope.sensors.iter().map(|s| s.id).collect();
    let forms = [
        Form::Raw,
        Form::Pseudonymised,
        Form::Binned,
        Form::Aggregated,
    ];
    (0..n)
        .map(|_| {
            let resident = &residents[rng.below(residents.len())];
            let purpose = if rng.chance(95) {
                rng.pick(&purposes)
            } else {
                Purpose::Marketing
            };
            let sensor = match rng.below(10) {
                0 | 1 => None,
                2 => Some(99),
                _ => Some(rng.pick(&sensors)),
            };
            // The sensor's kind: the one the policy gives it, else (or one time in five) any
            // kind, so sometimes the wrong one; none one time in ten, and never without a sensor.
            let sensor_kind = sensor.and_then(|id| match rng.below(10) {
                0 => None,
                1 | 2 => Some(rng.pick(SensorKind::ALL)),
                _ => Some(scope.sensor(id).map_or(SensorKind::Camera, |s| s.kind)),
            });
            let cell = match rng.below(20) {
                0..=3 => None,
                4..=11 => Some(rng.pick(&inside)),
                12..=15 => finer.get(rng.below(finer.len().max(1))).copied(),
                16..=17 => coarser.get(rng.below(coarser.len().max(1))).copied(),
                _ => Some(far),
            };
            // Any minute of the last three days and the next one: nights, weekdays, weekends,
            // before some grants began and after some end.
            let observed_ms =
                (!rng.chance(20)).then(|| now - 3 * DAY + rng.below(4 * 24 * 60) as u64 * 60_000);
            let form = (!rng.chance(20)).then(|| rng.pick(&forms));
            Question {
                subject: resident.author.feed(),
                purpose,
                category: rng.pick(&categories),
                context: Context {
                    sensor,
                    sensor_kind,
                    cell,
                    observed_ms,
                    form,
                },
            }
        })
        .collect()
}

/// Asks the node (in batches of 1,000) and the cache the same `questions` at `at`, requires the
/// same answers, and counts them by reason.
async fn agree(street: &mut Street, questions: &[Question], at: u64) -> BTreeMap<i32, usize> {
    let mut reasons = BTreeMap::new();
    for batch in questions.chunks(1_000) {
        let requests = batch
            .iter()
            .map(|q| pb::CheckRequest {
                at_ms: at,
                ..street
                    .asker
                    .request_with(q.subject, q.purpose, q.category, &q.context)
            })
            .collect();
        let answers = street
            .asker
            .check_batch(requests)
            .await
            .expect("the node answers");
        assert_eq!(answers.len(), batch.len());
        for (q, n) in batch.iter().zip(&answers) {
            let c = street
                .cache
                .check_with(q.subject, q.purpose, q.category, &q.context, at)
                .expect("the cache is fresh");
            let grant = n.grant.as_ref().try_into().ok().map(EntryId);
            assert_eq!(
                (c.decision, c.reason, c.grant, c.required_form),
                (
                    n.decision(),
                    n.reason(),
                    grant,
                    Form::from_wire(n.required_form)
                ),
                "cache vs node for {q:?} at {at}"
            );
            *reasons.entry(c.reason as i32).or_default() += 1;
        }
    }
    reasons
}

fn count(reasons: &BTreeMap<i32, usize>, reason: Reason) -> usize {
    reasons.get(&(reason as i32)).copied().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_cache_and_the_node_agree_on_10000_scoped_checks_and_after_revocation_and_expiry() {
    let mut street = street().await;
    let now = street.clock.now_ms();
    let mut rng = Rng(20);
    let mut residents = residents(&street, &mut rng, now).await;
    street.caught_up().await;

    let asked = questions(&mut rng, &street, &residents, now, 10_000);
    let reasons = agree(&mut street, &asked, now).await;
    for reason in [
        Reason::Granted,
        Reason::PurposeNotCovered,
        Reason::ContextMissingSensor,
        Reason::ContextMissingCell,
        Reason::ContextMissingTime,
        Reason::ContextMissingForm,
        Reason::SensorNotCovered,
        Reason::ZoneNotCovered,
        Reason::TimeNotCovered,
        Reason::FormNotCovered,
    ] {
        assert!(
            count(&reasons, reason) > 0,
            "the random cases reach {reason:?}: {reasons:?}"
        );
    }
    assert!(
        count(&reasons, Reason::Granted) >= 50,
        "enough allows to mean something: {reasons:?}"
    );

    // A quarter of the residents revoke a grant: both see it at once.
    let mut ledger = street.node.ledger().await;
    let mut revoked = 0;
    for r in residents
        .iter_mut()
        .filter(|r| !r.grants.is_empty())
        .step_by(4)
    {
        let grant = r.grants.remove(0);
        let revoke = fixtures::append(&mut r.author, now - HOUR / 2, fixtures::revoke(grant, true));
        submit_ok(&mut ledger, &revoke).await;
        revoked += 1;
    }
    assert!(revoked >= 5);
    street.caught_up().await;
    let asked = questions(&mut rng, &street, &residents, now, 2_000);
    let reasons = agree(&mut street, &asked, now).await;
    assert!(count(&reasons, Reason::Revoked) > 0, "{reasons:?}");

    // The node's clock passes the end of the grants that ran for a minute: cache and node agree
    // at the new time (the cache needs no event for an expiry).
    assert!(street.clock.advance(90_000));
    let later = street.clock.now_ms();
    let asked = questions(&mut rng, &street, &residents, later, 2_000);
    let reasons = agree(&mut street, &asked, later).await;
    assert!(count(&reasons, Reason::Expired) > 0, "{reasons:?}");
}
