//! Deterministic keys and sample entries for tests and demos (feature `fixtures`).

use crate::body::{
    Accreditation, Body, Consultation, ConsultationOutcome, ConsultationResponse, Delegation,
    Endorsement, Grant, OnBehalf, Policy, Position, Request, Revoke, Stance, Suspension,
    Undelegation,
};
use crate::entry::{Author, Entry};
use crate::h3::Cell;
use crate::ids::{Digest, EntryId, FeedId};
use crate::keys::SecretKey;
use crate::scope::{
    EVERY_DAY, FormSpec, GrantScope, PolicyScope, PurposeForms, Sensor, TimeWindow, Zone,
};
use crate::vocab::{
    CategorySet, ConsultationResult, DataCategory, DelegatedPower, DelegationKind, ObjectionReason,
    ObjectionSet, PowerSet, Purpose, PurposeSet, RequestKind, Role, SensorKind,
};

/// A fixed time in the past (2025-06-15T16:26:40Z) that entries are dated from.
pub const T0: u64 = 1_750_004_800_000;
/// One day in ms.
pub const DAY: u64 = 86_400_000;

/// A deterministic secret key derived from a label.
pub fn key(label: &str) -> SecretKey {
    SecretKey::from_seed(blake3::hash(label.as_bytes()).as_bytes())
}

/// Creates a feed whose keys derive from `label`.
pub fn author(role: Role, label: &str, time_ms: u64) -> (Author, Entry) {
    match Author::incept(
        role,
        key(&format!("{label}/0")),
        key(&format!("{label}/1")),
        time_ms,
    ) {
        Ok(pair) => pair,
        Err(e) => panic!("fixture inception must be valid: {e}"),
    }
}

/// Appends to a fixture feed, panicking on a fixture bug.
pub fn append(author: &mut Author, time_ms: u64, body: Body) -> Entry {
    match author.append(time_ms, body) {
        Ok(e) => e,
        Err(e) => panic!("fixture entry must be structurally valid: {e}"),
    }
}

/// A policy declaring service provision, research and third-party sharing, for location and mobility data.
pub fn policy(version: u32) -> Body {
    Body::Policy(Policy {
        version,
        name: "Central Parking - street parking".into(),
        purposes: [
            Purpose::ServiceProvision,
            Purpose::Research,
            Purpose::ThirdPartySharing,
        ]
        .into_iter()
        .collect(),
        categories: [
            DataCategory::Location,
            DataCategory::Mobility,
            DataCategory::Vehicle,
        ]
        .into_iter()
        .collect(),
        retention_days: 365,
        recipients: vec!["City transport department".into()],
        jurisdiction: "EU/GDPR".into(),
        document_digest: Digest(*blake3::hash(b"policy document").as_bytes()),
        document_url: "https://parking.example/privacy".into(),
        contact: "dpo@parking.example".into(),
        scope: None,
        consultation: None,
    })
}

/// [`policy`] `version` that also asks consent for marketing (a widening), put to consultation
/// until `closes_ms`: a draft.
pub fn draft_policy(version: u32, closes_ms: u64) -> Body {
    let Body::Policy(mut p) = policy(version) else {
        unreachable!("policy() is a policy")
    };
    p.purposes.insert(Purpose::Marketing);
    p.consultation = Some(Consultation { closes_ms });
    Body::Policy(p)
}

/// A stance on `draft`: support when `object` is empty, else an objection for those reasons.
pub fn stance(draft: EntryId, object: &[ObjectionReason]) -> Body {
    Body::Stance(Stance {
        draft,
        position: if object.is_empty() {
            Position::Support
        } else {
            Position::Object(object.iter().copied().collect::<ObjectionSet>())
        },
        details_digest: None,
    })
}

/// A collector's response to `reason` in its consultation `draft`.
pub fn response(draft: EntryId, reason: ObjectionReason, text: &str) -> Body {
    Body::Response(ConsultationResponse {
        draft,
        reason,
        text: text.into(),
        document_digest: None,
    })
}

/// A registrar's outcome of `draft`, relying on `responses`.
pub fn outcome(draft: EntryId, approved: bool, text: &str, responses: &[EntryId]) -> Body {
    Body::Outcome(ConsultationOutcome {
        draft,
        result: if approved {
            ConsultationResult::Approved
        } else {
            ConsultationResult::ChangesRequired
        },
        text: text.into(),
        responses: responses.to_vec(),
    })
}

