//! Public consultation before a policy widens, on real nodes: a widening needs a consultation of
//! at least the genesis's window while a narrowing applies at once; a draft takes effect only
//! after its window, the collector's answers to the reasons many people raised, and a registrar's
//! approval; changes required keep it out of effect for good; a newer version withdraws an open
//! draft; a feed's later stance replaces its earlier one; counts agree on every node, survive a
//! restart, and reach a node that missed the whole consultation; the collector's watch reports
//! it. Time is a manual clock moved by the test (standing in the past, so that a window passes
//! before the present, where collector sessions are opened); nothing sleeps for time to pass.
//!
//! This file holds what several of the groups below use: a grant under a given policy version,
//! the collector's check, and citizens incepted (and granting) in a batch.

mod admission;
mod counts;
mod outcomes;

use consent_proto::Entry;
use consent_proto::body::Body;
use consent_proto::entry::Author;
use consent_proto::fixtures::{self, DAY, T0};
use consent_proto::ids::EntryId;
use consent_proto::pb;
use consent_proto::vocab::{DataCategory as C, Purpose as P};
use consent_tests::consultation as k;
use consent_tests::harness::TestNode;
use consent_tests::single::check_request;

/// A grant of `purpose` over location data to the scene's collector under `policy`, valid from
/// `T0` until revoked.
fn grant_under(scene: &fixtures::Scene, policy: EntryId, purpose: P) -> Body {
    fixtures::grant(
        scene.collector.feed(),
        policy,
        &[purpose],
        &[C::Location],
        T0,
        None,
    )
}

/// The scene's collector's check of `purpose` over location data about `subject`, at `at_ms` (0:
/// now).
async fn decide(
    node: &TestNode,
    scene: &fixtures::Scene,
    subject: &Author,
    purpose: P,
    at_ms: u64,
) -> pb::CheckResponse {
    let mut request = check_request(subject.feed(), scene.collector.feed(), purpose, C::Location);
    request.at_ms = at_ms;
    node.consent(&scene.collector)
        .await
        .check(request)
        .await
        .expect("check")
        .into_inner()
}

/// `n` citizens `label…`, each incepted and, when `granting`, granting service provision to the
/// scene's collector under its version 1 (they are then "affected").
fn people(
    scene: &fixtures::Scene,
    label: &str,
    n: usize,
    granting: bool,
) -> (Vec<Author>, Vec<Entry>) {
    let mut entries = Vec::new();
    let mut authors = Vec::new();
    for (mut citizen, inception) in k::citizens(label, n) {
        entries.push(inception);
        if granting {
            entries.push(fixtures::append(
                &mut citizen,
                T0 + DAY,
                grant_under(scene, scene.policy, P::ServiceProvision),
            ));
        }
        authors.push(citizen);
    }
    (authors, entries)
}
