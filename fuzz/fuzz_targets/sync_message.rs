//! The sync protocol as a peer can send it: any bytes read by the node's codec as a request and
//! as a response (the size limits of the real codec), and what decodes handed to the code that
//! handles it: the request's cost and shape check, entries decoded, digest and head lists,
//! checkpoint notes with consistency proofs observed by a witness, fork evidence. Nothing may
//! panic.
#![no_main]

use std::collections::HashSet;
use std::sync::{Arc, LazyLock};

use consent_node::ledger::{Ledger, LedgerConfig};
use consent_node::log::witness::{self, Witness};
use consent_node::p2p::codec::{Codec, WireCounters};
use consent_node::p2p::protocol::{self, SyncRequest, SyncResponse};
use consent_node::store::memory::MemoryStore;
use consent_proto::entry::Entry;
use consent_proto::fixtures;
use futures::executor::block_on;
use futures::io::Cursor;
use libfuzzer_sys::fuzz_target;
use libp2p::StreamProtocol;
use libp2p::request_response::Codec as _;

/// The witness keeps its state through a ledger's writer, and checks signatures off the async
/// threads: it needs a runtime.
static RUNTIME: LazyLock<tokio::runtime::Runtime> =
    LazyLock::new(|| tokio::runtime::Runtime::new().expect("a runtime"));

static WITNESS: LazyLock<Witness> = LazyLock::new(|| {
    let (ledger, writer) = Ledger::open(
        Arc::new(MemoryStore::new()),
        HashSet::new(),
        "fuzz",
        LedgerConfig::default(),
    )
    .expect("a ledger on a memory store");
    // The writer runs for the whole process.
    std::mem::forget(writer);
    Witness::open(
        ledger,
        fixtures::key("fuzz-witness"),
        consent_node::members::Members::unlisted(),
    )
    .expect("a witness on a memory store")
});

fn request(r: SyncRequest) {
    let _ = consent_node::p2p::request_cost(&r);
    match r {
        SyncRequest::Cosign { note } => {
            let _ = consent_proto::note::SignedNote::parse(&note);
        }
        SyncRequest::Fork { first, second } => {
            let _ = witness::prove_fork(&first, &second);
        }
        _ => {}
    }
}

fn response(r: SyncResponse) {
    match r {
        SyncResponse::Entries(list) => {
            for bytes in list {
                let _ = Entry::decode(&bytes);
            }
        }
        SyncResponse::Digests(bytes) => {
            let _ = protocol::digests_from_wire(&bytes);
        }
        SyncResponse::Heads(bytes) => {
            let _ = protocol::heads_from_wire(&bytes);
        }
        SyncResponse::Checkpoint { note, proof } => {
            if let Some(proof) = consent_proto::merkle::hashes_from(&proof) {
                let since = proof.len() as u64 * 3;
                let _ = RUNTIME.block_on(WITNESS.observe(&note, since, &proof));
                let _ = RUNTIME.block_on(WITNESS.observe_history(&note));
            }
        }
        SyncResponse::Done | SyncResponse::Refused(_) => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let mut codec = Codec::new(Arc::new(WireCounters::default()));
    let name = StreamProtocol::new("/consent/fuzz/sync/1");
    if let Ok(r) = block_on(codec.read_request(&name, &mut Cursor::new(data))) {
        request(r);
    }
    if let Ok(r) = block_on(codec.read_response(&name, &mut Cursor::new(data))) {
        response(r);
    }
});
