//! Helpers for tests with several nodes: waiting until they connect or converge, reading heads
//! and decisions.

use std::time::Duration;

use consent_proto::ids::FeedId;
use consent_proto::pb;
use consent_proto::vocab::{DataCategory as C, Purpose as P};
use prost::bytes::Bytes;

use crate::eventually;
use crate::harness::TestNode;

/// How long multi-node conditions may take.
pub const WAIT: Duration = Duration::from_secs(20);

/// The scene collector's check: location data for service provision, now.
pub async fn decision(node: &TestNode, subject: FeedId, collector: FeedId) -> pb::CheckResponse {
    node.consent(&crate::harness::scene_collector())
        .await
        .check(check_request(subject, collector))
        .await
        .expect("check")
        .into_inner()
}

/// Like [`decision`], for use while replication is still under way: `None` while `node` does
/// not yet know the collector (the session is refused) or the check fails.
pub async fn decision_once_known(
    node: &TestNode,
    subject: FeedId,
    collector: FeedId,
) -> Option<pb::CheckResponse> {
    let mut client = node
        .try_consent(&crate::harness::scene_collector())
        .await
        .ok()?;
    client
        .check(check_request(subject, collector))
        .await
        .ok()
        .map(|r| r.into_inner())
}

fn check_request(subject: FeedId, collector: FeedId) -> pb::CheckRequest {
    pb::CheckRequest {
        subject: Bytes::copy_from_slice(&subject.0),
        collector: Bytes::copy_from_slice(&collector.0),
        purpose: P::ServiceProvision as i32,
        category: C::Location as i32,
        at_ms: 0,
        ..Default::default()
    }
}

/// The head of `feed` at `node` (None: unknown there).
pub async fn head(node: &TestNode, feed: &FeedId) -> Option<pb::GetHeadResponse> {
    let request = pb::GetHeadRequest {
        feed: Bytes::copy_from_slice(&feed.0),
        with_grants: false,
    };
    node.ledger()
        .await
        .get_head(request)
        .await
        .ok()
        .map(|r| r.into_inner())
}

/// The head seq of `feed` at `node` (None: unknown there).
pub async fn head_seq(node: &TestNode, feed: &FeedId) -> Option<u64> {
    head(node, feed).await.map(|h| h.seq)
}

/// Waits until every node has at least `n` peers.
pub async fn connected(nodes: &[&TestNode], n: u32) {
    for node in nodes {
        eventually(WAIT, "peers connected", || async {
            (node.status().await.peers >= n).then_some(())
        })
        .await;
    }
}

/// Waits until every node holds exactly `expected` entries.
pub async fn same_entries(nodes: &[&TestNode], expected: u64) {
    for node in nodes {
        eventually(Duration::from_secs(60), "convergence", || async {
            (node.status().await.entries == expected).then_some(())
        })
        .await;
    }
}
