//! The protocol's test vectors, `proto/vectors/vectors.json`: signed entries of every body kind
//! with their ids and feed ids, canonical and refused encodings with the refusal reason, the
//! signature rule's edge cases, text forms, the dev registrar and a pairwise citizen feed, a
//! collector's authentication statement, receipts, decision receipts with their log evidence, a
//! Merkle tree with inclusion and consistency proofs, a cosigned checkpoint note and an
//! equivocation. The crate docs ("Protocol specification", "Test vectors") say what each means.
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

use base64::Engine as _;
use consent_proto::body::{
    Accreditation, Ack, AckAnswer, Body, Grant, Policy, Request, Revoke, Suspension,
};
use consent_proto::decide::Query;
use consent_proto::entry::{Author, Entry};
use consent_proto::ids::{EntryId, FeedId, TypedFeedId, decode_text, encode_text};
use consent_proto::keys::{PublicKey, SecretKey};
use consent_proto::limits::MIN_TIME_MS;
use consent_proto::memory::MemoryLedger;
use consent_proto::merkle::{self, Tree};
use consent_proto::note::{Checkpoint, SignedNote, key_id};
use consent_proto::pb;
use consent_proto::pb::entry_payload::Body as WireBody;
use consent_proto::scope::Context;
use consent_proto::validate::Verdict;
use consent_proto::vocab::{DataCategory, Purpose, RequestKind, Role};
use consent_proto::{auth, dev, domain, evidence, receipt};
use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT, EIGHT_TORSION};
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use prost::Message;
use prost::bytes::Bytes;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha512};

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

// ---- The scenario ----

/// One entry of the vectors and who signed it.
struct Named {
    name: &'static str,
    signer: &'static str,
    role: Role,
    entry: Entry,
}

/// A small network's history, in the order a node accepts (and logs) it.
struct Scenario {
    entries: Vec<Named>,
    collector: FeedId,
    citizen: FeedId,
}

impl Scenario {
    fn entry(&self, name: &str) -> &Entry {
        match self.entries.iter().find(|n| n.name == name) {
            Some(n) => &n.entry,
            None => panic!("no entry {name}"),
        }
    }

    fn index(&self, name: &str) -> u64 {
        match self.entries.iter().position(|n| n.name == name) {
            Some(i) => i as u64,
            None => panic!("no entry {name}"),
        }
    }

    /// The arrival-log tree over the first `size` entries.
    fn tree(&self, size: usize) -> Tree {
        let mut tree = Tree::new();
        for n in &self.entries[..size] {
            tree.push(&n.entry.id.0);
        }
        tree
    }

    /// A ledger holding the first `size` entries.
    fn ledger(&self, size: usize) -> MemoryLedger {
        let mut ledger = MemoryLedger::new([self.entries[0].entry.feed]);
        for n in &self.entries[..size] {
            let verdict = ledger.submit(&n.entry, NOW);
            assert!(
                matches!(verdict, Verdict::Accept { .. }),
                "{}: {verdict:?}",
                n.name
            );
        }
        ledger
    }
}

fn signed<T>(what: &str, result: Result<T, consent_proto::Rejection>) -> T {
    match result {
        Ok(v) => v,
        Err(e) => panic!("{what} must be valid: {e}"),
    }
}

fn scenario() -> Scenario {
    let (mut registrar, reg0) = signed("the dev registrar", dev::registrar());
    let (mut collector, col0) = signed(
        "the collector's inception",
        Author::incept(Role::Collector, key(COLLECTOR_0), key(COLLECTOR_1), T),
    );
    let policy = signed(
        "the policy",
        collector.append(
            T,
            Body::Policy(Policy {
                version: 1,
                name: "Harbour City Mobility Lab".into(),
                purposes: [
                    Purpose::ServiceProvision,
                    Purpose::Research,
                    Purpose::ThirdPartySharing,
                ]
                .into_iter()
                .collect(),
                categories: [
                    DataCategory::Location,
                    DataCategory::Mobility,
                    DataCategory::Environmental,
                ]
                .into_iter()
                .collect(),
                retention_days: 365,
                recipients: vec!["City transport department".into()],
                jurisdiction: "EU/GDPR".into(),
                document_digest: digest("vectors/policy document"),
                document_url: "https://lab.example/privacy".into(),
                contact: "dpo@lab.example".into(),
                scope: None,
            }),
        ),
    );
    let accreditation = signed(
        "the accreditation",
        registrar.append(
            T,
            Body::Accreditation(Accreditation {
                collector: collector.feed(),
                valid_until: T + 365 * DAY,
            }),
        ),
    );
    let (mut citizen, cit0) = signed(
        "the citizen's inception",
        Author::incept(Role::Citizen, key(CITIZEN_0), key(CITIZEN_1), T),
    );
    let grant = signed(
        "the grant",
        citizen.append(
            T + HOUR,
            Body::Grant(Grant {
                collector: collector.feed(),
                policy: policy.id,
                purposes: [Purpose::ServiceProvision, Purpose::Research]
                    .into_iter()
                    .collect(),
                categories: [DataCategory::Location, DataCategory::Mobility]
                    .into_iter()
                    .collect(),
                retention_days: 30,
                valid_from: T,
                valid_until: Some(T + 30 * DAY),
                scope: None,
            }),
        ),
    );
    let request = signed(
        "the access request",
        citizen.append(
            T + 2 * HOUR,
            Body::Request(Request {
                collector: collector.feed(),
                kind: RequestKind::Access,
                details_digest: Some(digest("vectors/request details")),
            }),
        ),
    );
    let ack_done = signed(
        "the ack",
        collector.append(
            T + 3 * HOUR,
            Body::Ack(Ack {
                request: request.id,
                answer: AckAnswer::Done,
            }),
        ),
    );
    let revoke = signed(
        "the revocation",
        citizen.append(
            T + 4 * HOUR,
            Body::Revoke(Revoke {
                grant: grant.id,
                erase: true,
            }),
        ),
    );
    let ack_refused = signed(
        "the refusal",
        collector.append(
            T + 5 * HOUR,
            Body::Ack(Ack {
                request: revoke.id,
                answer: AckAnswer::Refused("Records kept for 10 years under tax law".into()),
            }),
        ),
    );
    let rotation = signed("the rotation", citizen.rotate(T + 6 * HOUR, key(CITIZEN_2)));
    let erasure = signed(
        "the erasure request",
        citizen.append(
            T + 7 * HOUR,
            Body::Request(Request {
                collector: collector.feed(),
                kind: RequestKind::Erasure,
                details_digest: None,
            }),
        ),
    );
    let suspension = signed(
        "the suspension",
        registrar.append(
            T + 8 * HOUR,
            Body::Suspension(Suspension {
                collector: collector.feed(),
                reason: "Audit found data kept past its retention".into(),
            }),
        ),
    );
    let named = |name, signer, role, entry| Named {
        name,
        signer,
        role,
        entry,
    };
    Scenario {
        collector: collector.feed(),
        citizen: citizen.feed(),
        entries: vec![
            named("registrar-inception", REGISTRAR_0, Role::Registrar, reg0),
            named("collector-inception", COLLECTOR_0, Role::Collector, col0),
            named("policy", COLLECTOR_0, Role::Collector, policy),
            named("accreditation", REGISTRAR_0, Role::Registrar, accreditation),
            named("citizen-inception", CITIZEN_0, Role::Citizen, cit0),
            named("grant", CITIZEN_0, Role::Citizen, grant),
            named("request-access", CITIZEN_0, Role::Citizen, request),
            named("ack-done", COLLECTOR_0, Role::Collector, ack_done),
            named("revoke-erase", CITIZEN_0, Role::Citizen, revoke),
            named("ack-refused", COLLECTOR_0, Role::Collector, ack_refused),
            named("rotation", CITIZEN_1, Role::Citizen, rotation),
            named("request-erasure", CITIZEN_1, Role::Citizen, erasure),
            named("suspension", REGISTRAR_0, Role::Registrar, suspension),
        ],
    }
}

