//! Writes the fuzz targets' seed corpus (`fuzz/corpus/<target>/`) from real messages: signed
//! entries of every kind, sync requests and responses as the node's codec puts them on the wire,
//! and well-formed gRPC requests for each method the gRPC target calls. Run:
//! `cargo run -p consent-node --example fuzz_seeds` (the corpus is checked in; rerun after a
//! wire change).

use std::path::Path;

use consent_node::p2p::protocol::{SyncRequest, SyncResponse};
use consent_proto::Entry;
use consent_proto::fixtures::{self, DAY, Scene, T0};
use consent_proto::note::{Checkpoint, SignedNote};
use consent_proto::pb;
use consent_proto::vocab::{Purpose, RequestKind};
use prost::Message;
use serde_bytes::ByteBuf;

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join(name), bytes)
}

fn main() -> anyhow::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    let scene = fixtures::scene(T0);
    let (mut citizen, c0, grant) = fixtures::citizen_granting(&scene, "seed", Purpose::Research);
    let request = fixtures::append(
        &mut citizen,
        T0 + 2 * DAY,
        fixtures::request(scene.collector.feed(), RequestKind::Erasure),
    );
    let revoke = fixtures::append(&mut citizen, T0 + 3 * DAY, fixtures::revoke(grant.id, true));
    let entries: Vec<_> = scene
        .entries
        .iter()
        .chain([&c0, &grant, &request, &revoke])
        .cloned()
        .collect();

    entry_seeds(&root.join("entry"), &entries)?;
    sync_seeds(&root.join("sync_message"), &entries, &c0, &grant, &revoke)?;
    grpc_seeds(&root.join("grpc_request"), &scene, &entries, &c0, &grant)?;
    println!("seeds written under {}", root.display());
    Ok(())
}

/// entry: mode byte 0 = a signed entry, 1 = a payload the target signs as its citizen.
fn entry_seeds(dir: &Path, entries: &[Entry]) -> anyhow::Result<()> {
    for (i, e) in entries.iter().enumerate() {
        write(
            dir,
            &format!("signed-{i}"),
            &[&[0u8][..], &e.encode()].concat(),
        )?;
        write(
            dir,
            &format!("payload-{i}"),
            &[&[1u8][..], &e.payload].concat(),
        )?;
    }
    Ok(())
}

/// sync_message: CBOR as the codec sends it, one request and one response of every kind.
fn sync_seeds(
    dir: &Path,
    entries: &[Entry],
    c0: &Entry,
    grant: &Entry,
    revoke: &Entry,
) -> anyhow::Result<()> {
    let note = seed_note();
    for (i, r) in sync_requests(&note, c0, grant, revoke).iter().enumerate() {
        write(
            dir,
            &format!("request-{i}"),
            &cbor4ii::serde::to_vec(Vec::new(), r)?,
        )?;
    }
    let responses = [
        SyncResponse::Entries(entries.iter().map(|e| ByteBuf::from(e.encode())).collect()),
        SyncResponse::Digests(ByteBuf::from(vec![1u8; 256 * 8])),
        SyncResponse::Heads(ByteBuf::from(vec![2u8; 73 * 3])),
        SyncResponse::Checkpoint {
            note,
            proof: vec![ByteBuf::from(vec![3u8; 32]); 3],
        },
        SyncResponse::Done,
        SyncResponse::Refused("rate limited; slow down".into()),
    ];
    for (i, r) in responses.iter().enumerate() {
        write(
            dir,
            &format!("response-{i}"),
            &cbor4ii::serde::to_vec(Vec::new(), r)?,
        )?;
    }
    Ok(())
}

/// A checkpoint note signed by a seed node's key.
fn seed_note() -> String {
    let key = fixtures::key("seed-node");
    SignedNote::sign(
        Checkpoint {
            origin: key.public().to_text(consent_proto::note::NODE_PREFIX),
            size: 4,
            root: [7; 32],
            time_ms: T0,
        },
        &key,
    )
    .to_text()
}

