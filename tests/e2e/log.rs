//! The verifiable log on a real node: signed checkpoints, inclusion proofs for every entry (by
//! index and by id), consistency between checkpoints, across a restart, and refusals of bad
//! requests.

use consent_proto::fixtures::{self, T0};
use consent_proto::ids::EntryId;
use consent_proto::merkle::{self, Hash};
use consent_proto::note::SignedNote;
use consent_proto::pb;
use consent_proto::vocab::Role;
use consent_tests::eventually;
use consent_tests::harness::{TestNode, fixture_genesis, submit_ok};
use consent_tests::net::WAIT;
use prost::bytes::Bytes;

/// The first checkpoint covering at least `size` entries, verified against the node's id.
async fn checkpoint_covering(node: &TestNode, size: u64) -> SignedNote {
    let node_id = node.status().await.node_id;
    let note = eventually(WAIT, "a checkpoint covering the entries", || async {
        let r = node
            .log()
            .await
            .get_checkpoint(pb::GetCheckpointRequest {})
            .await
            .ok()?;
        let r = r.into_inner();
        (r.tree_size >= size).then_some(r)
    })
    .await;
    let parsed = SignedNote::parse(&note.note).expect("a signed note");
    assert_eq!(parsed.checkpoint.origin, node_id);
    parsed.verify_by_origin().expect("signed by the node");
    assert_eq!(parsed.checkpoint.size, note.tree_size);
    assert_eq!(&parsed.checkpoint.root[..], &note.root_hash[..]);
    parsed
}

fn hashes(list: &[Bytes]) -> Vec<Hash> {
    merkle::hashes_from(list).expect("32-byte hashes")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_entry_is_provably_in_the_signed_log_and_the_log_only_grows() {
    let mut node = TestNode::start(&fixture_genesis()).await;
    let scene = fixtures::scene(T0);
    let mut ledger = node.ledger().await;
    let mut ids: Vec<EntryId> = Vec::new();
    for e in &scene.entries {
        submit_ok(&mut ledger, e).await;
        ids.push(e.id);
    }
    for i in 0..20 {
        let (_, e) = fixtures::author(Role::Citizen, &format!("c{i}"), T0);
        submit_ok(&mut ledger, &e).await;
        ids.push(e.id);
    }
    let first = checkpoint_covering(&node, ids.len() as u64).await;
    let size = first.checkpoint.size;
    let mut log = node.log().await;
    for (index, id) in ids.iter().enumerate() {
        for entry in [
            pb::get_inclusion_proof_request::Entry::Index(index as u64),
            pb::get_inclusion_proof_request::Entry::EntryId(Bytes::copy_from_slice(&id.0)),
        ] {
            let p = log
                .get_inclusion_proof(pb::GetInclusionProofRequest {
                    entry: Some(entry),
                    tree_size: 0,
                })
                .await
                .expect("proof")
                .into_inner();
            assert_eq!((p.index, p.tree_size), (index as u64, size));
            assert_eq!(&p.entry_id[..], &id.0[..]);
            merkle::verify_inclusion(
                &merkle::leaf_hash(&id.0),
                p.index,
                p.tree_size,
                &hashes(&p.hashes),
                &first.checkpoint.root,
            )
            .expect("included");
        }
    }

    // More entries, a restart, a later checkpoint: consistent with the first.
    for i in 20..45 {
        let (_, e) = fixtures::author(Role::Citizen, &format!("c{i}"), T0);
        submit_ok(&mut ledger, &e).await;
    }
    node.stop().await;
    node.restart().await;
    let second = checkpoint_covering(&node, size + 25).await;
    let p = node
        .log()
        .await
        .get_consistency_proof(pb::GetConsistencyProofRequest {
            old_size: size,
            new_size: second.checkpoint.size,
        })
        .await
        .expect("proof")
        .into_inner();
    merkle::verify_consistency(
        size,
        second.checkpoint.size,
        &first.checkpoint.root,
        &second.checkpoint.root,
        &hashes(&p.hashes),
    )
    .expect("the log only grew");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_log_requests_are_refused_with_reasons() {
    let node = TestNode::start(&fixture_genesis()).await;
    let scene = fixtures::scene(T0);
    let mut ledger = node.ledger().await;
    for e in &scene.entries {
        submit_ok(&mut ledger, e).await;
    }
    let size = checkpoint_covering(&node, 4).await.checkpoint.size;
    let mut log = node.log().await;
    use pb::get_inclusion_proof_request::Entry;
    let cases = [
        (None, 0, tonic::Code::InvalidArgument),
        (Some(Entry::Index(size + 5)), 0, tonic::Code::NotFound),
        (Some(Entry::Index(0)), size + 1, tonic::Code::OutOfRange),
        (
            Some(Entry::EntryId(Bytes::from_static(b"short"))),
            0,
            tonic::Code::InvalidArgument,
        ),
        (
            Some(Entry::EntryId(Bytes::copy_from_slice(&[7u8; 32]))),
            0,
            tonic::Code::NotFound,
        ),
    ];
    for (entry, tree_size, code) in cases {
        let err = log
            .get_inclusion_proof(pb::GetInclusionProofRequest { entry, tree_size })
            .await
            .expect_err("refused");
        assert_eq!(err.code(), code, "{err:?}");
    }
    for (old_size, new_size, code) in [
        (size + 1, size, tonic::Code::InvalidArgument),
        (0, size + 1, tonic::Code::OutOfRange),
    ] {
        let err = log
            .get_consistency_proof(pb::GetConsistencyProofRequest { old_size, new_size })
            .await
            .expect_err("refused");
        assert_eq!(err.code(), code, "{err:?}");
    }
}
