//! The protocol's test vectors, `proto/vectors/vectors.json`: signed entries of every body kind
//! with their ids and feed ids, canonical and refused encodings with the refusal reason, the
//! signature rule's edge cases, text forms, the dev registrar and a pairwise citizen feed, a
//! collector's authentication statement, receipts, decision receipts with their log evidence, a
//! Merkle tree with inclusion and consistency proofs, a cosigned checkpoint note and an
//! equivocation; and for scopes: H3 indexes and parents, local times, a scoped policy and grants,
//! 2,000 seeded scope decisions with hand-picked edges, and context digests; and for
//! consultations: a draft with its stances, response and outcome, validation sequences with
//! their verdicts, policy changes, consultation states and counts; and the wallet rule for the
//! signed times of citizen entries (`coarse_times`, informative); and receipts of both kinds
//! signed together as one group (`receipt_groups`). The crate docs
//! ("Protocol specification", "Test vectors") say what each means.
//!
//! [`generate`] builds them from fixed seeds (keys are `Ed25519 seed = BLAKE3(label)`), so the
//! file never changes by itself. Two tests:
//! - `the_checked_in_vectors_are_the_generated_ones` compares the file with [`generate`] (as JSON
//!   values); with `CONSENT_WRITE_VECTORS=1` it rewrites the file first (then review the diff: a
//!   change to a vector is a change to the protocol);
//! - `every_vector_in_the_file_verifies` reads the file and checks every vector through this
//!   crate's public API (decoding, ids, signatures, validation, the decision rule, receipts,
//!   notes, proofs), so a wrong vector fails even when the generator wrote it.
//!
//! The Python client written from the docs checks the same file with its own code
//! (`tests/interop/vectors.py`).

#[path = "../common/scope_cases.rs"]
mod cases;

use std::sync::Arc;

use base64::Engine as _;
use consent_proto::body::{
    Accreditation, Ack, AckAnswer, Body, Consultation, ConsultationOutcome, ConsultationResponse,
    Delegation, Endorsement, Grant, OnBehalf, Policy, Position, Request, Revoke, Stance,
    Suspension, Undelegation,
};
use consent_proto::consultation::{self, DraftFacts, OutcomeFacts, StanceFacts, Tally};
use consent_proto::decide::{GrantFacts, Query, SubjectGrants, decide_grants, decide_subject};
use consent_proto::delegation::{DelegationState, Via};
use consent_proto::entry::{Author, Entry};
use consent_proto::h3::{self, Cell};
use consent_proto::ids::{EntryId, FeedId, TypedFeedId, decode_text, encode_text};
use consent_proto::keys::{PublicKey, SecretKey};
use consent_proto::limits::MIN_TIME_MS;
use consent_proto::memory::MemoryLedger;
use consent_proto::merkle::{self, Tree};
use consent_proto::note::{Checkpoint, SignedNote, key_id};
use consent_proto::pb;
use consent_proto::pb::entry_payload::Body as WireBody;
use consent_proto::scope::{
    Context, FormSpec, GrantScope, PolicyScope, PurposeForms, ScopeFacts, Sensor, TimeWindow, Zone,
    local_time,
};
use consent_proto::validate::Verdict;
use consent_proto::vocab::{
    CategorySet, ConsultationResult, DataCategory, DelegatedPower, DelegationKind, Form,
    ObjectionReason, ObjectionSet, PowerSet, Purpose, PurposeSet, RequestKind, Role, SensorKind,
};
use consent_proto::{auth, dev, domain, evidence, receipt};
use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT, EIGHT_TORSION};
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use prost::Message;
use prost::bytes::Bytes;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256, Sha512};

/// The vectors file.
const PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/vectors/vectors.json");
/// Set to rewrite the file from [`generate`].
const WRITE: &str = "CONSENT_WRITE_VECTORS";