/// A grant of `purposes` x `categories` to `collector` under `policy`.
pub fn grant(
    collector: FeedId,
    policy: EntryId,
    purposes: &[Purpose],
    categories: &[DataCategory],
    valid_from: u64,
    valid_until: Option<u64>,
) -> Body {
    Body::Grant(Grant {
        collector,
        policy,
        purposes: purposes.iter().copied().collect::<PurposeSet>(),
        categories: categories.iter().copied().collect::<CategorySet>(),
        retention_days: 30,
        valid_from,
        valid_until,
        scope: None,
        on_behalf: None,
    })
}

/// A revocation.
pub fn revoke(grant: EntryId, erase: bool) -> Body {
    Body::Revoke(Revoke {
        grant,
        erase,
        on_behalf: None,
    })
}

/// A request.
pub fn request(collector: FeedId, kind: RequestKind) -> Body {
    Body::Request(Request {
        collector,
        kind,
        details_digest: None,
        on_behalf: None,
    })
}

/// An accreditation.
pub fn accredit(collector: FeedId, valid_until: u64) -> Body {
    Body::Accreditation(Accreditation {
        collector,
        valid_until,
    })
}

/// A suspension.
pub fn suspend(collector: FeedId) -> Body {
    Body::Suspension(Suspension {
        collector,
        reason: "audit found violations".into(),
    })
}

/// A citizen `label` incepted at `T0`, with a grant signed at `T0 + DAY` to the scene's collector
/// for `purpose` over location data, valid from `T0` until revoked: `(author, inception, grant)`.
pub fn citizen_granting(scene: &Scene, label: &str, purpose: Purpose) -> (Author, Entry, Entry) {
    citizen_granting_at(scene, label, T0, T0 + DAY, purpose)
}

/// [`citizen_granting`] with the inception and the grant signed at the times given.
pub fn citizen_granting_at(
    scene: &Scene,
    label: &str,
    incepted_ms: u64,
    granted_ms: u64,
    purpose: Purpose,
) -> (Author, Entry, Entry) {
    let (mut citizen, inception) = author(Role::Citizen, label, incepted_ms);
    let g = append(&mut citizen, granted_ms, location_grant(scene, purpose));
    (citizen, inception, g)
}

/// A grant of location data for `purpose` to the scene's collector under its policy, valid from
/// `T0` until revoked.
pub fn location_grant(scene: &Scene, purpose: Purpose) -> Body {
    grant(
        scene.collector.feed(),
        scene.policy,
        &[purpose],
        &[DataCategory::Location],
        T0,
        None,
    )
}

/// A small network: one registrar that accredits one collector, which has published a policy.
pub struct Scene {
    /// The registrar.
    pub registrar: Author,
    /// The collector.
    pub collector: Author,
    /// The collector's policy entry.
    pub policy: EntryId,
    /// Every entry, in an order a node accepts.
    pub entries: Vec<Entry>,
}

/// How long the scene's accreditation runs: long enough that tests run at today's date still see it.
pub const ACCREDITATION_DAYS: u64 = 20 * 365;

/// Builds [`Scene`] at time `t` with an accreditation valid for [`ACCREDITATION_DAYS`].
pub fn scene(t: u64) -> Scene {
    let (mut registrar, reg0) = author(Role::Registrar, "registrar", t);
    let (mut collector, col0) = author(Role::Collector, "collector", t);
    let pol = append(&mut collector, t, policy(1));
    let acc = append(
        &mut registrar,
        t,
        accredit(collector.feed(), t + ACCREDITATION_DAYS * DAY),
    );
    Scene {
        policy: pol.id,
        entries: vec![reg0, col0, pol, acc],
        registrar,
        collector,
    }
}

// ---- Delegation: an assistant, and two guardians of a child ----

/// `on_behalf` naming `person` and its `delegation`.
pub fn on_behalf(person: FeedId, delegation: EntryId) -> OnBehalf {
    OnBehalf { person, delegation }
}

/// A delegation to `delegate` of `powers`, limited to `collectors` (sorted here) and `purposes`
/// (none: any), until `valid_until`.
pub fn delegation(
    delegate: FeedId,
    kind: DelegationKind,
    powers: &[DelegatedPower],
    collectors: &[FeedId],
    purposes: &[Purpose],
    valid_until: Option<u64>,
    co_signer: Option<FeedId>,
) -> Body {
    let mut collectors = collectors.to_vec();
    collectors.sort();
    collectors.dedup();
    Body::Delegation(Delegation {
        delegate,
        powers: powers.iter().copied().collect::<PowerSet>(),
        collectors,
        purposes: purposes.iter().copied().collect::<PurposeSet>(),
        valid_until,
        kind,
        co_signer,
    })
}

