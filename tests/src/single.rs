//! One node with the fixture scene (a registrar accrediting the collector, its policy) and a
//! citizen, Alice: the starting point of single-node tests.

use consent_proto::Entry;
use consent_proto::entry::Author;
use consent_proto::fixtures::{self, DAY, T0};
use consent_proto::ids::FeedId;
use consent_proto::pb;
use consent_proto::vocab::{DataCategory as C, Purpose as P, Role};
use prost::bytes::Bytes;

use crate::harness::{TestNode, fixture_genesis, submit_ok};

/// A check request, now.
pub fn check_request(
    subject: FeedId,
    collector: FeedId,
    purpose: P,
    category: C,
) -> pb::CheckRequest {
    pb::CheckRequest {
        subject: Bytes::copy_from_slice(&subject.0),
        collector: Bytes::copy_from_slice(&collector.0),
        purpose: purpose as i32,
        category: category as i32,
        at_ms: 0,
        ..Default::default()
    }
}

/// The node, the scene and Alice.
pub struct Setup {
    /// The node.
    pub node: TestNode,
    /// The fixture scene, submitted.
    pub scene: fixtures::Scene,
    /// A citizen whose inception is submitted.
    pub alice: Author,
}

/// Registrar accredits the collector, the collector publishes its policy, Alice exists.
pub async fn setup() -> Setup {
    let node = TestNode::start(&fixture_genesis()).await;
    let scene = fixtures::scene(T0);
    let mut ledger = node.ledger().await;
    for e in &scene.entries {
        submit_ok(&mut ledger, e).await;
    }
    let (alice, a0) = fixtures::author(Role::Citizen, "alice", T0);
    submit_ok(&mut ledger, &a0).await;
    Setup { node, scene, alice }
}

impl Setup {
    /// Alice's grant of location data for service provision to the collector (not submitted).
    pub fn grant(&mut self) -> Entry {
        let body = fixtures::grant(
            self.scene.collector.feed(),
            self.scene.policy,
            &[P::ServiceProvision],
            &[C::Location],
            T0,
            None,
        );
        fixtures::append(&mut self.alice, T0 + DAY, body)
    }
}