/// 2025-06-15T16:26:40Z: the scenario's entries are dated from it.
const T: u64 = 1_750_004_800_000;
const MINUTE: u64 = 60_000;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;
/// The clock of the node that validates the scenario.
const NOW: u64 = T + 10 * DAY;

const CITIZEN_0: &str = "vectors/citizen/0";
const CITIZEN_1: &str = "vectors/citizen/1";
const CITIZEN_2: &str = "vectors/citizen/2";
const COLLECTOR_0: &str = "vectors/collector/0";
const COLLECTOR_1: &str = "vectors/collector/1";
const MALLORY_0: &str = "vectors/mallory/0";
const MALLORY_1: &str = "vectors/mallory/1";
const NODE: &str = "vectors/node";
const WITNESS: &str = "vectors/witness";
const SIGNER: &str = "vectors/signer";
const REGISTRAR_0: &str = "consent-ledger/dev-registrar/v1/key0";
const REGISTRAR_1: &str = "consent-ledger/dev-registrar/v1/key1";

/// Every labelled key of the vectors, in the order the file lists them.
const LABELS: &[&str] = &[
    REGISTRAR_0,
    REGISTRAR_1,
    COLLECTOR_0,
    COLLECTOR_1,
    CITIZEN_0,
    CITIZEN_1,
    CITIZEN_2,
    MALLORY_0,
    MALLORY_1,
    NODE,
    WITNESS,
    SIGNER,
];

/// The wallet derivation of pairwise citizen feeds (consent-client `wallet`).
const PAIRWISE_KEY: &str = "consent-ledger wallet v1 pairwise key";
const PAIRWISE_TIME: &str = "consent-ledger wallet v1 pairwise inception time";

/// The message of the signature-rule vectors (signed after the entry domain).
const SIGNED_MESSAGE: &[u8] = b"signature rule vector";

fn key(label: &str) -> SecretKey {
    SecretKey::from_seed(blake3::hash(label.as_bytes()).as_bytes())
}

fn hx(bytes: impl AsRef<[u8]>) -> String {
    hex::encode(bytes)
}

fn digest(label: &str) -> consent_proto::ids::Digest {
    consent_proto::ids::Digest(*blake3::hash(label.as_bytes()).as_bytes())
}

// ---- A protobuf writer for the refused encodings (and to show the canonical one) ----

