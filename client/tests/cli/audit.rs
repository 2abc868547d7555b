//! `consent audit` against a real node: it passes on an honest node with 20,004 entries (three
//! pages of `GetLog`), and
//! fails on grant state changed under the node, on a stored entry changed under it, and on a log
//! rewritten since the last audit.

use crate::common;

use std::path::Path;
use std::time::Duration;

use common::Env;
use consent_node::node::open_store;
use consent_proto::fixtures::{self, T0};
use consent_proto::pb;
use consent_proto::vocab::{Purpose as P, Role};
use serde_json::Value;

/// Submits entries in batches of 1,000.
async fn submit(url: &str, entries: Vec<consent_proto::Entry>) {
    let mut ledger = pb::ledger_client::LedgerClient::connect(url.to_string())
        .await
        .expect("connect");
    for chunk in entries.chunks(1_000) {
        let r = ledger
            .submit_batch(pb::SubmitBatchRequest {
                entries: chunk.iter().map(|e| e.to_signed()).collect(),
            })
            .await
            .expect("batch")
            .into_inner();
        assert!(r.results.iter().all(|x| x.error_code == 0), "all accepted");
    }
}

/// `n` citizens, each with a grant: 2n entries.
fn citizens(scene: &fixtures::Scene, label: &str, n: usize) -> Vec<consent_proto::Entry> {
    let mut out = Vec::with_capacity(2 * n);
    for i in 0..n {
        let (_, c0, g) =
            fixtures::citizen_granting(scene, &format!("{label}-{i}"), P::ServiceProvision);
        out.push(c0);
        out.push(g);
    }
    out
}

/// Waits until the node's checkpoint covers `size` entries.
async fn checkpointed(url: &str, size: u64) {
    let mut log = pb::log_client::LogClient::connect(url.to_string())
        .await
        .expect("connect");
    for _ in 0..600 {
        let r = log.get_checkpoint(pb::GetCheckpointRequest {}).await;
        if r.is_ok_and(|r| r.into_inner().tree_size >= size) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no checkpoint of {size} entries within 30 s");
}

async fn restart(env: &mut Env, registrar: &str) {
    if let Some(node) = env.node.take() {
        node.shutdown();
        node.join().await.expect("stops");
    }
    env.node = Some(common::start(env.dir.path(), registrar).await);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_passes_on_an_honest_node_and_catches_changed_state_a_changed_entry_and_a_rewritten_log()
 {
    let scene = fixtures::scene(T0);
    let registrar = scene.registrar.feed().typed(Role::Registrar).to_string();
    let dir = tempfile::tempdir().expect("tempdir");
    let node = common::start(dir.path(), &registrar).await;
    let mut env = Env {
        dir,
        node: Some(node),
    };
    let state = env.path("audits");
    let state = state.to_string_lossy().to_string();
    let audit = ["audit", "--registrar", &registrar, "--state-dir", &state];
    submit(&env.url(), scene.entries.clone()).await;
    submit(&env.url(), citizens(&scene, "a", 5_000)).await;
    // A backup of the node as it is now (10,004 entries).
    let data = env.path("node");
    let backup = env.path("backup");
    restart(&mut env, &registrar).await;
    if let Some(node) = env.node.take() {
        node.shutdown();
        node.join().await.expect("stops");
    }
    copy_dir(&data, &backup);
    restart(&mut env, &registrar).await;
    submit(&env.url(), citizens(&scene, "b", 5_000)).await;
    checkpointed(&env.url(), 20_004).await;

    let passed: Value = env.json("none.json", &audit).await;
    assert_eq!(passed["entries"], 20_004);
    assert_eq!(passed["checkpoint_size"], 20_004);
    assert_eq!(passed["findings"].as_array().map(Vec::len), Some(0));
    // Again: consistent with the audit before.
    let again: Value = env.json("none.json", &audit).await;
    assert_eq!(again["previous_checkpoint_size"], 20_004);

    // The node's materialised state changed under it: a grant marked revoked that its log does
    // not revoke (the node starts, and would deny on it).
    if let Some(node) = env.node.take() {
        node.shutdown();
        node.join().await.expect("stops");
    }
    {
        use consent_node::ledger::tables;
        let store = open_store(&data, None).expect("store");
        let (citizen, _, grant) = fixtures::citizen_granting(&scene, "a-0", P::ServiceProvision);
        let key = tables::grant_key(&citizen.feed(), &scene.collector.feed(), grant.seq);
        let value = store.get(&key).expect("read").expect("stored");
        let mut record: tables::GrantRecord = tables::decode(&value, "grant").expect("decodes");
        record.revoked = true;
        store
            .apply(vec![(key, Some(tables::encode(&record).expect("encodes")))])
            .expect("write");
        store.flush().expect("flush");
    }
    restart(&mut env, &registrar).await;
    let out = env.run("none.json", &audit).await;
    assert_eq!(out.status.code(), Some(1));
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(report.contains("grant state"), "{report}");

    // An entry changed in the store under the node (it still starts: its own check does not
    // re-verify signatures at start).
    if let Some(node) = env.node.take() {
        node.shutdown();
        node.join().await.expect("stops");
    }
    {
        let store = open_store(&data, None).expect("store");
        let key = [&[b'E'][..], &scene.entries[1].id.0].concat();
        let mut value = store.get(&key).expect("read").expect("stored");
        let last = value.len() - 1;
        value[last] ^= 0x01;
        store.apply(vec![(key, Some(value))]).expect("write");
        store.flush().expect("flush");
    }
    restart(&mut env, &registrar).await;
    env.fails("none.json", &audit, "audit failed").await;
    let out = env.run("none.json", &audit).await;
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        report.contains("index 1: the stored entry hashes to"),
        "{report}"
    );
    assert!(
        report.lines().count() <= 3,
        "one finding and its dependents: {report}"
    );

    // The operator restores the old backup and takes other entries in place of the lost ones.
    if let Some(node) = env.node.take() {
        node.shutdown();
        node.join().await.expect("stops");
    }
    std::fs::remove_dir_all(&data).expect("remove");
    copy_dir(&backup, &data);
    restart(&mut env, &registrar).await;
    submit(&env.url(), citizens(&scene, "c", 20_050)).await;
    checkpointed(&env.url(), 50_104).await;
    let out = env.run("none.json", &audit).await;
    assert_eq!(out.status.code(), Some(1));
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(report.contains("rewritten"), "{report}");
}
