//! Public consultations in tests: a genesis that requires them for a widening (14 days, objection
//! threshold 3), a manual clock standing in the past so that a whole window passes before the
//! present without waiting (collector sessions are signed with the system clock: move the clock
//! to the present with [`to_present`] before opening one), and helpers to sign drafts, stances,
//! responses and outcomes and to read consultations over gRPC.

use consent_node::clock::Clock;
use consent_node::genesis::{ConsultationSection, Genesis};
use consent_proto::Entry;
use consent_proto::entry::Author;
use consent_proto::fixtures::{self, DAY, T0};
use consent_proto::ids::EntryId;
use consent_proto::pb;
use consent_proto::pb::consultations_client::ConsultationsClient;
use consent_proto::vocab::{ObjectionReason, Role};
use prost::bytes::Bytes;
use tonic::transport::Channel;

use crate::harness::{TestNode, fixture_genesis, submit, submit_ok};

/// The genesis's shortest window for a widening, days.
pub const WINDOW_DAYS: u64 = 14;
/// The genesis's objection threshold: a reason raised by this many objecting stances needs the
/// collector's response before a registrar may approve.
pub const THRESHOLD: u64 = 3;
/// One hour, ms.
pub const HOUR: u64 = 3_600_000;

/// [`fixture_genesis`] with a `[consultation]` section: 14 days, threshold 3.
pub fn consultation_genesis() -> Genesis {
    let mut genesis = fixture_genesis();
    genesis.consultation = Some(ConsultationSection {
        widening_min_days: WINDOW_DAYS as u32,
        objection_threshold: THRESHOLD,
    });
    genesis
}

/// A manual clock standing `days` days before the present.
pub fn clock_days_ago(days: u64) -> Clock {
    Clock::manual(Clock::system().now_ms().saturating_sub(days * DAY))
}

/// Moves a manual clock to the present (it never goes back), so that collector sessions, signed
/// with the system clock, fall within the node's window.
pub fn to_present(clock: &Clock) {
    clock.set(Clock::system().now_ms());
}

/// Starts `n` nodes sharing `clock`, each after the first dialing the first, and waits until each
/// has a peer.
pub async fn cluster(genesis: &Genesis, clock: &Clock, n: usize) -> Vec<TestNode> {
    let first = TestNode::start_with_clock(genesis, clock.clone()).await;
    let bootstrap = first.p2p_addrs();
    let mut nodes = vec![first];
    for _ in 1..n {
        let mut node = TestNode::start_with_clock(genesis, clock.clone()).await;
        node.stop().await;
        node.bootstrap = bootstrap.clone();
        node.restart().await;
        nodes.push(node);
    }
    let all: Vec<&TestNode> = nodes.iter().collect();
    crate::net::connected(&all, 1).await;
    nodes
}

/// A client of the node's public Consultations service.
pub async fn consultations(node: &TestNode) -> ConsultationsClient<Channel> {
    let channel = match Channel::from_shared(node.url()) {
        Ok(endpoint) => match endpoint.connect().await {
            Ok(c) => c,
            Err(e) => panic!("cannot connect: {e}"),
        },
        Err(e) => panic!("bad url: {e}"),
    };
    ConsultationsClient::new(channel)
}

/// `Consultations.GetConsultation` of `draft` (None: NOT_FOUND).
pub async fn get(node: &TestNode, draft: &EntryId) -> Option<pb::Consultation> {
    let request = pb::GetConsultationRequest {
        draft: Bytes::copy_from_slice(&draft.0),
    };
    match consultations(node).await.get_consultation(request).await {
        Ok(r) => Some(r.into_inner()),
        Err(s) if s.code() == tonic::Code::NotFound => None,
        Err(s) => panic!("GetConsultation failed: {s}"),
    }
}

/// The summary of `draft` at `node` (panics if it has none).
pub async fn summary(node: &TestNode, draft: &EntryId) -> pb::ConsultationSummary {
    get(node, draft)
        .await
        .and_then(|c| c.summary)
        .unwrap_or_else(|| panic!("{draft} is no consultation at this node"))
}