fn varint(mut v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

/// `v` in one byte more than it needs: the last byte gets a continuation bit and a 0 follows.
fn overlong(v: u64) -> Vec<u8> {
    let mut out = varint(v);
    if let Some(last) = out.last_mut() {
        *last |= 0x80;
    }
    out.push(0);
    out
}

fn tag(field: u64, wire_type: u64) -> Vec<u8> {
    varint((field << 3) | wire_type)
}

/// A varint field, written even when 0.
fn uint(field: u64, v: u64) -> Vec<u8> {
    [tag(field, 0), varint(v)].concat()
}

/// A length-delimited field.
fn len(field: u64, bytes: &[u8]) -> Vec<u8> {
    [tag(field, 2), varint(bytes.len() as u64), bytes.to_vec()].concat()
}

/// Enum values as the contents of one packed record.
fn packed(values: &[i32]) -> Vec<u8> {
    values.iter().flat_map(|v| varint(*v as u64)).collect()
}

/// Every vector.
fn generate() -> Value {
    let s = scenario();
    let dnet = d_net();
    let (_, registrar) = signed("the dev registrar", dev::registrar());
    json!({
        // Pinned byte for byte by the vectors-before tests: it names the generator as it was
        // first written (now proto/tests/vectors/).
        "about": "consent-ledger protocol test vectors, generated from fixed seeds by proto/tests/vectors.rs; what each vector means: consent-proto crate docs, \"Test vectors\". Bytes are lower-case hex; keys are Ed25519 seeds BLAKE3(label).",
        "version": 1,
        "domains": {
            "entry_signature": String::from_utf8_lossy(domain::ENTRY_SIGNATURE),
            "entry_id": String::from_utf8_lossy(domain::ENTRY_ID),
            "feed_id": String::from_utf8_lossy(domain::FEED_ID),
            "next_key": String::from_utf8_lossy(domain::NEXT_KEY),
            "receipt_signature": String::from_utf8_lossy(domain::RECEIPT_SIGNATURE),
            "decision_signature": String::from_utf8_lossy(domain::DECISION_SIGNATURE),
            "auth": String::from_utf8_lossy(domain::AUTH),
        },
        "validation_clock_ms": NOW,
        "keys": LABELS.iter().map(|l| key_json(l)).collect::<Vec<_>>(),
        "dev_registrar": {
            "network_id": dev::NETWORK_ID,
            "key_labels": [REGISTRAR_0, REGISTRAR_1],
            "inception_ms": dev::REGISTRAR_INCEPTION_MS,
            "feed": hx(registrar.feed.0),
            "feed_text": registrar.feed.typed(Role::Registrar).to_string(),
            "inception": "registrar-inception",
        },
        "entries": s.entries.iter().map(named_json).collect::<Vec<_>>(),
        "encodings": encodings(&s),
        "signatures": signatures(),
        "text_forms": text_forms(&s),
        "pairwise": pairwise(&s),
        "auth": auth_json(&s),
        "receipts": receipts(&s),
        "merkle": merkle_json(&s),
        "decision_receipts": decisions(&s).iter().map(|d| decision_json(&s, d)).collect::<Vec<_>>(),
        "equivocation": equivocation(&s),
        "h3": h3_json(),
        "local_time": local_time_json(),
        "scopes": s.scoped.iter().map(named_json).collect::<Vec<_>>(),
        "scope_decisions": scope_decisions_json(),
        "context_digests": context_digests_json(),
        "consultations": s.consultation.iter().map(named_json).collect::<Vec<_>>(),
        "consultation_validation": consultation_validation_json(),
        "policy_changes": policy_changes_json(),
        "consultation_states": consultation_states_json(),
        "consultation_counts": consultation_counts_json(),
        "consultation_decisions": consultation_decisions_json(),
        "delegations": delegations_json(&dnet),
        "delegation_receipts": delegation_receipts_json(&dnet),
        "delegation_decisions": delegation_decisions_json(),
        "coarse_times": coarse_times_json(),
        "receipt_groups": receipt_groups(&s),
        "receipt_group_cases": receipt_group_cases(&s),
    })
}

fn read_file() -> Value {
    let text = match std::fs::read_to_string(PATH) {
        Ok(t) => t,
        Err(e) => panic!("cannot read {PATH}: {e} (write it with {WRITE}=1)"),
    };
    match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => panic!("{PATH} is not JSON: {e}"),
    }
}

#[test]
fn the_checked_in_vectors_are_the_generated_ones() {
    let generated = generate();
    if std::env::var_os(WRITE).is_some() {
        let text = match serde_json::to_string_pretty(&generated) {
            Ok(t) => t,
            Err(e) => panic!("JSON: {e}"),
        };
        if let Err(e) = std::fs::write(PATH, text + "\n") {
            panic!("cannot write {PATH}: {e}");
        }
    }
    let file = read_file();
    let (Some(file_map), Some(generated_map)) = (file.as_object(), generated.as_object()) else {
        panic!("the vectors are a JSON object");
    };
    let mut differ: Vec<&String> = generated_map
        .keys()
        .chain(file_map.keys())
        .filter(|k| file_map.get(*k) != generated_map.get(*k))
        .collect();
    differ.sort();
    differ.dedup();
    assert!(
        differ.is_empty(),
        "{PATH} differs from what proto/tests/vectors/ generates in {differ:?}: a change to the \
         protocol's bytes? If it is meant, rewrite the file with {WRITE}=1 and review the diff"
    );
}