/// One sync request of every kind, about the citizen's feed (inception `c0`) and `note`.
fn sync_requests(note: &str, c0: &Entry, grant: &Entry, revoke: &Entry) -> Vec<SyncRequest> {
    vec![
        SyncRequest::Range {
            feed: c0.feed.0,
            from_seq: 0,
            limit: 256,
        },
        SyncRequest::Entries {
            ids: vec![grant.id.0, revoke.id.0],
        },
        SyncRequest::Ranges {
            wants: vec![(c0.feed.0, 1)],
        },
        SyncRequest::Proofs {
            feeds: vec![c0.feed.0],
        },
        SyncRequest::Digests { prefix: vec![] },
        SyncRequest::Heads {
            prefix: vec![0x12],
            after: None,
        },
        SyncRequest::Checkpoint {
            at: Some(2),
            since: 1,
        },
        SyncRequest::Cosign {
            note: note.to_string(),
        },
        SyncRequest::Fork {
            first: note.to_string(),
            second: note.to_string(),
        },
    ]
}

/// grpc_request: method index (fuzz_targets/grpc_request.rs METHODS) ++ the request message.
fn grpc_seeds(
    dir: &Path,
    scene: &Scene,
    entries: &[Entry],
    c0: &Entry,
    grant: &Entry,
) -> anyhow::Result<()> {
    let messages = ledger_requests(entries, c0, grant)
        .into_iter()
        .chain(check_and_log_requests(scene, c0));
    for (i, (method, body)) in messages.enumerate() {
        write(
            dir,
            &format!("method-{method}-{i}"),
            &[&[method][..], &body].concat(),
        )?;
    }
    Ok(())
}

/// Bytes of a protobuf `bytes` field.
fn bytes(b: &[u8]) -> prost::bytes::Bytes {
    prost::bytes::Bytes::copy_from_slice(b)
}

/// Requests of the Ledger service's methods (0..=4), as `(method index, encoded request)`.
fn ledger_requests(entries: &[Entry], c0: &Entry, grant: &Entry) -> Vec<(u8, Vec<u8>)> {
    vec![
        (
            0,
            pb::SubmitRequest {
                entry: Some(c0.to_signed()),
            }
            .encode_to_vec(),
        ),
        (
            1,
            pb::SubmitBatchRequest {
                entries: entries.iter().map(|e| e.to_signed()).collect(),
            }
            .encode_to_vec(),
        ),
        (
            2,
            pb::GetEntryRequest {
                id: bytes(&grant.id.0),
            }
            .encode_to_vec(),
        ),
        (
            3,
            pb::GetFeedRequest {
                feed: bytes(&c0.feed.0),
                from_seq: 0,
                limit: 10,
            }
            .encode_to_vec(),
        ),
        (
            4,
            pb::GetHeadRequest {
                feed: bytes(&c0.feed.0),
                with_grants: true,
            }
            .encode_to_vec(),
        ),
    ]
}

/// Requests of the Consent, Node and Log services' methods (6 and on), as `(method index,
/// encoded request)`.
fn check_and_log_requests(scene: &Scene, c0: &Entry) -> Vec<(u8, Vec<u8>)> {
    let check = pb::CheckRequest {
        subject: bytes(&c0.feed.0),
        collector: bytes(&scene.collector.feed().0),
        purpose: Purpose::Research as i32,
        category: consent_proto::vocab::DataCategory::Location as i32,
        receipt: true,
        ..Default::default()
    };
    vec![
        (6, check.encode_to_vec()),
        (
            7,
            pb::CheckBatchRequest {
                checks: vec![check.clone(); 3],
            }
            .encode_to_vec(),
        ),
        (8, pb::StatusRequest::default().encode_to_vec()),
        (10, pb::GetCheckpointRequest::default().encode_to_vec()),
        (
            11,
            pb::GetInclusionProofRequest {
                tree_size: 4,
                ..Default::default()
            }
            .encode_to_vec(),
        ),
        (
            12,
            pb::GetConsistencyProofRequest {
                old_size: 1,
                new_size: 4,
            }
            .encode_to_vec(),
        ),
    ]
}