/// An undelegation of `delegation`, void from `void_from_ms` (`None`: the default, five minutes
/// before the entry).
pub fn undelegate(delegation: EntryId, void_from_ms: Option<u64>) -> Body {
    Body::Undelegation(Undelegation {
        delegation,
        void_from_ms,
    })
}

/// An endorsement of `grant` under the endorser's own delegation `on_behalf`.
pub fn endorse(grant: EntryId, on_behalf: OnBehalf) -> Body {
    Body::Endorsement(Endorsement { grant, on_behalf })
}

/// `body` (a grant, revocation or request) signed in `on_behalf`'s name.
pub fn in_name_of(on_behalf: OnBehalf, body: Body) -> Body {
    match body {
        Body::Grant(g) => Body::Grant(Grant {
            on_behalf: Some(on_behalf),
            ..g
        }),
        Body::Revoke(r) => Body::Revoke(Revoke {
            on_behalf: Some(on_behalf),
            ..r
        }),
        Body::Request(r) => Body::Request(Request {
            on_behalf: Some(on_behalf),
            ..r
        }),
        other => panic!(
            "fixture: a {} is not signed in someone's name",
            other.kind()
        ),
    }
}

/// A network with delegations, built by [`delegation_scene`]: [`scene`]'s registrar, collector
/// and policy; a person who made an assistant its delegate; a child whose feed carries two
/// guardian delegations (2 of 2).
pub struct DelegationScene {
    /// The registrar, the collector and its policy.
    pub scene: Scene,
    /// A person (label `person`), incepted at `t`.
    pub person: Author,
    /// The person's assistant's delegate feed (label `delegate`), incepted at `t`.
    pub delegate: Author,
    /// The person's delegation to it, at seq 1, signed at `t + 1 h`: ASSISTANT, GRANT and
    /// REQUEST, for the scene's collector only, any purpose, no end.
    pub delegation: Entry,
    /// A child (label `child`), incepted at `t`.
    pub child: Author,
    /// The first guardian's delegate feed for the child (label `guardian`).
    pub guardian: Author,
    /// The second guardian's (label `co-guardian`).
    pub co_guardian: Author,
    /// The child's seq 1, signed at `t + 1 h`: GUARDIAN to `guardian`, every power, any
    /// collector and purpose, until [`DelegationScene::comes_of_age_ms`], co-signer
    /// `co_guardian`.
    pub guardian_delegation: Entry,
    /// The child's seq 2, likewise to `co_guardian`, co-signer `guardian`.
    pub co_guardian_delegation: Entry,
    /// The child comes of age: UTC midnight 365 days after the day of `t`.
    pub comes_of_age_ms: u64,
    /// Every entry above, the scene's first, in an order a node accepts.
    pub entries: Vec<Entry>,
}

impl DelegationScene {
    /// The collector.
    pub fn collector(&self) -> FeedId {
        self.scene.collector.feed()
    }

    /// The policy entry.
    pub fn policy(&self) -> EntryId {
        self.scene.policy
    }

    /// In the person's name, under the assistant's delegation.
    pub fn for_person(&self) -> OnBehalf {
        on_behalf(self.person.feed(), self.delegation.id)
    }

    /// In the child's name, under the first guardian's delegation.
    pub fn for_child_by_guardian(&self) -> OnBehalf {
        on_behalf(self.child.feed(), self.guardian_delegation.id)
    }

    /// In the child's name, under the second guardian's delegation.
    pub fn for_child_by_co_guardian(&self) -> OnBehalf {
        on_behalf(self.child.feed(), self.co_guardian_delegation.id)
    }

    /// A grant of location data for `purpose` to the scene's collector (valid from `T0`, until
    /// revoked), signed in `on_behalf`'s name.
    pub fn grant(&self, on_behalf: OnBehalf, purpose: Purpose) -> Body {
        in_name_of(on_behalf, location_grant(&self.scene, purpose))
    }
}

