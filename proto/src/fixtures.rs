//! Deterministic keys and sample entries for tests and demos (feature `fixtures`).

use crate::body::{Accreditation, Body, Grant, Policy, Request, Revoke, Suspension};
use crate::entry::{Author, Entry};
use crate::ids::{Digest, EntryId, FeedId};
use crate::keys::SecretKey;
use crate::vocab::{CategorySet, DataCategory, Purpose, PurposeSet, RequestKind, Role};

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
    })
}

/// A revocation.
pub fn revoke(grant: EntryId, erase: bool) -> Body {
    Body::Revoke(Revoke { grant, erase })
}

/// A request.
pub fn request(collector: FeedId, kind: RequestKind) -> Body {
    Body::Request(Request {
        collector,
        kind,
        details_digest: None,
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