// ---- JSON forms ----

fn key_json(label: &str) -> Value {
    let k = key(label);
    let seed = k.to_seed();
    json!({
        "label": label,
        "seed": hx(&seed[..]),
        "public": hx(k.public().to_bytes()),
        "text": k.public().to_string(),
    })
}

fn role_name(v: i32) -> &'static str {
    pb::Role::try_from(v).map_or("?", |r| r.as_str_name())
}

fn purpose_names(values: &[i32]) -> Vec<&'static str> {
    values
        .iter()
        .map(|v| pb::Purpose::try_from(*v).map_or("?", |p| p.as_str_name()))
        .collect()
}

fn category_names(values: &[i32]) -> Vec<&'static str> {
    values
        .iter()
        .map(|v| pb::DataCategory::try_from(*v).map_or("?", |c| c.as_str_name()))
        .collect()
}

/// A body as its `.proto` fields: bytes in hex, enums by name, every field written.
fn body_json(body: &WireBody) -> Value {
    match body {
        WireBody::Inception(b) => json!({"inception": {
            "role": role_name(b.role),
            "signing_key": hx(&b.signing_key),
            "next_key_digest": hx(&b.next_key_digest),
        }}),
        WireBody::Rotation(b) => json!({"rotation": {
            "signing_key": hx(&b.signing_key),
            "next_key_digest": hx(&b.next_key_digest),
        }}),
        WireBody::Policy(b) => json!({"policy": {
            "version": b.version,
            "name": b.name,
            "purposes": purpose_names(&b.purposes),
            "categories": category_names(&b.categories),
            "retention_days": b.retention_days,
            "recipients": b.recipients,
            "jurisdiction": b.jurisdiction,
            "document_digest": hx(&b.document_digest),
            "document_url": b.document_url,
            "contact": b.contact,
        }}),
        WireBody::Accreditation(b) => json!({"accreditation": {
            "collector": hx(&b.collector),
            "valid_until": b.valid_until,
        }}),
        WireBody::Suspension(b) => json!({"suspension": {
            "collector": hx(&b.collector),
            "reason": b.reason,
        }}),
        WireBody::Grant(b) => json!({"grant": {
            "collector": hx(&b.collector),
            "policy": hx(&b.policy),
            "purposes": purpose_names(&b.purposes),
            "categories": category_names(&b.categories),
            "retention_days": b.retention_days,
            "valid_from": b.valid_from,
            "valid_until": b.valid_until,
        }}),
        WireBody::Revoke(b) => json!({"revoke": {
            "grant": hx(&b.grant),
            "erase": b.erase,
        }}),
        WireBody::Request(b) => json!({"request": {
            "collector": hx(&b.collector),
            "kind": pb::RequestKind::try_from(b.kind).map_or("?", |k| k.as_str_name()),
            "details_digest": hx(&b.details_digest),
        }}),
        WireBody::Ack(b) => json!({"ack": {
            "request": hx(&b.request),
            "outcome": pb::AckOutcome::try_from(b.outcome).map_or("?", |o| o.as_str_name()),
            "reason": b.reason,
        }}),
    }
}

fn wire(entry: &Entry) -> pb::EntryPayload {
    match pb::EntryPayload::decode(entry.payload.as_ref()) {
        Ok(w) => w,
        Err(e) => panic!("a signed payload decodes: {e}"),
    }
}

fn entry_json(name: &str, signer: &str, signing_key: &PublicKey, role: Role, e: &Entry) -> Value {
    let payload = wire(e);
    let body = payload.body.as_ref().map_or(Value::Null, body_json);
    json!({
        "name": name,
        "kind": e.body.kind().name(),
        "role": role.as_str_name(),
        "signer": signer,
        "signing_key": hx(signing_key.to_bytes()),
        "feed": hx(e.feed.0),
        "feed_text": e.feed.typed(role).to_string(),
        "seq": e.seq,
        "prev": hx(e.prev.map_or([0; 32], |p| p.0)),
        "time_ms": e.time_ms,
        "body": body,
        "payload": hx(&e.payload),
        "signature": hx(e.signature),
        "signed_entry": hx(e.encode()),
        "id": hx(e.id.0),
        "id_text": e.id.to_string(),
    })
}

fn named_json(n: &Named) -> Value {
    entry_json(n.name, n.signer, &key(n.signer).public(), n.role, &n.entry)
}

fn signed_entry(payload: &[u8], signer: &str) -> Vec<u8> {
    pb::SignedEntry {
        payload: Bytes::copy_from_slice(payload),
        signature: Bytes::copy_from_slice(&key(signer).sign(domain::ENTRY_SIGNATURE, payload)),
    }
    .encode_to_vec()
}