/// Builds [`DelegationScene`] at time `t` (see its fields).
pub fn delegation_scene(t: u64) -> DelegationScene {
    let hour = 3_600_000;
    let scene = scene(t);
    let (mut person, p0) = author(Role::Citizen, "person", t);
    let (delegate, d0) = author(Role::Citizen, "delegate", t);
    let (mut child, c0) = author(Role::Citizen, "child", t);
    let (guardian, g0) = author(Role::Citizen, "guardian", t);
    let (co_guardian, k0) = author(Role::Citizen, "co-guardian", t);
    let assistant = append(
        &mut person,
        t + hour,
        delegation(
            delegate.feed(),
            DelegationKind::Assistant,
            &[DelegatedPower::Grant, DelegatedPower::Request],
            &[scene.collector.feed()],
            &[],
            None,
            None,
        ),
    );
    let comes_of_age_ms = t - t % DAY + 365 * DAY;
    let every = [
        DelegatedPower::Grant,
        DelegatedPower::Revoke,
        DelegatedPower::Request,
    ];
    let first = append(
        &mut child,
        t + hour,
        delegation(
            guardian.feed(),
            DelegationKind::Guardian,
            &every,
            &[],
            &[],
            Some(comes_of_age_ms),
            Some(co_guardian.feed()),
        ),
    );
    let second = append(
        &mut child,
        t + hour,
        delegation(
            co_guardian.feed(),
            DelegationKind::Guardian,
            &every,
            &[],
            &[],
            Some(comes_of_age_ms),
            Some(guardian.feed()),
        ),
    );
    let mut entries = scene.entries.clone();
    entries.extend([
        p0,
        d0,
        c0,
        g0,
        k0,
        assistant.clone(),
        first.clone(),
        second.clone(),
    ]);
    DelegationScene {
        scene,
        person,
        delegate,
        delegation: assistant,
        child,
        guardian,
        co_guardian,
        guardian_delegation: first,
        co_guardian_delegation: second,
        comes_of_age_ms,
        entries,
    }
}

// ---- The street: a policy with a scope (zones, sensors, a window, forms) ----

/// The street policy's fixed UTC offset: +01:00 (CET, all year).
pub const STREET_UTC_OFFSET_MINUTES: i16 = 60;

/// Zone 1 of the street policy, "Oudegracht wharf": the resolution-12 H3 cells whose centres lie
/// in the polygon (52.09190 N 5.11935 E, 52.09196 5.11975, 52.09050 5.12060, 52.09043 5.12020),
/// ascending (checked with h3o in `proto/tests/scope.rs`).
pub const WHARF_CELLS: [u64; 21] = [
    0x8c19690822801ff,
    0x8c19690822803ff,
    0x8c19690822809ff,
    0x8c1969082280bff,
    0x8c1969082280dff,
    0x8c19690822811ff,
    0x8c19690822813ff,
    0x8c19690822815ff,
    0x8c19690822817ff,
    0x8c1969082281dff,
    0x8c19690822881ff,
    0x8c19690822883ff,
    0x8c19690822889ff,
    0x8c1969082288bff,
    0x8c1969082288dff,
    0x8c19690822895ff,
    0x8c1969082289dff,
    0x8c196908228c5ff,
    0x8c196908228c7ff,
    0x8c196908228e9ff,
    0x8c196908228ebff,
];

/// Zone 2 of the street policy, "Oudegracht street": the resolution-11 H3 cells whose centres
/// lie in the polygon (52.09360 N 5.11700 E, 52.09380 5.11810, 52.09030 5.12040, 52.09010
/// 5.11930), ascending.
pub const STREET_CELLS: [u64; 19] = [
    0x8b1969082282fff,
    0x8b1969082283fff,
    0x8b1969082286fff,
    0x8b1969082288fff,
    0x8b196908228afff,
    0x8b196908228bfff,
    0x8b196908228efff,
    0x8b1969082294fff,
    0x8b1969082295fff,
    0x8b196908229cfff,
    0x8b196908229dfff,
    0x8b19690822b2fff,
    0x8b19690822b3fff,
    0x8b19690822b6fff,
    0x8b1969082741fff,
    0x8b196908274cfff,
    0x8b196908274dfff,
    0x8b196908276afff,
    0x8b196908276bfff,
];

/// A resolution-13 cell in the wharf (zone 1), not in zone 2: 52.09120 N 5.11998 E.
pub const IN_WHARF: u64 = 0x8d19690822812ff;
/// A resolution-12 cell in the street (zone 2), not in zone 1: 52.09300 N 5.11780 E.
pub const IN_STREET: u64 = 0x8c196908274ddff;
/// A resolution-12 cell outside both zones: 52.09070 N 5.12250 E.
pub const OUTSIDE_STREET: u64 = 0x8c19690822f51ff;

