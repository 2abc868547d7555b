//! One real node on 127.0.0.1: the full consent life cycle and every submit path.
//!
//! This file holds what several of the groups below use: a check of the scene's collector for
//! one subject, and the full store check of a running node.

mod equivocation;
mod life_cycle;
mod refusals;
mod start_stop;

use consent_proto::ids::FeedId;
use consent_proto::pb;
use consent_proto::vocab::{DataCategory as C, Purpose as P};
use consent_tests::harness::TestNode;
use consent_tests::single::check_request;

async fn decision(
    node: &TestNode,
    subject: FeedId,
    collector: FeedId,
) -> (pb::Decision, pb::Reason, pb::CheckResponse) {
    let mut consent = node
        .consent(&consent_tests::harness::scene_collector())
        .await;
    let r = match consent
        .check(check_request(
            subject,
            collector,
            P::ServiceProvision,
            C::Location,
        ))
        .await
    {
        Ok(r) => r.into_inner(),
        Err(e) => panic!("check failed: {e}"),
    };
    (r.decision(), r.reason(), r)
}

/// Runs the full store check (replay of every entry) on a running node's store.
async fn assert_store_consistent(node: &TestNode) {
    let ledger = node.node.as_ref().expect("running").ledger().clone();
    let result = tokio::task::spawn_blocking(move || ledger.full_check())
        .await
        .expect("join");
    if let Err(report) = result {
        panic!("store check failed: {report}");
    }
}
