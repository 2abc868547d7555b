//! Consent scoped to zones, sensors, time windows and forms: one node with the street scene (a
//! policy declaring a scope), residents whose grants narrow it at random (seeded), observation
//! contexts inside, outside and partly given, and a small seeded generator to draw them.

use consent_node::clock::Clock;
use consent_node::genesis::Genesis;
use consent_proto::Entry;
use consent_proto::body::{Body, Grant, Policy};
use consent_proto::entry::Author;
use consent_proto::fixtures::{self, DAY, Scene, T0};
use consent_proto::h3::Cell;
use consent_proto::pb;
use consent_proto::scope::{FormSpec, GrantScope, PolicyScope, TimeWindow, local_time};
use consent_proto::vocab::{
    CategorySet, DataCategory, Form, Purpose, PurposeSet, Role, SensorKind, SensorKindSet,
};

use crate::harness::{TestNode, fixture_genesis, submit_ok};

/// One minute, ms.
pub const MINUTE: u64 = 60_000;
/// One hour, ms.
pub const HOUR: u64 = 60 * MINUTE;

/// A valid H3 cell far from the street scene (the design's worked example, resolution 10): in no
/// zone of it.
pub const FAR_CELL: u64 = 0x08a7_54e6_4992_ffff;
/// A non-zero number that is no H3 cell index (mode bits 0).
pub const NOT_A_CELL: u64 = 0x0000_0000_0000_0001;

/// A small seeded generator (splitmix64): the same seed draws the same cases on every machine.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// True `num` times in `den`.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }

    /// One of `items` (not empty).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// Each of `items` with probability 1/2, in their order.
    pub fn subset<T: Copy>(&mut self, items: &[T]) -> Vec<T> {
        items
            .iter()
            .copied()
            .filter(|_| self.chance(1, 2))
            .collect()
    }
}

/// The street scene on one node, with what its policy declares.
pub struct Street {
    /// The node.
    pub node: TestNode,
    /// The street scene (registrar, collector, the street policy), submitted.
    pub scene: Scene,
    /// The street policy's body.
    pub policy: Policy,
    /// What it declares.
    pub scope: PolicyScope,
}

/// A genesis naming the scene's registrar.
pub fn street_genesis(scene: &Scene) -> Genesis {
    let mut genesis = fixture_genesis();
    genesis.registrars = vec![scene.registrar.feed().typed(Role::Registrar).to_string()];
    genesis
}

/// The street policy's body and scope, from the scene's entries.
pub fn street_policy(scene: &Scene) -> (Policy, PolicyScope) {
    let policy = scene
        .entries
        .iter()
        .find(|e| e.id == scene.policy)
        .map(|e| e.body.clone());
    match policy {
        Some(Body::Policy(p)) => {
            let scope = p
                .scope
                .clone()
                .unwrap_or_else(|| panic!("the street policy declares a scope"));
            (p, scope)
        }
        other => panic!("the street scene holds its policy: {other:?}"),
    }
}

/// One node (system clock) with the street scene submitted.
pub async fn street() -> Street {
    street_with_clock(Clock::system()).await
}

/// [`street`] on a node with `clock`.
pub async fn street_with_clock(clock: Clock) -> Street {
    let scene = fixtures::street_scene(T0);
    let node = TestNode::start_with_clock(&street_genesis(&scene), clock).await;
    let mut ledger = node.ledger().await;
    for e in &scene.entries {
        submit_ok(&mut ledger, e).await;
    }
    let (policy, scope) = street_policy(&scene);
    Street {
        node,
        scene,
        policy,
        scope,
    }
}

/// The form a policy's offer is of.
pub fn form_of(spec: &FormSpec) -> Form {
    match spec {
        FormSpec::Raw => Form::Raw,
        FormSpec::Pseudonymised => Form::Pseudonymised,
        FormSpec::Binned { .. } => Form::Binned,
        FormSpec::Aggregated { .. } => Form::Aggregated,
    }
}

/// A context on the wire; zeros (and UNSPECIFIED) are "not given".
pub fn context(
    sensor: u32,
    sensor_kind: SensorKind,
    cell: u64,
    observed_ms: u64,
    form: Form,
) -> pb::ObservationContext {
    pb::ObservationContext {
        sensor,
        sensor_kind: sensor_kind as i32,
        cell,
        observed_ms,
        form: form as i32,
    }
}

/// The first time at or after `from` (on a 15-minute step) that lies in `window`, in the
/// policy's local time.
pub fn time_in(window: &TimeWindow, utc_offset_minutes: i16, from: u64) -> u64 {
    let mut t = from - from % (15 * MINUTE);
    for _ in 0..(8 * 24 * 4) {
        let (weekday, minute) = local_time(t, utc_offset_minutes);
        if window.contains(weekday, minute) {
            return t;
        }
        t += 15 * MINUTE;
    }
    panic!("window {window} holds no time in the week after {from}")
}