fn cells(raw: &[u64]) -> Vec<Cell> {
    raw.iter()
        .map(|r| match Cell::new(*r) {
            Some(c) => c,
            None => panic!("fixture cell {r:x} must be an H3 cell"),
        })
        .collect()
}

/// The street policy's scope: zones 1 (the wharf, resolution 12) and 2 (the street, 11);
/// sensors 1 a number-plate reader in zone 1, 2 a camera, 3 an air-quality sensor and 4 a Wi-Fi
/// counter in zone 2; every day 06:00-24:00 at +01:00; forms: service provision raw; billing raw
/// or pseudonymised; urban planning binned (1 h, resolution 9) or aggregated (1 h, resolution 8,
/// k 3); environmental monitoring pseudonymised or aggregated (15 min, resolution 9, k 3).
pub fn street_scope() -> PolicyScope {
    let sensor = |id, kind, zone| Sensor {
        id,
        kind,
        zone: Some(zone),
    };
    PolicyScope {
        utc_offset_minutes: STREET_UTC_OFFSET_MINUTES,
        zones: vec![
            Zone {
                id: 1,
                name: "Oudegracht wharf, Stadhuisbrug to Bakkerbrug".into(),
                resolution: 12,
                cells: cells(&WHARF_CELLS),
            },
            Zone {
                id: 2,
                name: "Oudegracht, Gaardbrug to Bakkerbrug".into(),
                resolution: 11,
                cells: cells(&STREET_CELLS),
            },
        ],
        sensors: vec![
            sensor(1, SensorKind::NumberPlateReader, 1),
            sensor(2, SensorKind::Camera, 2),
            sensor(3, SensorKind::AirQuality, 2),
            sensor(4, SensorKind::WifiCounter, 2),
        ],
        windows: vec![TimeWindow {
            days: EVERY_DAY,
            start_minute: 6 * 60,
            end_minute: 24 * 60,
        }],
        forms: vec![
            PurposeForms {
                purpose: Purpose::ServiceProvision,
                offers: vec![FormSpec::Raw],
            },
            PurposeForms {
                purpose: Purpose::UrbanPlanning,
                offers: vec![
                    FormSpec::Binned {
                        interval_s: 3_600,
                        resolution: 9,
                    },
                    FormSpec::Aggregated {
                        interval_s: 3_600,
                        resolution: 8,
                        min_group: 3,
                    },
                ],
            },
            PurposeForms {
                purpose: Purpose::Billing,
                offers: vec![FormSpec::Raw, FormSpec::Pseudonymised],
            },
            PurposeForms {
                purpose: Purpose::EnvironmentalMonitoring,
                offers: vec![
                    FormSpec::Pseudonymised,
                    FormSpec::Aggregated {
                        interval_s: 900,
                        resolution: 9,
                        min_group: 3,
                    },
                ],
            },
        ],
    }
}

/// The street policy (version 1): service provision, billing, urban planning and environmental
/// monitoring of vehicle, location, environmental, device-id and imagery data, with
/// [`street_scope`].
pub fn street_policy() -> Body {
    Body::Policy(Policy {
        version: 1,
        name: "Utrecht city - Oudegracht sensors".into(),
        purposes: [
            Purpose::ServiceProvision,
            Purpose::UrbanPlanning,
            Purpose::Billing,
            Purpose::EnvironmentalMonitoring,
        ]
        .into_iter()
        .collect(),
        categories: [
            DataCategory::Location,
            DataCategory::Vehicle,
            DataCategory::Imagery,
            DataCategory::Environmental,
            DataCategory::DeviceId,
        ]
        .into_iter()
        .collect(),
        retention_days: 365,
        recipients: Vec::new(),
        jurisdiction: "EU/GDPR".into(),
        document_digest: Digest(*blake3::hash(b"street policy document").as_bytes()),
        document_url: "https://sensors.utrecht.example/privacy/oudegracht".into(),
        contact: "privacy@utrecht.example".into(),
        scope: Some(street_scope()),
        consultation: None,
    })
}

/// Like [`scene`], with the street policy ([`street_policy`]) and feeds of their own (labels
/// `street-registrar`, `street-collector`), so both scenes can share a ledger.
pub fn street_scene(t: u64) -> Scene {
    let (mut registrar, reg0) = author(Role::Registrar, "street-registrar", t);
    let (mut collector, col0) = author(Role::Collector, "street-collector", t);
    let pol = append(&mut collector, t, street_policy());
    let acc = append(
        &mut registrar,
        t,
        accredit(collector.feed(), t + ACCREDITATION_DAYS * DAY),
    );
    Scene {
        policy: pol.id,
        entries: vec![reg0, col0, pol, acc],
        registrar,
        collector,
    }
}

