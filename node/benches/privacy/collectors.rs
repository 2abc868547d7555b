//! The collectors of the simulated city: a catalogue of eight (parking, transport, utilities,
//! a library, waste, a university lab, an air-quality network), each with a policy version 1
//! accredited by the network's one registrar.

use consent_proto::Entry;
use consent_proto::body::{Body, Policy};
use consent_proto::fixtures::{self, DAY};
use consent_proto::ids::{Digest, EntryId, FeedId};
use consent_proto::vocab::{DataCategory as C, Purpose as P, Role};

/// What a collector of the catalogue asks for. Every policy lists at least three purposes and
/// three categories, so that the three attitudes grant visibly different things.
pub struct Offer {
    /// Public name.
    pub name: &'static str,
    /// Purposes, the first the most basic.
    pub purposes: &'static [P],
    /// Categories, the first the most basic.
    pub categories: &'static [C],
    /// Longest retention.
    pub retention_days: u32,
}

/// Most collectors a city can have (the catalogue's size).
pub const MAX_COLLECTORS: usize = 8;

/// The city's collectors, most popular first.
static CATALOGUE: [Offer; MAX_COLLECTORS] = [
    Offer {
        name: "City parking",
        purposes: &[
            P::ServiceProvision,
            P::Billing,
            P::TrafficManagement,
            P::UrbanPlanning,
        ],
        categories: &[C::Vehicle, C::Location, C::Financial],
        retention_days: 365,
    },
    Offer {
        name: "Public transport",
        purposes: &[
            P::ServiceProvision,
            P::ServiceOptimisation,
            P::UrbanPlanning,
            P::Research,
        ],
        categories: &[C::Mobility, C::Location, C::Financial],
        retention_days: 730,
    },
    Offer {
        name: "Energy utility",
        purposes: &[
            P::ServiceProvision,
            P::UtilityManagement,
            P::Billing,
            P::Research,
        ],
        categories: &[C::Energy, C::IdentityContact, C::Financial],
        retention_days: 2_555,
    },
    Offer {
        name: "Public library",
        purposes: &[P::ServiceProvision, P::Personalisation, P::Research],
        categories: &[C::IdentityContact, C::Behavioural, C::DeviceId],
        retention_days: 365,
    },
    Offer {
        name: "Water utility",
        purposes: &[P::ServiceProvision, P::UtilityManagement, P::Billing],
        categories: &[C::Water, C::IdentityContact, C::Financial],
        retention_days: 2_555,
    },
    Offer {
        name: "Waste services",
        purposes: &[P::ServiceProvision, P::Billing, P::ServiceOptimisation],
        categories: &[C::Waste, C::IdentityContact, C::Location],
        retention_days: 365,
    },
    Offer {
        name: "University mobility lab",
        purposes: &[P::AcademicResearch, P::UrbanPlanning, P::Research],
        categories: &[C::Mobility, C::Location, C::DeviceId],
        retention_days: 1_825,
    },
    Offer {
        name: "Air-quality network",
        purposes: &[P::EnvironmentalMonitoring, P::Research, P::UrbanPlanning],
        categories: &[C::Environmental, C::Location, C::DeviceId],
        retention_days: 1_825,
    },
];

/// A collector of the city.
pub struct Collector {
    /// Its feed.
    pub feed: FeedId,
    /// Its policy (version 1).
    pub policy: EntryId,
    /// What it asks for.
    pub offer: &'static Offer,
}

/// The registrar, the collectors with their policies, and the entries that set them up.
pub fn setup(n: usize, start_ms: u64) -> (FeedId, Vec<Collector>, Vec<Entry>) {
    let t = start_ms - 7 * DAY;
    let (mut registrar, reg0) = fixtures::author(Role::Registrar, "privacy-bench-registrar", t);
    let mut entries = vec![reg0];
    let mut collectors = Vec::new();
    for (j, offer) in CATALOGUE.iter().take(n).enumerate() {
        let (mut author, c0) =
            fixtures::author(Role::Collector, &format!("privacy-bench-collector-{j}"), t);
        let policy = fixtures::append(
            &mut author,
            t,
            Body::Policy(Policy {
                version: 1,
                name: offer.name.to_string(),
                purposes: offer.purposes.iter().copied().collect(),
                categories: offer.categories.iter().copied().collect(),
                retention_days: offer.retention_days,
                recipients: Vec::new(),
                jurisdiction: "EU/GDPR".into(),
                document_digest: Digest(*blake3::hash(offer.name.as_bytes()).as_bytes()),
                document_url: format!("https://collector{j}.city.example/privacy"),
                contact: format!("dpo@collector{j}.city.example"),
                scope: None,
                consultation: None,
            }),
        );
        let accreditation = fixtures::append(
            &mut registrar,
            t,
            fixtures::accredit(author.feed(), t + fixtures::ACCREDITATION_DAYS * DAY),
        );
        collectors.push(Collector {
            feed: author.feed(),
            policy: policy.id,
            offer,
        });
        entries.extend([c0, policy, accreditation]);
    }
    (registrar.feed(), collectors, entries)
}