/// Canonical and refused encodings of entry payloads, each signed by the author's key so that
/// only the encoding decides.
fn encodings(s: &Scenario) -> Vec<Value> {
    // The revoke entry: feed, seq, prev, time_ms, revoke { grant, erase: true }.
    let revoke = s.entry("revoke-erase");
    let w = wire(revoke);
    let Some(WireBody::Revoke(r)) = &w.body else {
        panic!("a revoke")
    };
    let (feed, seq, prev, time) = (
        len(1, &w.feed),
        uint(2, w.seq),
        len(3, &w.prev),
        uint(4, w.time_ms),
    );
    let head = [feed.clone(), seq.clone(), prev.clone(), time.clone()].concat();
    let inner = [len(1, &r.grant), uint(2, 1)].concat();
    let body = len(16, &inner);
    let canonical = [head.clone(), body.clone()].concat();
    assert_eq!(
        canonical,
        revoke.payload.to_vec(),
        "the writer is canonical"
    );
    let with_inner = |inner: Vec<u8>| [head.clone(), len(16, &inner)].concat();
    let request = [len(1, &s.collector.0), uint(2, RequestKind::Access as u64)].concat();

    // The grant: purposes and categories, two of each.
    let grant = s.entry("grant");
    let gw = wire(grant);
    let Some(WireBody::Grant(g)) = &gw.body else {
        panic!("a grant")
    };
    let grant_head = [
        len(1, &gw.feed),
        uint(2, gw.seq),
        len(3, &gw.prev),
        uint(4, gw.time_ms),
    ]
    .concat();
    let grant_with = |purposes: Vec<u8>| {
        let inner = [
            len(1, &g.collector),
            len(2, &g.policy),
            purposes,
            len(4, &packed(&g.categories)),
            uint(5, u64::from(g.retention_days)),
            uint(6, g.valid_from),
            uint(7, g.valid_until),
        ]
        .concat();
        [grant_head.clone(), len(15, &inner)].concat()
    };
    let canonical_grant = grant_with(len(3, &packed(&g.purposes)));
    assert_eq!(
        canonical_grant,
        grant.payload.to_vec(),
        "the writer is canonical"
    );
    let unpacked: Vec<u8> = g.purposes.iter().flat_map(|p| uint(3, *p as u64)).collect();
    let split: Vec<u8> = g
        .purposes
        .iter()
        .flat_map(|p| len(3, &packed(&[*p])))
        .collect();

    // The refusal: ack { request, outcome: REFUSED, reason }.
    let ack = s.entry("ack-refused");
    let aw = wire(ack);
    let Some(WireBody::Ack(a)) = &aw.body else {
        panic!("an ack")
    };
    let ack_with = |reason: &[u8]| {
        let inner = [
            len(1, &a.request),
            uint(2, a.outcome as u64),
            len(3, reason),
        ]
        .concat();
        [
            len(1, &aw.feed),
            uint(2, aw.seq),
            len(3, &aw.prev),
            uint(4, aw.time_ms),
            len(18, &inner),
        ]
        .concat()
    };
    assert_eq!(
        ack_with(a.reason.as_bytes()),
        ack.payload.to_vec(),
        "the writer is canonical"
    );

    let forms = [
        (
            "canonical-revoke",
            "the revoke-erase entry's payload: fields 1, 2, 3, 4 in order, then the body (field 16) holding grant (1) and erase (2) = 1",
            canonical.clone(),
            CITIZEN_0,
            None,
        ),
        (
            "canonical-grant",
            "the grant entry's payload: purposes and categories each one packed record",
            canonical_grant,
            CITIZEN_0,
            None,
        ),
        (
            "unknown-field",
            "the canonical revoke payload followed by field 127 (varint 1), which EntryPayload does not define",
            [canonical.clone(), uint(127, 1)].concat(),
            CITIZEN_0,
            Some("non-canonical"),
        ),
        (
            "out-of-order",
            "prev (field 3) written before seq (field 2)",
            [
                feed.clone(),
                prev.clone(),
                seq.clone(),
                time.clone(),
                body.clone(),
            ]
            .concat(),
            CITIZEN_0,
            Some("non-canonical"),
        ),
        (
            "repeated-scalar",
            "time_ms (field 4) written twice with the same value",
            [head.clone(), time.clone(), body.clone()].concat(),
            CITIZEN_0,
            Some("non-canonical"),
        ),
        (
            "overlong-varint",
            "seq written in two bytes (83 00) where one (03) is enough",
            [
                feed.clone(),
                tag(2, 0),
                overlong(w.seq),
                prev.clone(),
                time.clone(),
                body.clone(),
            ]
            .concat(),
            CITIZEN_0,
            Some("non-canonical"),
        ),
        (
            "overlong-length",
            "the body's length 36 written in two bytes (a4 00)",
            [
                head.clone(),
                tag(16, 2),
                overlong(inner.len() as u64),
                inner.clone(),
            ]
            .concat(),
            CITIZEN_0,
            Some("non-canonical"),
        ),
        (
            "explicit-default",
            "revoke.erase = false written out (10 00) instead of omitted",
            with_inner([len(1, &r.grant), uint(2, 0)].concat()),
            CITIZEN_0,
            Some("non-canonical"),
        ),
        (
            "bool-not-0-or-1",
            "revoke.erase written as the varint 2",
            with_inner([len(1, &r.grant), uint(2, 2)].concat()),
            CITIZEN_0,
            Some("non-canonical"),
        ),
        (
            "two-bodies",
            "a revoke (field 16) and then a request (field 17): two members of the body oneof",
            [canonical.clone(), len(17, &request)].concat(),
            CITIZEN_0,
            Some("non-canonical"),
        ),
        (
            "unpacked-repeated",
            "grant.purposes (field 3) as one varint record per value instead of one packed record",
            grant_with(unpacked),
            CITIZEN_0,
            Some("non-canonical"),
        ),
        (
            "packed-split",
            "grant.purposes as two packed records of one value each",
            grant_with(split),
            CITIZEN_0,
            Some("non-canonical"),
        ),
        (
            "missing-body",
            "feed, seq, prev and time_ms, canonically encoded, and no body",
            head.clone(),
            CITIZEN_0,
            Some("missing-body"),
        ),
        (
            "wrong-wire-type",
            "seq (field 2, a varint) sent as a length-delimited field holding the varint",
            [feed, len(2, &varint(w.seq)), prev, time, body].concat(),
            CITIZEN_0,
            Some("malformed"),
        ),
        (
            "truncated",
            "the canonical revoke payload without its last byte",
            canonical[..canonical.len() - 1].to_vec(),
            CITIZEN_0,
            Some("malformed"),
        ),
        (
            "invalid-utf8",
            "the refusal's ack.reason (a string) holding the bytes ff fe, which are not UTF-8",
            ack_with(&[0xff, 0xfe]),
            COLLECTOR_0,
            Some("malformed"),
        ),
    ];
    forms
        .into_iter()
        .map(|(name, about, payload, signer, reason)| {
            json!({
                "name": name,
                "about": about,
                "signer": signer,
                "payload": hx(&payload),
                "signed_entry": hx(signed_entry(&payload, signer)),
                "reason": reason,
            })
        })
        .collect()
}

// ---- The signature rule ----

/// Whether `bytes` encode a field element below `2^255 - 19` (the sign bit aside).
fn canonical_y(bytes: &[u8; 32]) -> bool {
    let top = bytes[31] & 0x7f;
    !(top == 0x7f && bytes[1..31].iter().all(|b| *b == 0xff) && bytes[0] >= 0xed)
}

/// A point from its encoding, as RFC 8032 decodes it (a non-canonical `y` is refused).
fn point(bytes: &[u8; 32]) -> Option<EdwardsPoint> {
    if !canonical_y(bytes) {
        return None;
    }
    CompressedEdwardsY(*bytes).decompress()
}

/// RFC 8032's `k = SHA-512(R || A || M) mod l`, with `M = domain || message`.
fn challenge(r: &[u8], a: &[u8], message: &[u8]) -> Scalar {
    let mut hasher = Sha512::new();
    hasher.update(r);
    hasher.update(a);
    hasher.update(domain::ENTRY_SIGNATURE);
    hasher.update(message);
    let digest: [u8; 64] = hasher.finalize().into();
    Scalar::from_bytes_mod_order_wide(&digest)
}