/// A grant of `purposes` x `categories` to `collector` under `policy`, narrowed by `scope`
/// (`GrantScope::default()`, which narrows nothing, gives a grant without scope), valid from 0
/// until revoked, retention 30 days.
pub fn scoped_grant(
    collector: FeedId,
    policy: EntryId,
    purposes: &[Purpose],
    categories: &[DataCategory],
    scope: GrantScope,
) -> Body {
    Body::Grant(Grant {
        collector,
        policy,
        purposes: purposes.iter().copied().collect::<PurposeSet>(),
        categories: categories.iter().copied().collect::<CategorySet>(),
        retention_days: 30,
        valid_from: 0,
        valid_until: None,
        scope: (!scope.is_empty()).then_some(scope),
        on_behalf: None,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    /// The wharf's and the street's polygons, (lat, lng) in degrees.
    const WHARF: [(f64, f64); 4] = [
        (52.09190, 5.11935),
        (52.09196, 5.11975),
        (52.09050, 5.12060),
        (52.09043, 5.12020),
    ];
    const STREET: [(f64, f64); 4] = [
        (52.09360, 5.11700),
        (52.09380, 5.11810),
        (52.09030, 5.12040),
        (52.09010, 5.11930),
    ];

    fn h3o_cell(raw: u64) -> h3o::CellIndex {
        match h3o::CellIndex::try_from(raw) {
            Ok(c) => c,
            Err(e) => panic!("{raw:x}: {e}"),
        }
    }

    fn cell_at(lat: f64, lng: f64, res: u8) -> u64 {
        let point = h3o::LatLng::new(lat, lng).expect("a point");
        let res = h3o::Resolution::try_from(res).expect("a resolution");
        u64::from(point.to_cell(res))
    }

    /// Whether the centre of `raw` lies in `polygon` (ray casting on degrees).
    fn centre_inside(polygon: &[(f64, f64)], raw: u64) -> bool {
        let centre = h3o::LatLng::from(h3o_cell(raw));
        let (y, x) = (centre.lat(), centre.lng());
        let mut inside = false;
        let mut j = polygon.len() - 1;
        for (i, &(yi, xi)) in polygon.iter().enumerate() {
            let (yj, xj) = polygon[j];
            if (yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi {
                inside = !inside;
            }
            j = i;
        }
        inside
    }

    /// `cells` are exactly the resolution-`res` cells whose centres lie in `polygon`: each is
    /// inside, and each neighbour not listed is outside. Ascending, of that resolution.
    fn exactly_the_cells_of(polygon: &[(f64, f64)], res: u8, cells: &[u64]) {
        assert!(cells.windows(2).all(|w| w[0] < w[1]), "ascending");
        let set: HashSet<u64> = cells.iter().copied().collect();
        for raw in cells {
            assert_eq!(Cell::new(*raw).map(Cell::resolution), Some(res), "{raw:x}");
            assert!(centre_inside(polygon, *raw), "{raw:x} is inside");
            let ring: Vec<h3o::CellIndex> = h3o_cell(*raw).grid_disk(1);
            for n in ring.into_iter().map(u64::from) {
                assert!(
                    set.contains(&n) || !centre_inside(polygon, n),
                    "{n:x} is inside too"
                );
            }
        }
    }

    #[test]
    fn the_street_cells_are_the_cells_of_their_polygons_by_h3o() {
        exactly_the_cells_of(&WHARF, 12, &WHARF_CELLS);
        exactly_the_cells_of(&STREET, 11, &STREET_CELLS);
        assert_eq!(cell_at(52.09120, 5.11998, 13), IN_WHARF);
        assert_eq!(cell_at(52.09300, 5.11780, 12), IN_STREET);
        assert_eq!(cell_at(52.09070, 5.12250, 12), OUTSIDE_STREET);
        let scope = street_scope();
        let zone = |raw| scope.zones.iter().filter(|z| z.contains(cell(raw))).count();
        assert_eq!(
            (zone(IN_WHARF), zone(IN_STREET), zone(OUTSIDE_STREET)),
            (1, 1, 0)
        );
    }

    fn cell(raw: u64) -> Cell {
        Cell::new(raw).expect("a cell")
    }
}