/// The state of `draft` at `node`.
pub async fn state(node: &TestNode, draft: &EntryId) -> pb::ConsultationState {
    summary(node, draft).await.state()
}

/// The counts of `draft` at `node`.
pub async fn counts(node: &TestNode, draft: &EntryId) -> pb::ConsultationCounts {
    summary(node, draft).await.counts.unwrap_or_default()
}

/// One group's tally (absent: zero).
pub fn tally(t: &Option<pb::Tally>) -> pb::Tally {
    t.clone().unwrap_or_default()
}

/// A tally's count for one reason (absent: zero).
pub fn reason_count(t: &pb::Tally, reason: ObjectionReason) -> u64 {
    t.reasons
        .iter()
        .find(|r| r.reason == reason as i32)
        .map_or(0, |r| r.count)
}

/// The `consent-reason` a refusal carries.
pub fn reason_of(status: &tonic::Status) -> Option<String> {
    status
        .metadata()
        .get(consent_node::api::REASON_KEY)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Submits `entry` and expects a refusal with `code` and the `consent-reason` `reason`.
pub async fn refused(node: &TestNode, entry: &Entry, code: tonic::Code, reason: &str) -> String {
    match submit(&mut node.ledger().await, entry).await {
        Err(status) => {
            assert_eq!(
                (status.code(), reason_of(&status).as_deref()),
                (code, Some(reason)),
                "{}: {status:?}",
                entry.id
            );
            status.message().to_string()
        }
        Ok(r) => panic!("{} should be refused ({reason}), got {r:?}", entry.id),
    }
}

/// Submits every entry and expects each ACCEPTED.
pub async fn submit_all(node: &TestNode, entries: &[Entry]) {
    let mut ledger = node.ledger().await;
    for e in entries {
        submit_ok(&mut ledger, e).await;
    }
}

/// The collector's next version as a draft: [`fixtures::draft_policy`] (its version 1 plus
/// marketing: a widening), put to consultation from `at_ms` for `days` days.
pub fn draft(collector: &mut Author, version: u32, at_ms: u64, days: u64) -> Entry {
    fixtures::append(
        collector,
        at_ms,
        fixtures::draft_policy(version, at_ms + days * DAY),
    )
}

/// A stance by `citizen` on `draft` at `at_ms`: support when `object` is empty, else an objection
/// for those reasons.
pub fn stance(
    citizen: &mut Author,
    draft: &EntryId,
    at_ms: u64,
    object: &[ObjectionReason],
) -> Entry {
    fixtures::append(citizen, at_ms, fixtures::stance(*draft, object))
}

/// The collector's response to `reason` in its consultation `draft`.
pub fn response(
    collector: &mut Author,
    draft: &EntryId,
    at_ms: u64,
    reason: ObjectionReason,
) -> Entry {
    fixtures::append(
        collector,
        at_ms,
        fixtures::response(
            *draft,
            reason,
            "We keep camera data 30 days at most and publish the audit.",
        ),
    )
}

/// A registrar's outcome of `draft` relying on `responses`.
pub fn outcome(
    registrar: &mut Author,
    draft: &EntryId,
    at_ms: u64,
    approved: bool,
    responses: &[EntryId],
) -> Entry {
    let text = if approved {
        "The raised objections were answered; the widening may apply."
    } else {
        "Changes required: answer the objections and publish a new version."
    };
    fixtures::append(
        registrar,
        at_ms,
        fixtures::outcome(*draft, approved, text, responses),
    )
}

/// `n` citizens `"{label}{i}"` incepted at `T0`: `(author, inception)`.
pub fn citizens(label: &str, n: usize) -> Vec<(Author, Entry)> {
    (0..n)
        .map(|i| fixtures::author(Role::Citizen, &format!("{label}{i}"), T0))
        .collect()
}