fn text(v: &Value) -> &str {
    match v.as_str() {
        Some(s) => s,
        None => panic!("expected a string, got {v}"),
    }
}

fn bytes(v: &Value) -> Vec<u8> {
    match hex::decode(text(v)) {
        Ok(b) => b,
        Err(e) => panic!("{v} is not hex: {e}"),
    }
}

fn b32(v: &Value) -> [u8; 32] {
    match bytes(v).try_into() {
        Ok(b) => b,
        Err(b) => panic!("{} bytes where 32 were expected", b.len()),
    }
}

fn b64(v: &Value) -> [u8; 64] {
    match bytes(v).try_into() {
        Ok(b) => b,
        Err(b) => panic!("{} bytes where 64 were expected", b.len()),
    }
}

#[track_caller]
fn num(v: &Value) -> u64 {
    match v.as_u64() {
        Some(n) => n,
        None => panic!("expected a number, got {v}"),
    }
}

#[track_caller]
fn list(v: &Value) -> &Vec<Value> {
    match v.as_array() {
        Some(a) => a,
        None => panic!("expected a list, got {v}"),
    }
}

/// Decodes an entry vector and checks every field it states against what the crate computes.
fn check_entry(v: &Value) -> Entry {
    let name = text(&v["name"]);
    let entry = match Entry::decode(&bytes(&v["signed_entry"])) {
        Ok(e) => e,
        Err(e) => panic!("{name}: {e}"),
    };
    assert_eq!(hx(&entry.payload), text(&v["payload"]), "{name}");
    assert_eq!(hx(entry.signature), text(&v["signature"]), "{name}");
    assert_eq!(hx(entry.id.0), text(&v["id"]), "{name}");
    assert_eq!(entry.id.to_string(), text(&v["id_text"]), "{name}");
    assert_eq!(
        entry.id,
        consent_proto::entry::entry_id(&entry.payload, &entry.signature),
        "{name}"
    );
    assert_eq!(hx(entry.feed.0), text(&v["feed"]), "{name}");
    let typed: TypedFeedId = match text(&v["feed_text"]).parse() {
        Ok(t) => t,
        Err(e) => panic!("{name}: {e}"),
    };
    assert_eq!(typed.id, entry.feed, "{name}");
    assert_eq!(typed.role.as_str_name(), text(&v["role"]), "{name}");
    if entry.seq == 0 {
        assert_eq!(
            entry.feed,
            consent_proto::entry::feed_id(&entry.payload),
            "{name}"
        );
    }
    assert_eq!(entry.seq, num(&v["seq"]), "{name}");
    assert_eq!(
        hx(entry.prev.map_or([0; 32], |p| p.0)),
        text(&v["prev"]),
        "{name}"
    );
    assert_eq!(entry.time_ms, num(&v["time_ms"]), "{name}");
    assert_eq!(entry.body.kind().name(), text(&v["kind"]), "{name}");
    assert_eq!(
        wire(&entry).body.as_ref().map(body_json),
        Some(v["body"].clone()),
        "{name}"
    );
    let key = match PublicKey::from_bytes(&b32(&v["signing_key"])) {
        Ok(k) => k,
        Err(e) => panic!("{name}: {e}"),
    };
    assert!(entry.verify(&key), "{name}: signed by its signing key");
    entry
}

// ---- The tests ----

mod coarse_times;
mod consultation_states;
mod consultations;
mod delegation;
mod delegation_receipts;
mod json;
mod logs;
mod receipt_groups;
mod scenario;
mod scope_edges;
mod scopes;
mod signatures;
mod verify;
mod verify_delegation;
mod verify_scope;
use coarse_times::*;
use consultation_states::*;
use consultations::*;
use delegation::*;
use delegation_receipts::*;
use json::*;
use logs::*;
use receipt_groups::*;
use scenario::*;
use scope_edges::*;
use scopes::*;
use signatures::*;
use verify::*;
use verify_scope::*;