/// A context that every dimension of `scope` covers for `purpose` (sensor 1st declared, with its
/// kind, a cell of the first zone, a time in the first window after `T0 + DAY`, the least
/// protective form offered), each part left out when the policy does not declare it.
pub fn full_context(scope: &PolicyScope, purpose: Purpose) -> pb::ObservationContext {
    let sensor = scope.sensors.first().map_or(0, |s| s.id);
    let sensor_kind = scope
        .sensors
        .first()
        .map_or(SensorKind::Unspecified, |s| s.kind);
    let cell = scope
        .zones
        .first()
        .and_then(|z| z.cells.first())
        .map_or(0, |c| c.raw());
    let observed = scope
        .windows
        .first()
        .map_or(T0 + DAY, |w| time_in(w, scope.utc_offset_minutes, T0 + DAY));
    let form = scope
        .offers(purpose)
        .first()
        .map_or(Form::Unspecified, form_of);
    context(sensor, sensor_kind, cell, observed, form)
}

/// A child of `cell` one resolution finer (its digit there set to `digit`, 0..=6), if `cell` is
/// finer than 15 and the result is a cell.
pub fn child(cell: Cell, digit: u64) -> Option<Cell> {
    let r = u64::from(cell.resolution());
    if r >= 15 {
        return None;
    }
    let child_res = r + 1;
    let shift = 3 * (15 - child_res);
    let raw = (cell.raw() & !(0xF << 52)) | (child_res << 52);
    Cell::new((raw & !(7 << shift)) | ((digit & 7) << shift))
}

/// A random narrowing of `policy` for a grant of `purposes` that `GrantScope::within` accepts,
/// or `None` (about one time in four, or when the draw narrows nothing).
pub fn random_narrowing(
    rng: &mut Rng,
    policy: &PolicyScope,
    purposes: PurposeSet,
) -> Option<GrantScope> {
    if rng.chance(1, 4) {
        return None;
    }
    let zone_ids: Vec<u32> = policy.zones.iter().map(|z| z.id).collect();
    let sensor_ids: Vec<u32> = policy.sensors.iter().map(|s| s.id).collect();
    let mut kinds: Vec<SensorKind> = Vec::new();
    for s in &policy.sensors {
        if !kinds.contains(&s.kind) {
            kinds.push(s.kind);
        }
    }
    let zones = if rng.chance(1, 2) {
        rng.subset(&zone_ids)
    } else {
        Vec::new()
    };
    let (sensors, sensor_kinds) = match rng.below(3) {
        0 => (rng.subset(&sensor_ids), SensorKindSet::default()),
        1 => (
            Vec::new(),
            rng.subset(&kinds).into_iter().collect::<SensorKindSet>(),
        ),
        _ => (Vec::new(), SensorKindSet::default()),
    };
    let mut windows = Vec::new();
    for _ in 0..rng.below(3) {
        let w = random_window(rng, policy.windows.as_slice());
        // Each window once (rule 5b).
        if !windows.contains(&w) {
            windows.push(w);
        }
    }
    let mut forms = Vec::new();
    for purpose in purposes.iter() {
        let offers = policy.offers(purpose);
        if !offers.is_empty() && rng.chance(1, 2) {
            forms.push((purpose, form_of(rng.pick(offers))));
        }
    }
    let scope = GrantScope {
        zones,
        sensors,
        sensor_kinds,
        windows,
        forms,
    };
    let narrows = !(scope.zones.is_empty()
        && scope.sensors.is_empty()
        && scope.sensor_kinds.is_empty()
        && scope.windows.is_empty()
        && scope.forms.is_empty());
    if !narrows {
        return None;
    }
    if let Err(e) = scope.within(policy) {
        panic!("a drawn narrowing must lie within its policy: {e} ({scope:?})");
    }
    Some(scope)
}

/// A window inside one of `outer` (any window if there are none): some of its days, a span of
/// its hours.
fn random_window(rng: &mut Rng, outer: &[TimeWindow]) -> TimeWindow {
    let w = if outer.is_empty() {
        TimeWindow {
            days: 0x7f,
            start_minute: 0,
            end_minute: 1440,
        }
    } else {
        *rng.pick(outer)
    };
    let mut days = 0u8;
    while days == 0 {
        days = w.days & (rng.below(128) as u8);
    }
    let span = u64::from(w.end_minute - w.start_minute);
    let start = w.start_minute + rng.below(span) as u16;
    let end = start + 1 + rng.below(u64::from(w.end_minute - start)) as u16;
    TimeWindow {
        days,
        start_minute: start,
        end_minute: end.min(w.end_minute),
    }
}