/// RFC 8032 verification with the cofactorless equation `[s]B = R + [k]A`, as OpenSSL,
/// libsodium, Go and ed25519-dalek's `verify_strict` check it (without their extra refusals of
/// small-order points): canonical `s`, `R` and `A` decoded, no factor 8.
fn cofactorless(key: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> bool {
    let mut r_bytes = [0u8; 32];
    let mut s_bytes = [0u8; 32];
    r_bytes.copy_from_slice(&signature[..32]);
    s_bytes.copy_from_slice(&signature[32..]);
    let Some(s) = Option::<Scalar>::from(Scalar::from_canonical_bytes(s_bytes)) else {
        return false;
    };
    let (Some(r), Some(a)) = (point(&r_bytes), point(key)) else {
        return false;
    };
    let k = challenge(&r_bytes, key, message);
    s * ED25519_BASEPOINT_POINT == r + k * a
}

/// This protocol's rule ([`consent_proto::sig`]), through the public API.
fn protocol_rule(key: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> bool {
    PublicKey::from_bytes(key).is_ok_and(|k| k.verify(domain::ENTRY_SIGNATURE, message, signature))
}

/// The clamped secret scalar of an Ed25519 seed (RFC 8032 5.1.5).
fn secret_scalar(seed: &[u8; 32]) -> Scalar {
    let expanded: [u8; 64] = Sha512::digest(seed).into();
    let mut a = [0u8; 32];
    a.copy_from_slice(&expanded[..32]);
    a[0] &= 248;
    a[31] &= 127;
    a[31] |= 64;
    Scalar::from_bytes_mod_order(a)
}

/// `R || s` with `s = r + k·a`.
fn craft(r_bytes: [u8; 32], key: &[u8; 32], r: Scalar, a: Scalar) -> [u8; 64] {
    let s = r + challenge(&r_bytes, key, SIGNED_MESSAGE) * a;
    let mut out = [0u8; 64];
    out[..32].copy_from_slice(&r_bytes);
    out[32..].copy_from_slice(s.as_bytes());
    out
}

/// The group order `l`, little-endian.
const L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// `s + l`: the same scalar, not canonically encoded.
fn plus_l(s: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for ((o, a), b) in out.iter_mut().zip(s).zip(L) {
        let v = u16::from(*a) + u16::from(b) + carry;
        *o = v as u8;
        carry = v >> 8;
    }
    assert_eq!(carry, 0, "s < l, so s + l < 2^253");
    out
}

fn signatures() -> Vec<Value> {
    let seed = *blake3::hash(SIGNER.as_bytes()).as_bytes();
    let signer = SecretKey::from_seed(&seed);
    let a = secret_scalar(&seed);
    let key = signer.public().to_bytes();
    assert_eq!(
        (a * ED25519_BASEPOINT_POINT).compress().to_bytes(),
        key,
        "the secret scalar"
    );
    let base = |r: Scalar| (r * ED25519_BASEPOINT_POINT).compress().to_bytes();
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let mut above_p = [0xffu8; 32];
    above_p[0] = 0xee;
    above_p[31] = 0x7f;

    let honest = signer.sign(domain::ENTRY_SIGNATURE, SIGNED_MESSAGE);
    let r = Scalar::from(123_456_789u64);
    let torsion_r = (r * ED25519_BASEPOINT_POINT + EIGHT_TORSION[1])
        .compress()
        .to_bytes();
    let torsion = craft(torsion_r, &key, r, a);
    let small_r = craft(identity, &key, Scalar::ZERO, a);
    let mut big_s = honest;
    big_s[32..].copy_from_slice(&plus_l(&honest[32..]));
    let above_r = craft(above_p, &key, Scalar::ZERO, a);
    let r = Scalar::from(987_654_321u64);
    let small_key = craft(base(r), &identity, r, Scalar::ZERO);
    let mixed = (a * ED25519_BASEPOINT_POINT + EIGHT_TORSION[1])
        .compress()
        .to_bytes();
    // The first nonce from 555555555 on whose challenge k is not a multiple of 8, so that
    // k·T != 0 and the cofactorless equation fails.
    let (mixed_sig, _) = (555_555_555u64..)
        .map(|n| {
            let r = Scalar::from(n);
            (craft(base(r), &mixed, r, a), n)
        })
        .find(|(sig, _)| !cofactorless(&mixed, SIGNED_MESSAGE, sig))
        .expect("7 in 8 nonces do");

    let cases = [
        (
            "honest",
            "an RFC 8032 signature: valid under every rule",
            key,
            honest,
            true,
            true,
        ),
        (
            "torsion-in-r",
            "R = r·B + T with T of order 8, s = r + k·a: the cofactored equation holds, the cofactorless one does not",
            key,
            torsion,
            true,
            false,
        ),
        (
            "small-order-r",
            "R is the identity (small order) and s = k·a: refused here; the cofactorless equation holds",
            key,
            small_r,
            false,
            true,
        ),
        (
            "non-canonical-s",
            "the honest signature with s + l in place of s: refused everywhere (s must be below l)",
            key,
            big_s,
            false,
            false,
        ),
        (
            "non-canonical-r",
            "R encodes y = p + 1 (not below p; read modulo p it is the identity) and s = k·a: refused here and by RFC 8032 decoding",
            key,
            above_r,
            false,
            false,
        ),
        (
            "small-order-key",
            "A is the identity (small order), R = r·B, s = r: refused here; the cofactorless equation holds",
            identity,
            small_key,
            false,
            true,
        ),
        (
            "mixed-order-key",
            "A = a·B + T with T of order 8 (a key no honest key generation makes), R = r·B, s = r + k·a, k not a multiple of 8: valid here, not under the cofactorless equation",
            mixed,
            mixed_sig,
            true,
            false,
        ),
    ];
    cases
        .into_iter()
        .map(|(name, about, key, signature, valid, cofactorless)| {
            json!({
                "name": name,
                "about": about,
                "key": hx(key),
                "domain": String::from_utf8_lossy(domain::ENTRY_SIGNATURE),
                "message": hx(SIGNED_MESSAGE),
                "signature": hx(signature),
                "valid": valid,
                "cofactorless": cofactorless,
            })
        })
        .collect()
}

// ---- Logs, notes, receipts ----

fn hashes_json(hashes: &[merkle::Hash]) -> Vec<String> {
    hashes.iter().map(hx).collect()
}

fn inclusion(tree: &Tree, index: u64, size: u64) -> Vec<merkle::Hash> {
    match merkle::inclusion_proof(tree, index, size) {
        Ok(Some(proof)) => proof,
        Ok(None) => panic!("{index} is not below {size}"),
        Err(never) => match never {},
    }
}

fn consistency(tree: &Tree, old: u64, new: u64) -> Vec<merkle::Hash> {
    match merkle::consistency_proof(tree, old, new) {
        Ok(Some(proof)) => proof,
        Ok(None) => panic!("{old} is above {new}"),
        Err(never) => match never {},
    }
}

fn root(tree: &Tree, size: u64) -> merkle::Hash {
    match tree.root_at(size) {
        Some(root) => root,
        None => panic!("{size} is beyond the tree"),
    }
}

const INCLUSIONS: &[(u64, u64)] = &[
    (0, 1),
    (2, 3),
    (4, 7),
    (5, 6),
    (5, 8),
    (6, 8),
    (5, 12),
    (8, 12),
];
const CONSISTENCIES: &[(u64, u64)] = &[
    (0, 13),
    (1, 2),
    (3, 7),
    (4, 8),
    (6, 8),
    (6, 12),
    (1, 13),
    (2, 13),
    (3, 13),
    (4, 13),
    (5, 13),
    (6, 13),
    (7, 13),
    (8, 13),
    (12, 13),
    (13, 13),
];

fn merkle_json(s: &Scenario) -> Value {
    let n = s.entries.len() as u64;
    let tree = s.tree(s.entries.len());
    let mut inclusions: Vec<(u64, u64)> = (0..n).map(|i| (i, n)).collect();
    inclusions.extend_from_slice(INCLUSIONS);
    json!({
        "leaves": s.entries.iter().map(|e| hx(e.entry.id.0)).collect::<Vec<_>>(),
        "leaf_hashes": s.entries.iter().map(|e| hx(merkle::leaf_hash(&e.entry.id.0))).collect::<Vec<_>>(),
        "roots": (0..=n).map(|size| hx(root(&tree, size))).collect::<Vec<_>>(),
        "inclusion": inclusions.iter().map(|(index, size)| json!({
            "index": index,
            "size": size,
            "hashes": hashes_json(&inclusion(&tree, *index, *size)),
        })).collect::<Vec<_>>(),
        "consistency": CONSISTENCIES.iter().map(|(old, new)| json!({
            "old": old,
            "new": new,
            "hashes": hashes_json(&consistency(&tree, *old, *new)),
        })).collect::<Vec<_>>(),
    })
}

/// The node's checkpoint of the first `size` entries at `time_ms`, cosigned by the witness 5 s
/// later.
fn note(s: &Scenario, size: usize, time_ms: u64) -> SignedNote {
    let node = key(NODE);
    let witness = key(WITNESS);
    let checkpoint = Checkpoint {
        origin: node.public().to_text("node"),
        size: size as u64,
        root: root(&s.tree(size), size as u64),
        time_ms,
    };
    let mut note = SignedNote::sign(checkpoint, &node);
    let name = witness.public().to_text("node");
    let cosignature = note.cosignature(&name, &witness, time_ms / 1000 + 5);
    assert!(note.add_cosignature(cosignature, &witness.public()));
    note
}

fn note_json(note: &SignedNote) -> Value {
    let body = note.checkpoint.body();
    let signatures: Vec<Value> = note
        .signatures
        .iter()
        .map(|sig| {
            let key = match PublicKey::from_text(&sig.name, "node") {
                Ok(key) => key,
                Err(e) => panic!("signers are node ids: {e}"),
            };
            match sig.cosigned_at {
                None => json!({
                    "kind": "signature",
                    "name": sig.name,
                    "key": hx(key.to_bytes()),
                    "key_id": hx(sig.key_id),
                    "signed": body,
                    "signature": hx(sig.signature),
                }),
                Some(time_s) => json!({
                    "kind": "cosignature",
                    "name": sig.name,
                    "key": hx(key.to_bytes()),
                    "key_id": hx(sig.key_id),
                    "time_s": time_s,
                    "signed": format!("cosignature/v1\ntime {time_s}\n{body}"),
                    "signature": hx(sig.signature),
                }),
            }
        })
        .collect();
    json!({
        "origin": note.checkpoint.origin,
        "size": note.checkpoint.size,
        "root": hx(note.checkpoint.root),
        "root_base64": base64::engine::general_purpose::STANDARD.encode(note.checkpoint.root),
        "time_ms": note.checkpoint.time_ms,
        "body": body,
        "signatures": signatures,
        "text": note.to_text(),
    })
}

fn inclusion_pb(s: &Scenario, name: &str, size: usize) -> pb::InclusionProof {
    let index = s.index(name);
    pb::InclusionProof {
        index,
        tree_size: size as u64,
        entry_id: Bytes::copy_from_slice(&s.entry(name).id.0),
        hashes: inclusion(&s.tree(size), index, size as u64)
            .iter()
            .map(|h| Bytes::copy_from_slice(h))
            .collect(),
    }
}

fn inclusion_json(proof: &pb::InclusionProof) -> Value {
    json!({
        "index": proof.index,
        "tree_size": proof.tree_size,
        "entry_id": hx(&proof.entry_id),
        "hashes": proof.hashes.iter().map(hx).collect::<Vec<_>>(),
    })
}

/// A decision receipt as a node holding the first `size` entries signs it at `time_ms`, with
/// its checkpoint signed 10 minutes before.
struct Decided {
    name: &'static str,
    size: usize,
    time_ms: u64,
    question: pb::CheckRequest,
    revocation: Option<&'static str>,
}

fn decisions(s: &Scenario) -> Vec<Decided> {
    let question = |at_ms| pb::CheckRequest {
        subject: Bytes::copy_from_slice(&s.citizen.0),
        collector: Bytes::copy_from_slice(&s.collector.0),
        purpose: Purpose::Research as i32,
        category: DataCategory::Mobility as i32,
        at_ms,
        ..Default::default()
    };
    vec![
        Decided {
            name: "allow",
            size: 6,
            time_ms: T + HOUR + 30 * MINUTE,
            question: question(0),
            revocation: None,
        },
        Decided {
            name: "deny-revoked-past",
            size: 12,
            time_ms: T + 7 * HOUR + 30 * MINUTE,
            question: question(T + 5 * HOUR + 30 * MINUTE),
            revocation: Some("revoke-erase"),
        },
    ]
}

fn decision_receipt(s: &Scenario, d: &Decided) -> (pb::DecisionReceipt, SignedNote) {
    let at_ms = consent_proto::decide::asked_at(d.question.at_ms, d.time_ms);
    let outcome = s.ledger(d.size).check(&Query {
        subject: s.citizen,
        collector: s.collector,
        purpose: Purpose::Research,
        category: DataCategory::Mobility,
        at_ms,
        context: Context::NONE,
    });
    let (head_seq, head) = outcome.subject_head.expect("the subject is known");
    let payload = pb::DecisionPayload {
        // As a node signs it: a question left at 0 states the time decided.
        question: Some(receipt::signed_question(&d.question, d.time_ms)),
        decision: outcome.decision as i32,
        reason: outcome.reason as i32,
        grant: outcome
            .grant
            .map(|g| Bytes::copy_from_slice(&g.0))
            .unwrap_or_default(),
        subject_head: Bytes::copy_from_slice(&head.0),
        subject_head_seq: head_seq,
        log_size: d.size as u64,
        time_ms: d.time_ms,
        at_ms,
        when: consent_proto::decide::question_time(at_ms, d.time_ms) as i32,
        revocation: d
            .revocation
            .map(|r| Bytes::copy_from_slice(&s.entry(r).id.0))
            .unwrap_or_default(),
        ..Default::default()
    };
    let note = note(s, d.size, d.time_ms - 10 * MINUTE);
    let mut receipt = receipt::sign_decision(&key(NODE), payload);
    receipt.checkpoint = note.to_text();
    receipt.grant_inclusion = Some(inclusion_pb(s, "grant", d.size));
    receipt.revocation_inclusion = d.revocation.map(|r| inclusion_pb(s, r, d.size));
    (receipt, note)
}

fn decision_json(s: &Scenario, d: &Decided) -> Value {
    let (receipt, note) = decision_receipt(s, d);
    let payload = match pb::DecisionPayload::decode(receipt.payload.as_ref()) {
        Ok(p) => p,
        Err(e) => panic!("a signed payload decodes: {e}"),
    };
    let q = &receipt::signed_question(&d.question, d.time_ms);
    json!({
        "name": d.name,
        "node_key": hx(&payload.node),
        "witness": key(WITNESS).public().to_text("node"),
        "question": {
            "subject": hx(&q.subject),
            "collector": hx(&q.collector),
            "purpose": purpose_names(&[q.purpose])[0],
            "category": category_names(&[q.category])[0],
            "at_ms": q.at_ms,
        },
        "decision": payload.decision().as_str_name(),
        "reason": payload.reason().as_str_name(),
        "grant": hx(&payload.grant),
        "subject_head": hx(&payload.subject_head),
        "subject_head_seq": payload.subject_head_seq,
        "log_size": payload.log_size,
        "time_ms": payload.time_ms,
        "at_ms": payload.at_ms,
        "when": payload.when().as_str_name(),
        "revocation": hx(&payload.revocation),
        "payload": hx(&receipt.payload),
        "signature": hx(&receipt.signature),
        "checkpoint": note_json(&note),
        "grant_inclusion": receipt.grant_inclusion.as_ref().map_or(Value::Null, inclusion_json),
        "revocation_inclusion": receipt.revocation_inclusion.as_ref().map_or(Value::Null, inclusion_json),
        "receipt": hx(receipt.encode_to_vec()),
    })
}

fn receipts(s: &Scenario) -> Vec<Value> {
    ["grant", "revoke-erase"]
        .into_iter()
        .map(|name| {
            let e = s.entry(name);
            let index = s.index(name);
            let time_ms = e.time_ms + 1;
            let r = receipt::sign(&key(NODE), e.id, index, time_ms);
            json!({
                "entry": name,
                "node_key": hx(key(NODE).public().to_bytes()),
                "entry_id": hx(e.id.0),
                "index": index,
                "time_ms": time_ms,
                "payload": hx(&r.payload),
                "signature": hx(&r.signature),
            })
        })
        .collect()
}

fn auth_json(s: &Scenario) -> Value {
    let node = key(NODE).public();
    let time_ms = T + HOUR;
    let signature = auth::sign(&key(COLLECTOR_0), &node, &s.collector, time_ms);
    json!({
        "signer": COLLECTOR_0,
        "collector": hx(s.collector.0),
        "node_key": hx(node.to_bytes()),
        "time_ms": time_ms,
        "domain": String::from_utf8_lossy(domain::AUTH),
        "statement": hx(auth::statement(&node, &s.collector, time_ms)),
        "signature": hx(signature),
    })
}

fn text_forms(s: &Scenario) -> Vec<Value> {
    let form = |prefix: &str, bytes: [u8; 32]| json!({"prefix": prefix, "bytes": hx(bytes), "text": encode_text(prefix, &bytes)});
    let policy = match wire(s.entry("policy")).body {
        Some(WireBody::Policy(p)) => p.document_digest,
        _ => panic!("a policy"),
    };
    let mut digest = [0u8; 32];
    digest.copy_from_slice(&policy);
    vec![
        form("cit", s.citizen.0),
        form("col", s.collector.0),
        form("reg", s.entries[0].entry.feed.0),
        form("feed", s.citizen.0),
        form("ent", s.entry("grant").id.0),
        form("dig", digest),
        form("node", key(NODE).public().to_bytes()),
        form("key", key(CITIZEN_0).public().to_bytes()),
    ]
}

fn pairwise(s: &Scenario) -> Value {
    let master = *blake3::hash(b"vectors/wallet master").as_bytes();
    let seed = |n: u32| {
        blake3::derive_key(
            PAIRWISE_KEY,
            &[&master[..], &s.collector.0[..], &n.to_le_bytes()[..]].concat(),
        )
    };
    let time = blake3::derive_key(PAIRWISE_TIME, &[&master[..], &s.collector.0[..]].concat());
    let mut eight = [0u8; 8];
    eight.copy_from_slice(&time[..8]);
    let inception_ms = MIN_TIME_MS + u64::from_le_bytes(eight) % (365 * DAY);
    let key0 = SecretKey::from_seed(&seed(0));
    let (_, inception) = signed(
        "the pairwise inception",
        Author::incept(
            Role::Citizen,
            key0.clone(),
            SecretKey::from_seed(&seed(1)),
            inception_ms,
        ),
    );
    json!({
        "master": hx(master),
        "collector": hx(s.collector.0),
        "keys": (0..3u32).map(|n| json!({
            "n": n,
            "seed": hx(seed(n)),
            "public": hx(SecretKey::from_seed(&seed(n)).public().to_bytes()),
        })).collect::<Vec<_>>(),
        "inception_ms": inception_ms,
        "inception": entry_json("pairwise-inception", "pairwise key 0", &key0.public(), Role::Citizen, &inception),
    })
}

fn equivocation(s: &Scenario) -> Value {
    let (mut mallory, m0) = signed(
        "mallory's inception",
        Author::incept(Role::Citizen, key(MALLORY_0), key(MALLORY_1), T),
    );
    let request = |kind| {
        Body::Request(Request {
            collector: s.collector,
            kind,
            details_digest: None,
        })
    };
    let first = signed(
        "the first entry",
        mallory.append(T + HOUR, request(RequestKind::Access)),
    );
    let second = signed(
        "the second entry",
        Entry::sign(
            Some(m0.feed),
            1,
            Some(m0.id),
            T + HOUR,
            &request(RequestKind::Erasure),
            &key(MALLORY_0),
        ),
    );
    let json =
        |name, e: &Entry| entry_json(name, MALLORY_0, &key(MALLORY_0).public(), Role::Citizen, e);
    json!({
        "feed": hx(m0.feed.0),
        "seq": 1,
        "inception": json("mallory-inception", &m0),
        "first": json("mallory-first", &first),
        "second": json("mallory-second", &second),
    })
}

/// Every vector.
fn generate() -> Value {
    let s = scenario();
    let (_, registrar) = signed("the dev registrar", dev::registrar());
    json!({
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
    })
}

// ---- The tests ----

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
        "{PATH} differs from what proto/tests/vectors.rs generates in {differ:?}: a change to the \
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

fn num(v: &Value) -> u64 {
    match v.as_u64() {
        Some(n) => n,
        None => panic!("expected a number, got {v}"),
    }
}

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

#[test]
fn every_vector_in_the_file_verifies() {
    let file = read_file();

    // Keys: seed = BLAKE3(label).
    for k in list(&file["keys"]) {
        let label = text(&k["label"]);
        assert_eq!(
            bytes(&k["seed"]),
            blake3::hash(label.as_bytes()).as_bytes().to_vec(),
            "{label}"
        );
        let public = key(label).public();
        assert_eq!(hx(public.to_bytes()), text(&k["public"]), "{label}");
        assert_eq!(public.to_string(), text(&k["text"]), "{label}");
    }

    // Entries: each decodes to what it states, and a node accepts them in order.
    let entries: Vec<Entry> = list(&file["entries"]).iter().map(check_entry).collect();
    let kinds: std::collections::HashSet<&str> =
        entries.iter().map(|e| e.body.kind().name()).collect();
    assert_eq!(kinds.len(), 9, "every body kind: {kinds:?}");
    let mut ledger = MemoryLedger::new([entries[0].feed]);
    for (e, v) in entries.iter().zip(list(&file["entries"])) {
        let verdict = ledger.submit(e, num(&file["validation_clock_ms"]));
        assert!(
            matches!(verdict, Verdict::Accept { .. }),
            "{}: {verdict:?}",
            text(&v["name"])
        );
    }

    // The dev registrar is the first entry, and what consent_proto::dev derives.
    let (registrar, inception) = signed("the dev registrar", dev::registrar());
    let d = &file["dev_registrar"];
    assert_eq!(text(&d["network_id"]), dev::NETWORK_ID);
    assert_eq!(num(&d["inception_ms"]), dev::REGISTRAR_INCEPTION_MS);
    assert_eq!(entries[0], inception);
    assert_eq!(hx(registrar.feed().0), text(&d["feed"]));
    assert_eq!(
        registrar.feed().typed(Role::Registrar).to_string(),
        text(&d["feed_text"])
    );
    for (n, label) in list(&d["key_labels"]).iter().enumerate() {
        let derived = dev::registrar_key(n as u32).map(|k| k.public());
        assert_eq!(derived, Some(key(text(label)).public()));
    }

    // Encodings: canonical ones decode, refused ones are refused with the stated reason.
    for v in list(&file["encodings"]) {
        let name = text(&v["name"]);
        let signed = bytes(&v["signed_entry"]);
        let envelope = match pb::SignedEntry::decode(signed.as_slice()) {
            Ok(e) => e,
            Err(e) => panic!("{name}: the envelope decodes: {e}"),
        };
        assert_eq!(envelope.payload.to_vec(), bytes(&v["payload"]), "{name}");
        let signature: [u8; 64] = match envelope.signature.as_ref().try_into() {
            Ok(s) => s,
            Err(_) => panic!("{name}: a 64-byte signature"),
        };
        assert!(
            key(text(&v["signer"])).public().verify(
                domain::ENTRY_SIGNATURE,
                &envelope.payload,
                &signature
            ),
            "{name}: only the encoding is wrong"
        );
        match (Entry::decode(&signed), v["reason"].as_str()) {
            (Ok(e), None) => assert_eq!(e.payload.to_vec(), bytes(&v["payload"]), "{name}"),
            (Err(r), Some(reason)) => assert_eq!(r.code(), reason, "{name}: {r}"),
            (got, want) => panic!("{name}: expected {want:?}, got {got:?}"),
        }
    }

    // The signature rule, and where the cofactorless equation disagrees.
    let sigs = list(&file["signatures"]);
    for v in sigs {
        let name = text(&v["name"]);
        assert_eq!(
            text(&v["domain"]).as_bytes(),
            domain::ENTRY_SIGNATURE,
            "{name}"
        );
        let (k, m, s) = (b32(&v["key"]), bytes(&v["message"]), b64(&v["signature"]));
        assert_eq!(
            Some(protocol_rule(&k, &m, &s)),
            v["valid"].as_bool(),
            "{name}"
        );
        assert_eq!(
            Some(cofactorless(&k, &m, &s)),
            v["cofactorless"].as_bool(),
            "{name}"
        );
        // A single check and a batch agree.
        if let Ok(pk) = PublicKey::from_bytes(&k) {
            let item = consent_proto::sig::Item {
                key: &pk,
                domain: domain::ENTRY_SIGNATURE,
                message: &m,
                signature: &s,
            };
            let honest = key(SIGNER).sign(domain::ENTRY_SIGNATURE, b"another");
            let signer = key(SIGNER).public();
            let other = consent_proto::sig::Item {
                key: &signer,
                domain: domain::ENTRY_SIGNATURE,
                message: b"another",
                signature: &honest,
            };
            assert_eq!(
                consent_proto::sig::verify_all(&[other, item]),
                vec![true, consent_proto::sig::verify(&item)],
                "{name}"
            );
        }
    }
    assert!(
        sigs.iter()
            .any(|v| v["valid"] == true && v["cofactorless"] == false)
            && sigs
                .iter()
                .any(|v| v["valid"] == false && v["cofactorless"] == true),
        "the vectors show where the rules differ, both ways"
    );

    // Text forms round-trip.
    for v in list(&file["text_forms"]) {
        let (prefix, raw, shown) = (text(&v["prefix"]), b32(&v["bytes"]), text(&v["text"]));
        assert_eq!(encode_text(prefix, &raw), shown);
        let parsed = match prefix {
            "cit" | "col" | "reg" => shown.parse::<TypedFeedId>().map(|t| t.id.0),
            "ent" => shown.parse::<EntryId>().map(|e| e.0),
            "dig" => shown.parse::<consent_proto::ids::Digest>().map(|d| d.0),
            "node" => PublicKey::from_text(shown, "node").map(|k| k.to_bytes()),
            "key" => PublicKey::from_text(shown, "key").map(|k| k.to_bytes()),
            "feed" => decode_text(shown, "feed"),
            other => panic!("unexpected prefix {other}"),
        };
        assert_eq!(parsed, Ok(raw), "{shown}");
    }

    // The pairwise feed: its inception is key 0's, commits to key 1, at the stated time.
    let p = &file["pairwise"];
    let inception = check_entry(&p["inception"]);
    let keys = list(&p["keys"]);
    let public = |n: usize| match PublicKey::from_bytes(&b32(&keys[n]["public"])) {
        Ok(k) => k,
        Err(e) => panic!("pairwise key {n}: {e}"),
    };
    for k in keys {
        let seed = b32(&k["seed"]);
        assert_eq!(
            hx(SecretKey::from_seed(&seed).public().to_bytes()),
            text(&k["public"])
        );
    }
    let Body::Inception(i) = &inception.body else {
        panic!("an inception")
    };
    assert_eq!(i.role, Role::Citizen);
    assert_eq!(i.signing_key, public(0));
    assert_eq!(i.next_key_digest, public(1).next_key_digest());
    assert_eq!(inception.time_ms, num(&p["inception_ms"]));
    assert!((MIN_TIME_MS..MIN_TIME_MS + 365 * DAY).contains(&inception.time_ms));

    // The collector's authentication statement.
    let a = &file["auth"];
    let node = PublicKey::from_bytes(&b32(&a["node_key"])).expect("a node key");
    let collector = FeedId(b32(&a["collector"]));
    let time_ms = num(&a["time_ms"]);
    assert_eq!(
        hx(auth::statement(&node, &collector, time_ms)),
        text(&a["statement"])
    );
    assert_eq!(text(&a["domain"]).as_bytes(), domain::AUTH);
    assert_eq!(
        auth::verify(
            &key(text(&a["signer"])).public(),
            &node,
            &collector,
            time_ms,
            &b64(&a["signature"]),
            time_ms
        ),
        Ok(())
    );

    // Receipts.
    for v in list(&file["receipts"]) {
        let r = pb::Receipt {
            payload: bytes(&v["payload"]).into(),
            signature: bytes(&v["signature"]).into(),
        };
        let facts = match receipt::verify(&r) {
            Ok(f) => f,
            Err(e) => panic!("{}: {e}", text(&v["entry"])),
        };
        assert_eq!(hx(facts.node.to_bytes()), text(&v["node_key"]));
        assert_eq!(hx(facts.entry_id.0), text(&v["entry_id"]));
        assert_eq!(facts.index, num(&v["index"]));
        assert_eq!(facts.time_ms, num(&v["time_ms"]));
        assert_eq!(entries[facts.index as usize].id, facts.entry_id);
    }

    // The Merkle tree over the entries in arrival order, and its proofs.
    let m = &file["merkle"];
    let leaves: Vec<[u8; 32]> = list(&m["leaves"]).iter().map(b32).collect();
    assert_eq!(
        leaves,
        entries.iter().map(|e| e.id.0).collect::<Vec<_>>(),
        "leaf i is the id of the entry at arrival index i"
    );
    let mut tree = Tree::new();
    for leaf in &leaves {
        tree.push(leaf);
    }
    let roots: Vec<[u8; 32]> = list(&m["roots"]).iter().map(b32).collect();
    assert_eq!(roots.len(), leaves.len() + 1);
    assert_eq!(roots[0], merkle::empty_root());
    for (size, r) in roots.iter().enumerate() {
        assert_eq!(tree.root_at(size as u64), Some(*r), "root of {size}");
    }
    for (leaf, h) in leaves.iter().zip(list(&m["leaf_hashes"])) {
        assert_eq!(merkle::leaf_hash(leaf), b32(h));
    }
    for v in list(&m["inclusion"]) {
        let (index, size) = (num(&v["index"]), num(&v["size"]));
        let proof: Vec<[u8; 32]> = list(&v["hashes"]).iter().map(b32).collect();
        assert_eq!(
            merkle::verify_inclusion(
                &merkle::leaf_hash(&leaves[index as usize]),
                index,
                size,
                &proof,
                &roots[size as usize]
            ),
            Ok(()),
            "inclusion of {index} in {size}"
        );
    }
    for v in list(&m["consistency"]) {
        let (old, new) = (num(&v["old"]), num(&v["new"]));
        let proof: Vec<[u8; 32]> = list(&v["hashes"]).iter().map(b32).collect();
        assert_eq!(
            merkle::verify_consistency(
                old,
                new,
                &roots[old as usize],
                &roots[new as usize],
                &proof
            ),
            Ok(()),
            "{old} to {new}"
        );
    }

    // Decision receipts, with their checkpoint, cosignature and inclusion proofs; the decision
    // is the rule's for a ledger holding the first log_size entries.
    for v in list(&file["decision_receipts"]) {
        let name = text(&v["name"]);
        let r = match pb::DecisionReceipt::decode(bytes(&v["receipt"]).as_slice()) {
            Ok(r) => r,
            Err(e) => panic!("{name}: {e}"),
        };
        assert_eq!(hx(&r.payload), text(&v["payload"]), "{name}");
        assert_eq!(hx(&r.signature), text(&v["signature"]), "{name}");
        let witness = text(&v["witness"]).to_string();
        let policy = match evidence::WitnessPolicy::new(&[witness], 1) {
            Ok(p) => p,
            Err(e) => panic!("{name}: {e}"),
        };
        let verified = match evidence::verify_decision(&r, &policy) {
            Ok(d) => d,
            Err(e) => panic!("{name}: {e}"),
        };
        let p = &verified.payload;
        assert_eq!(hx(verified.node.to_bytes()), text(&v["node_key"]), "{name}");
        assert_eq!(p.decision().as_str_name(), text(&v["decision"]), "{name}");
        assert_eq!(p.reason().as_str_name(), text(&v["reason"]), "{name}");
        assert_eq!(verified.when.as_str_name(), text(&v["when"]), "{name}");
        assert_eq!(verified.at_ms, num(&v["at_ms"]), "{name}");
        assert!(verified.grant_included, "{name}");
        assert_eq!(
            verified.revocation_included,
            !v["revocation_inclusion"].is_null(),
            "{name}"
        );
        assert_eq!(hx(&p.revocation), text(&v["revocation"]), "{name}");
        let checkpoint = verified.checkpoint.as_ref().expect("a checkpoint");
        assert_eq!(checkpoint.size, p.log_size, "{name}");
        let question = p.question.as_ref().expect("a question");
        let size = p.log_size as usize;
        let mut replay = MemoryLedger::new([entries[0].feed]);
        for e in &entries[..size] {
            replay.submit(e, num(&file["validation_clock_ms"]));
        }
        let outcome = replay.check(&Query {
            subject: FeedId::from_slice(&question.subject).expect("a subject"),
            collector: FeedId::from_slice(&question.collector).expect("a collector"),
            purpose: question.purpose(),
            category: question.category(),
            at_ms: verified.at_ms,
            context: Context::from_wire(question.context.as_ref()).expect("a valid context"),
        });
        assert_eq!(outcome.decision, p.decision(), "{name}");
        assert_eq!(outcome.reason, p.reason(), "{name}");
        assert_eq!(
            outcome.grant.map(|g| hx(g.0)).unwrap_or_default(),
            hx(&p.grant),
            "{name}"
        );
        assert_eq!(
            outcome.subject_head.map(|(seq, id)| (seq, hx(id.0))),
            Some((p.subject_head_seq, hx(&p.subject_head))),
            "{name}"
        );
        // The note, line by line.
        let n = &v["checkpoint"];
        let note = match SignedNote::parse(text(&n["text"])) {
            Ok(note) => note,
            Err(e) => panic!("{name}: {e}"),
        };
        assert_eq!(note.to_text(), text(&n["text"]), "{name}");
        assert_eq!(note.checkpoint.body(), text(&n["body"]), "{name}");
        assert_eq!(&note.checkpoint, checkpoint, "{name}");
        let origin = match note.verify_by_origin() {
            Ok(k) => k,
            Err(e) => panic!("{name}: {e}"),
        };
        assert_eq!(origin, verified.node, "{name}");
        for (line, sig) in list(&n["signatures"]).iter().zip(&note.signatures) {
            let key = match PublicKey::from_bytes(&b32(&line["key"])) {
                Ok(k) => k,
                Err(e) => panic!("{name}: {e}"),
            };
            let alg = if sig.cosigned_at.is_some() {
                0x04
            } else {
                0x01
            };
            assert_eq!(
                key_id(&sig.name, alg, &key).to_vec(),
                bytes(&line["key_id"])
            );
            assert_eq!(sig.key_id.to_vec(), bytes(&line["key_id"]));
            assert_eq!(sig.cosigned_at, line["time_s"].as_u64(), "{name}");
            assert!(
                key.verify(b"", text(&line["signed"]).as_bytes(), &sig.signature),
                "{name}: {}",
                sig.name
            );
        }
    }

    // The equivocation: two entries at seq 1, both signed by the feed's key.
    let q = &file["equivocation"];
    let (inception, first, second) = (
        check_entry(&q["inception"]),
        check_entry(&q["first"]),
        check_entry(&q["second"]),
    );
    assert_eq!((first.feed, first.seq), (second.feed, num(&q["seq"])));
    assert_eq!(first.seq, second.seq);
    assert_ne!(first.id, second.id);
    let mut ledger = MemoryLedger::new([entries[0].feed]);
    for e in entries[..4].iter().chain([&inception, &first]) {
        assert!(matches!(
            ledger.submit(e, num(&file["validation_clock_ms"])),
            Verdict::Accept { .. }
        ));
    }
    match ledger.submit(&second, num(&file["validation_clock_ms"])) {
        Verdict::Equivocation { existing } => assert_eq!(existing.id, first.id),
        other => panic!("an equivocation, got {other:?}"),
    }
}