/// A resident: their feed and the entries to submit (inception, grant, maybe its revocation).
pub struct Resident {
    /// The citizen.
    pub author: Author,
    /// Their grant to the street collector.
    pub grant: Entry,
    /// Inception, grant, and a revocation if drawn, in feed order.
    pub entries: Vec<Entry>,
}

/// A grant to the scene's collector under its policy, narrowed by `scope` (`None`: the whole
/// policy), valid `[valid_from, valid_until)`.
pub fn street_grant(
    scene: &Scene,
    policy: &Policy,
    purposes: PurposeSet,
    categories: CategorySet,
    valid_from: u64,
    valid_until: Option<u64>,
    scope: Option<GrantScope>,
) -> Body {
    Body::Grant(Grant {
        collector: scene.collector.feed(),
        policy: scene.policy,
        purposes,
        categories,
        retention_days: policy.retention_days.min(30),
        valid_from,
        valid_until,
        scope,
        on_behalf: None,
    })
}

/// A resident `label` with a random grant under the street policy (seeded by `rng`): random
/// purposes and categories of the policy, a random narrowing, sometimes a validity that ends or
/// starts later, sometimes revoked.
pub fn random_resident(rng: &mut Rng, street: &Street, label: &str) -> Resident {
    let purposes_all: Vec<Purpose> = street.policy.purposes.iter().collect();
    let categories_all: Vec<DataCategory> = street.policy.categories.iter().collect();
    let mut purposes: PurposeSet = rng.subset(&purposes_all).into_iter().collect();
    if purposes.is_empty() {
        purposes.insert(*rng.pick(&purposes_all));
    }
    let mut categories: CategorySet = rng.subset(&categories_all).into_iter().collect();
    if categories.is_empty() {
        categories.insert(*rng.pick(&categories_all));
    }
    let (valid_from, valid_until) = match rng.below(6) {
        0 => (T0, Some(T0 + 3 * DAY)),
        1 => (T0 + 2 * DAY, None),
        _ => (T0, None),
    };
    let narrowing = random_narrowing(rng, &street.scope, purposes);
    let (mut author, inception) = fixtures::author(Role::Citizen, label, T0);
    let grant = fixtures::append(
        &mut author,
        T0 + DAY,
        street_grant(
            &street.scene,
            &street.policy,
            purposes,
            categories,
            valid_from,
            valid_until,
            narrowing,
        ),
    );
    let mut entries = vec![inception, grant.clone()];
    if rng.chance(1, 8) {
        entries.push(fixtures::append(
            &mut author,
            T0 + 2 * DAY,
            fixtures::revoke(grant.id, false),
        ));
    }
    Resident {
        author,
        grant,
        entries,
    }
}

/// A random context about the street scene: each part absent one time in five; sensors declared
/// or not, named with their kind (the declared one seven times in ten, else any kind, so
/// sometimes the wrong one; none one time in ten, and never without a sensor); cells of a zone,
/// finer, coarser or far away; times over two weeks from `T0` (days and nights, weekdays and
/// weekends, before and after some grants' validity); any form.
pub fn random_context(rng: &mut Rng, scope: &PolicyScope) -> pb::ObservationContext {
    fn absent(rng: &mut Rng) -> bool {
        rng.chance(1, 5)
    }
    let sensor = if absent(rng) {
        0
    } else if rng.chance(1, 8) || scope.sensors.is_empty() {
        99
    } else {
        rng.pick(&scope.sensors).id
    };
    let declared = scope.sensor(sensor).map(|s| s.kind);
    let sensor_kind = if sensor == 0 || rng.chance(1, 10) {
        SensorKind::Unspecified
    } else {
        match declared {
            Some(kind) if rng.chance(7, 10) => kind,
            _ => *rng.pick(SensorKind::ALL),
        }
    };
    let cell = if absent(rng) {
        0
    } else {
        let zone_cells = scope
            .zones
            .iter()
            .flat_map(|z| z.cells.iter().copied())
            .collect::<Vec<_>>();
        if zone_cells.is_empty() {
            FAR_CELL
        } else {
            let c = *rng.pick(&zone_cells);
            match rng.below(5) {
                0 => child(c, rng.below(7)).unwrap_or(c).raw(),
                1 => c
                    .parent(c.resolution().saturating_sub(1 + rng.below(2) as u8))
                    .unwrap_or(c)
                    .raw(),
                2 => FAR_CELL,
                _ => c.raw(),
            }
        }
    };
    let observed_ms = if absent(rng) {
        0
    } else {
        T0 + rng.below(14 * 24 * 4) * 15 * MINUTE + rng.below(15) * MINUTE
    };
    let form = if absent(rng) {
        Form::Unspecified
    } else {
        *rng.pick(Form::ALL)
    };
    context(sensor, sensor_kind, cell, observed_ms, form)
}
