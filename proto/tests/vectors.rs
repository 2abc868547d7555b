//! The protocol's test vectors, `proto/vectors/vectors.json`: signed entries of every body kind
//! with their ids and feed ids, canonical and refused encodings with the refusal reason, the
//! signature rule's edge cases, text forms, the dev registrar and a pairwise citizen feed, a
//! collector's authentication statement, receipts, decision receipts with their log evidence, a
//! Merkle tree with inclusion and consistency proofs, a cosigned checkpoint note and an
//! equivocation; and for scopes: H3 indexes and parents, local times, a scoped policy and grants,
//! 2,000 seeded scope decisions with hand-picked edges, and context digests; and for
//! consultations: a draft with its stances, response and outcome, validation sequences with
//! their verdicts, policy changes, consultation states and counts; and the wallet rule for the
//! signed times of citizen entries (`coarse_times`, informative). The crate docs
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

#[path = "common/scope_cases.rs"]
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
    /// After `entries`: the collector's scoped policy (version 2) and two scoped grants.
    scoped: Vec<Named>,
    /// After `scoped`: a draft (version 3), two stances, a response and an approving outcome.
    consultation: Vec<Named>,
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
                consultation: None,
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
                on_behalf: None,
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
                on_behalf: None,
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
                on_behalf: None,
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
                on_behalf: None,
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
    // Scopes: the collector's second policy declares one; two grants under it narrow it.
    let Body::Policy(first) = &policy.body else {
        panic!("the policy is a policy");
    };
    let scoped_policy = signed(
        "the scoped policy",
        collector.append(
            T + 9 * HOUR,
            Body::Policy(Policy {
                version: 2,
                scope: Some(vector_policy_scope()),
                ..first.clone()
            }),
        ),
    );
    let scoped_grant = signed(
        "the scoped grant",
        citizen.append(
            T + 10 * HOUR,
            Body::Grant(Grant {
                collector: collector.feed(),
                policy: scoped_policy.id,
                purposes: [Purpose::Research].into_iter().collect(),
                categories: [DataCategory::Mobility].into_iter().collect(),
                retention_days: 30,
                valid_from: T,
                valid_until: None,
                scope: Some(GrantScope {
                    zones: vec![1],
                    sensors: vec![2],
                    sensor_kinds: [SensorKind::WifiCounter].into_iter().collect(),
                    windows: vec![TimeWindow {
                        days: 0x1f,
                        start_minute: 8 * 60,
                        end_minute: 18 * 60,
                    }],
                    forms: vec![(Purpose::Research, Form::Aggregated)],
                }),
                on_behalf: None,
            }),
        ),
    );
    let zone_grant = signed(
        "the grant narrowing zone 1",
        citizen.append(
            T + 11 * HOUR,
            Body::Grant(Grant {
                collector: collector.feed(),
                policy: scoped_policy.id,
                purposes: [Purpose::ServiceProvision].into_iter().collect(),
                categories: [DataCategory::Location].into_iter().collect(),
                retention_days: 30,
                valid_from: T,
                valid_until: None,
                scope: Some(GrantScope {
                    zones: vec![1],
                    ..GrantScope::default()
                }),
                on_behalf: None,
            }),
        ),
    );
    // Consultations: the third policy adds marketing and is put to consultation (a draft); the
    // citizen objects, then supports it; the collector answers; the registrar approves.
    let Body::Policy(scoped_body) = &scoped_policy.body else {
        panic!("the scoped policy is a policy");
    };
    let closes_ms = T + 2 * DAY + 12 * HOUR;
    let mut drafted = scoped_body.clone();
    drafted.version = 3;
    drafted.purposes.insert(Purpose::Marketing);
    drafted.consultation = Some(Consultation { closes_ms });
    let draft = signed(
        "the draft",
        collector.append(T + 12 * HOUR, Body::Policy(drafted)),
    );
    let objection = signed(
        "the objection",
        citizen.append(
            T + 13 * HOUR,
            Body::Stance(Stance {
                draft: draft.id,
                position: Position::Object(
                    [ObjectionReason::RetentionTooLong, ObjectionReason::Other]
                        .into_iter()
                        .collect(),
                ),
                details_digest: Some(digest("vectors/objection details")),
            }),
        ),
    );
    let support = signed(
        "the support",
        citizen.append(
            T + 14 * HOUR,
            Body::Stance(Stance {
                draft: draft.id,
                position: Position::Support,
                details_digest: None,
            }),
        ),
    );
    let answer = signed(
        "the response",
        collector.append(
            T + 15 * HOUR,
            Body::Response(ConsultationResponse {
                draft: draft.id,
                reason: ObjectionReason::Other,
                text: "Marketing only with its own consent; no other data, no other recipient."
                    .into(),
                document_digest: Some(digest("vectors/response document")),
            }),
        ),
    );
    let approval = signed(
        "the outcome",
        registrar.append(
            closes_ms + HOUR,
            Body::Outcome(ConsultationOutcome {
                draft: draft.id,
                result: ConsultationResult::Approved,
                text: "Approved: the objection raised was answered.".into(),
                responses: vec![answer.id],
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
        consultation: vec![
            named("policy-draft", COLLECTOR_0, Role::Collector, draft),
            named("stance-object", CITIZEN_1, Role::Citizen, objection),
            named("stance-support", CITIZEN_1, Role::Citizen, support),
            named("response", COLLECTOR_0, Role::Collector, answer),
            named("outcome-approved", REGISTRAR_0, Role::Registrar, approval),
        ],
        scoped: vec![
            named("policy-scoped", COLLECTOR_0, Role::Collector, scoped_policy),
            named("grant-scoped", CITIZEN_1, Role::Citizen, scoped_grant),
            named("grant-zone", CITIZEN_1, Role::Citizen, zone_grant),
        ],
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
        WireBody::Policy(b) => {
            let mut v = json!({"policy": {
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
            }});
            // Only when present: an entry without a scope has no `scope` key (as before).
            if let Some(scope) = &b.scope {
                v["policy"]["scope"] = policy_scope_json(scope);
            }
            // Likewise for a consultation.
            if let Some(c) = &b.consultation {
                v["policy"]["consultation"] = json!({"closes_ms": c.closes_ms});
            }
            v
        }
        WireBody::Accreditation(b) => json!({"accreditation": {
            "collector": hx(&b.collector),
            "valid_until": b.valid_until,
        }}),
        WireBody::Suspension(b) => json!({"suspension": {
            "collector": hx(&b.collector),
            "reason": b.reason,
        }}),
        WireBody::Grant(b) => {
            let mut v = json!({"grant": {
                "collector": hx(&b.collector),
                "policy": hx(&b.policy),
                "purposes": purpose_names(&b.purposes),
                "categories": category_names(&b.categories),
                "retention_days": b.retention_days,
                "valid_from": b.valid_from,
                "valid_until": b.valid_until,
            }});
            if let Some(scope) = &b.scope {
                v["grant"]["scope"] = grant_scope_json(scope);
            }
            // Only when present: an own grant has no `on_behalf` key (as before delegation).
            if let Some(o) = &b.on_behalf {
                v["grant"]["on_behalf"] = on_behalf_json(o);
            }
            v
        }
        WireBody::Revoke(b) => {
            let mut v = json!({"revoke": {
                "grant": hx(&b.grant),
                "erase": b.erase,
            }});
            if let Some(o) = &b.on_behalf {
                v["revoke"]["on_behalf"] = on_behalf_json(o);
            }
            v
        }
        WireBody::Request(b) => {
            let mut v = json!({"request": {
                "collector": hx(&b.collector),
                "kind": pb::RequestKind::try_from(b.kind).map_or("?", |k| k.as_str_name()),
                "details_digest": hx(&b.details_digest),
            }});
            if let Some(o) = &b.on_behalf {
                v["request"]["on_behalf"] = on_behalf_json(o);
            }
            v
        }
        WireBody::Ack(b) => json!({"ack": {
            "request": hx(&b.request),
            "outcome": pb::AckOutcome::try_from(b.outcome).map_or("?", |o| o.as_str_name()),
            "reason": b.reason,
        }}),
        WireBody::Stance(b) => json!({"stance": {
            "draft": hx(&b.draft),
            "kind": pb::StanceKind::try_from(b.kind).map_or("?", |k| k.as_str_name()),
            "reasons": b.reasons.iter().map(|r| objection_name(*r)).collect::<Vec<_>>(),
            "details_digest": hx(&b.details_digest),
        }}),
        WireBody::Response(b) => json!({"response": {
            "draft": hx(&b.draft),
            "reason": objection_name(b.reason),
            "text": b.text,
            "document_digest": hx(&b.document_digest),
        }}),
        WireBody::Outcome(b) => json!({"outcome": {
            "draft": hx(&b.draft),
            "result": pb::ConsultationResult::try_from(b.result).map_or("?", |r| r.as_str_name()),
            "text": b.text,
            "responses": b.responses.iter().map(hx).collect::<Vec<_>>(),
        }}),
        WireBody::Delegation(b) => json!({"delegation": {
            "delegate": hx(&b.delegate),
            "powers": b.powers.iter().map(|p| pb::DelegatedPower::try_from(*p).map_or("?", |p| p.as_str_name())).collect::<Vec<_>>(),
            "collectors": b.collectors.iter().map(hx).collect::<Vec<_>>(),
            "purposes": purpose_names(&b.purposes),
            "valid_until": b.valid_until,
            "kind": pb::DelegationKind::try_from(b.kind).map_or("?", |k| k.as_str_name()),
            "co_signer": hx(&b.co_signer),
        }}),
        WireBody::Undelegation(b) => json!({"undelegation": {
            "delegation": hx(&b.delegation),
            "void_from_ms": b.void_from_ms,
        }}),
        WireBody::Endorsement(b) => json!({"endorsement": {
            "grant": hx(&b.grant),
            "on_behalf": b.on_behalf.as_ref().map(on_behalf_json),
        }}),
    }
}

fn on_behalf_json(o: &pb::OnBehalf) -> Value {
    json!({"person": hx(&o.person), "delegation": hx(&o.delegation)})
}

fn objection_name(v: i32) -> &'static str {
    pb::ObjectionReason::try_from(v).map_or("?", |r| r.as_str_name())
}

fn form_name(v: i32) -> &'static str {
    pb::Form::try_from(v).map_or("?", |f| f.as_str_name())
}

fn kind_name(v: i32) -> &'static str {
    pb::SensorKind::try_from(v).map_or("?", |k| k.as_str_name())
}

fn window_json(w: &pb::TimeWindow) -> Value {
    json!({"days": w.days, "start_minute": w.start_minute, "end_minute": w.end_minute})
}

/// A `PolicyScope` as in the `.proto` (cells as hex, enums by name) and its `encoding`.
fn policy_scope_json(s: &pb::PolicyScope) -> Value {
    json!({
        "version": s.version,
        "utc_offset_minutes": s.utc_offset_minutes,
        "zones": s.zones.iter().map(|z| json!({
            "id": z.id,
            "name": z.name,
            "resolution": z.resolution,
            "cells": z.cells.iter().map(|c| format!("{c:x}")).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "sensors": s.sensors.iter().map(|x| json!({
            "id": x.id,
            "kind": kind_name(x.kind),
            "zone": x.zone,
        })).collect::<Vec<_>>(),
        "windows": s.windows.iter().map(window_json).collect::<Vec<_>>(),
        "forms": s.forms.iter().map(|pf| json!({
            "purpose": purpose_names(&[pf.purpose])[0],
            "offers": pf.offers.iter().map(|o| json!({
                "form": form_name(o.form),
                "interval_s": o.interval_s,
                "resolution": o.resolution,
                "min_group": o.min_group,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "encoding": hx(s.encode_to_vec()),
    })
}

/// A `GrantScope` as in the `.proto` and its `encoding`.
fn grant_scope_json(s: &pb::GrantScope) -> Value {
    json!({
        "version": s.version,
        "zones": s.zones,
        "sensors": s.sensors,
        "sensor_kinds": s.sensor_kinds.iter().map(|k| kind_name(*k)).collect::<Vec<_>>(),
        "windows": s.windows.iter().map(window_json).collect::<Vec<_>>(),
        "forms": s.forms.iter().map(|f| json!({
            "purpose": purpose_names(&[f.purpose])[0],
            "form": form_name(f.form),
        })).collect::<Vec<_>>(),
        "encoding": hx(s.encode_to_vec()),
    })
}

/// An `ObservationContext` as on the wire: 0, null (cell), `SENSOR_KIND_UNSPECIFIED` and
/// `FORM_UNSPECIFIED` for what is not given.
fn context_json(c: &pb::ObservationContext) -> Value {
    json!({
        "sensor": c.sensor,
        "sensor_kind": kind_name(c.sensor_kind),
        "cell": if c.cell == 0 { Value::Null } else { json!(format!("{:x}", c.cell)) },
        "observed_ms": c.observed_ms,
        "form": form_name(c.form),
    })
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
        // A question with the observation's context: the payload carries its digest.
        Decided {
            name: "allow-with-context",
            size: 6,
            time_ms: T + HOUR + 45 * MINUTE,
            question: pb::CheckRequest {
                context: Some(pb::ObservationContext {
                    sensor: 3,
                    sensor_kind: SensorKind::WifiCounter as i32,
                    cell: IN_QUAY,
                    observed_ms: T + HOUR + 40 * MINUTE,
                    form: Form::Pseudonymised as i32,
                }),
                ..question(0)
            },
            revocation: None,
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
        context: match Context::from_wire(d.question.context.as_ref()) {
            Ok(c) => c,
            Err(e) => panic!("{}: {e}", d.name),
        },
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
        context_digest: d
            .question
            .context
            .as_ref()
            .map(|c| Bytes::copy_from_slice(&receipt::context_digest(c)))
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
    let mut v = json!({
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
    });
    // Only with a context (the items before contexts existed keep their keys).
    if let Some(context) = &q.context {
        v["question"]["context"] = context_json(context);
        v["context_digest"] = json!(hx(&payload.context_digest));
    }
    v
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
            on_behalf: None,
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

// ---- Scopes ----

fn cells(raw: &[u64]) -> Vec<Cell> {
    raw.iter()
        .map(|r| match Cell::new(*r) {
            Some(c) => c,
            None => panic!("{r:x} is a cell"),
        })
        .collect()
}

/// Zone 1 of the vectors' scoped policy (resolution 10).
const QUAY: [u64; 2] = [0x8a196908221ffff, 0x8a19690822f7fff];
/// Zone 2 (resolution 11).
const SQUARE: [u64; 3] = [0x8b1969082294fff, 0x8b19690822b0fff, 0x8b19690822b2fff];
/// A resolution-12 cell in the quay (a descendant of its second cell).
const IN_QUAY: u64 = 0x8c19690822f29ff;
/// A resolution-13 cell in the square (the centre child of its first cell).
const IN_SQUARE: u64 = 0x8d196908229403f;
/// A resolution-12 cell in neither zone.
const ELSEWHERE: u64 = 0x8c1969091c8dbff;
/// The resolution-9 parent of the quay's second cell: coarser than the zone.
const AROUND_QUAY: u64 = 0x8919690822fffff;

/// The collector's second policy's scope (+01:00): zones 1 (the quay, resolution 10) and 2 (the
/// square, 11); sensors 1 a number-plate reader in zone 1, 2 an air-quality sensor in zone 2, 3
/// a Wi-Fi counter; mon-fri 07:00-19:00 and sat 09:00-17:00; service provision raw, research
/// pseudonymised or aggregated (1 h, resolution 8, k 10), third-party sharing aggregated (a day,
/// resolution 7, k 20).
fn vector_policy_scope() -> PolicyScope {
    PolicyScope {
        utc_offset_minutes: 60,
        zones: vec![
            Zone {
                id: 1,
                name: "Harbour quay".into(),
                resolution: 10,
                cells: cells(&QUAY),
            },
            Zone {
                id: 2,
                name: "Market square".into(),
                resolution: 11,
                cells: cells(&SQUARE),
            },
        ],
        sensors: vec![
            Sensor {
                id: 1,
                kind: SensorKind::NumberPlateReader,
                zone: Some(1),
            },
            Sensor {
                id: 2,
                kind: SensorKind::AirQuality,
                zone: Some(2),
            },
            Sensor {
                id: 3,
                kind: SensorKind::WifiCounter,
                zone: None,
            },
        ],
        windows: vec![
            TimeWindow {
                days: 0x1f,
                start_minute: 7 * 60,
                end_minute: 19 * 60,
            },
            TimeWindow {
                days: 0x20,
                start_minute: 9 * 60,
                end_minute: 17 * 60,
            },
        ],
        forms: vec![
            PurposeForms {
                purpose: Purpose::ServiceProvision,
                offers: vec![FormSpec::Raw],
            },
            PurposeForms {
                purpose: Purpose::Research,
                offers: vec![
                    FormSpec::Pseudonymised,
                    FormSpec::Aggregated {
                        interval_s: 3_600,
                        resolution: 8,
                        min_group: 10,
                    },
                ],
            },
            PurposeForms {
                purpose: Purpose::ThirdPartySharing,
                offers: vec![FormSpec::Aggregated {
                    interval_s: 86_400,
                    resolution: 7,
                    min_group: 20,
                }],
            },
        ],
    }
}

/// `h3`: indexes that are and are not cells, and parents at every resolution.
fn h3_json() -> Value {
    let base = |b: u64| (0x08u64 << 56) | (b << 45) | ((1u64 << 45) - 1);
    let child = |b: u64, digits: &[u64]| cases::finer(base(b), digits);
    let cell = 0x8a754e64992ffff_u64;
    let indexes: Vec<(u64, &str)> = vec![
        (cell, "a cell of resolution 10"),
        (0x8c19690822801ff, "a cell of resolution 12"),
        (0x8f19690822f292a, "a cell of resolution 15"),
        (base(0), "base cell 0 at resolution 0"),
        (base(121), "base cell 121, the last"),
        (base(122), "base cell 122 does not exist"),
        (base(4), "pentagon base cell 4"),
        (
            child(4, &[1]),
            "pentagon 4, first non-zero digit 1: deleted",
        ),
        (child(4, &[2]), "pentagon 4, first digit 2"),
        (
            child(117, &[1]),
            "pentagon 117, first non-zero digit 1: deleted",
        ),
        (
            child(4, &[0, 1]),
            "pentagon 4, digits 0 1: first non-zero 1, deleted",
        ),
        (
            child(4, &[2, 1]),
            "pentagon 4, digits 2 1: first non-zero 2",
        ),
        (child(4, &[0, 0]), "pentagon 4, digits 0 0"),
        (child(5, &[1]), "hexagon base cell 5, digit 1"),
        (0, "zero"),
        (u64::MAX, "every bit set"),
        (cell | (1 << 63), "the high bit set"),
        (
            (cell & !(0xF << 59)) | (2 << 59),
            "mode 2 (a directed edge)",
        ),
        (cell | (1 << 56), "a reserved bit set"),
        (cell | (7 << 15), "a used digit 7"),
        (cell & !1, "an unused digit not 7"),
    ];
    let parents: Vec<Value> = [cell, 0x8f19690822f292a, child(4, &[2, 1])]
        .into_iter()
        .flat_map(|raw| {
            (0..=16u8).map(move |r| {
                let parent = Cell::new(raw).and_then(|c| c.parent(r));
                json!({
                    "cell": format!("{raw:x}"),
                    "resolution": r,
                    "parent": parent.map_or(Value::Null, |p| json!(p.to_string())),
                })
            })
        })
        .collect();
    json!({
        "indexes": indexes.iter().map(|(i, about)| json!({
            "index": format!("{i:x}"),
            "valid": h3::is_cell(*i),
            "about": about,
        })).collect::<Vec<_>>(),
        "parents": parents,
    })
}

/// `local_time`: weekday (Monday 0) and minute of the day at a fixed offset.
fn local_time_json() -> Value {
    let monday = cases::T;
    let hour = 3_600_000;
    let times: Vec<(u64, i16)> = vec![
        (0, 0),
        (0, -60),
        (monday, 0),
        (monday - 1, 0),
        (monday + 10 * hour, 840),
        (monday + 10 * hour - 1, 840),
        (monday + 10 * hour, -720),
        (monday + 12 * hour, -720),
        (T, 60),
        (T, -345),
        (u64::MAX, 840),
        (u64::MAX, -720),
    ];
    Value::Array(
        times
            .into_iter()
            .map(|(observed_ms, offset)| {
                let (weekday, minute) = local_time(observed_ms, offset);
                json!({
                    "observed_ms": observed_ms,
                    "utc_offset_minutes": offset,
                    "weekday": weekday,
                    "minute": minute,
                })
            })
            .collect(),
    )
}

/// The bytes a context digest hashes after its domain.
fn context_input(c: &pb::ObservationContext) -> Vec<u8> {
    let mut input = domain::CONTEXT.to_vec();
    input.extend_from_slice(&c.sensor.to_be_bytes());
    input.push((c.sensor_kind & 0xff) as u8);
    input.extend_from_slice(&c.cell.to_be_bytes());
    input.extend_from_slice(&c.observed_ms.to_be_bytes());
    input.push((c.form & 0xff) as u8);
    input
}

/// `context_digests`: the digest of a few contexts, with the bytes hashed.
fn context_digests_json() -> Value {
    let contexts = [
        pb::ObservationContext::default(),
        pb::ObservationContext {
            sensor: 2,
            sensor_kind: SensorKind::AirQuality as i32,
            cell: IN_QUAY,
            observed_ms: cases::T + 9 * HOUR,
            form: Form::Aggregated as i32,
        },
        // The same observation said to be by a camera: only the kind's byte differs.
        pb::ObservationContext {
            sensor: 2,
            sensor_kind: SensorKind::Camera as i32,
            cell: IN_QUAY,
            observed_ms: cases::T + 9 * HOUR,
            form: Form::Aggregated as i32,
        },
        pb::ObservationContext {
            sensor: 3,
            ..Default::default()
        },
        pb::ObservationContext {
            cell: IN_SQUARE,
            form: Form::Raw as i32,
            ..Default::default()
        },
    ];
    json!({
        "domain": String::from_utf8_lossy(domain::CONTEXT),
        "items": contexts.iter().map(|c| json!({
            "context": context_json(c),
            "input": hx(context_input(c)),
            "digest": hx(receipt::context_digest(c)),
        })).collect::<Vec<_>>(),
    })
}

/// One grant of a scope decision vector.
#[derive(Clone)]
struct GrantCase {
    purposes: PurposeSet,
    categories: CategorySet,
    valid_from: u64,
    valid_until: Option<u64>,
    revoked: bool,
    scope: Option<GrantScope>,
}

/// One scope decision: a policy (an index into the policies, `None`: a policy without scope),
/// one grant (seq 1), an opt-out's seq, and the question.
#[derive(Clone)]
struct DecisionCase {
    about: Option<&'static str>,
    policy: Option<usize>,
    grant: GrantCase,
    opt_out_seq: Option<u64>,
    purpose: Purpose,
    category: DataCategory,
    at_ms: u64,
    context: Context,
}

/// What the rule says about `c`: decision, reason, required form.
fn decide_case(
    policies: &[Option<PolicyScope>],
    c: &DecisionCase,
) -> (pb::Decision, pb::Reason, Option<Form>) {
    decide_case_in(policies, c, consent_proto::consultation::ALWAYS)
}

/// [`decide_case`] for a grant whose policy is in effect from `in_effect_from`.
fn decide_case_in(
    policies: &[Option<PolicyScope>],
    c: &DecisionCase,
    in_effect_from: u64,
) -> (pb::Decision, pb::Reason, Option<Form>) {
    let policy = c.policy.and_then(|i| policies[i].clone()).map(Arc::new);
    let facts = GrantFacts {
        id: EntryId([1; 32]),
        seq: 1,
        purposes: c.grant.purposes,
        categories: c.grant.categories,
        valid_from: c.grant.valid_from,
        valid_until: c.grant.valid_until,
        revoked: c.grant.revoked,
        scope: ScopeFacts::resolve(policy, c.grant.scope.clone()),
        in_effect_from,
        time_ms: 0,
        via: None,
    };
    let query = Query {
        subject: FeedId([2; 32]),
        collector: FeedId([3; 32]),
        purpose: c.purpose,
        category: c.category,
        at_ms: c.at_ms,
        context: c.context,
    };
    let (decision, reason, _, form) = decide_grants(&query, &[facts], c.opt_out_seq);
    (decision, reason, form)
}

/// Wire numbers of a set's values.
fn wire_numbers<T>(items: impl Iterator<Item = T>, number: impl Fn(T) -> i32) -> Vec<i32> {
    items.map(number).collect()
}

fn decision_case_json(policies: &[Option<PolicyScope>], c: &DecisionCase) -> Value {
    let (decision, reason, form) = decide_case(policies, c);
    let purposes = wire_numbers(c.grant.purposes.iter(), |p| p as i32);
    let categories = wire_numbers(c.grant.categories.iter(), |x| x as i32);
    let mut v = json!({
        "policy": c.policy,
        "grant": {
            "seq": 1,
            "purposes": purpose_names(&purposes),
            "categories": category_names(&categories),
            "valid_from": c.grant.valid_from,
            "valid_until": c.grant.valid_until.unwrap_or(0),
            "revoked": c.grant.revoked,
            "scope": c.grant.scope.as_ref().map_or(Value::Null, |g| grant_scope_json(&g.to_wire())),
        },
        "opt_out_seq": c.opt_out_seq,
        "question": {
            "purpose": purpose_names(&[c.purpose as i32])[0],
            "category": category_names(&[c.category as i32])[0],
            "at_ms": c.at_ms,
            "context": c.context.to_wire().as_ref().map_or(Value::Null, context_json),
        },
        "decision": decision.as_str_name(),
        "reason": reason.as_str_name(),
        "required_form": form.unwrap_or(Form::Unspecified).as_str_name(),
    });
    if let Some(about) = c.about {
        v["about"] = json!(about);
    }
    v
}

/// `base`, described by `about` and changed by `edit`.
fn edge(
    base: &DecisionCase,
    about: &'static str,
    edit: impl Fn(&mut DecisionCase),
) -> DecisionCase {
    let mut c = base.clone();
    c.about = Some(about);
    edit(&mut c);
    c
}

/// A grant scope narrowed by `edit`.
fn narrowing(edit: impl Fn(&mut GrantScope)) -> Option<GrantScope> {
    let mut g = GrantScope::default();
    edit(&mut g);
    Some(g)
}

/// Hand-picked edges of the rule, under the vectors' scoped policy (index 0) unless stated.
fn edge_cases() -> Vec<DecisionCase> {
    let m = cases::T;
    // The sensor named with the kind the vectors' policy gives it (a camera for an id it does
    // not declare).
    let full = |sensor: u32, cell: u64, observed_ms: u64, form: Form| Context {
        sensor: Some(sensor),
        sensor_kind: Some(
            vector_policy_scope()
                .sensor(sensor)
                .map_or(SensorKind::Camera, |s| s.kind),
        ),
        cell: Cell::new(cell),
        observed_ms: Some(observed_ms),
        form: Some(form),
    };
    let base = DecisionCase {
        about: None,
        policy: Some(0),
        grant: GrantCase {
            purposes: [Purpose::Research, Purpose::ThirdPartySharing]
                .into_iter()
                .collect(),
            categories: [DataCategory::Mobility].into_iter().collect(),
            valid_from: m - DAY,
            valid_until: None,
            revoked: false,
            scope: None,
        },
        opt_out_seq: None,
        purpose: Purpose::Research,
        category: DataCategory::Mobility,
        at_ms: m + 9 * HOUR,
        // Monday 10:00 at +01:00.
        context: full(2, IN_QUAY, m + 9 * HOUR, Form::Pseudonymised),
    };
    vec![
        edge(&base, "inside every dimension", |_| {}),
        edge(&base, "no context: the sensor is missing first", |c| {
            c.context = Context::NONE;
        }),
        edge(&base, "a sensor only: the cell is missing", |c| {
            c.context = Context {
                sensor: Some(2),
                sensor_kind: Some(SensorKind::AirQuality),
                ..Context::NONE
            };
        }),
        edge(
            &base,
            "a sensor without its kind: the sensor is missing",
            |c| {
                c.context.sensor_kind = None;
            },
        ),
        edge(
            &base,
            "a sensor id alone, no cell: the sensor is missing first",
            |c| {
                c.context = Context {
                    sensor: Some(2),
                    ..Context::NONE
                };
            },
        ),
        edge(
            &base,
            "a sensor named with another kind than the policy declares",
            |c| {
                c.context.sensor_kind = Some(SensorKind::Camera);
            },
        ),
        edge(
            &base,
            "a kind the grant allows, not the kind the policy gives the id",
            |c| {
                c.grant.scope = narrowing(|g| {
                    g.sensor_kinds = [SensorKind::WifiCounter].into_iter().collect();
                });
                c.context.sensor_kind = Some(SensorKind::WifiCounter);
            },
        ),
        edge(
            &base,
            "an id the grant allows, named with another kind",
            |c| {
                c.grant.scope = narrowing(|g| g.sensors = vec![2]);
                c.context.sensor_kind = Some(SensorKind::NumberPlateReader);
            },
        ),
        edge(&base, "sensor and cell: the time is missing", |c| {
            c.context.observed_ms = None;
            c.context.form = None;
        }),
        edge(&base, "no form", |c| c.context.form = None),
        edge(&base, "a sensor the policy does not declare", |c| {
            c.context.sensor = Some(9);
        }),
        edge(&base, "a cell outside every zone", |c| {
            c.context.cell = Cell::new(ELSEWHERE);
        }),
        edge(&base, "a cell coarser than the zone", |c| {
            c.context.cell = Cell::new(AROUND_QUAY);
        }),
        edge(&base, "a cell of the zone's own resolution", |c| {
            c.context.cell = Cell::new(QUAY[1]);
        }),
        edge(&base, "a finer cell of zone 2", |c| {
            c.context.cell = Cell::new(IN_SQUARE);
        }),
        edge(&base, "07:00 local: the window's first minute", |c| {
            c.context.observed_ms = Some(m + 6 * HOUR);
        }),
        edge(&base, "06:59:59.999 local", |c| {
            c.context.observed_ms = Some(m + 6 * HOUR - 1);
        }),
        edge(&base, "18:59:59.999 local", |c| {
            c.context.observed_ms = Some(m + 18 * HOUR - 1);
        }),
        edge(&base, "19:00 local: the window's end is excluded", |c| {
            c.context.observed_ms = Some(m + 18 * HOUR);
        }),
        edge(&base, "saturday 08:59 local", |c| {
            c.context.observed_ms = Some(m + 5 * DAY + 7 * HOUR + 59 * MINUTE);
        }),
        edge(&base, "saturday 09:00 local", |c| {
            c.context.observed_ms = Some(m + 5 * DAY + 8 * HOUR);
        }),
        edge(&base, "sunday noon local", |c| {
            c.context.observed_ms = Some(m + 6 * DAY + 11 * HOUR);
        }),
        edge(
            &base,
            "a form the policy does not offer for the purpose",
            |c| {
                c.context.form = Some(Form::Raw);
            },
        ),
        edge(&base, "a form below the grant's floor", |c| {
            c.grant.scope = narrowing(|g| g.forms = vec![(Purpose::Research, Form::Aggregated)]);
        }),
        edge(&base, "the grant's floor itself", |c| {
            c.grant.scope = narrowing(|g| g.forms = vec![(Purpose::Research, Form::Aggregated)]);
            c.context.form = Some(Form::Aggregated);
        }),
        edge(&base, "the grant narrows sensors to sensor 1", |c| {
            c.grant.scope = narrowing(|g| g.sensors = vec![1]);
        }),
        edge(
            &base,
            "the grant's sensor kinds include the sensor's",
            |c| {
                c.grant.scope = narrowing(|g| {
                    g.sensor_kinds = [SensorKind::AirQuality].into_iter().collect();
                });
            },
        ),
        edge(&base, "the grant narrows zones to zone 2", |c| {
            c.grant.scope = narrowing(|g| g.zones = vec![2]);
        }),
        edge(&base, "the grant's window excludes the time", |c| {
            c.grant.scope = narrowing(|g| {
                g.windows = vec![TimeWindow {
                    days: 1,
                    start_minute: 8 * 60,
                    end_minute: 9 * 60,
                }];
            });
        }),
        edge(&base, "observed before the grant's validity", |c| {
            c.grant.valid_from = m + DAY;
            c.at_ms = m + 2 * DAY;
        }),
        edge(&base, "observed at the grant's valid_until", |c| {
            c.grant.valid_until = Some(m + 9 * HOUR);
            c.at_ms = m + 8 * HOUR;
        }),
        edge(&base, "revoked beats missing context", |c| {
            c.grant.revoked = true;
            c.context = Context::NONE;
        }),
        edge(&base, "expired beats missing context", |c| {
            c.grant.valid_until = Some(m + DAY);
            c.at_ms = m + 2 * DAY;
            c.context = Context::NONE;
        }),
        edge(&base, "not yet valid beats missing context", |c| {
            c.grant.valid_from = m + 3 * DAY;
            c.at_ms = m + 2 * DAY;
            c.context = Context::NONE;
        }),
        edge(&base, "an opt-out beats missing context", |c| {
            c.purpose = Purpose::ThirdPartySharing;
            c.opt_out_seq = Some(2);
            c.context = Context::NONE;
        }),
        edge(&base, "sharing, aggregated as offered", |c| {
            c.purpose = Purpose::ThirdPartySharing;
            c.context.form = Some(Form::Aggregated);
        }),
        edge(
            &base,
            "a purpose the grant does not cover: no form named",
            |c| {
                c.purpose = Purpose::ServiceProvision;
            },
        ),
        edge(&base, "a category the grant does not cover", |c| {
            c.category = DataCategory::Location;
        }),
        edge(&base, "no scope anywhere: the context is ignored", |c| {
            c.policy = None;
            c.context = full(9, ELSEWHERE, m + 9 * HOUR, Form::Raw);
        }),
        edge(
            &base,
            "no scope anywhere: observed before the validity",
            |c| {
                c.policy = None;
                c.grant.valid_from = m + DAY;
                c.at_ms = m + 2 * DAY;
            },
        ),
        edge(
            &base,
            "a policy without scope, a grant window in UTC",
            |c| {
                c.policy = None;
                c.grant.scope = narrowing(|g| {
                    g.windows = vec![TimeWindow {
                        days: 1,
                        start_minute: 9 * 60,
                        end_minute: 10 * 60,
                    }];
                });
                c.context.observed_ms = Some(m + 9 * HOUR + 30 * MINUTE);
            },
        ),
        edge(
            &base,
            "a policy without scope, after the grant window in UTC",
            |c| {
                c.policy = None;
                c.grant.scope = narrowing(|g| {
                    g.windows = vec![TimeWindow {
                        days: 1,
                        start_minute: 9 * 60,
                        end_minute: 10 * 60,
                    }];
                });
                c.context.observed_ms = Some(m + 10 * HOUR);
            },
        ),
        edge(
            &base,
            "a policy without scope, a grant window, no time",
            |c| {
                c.policy = None;
                c.grant.scope = narrowing(|g| {
                    g.windows = vec![TimeWindow {
                        days: 1,
                        start_minute: 9 * 60,
                        end_minute: 10 * 60,
                    }];
                });
                c.context = Context::NONE;
            },
        ),
    ]
}

/// `scope_decisions`: the edges, then 2,000 seeded cases over 21 policies (the vectors' scoped
/// policy first, then 20 random ones, some without scope).
fn scope_decisions_json() -> Value {
    let mut rng = cases::Rng::new(2_000);
    let mut policies: Vec<Option<PolicyScope>> = vec![Some(vector_policy_scope())];
    for _ in 0..20 {
        policies.push(cases::policy_scope(&mut rng));
    }
    let mut out: Vec<Value> = edge_cases()
        .iter()
        .map(|c| decision_case_json(&policies, c))
        .collect();
    for _ in 0..2_000 {
        let index = rng.below(policies.len() as u64) as usize;
        let policy = policies[index].clone().unwrap_or_default();
        let purposes = cases::purposes(&mut rng);
        let categories = cases::categories(&mut rng);
        let (valid_from, valid_until) = cases::validity(&mut rng);
        let revoked = rng.chance(20);
        let scope = cases::grant_scope(&mut rng, &policy, purposes);
        let opt_out_seq = rng.chance(15).then_some(2);
        let case = DecisionCase {
            about: None,
            policy: Some(index),
            grant: GrantCase {
                purposes,
                categories,
                valid_from,
                valid_until,
                revoked,
                scope,
            },
            opt_out_seq,
            purpose: cases::purpose(&mut rng),
            category: rng.pick(&cases::CATEGORIES),
            at_ms: cases::at(&mut rng),
            context: cases::context(&mut rng, &policy),
        };
        out.push(decision_case_json(&policies, &case));
    }
    json!({
        "purposes": purpose_names(&cases::PURPOSES.map(|p| p as i32)),
        "categories": category_names(&cases::CATEGORIES.map(|c| c as i32)),
        "policies": policies
            .iter()
            .map(|p| p.as_ref().map_or(Value::Null, |s| policy_scope_json(&s.to_wire())))
            .collect::<Vec<_>>(),
        "cases": out,
    })
}

/// Every vector.
fn generate() -> Value {
    let s = scenario();
    let dnet = d_net();
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
    })
}

// ---- The wallet rule for signed times of citizen entries (informative) ----

/// 2026-03-02T10:07:31.123Z: the moment of signing of `coarse_times`.
const CT: u64 = 1_772_446_051_123;
/// 2027-01-31T00:00:00Z.
const CT_MIDNIGHT: u64 = 1_801_353_600_000;
/// Half the 5-minute admission bound of entries in someone's name: the grid they use, and what
/// every granularity is a multiple of.
const CT_STEP: u64 = 150_000;

/// Whether `g` may be a granularity: a multiple of 2.5 minutes that divides a day.
fn ct_allowed(g: u64) -> bool {
    g > 0 && g.is_multiple_of(CT_STEP) && DAY.is_multiple_of(g)
}

fn ct_floor(g: Option<u64>, t: u64) -> u64 {
    g.map_or(t, |g| t - t % g)
}

fn ct_ceil(g: Option<u64>, t: u64) -> u64 {
    g.map_or(t, |g| t.div_ceil(g) * g)
}

/// An entry's granularity for the wallet's `g` and how exact the entry is.
fn ct_granularity(g: Option<u64>, exactness: &str) -> Option<u64> {
    match exactness {
        "coarse" => g,
        "within" => g.map(|g| g.min(CT_STEP)),
        _ => None,
    }
}

/// `time_ms = max(floor_e(now), floor, 2020-01-01)`.
fn ct_time(g: Option<u64>, exactness: &str, now: u64, floor: u64) -> u64 {
    ct_floor(ct_granularity(g, exactness), now)
        .max(floor)
        .max(MIN_TIME_MS)
}

/// An own grant's `time_ms`: coarse, raised to its feed's previous entry and, when it allows
/// sale or sharing (`sell-data`, `third-party-sharing`: what an opt-out denies), to one
/// millisecond after the latest counting delegated opt-out signed before `now`.
fn ct_own_grant_time(
    g: Option<u64>,
    now: u64,
    purposes: &[&str],
    prev: u64,
    opt_out: Option<u64>,
) -> u64 {
    let sale_or_sharing = purposes
        .iter()
        .any(|p| matches!(*p, "PURPOSE_SELL_DATA" | "PURPOSE_THIRD_PARTY_SHARING"));
    let after_opt_out = match opt_out {
        Some(t) if sale_or_sharing && t < now => t + 1,
        _ => 0,
    };
    ct_time(g, "coarse", now, prev.max(after_opt_out))
}

/// `valid_from = max(ceil_g(max(now, due)), time_ms)`.
fn ct_valid_from(g: Option<u64>, now: u64, due: u64, time_ms: u64) -> u64 {
    ct_ceil(g, now.max(due)).max(time_ms)
}

fn coarse_times_json() -> Value {
    let quarter = 15 * MINUTE;
    let on_boundary = CT - CT % quarter;
    let times: [(&str, u64, Option<u64>, &str, u64); 12] = [
        (
            "an own grant: rounded down to 15 minutes",
            CT,
            Some(quarter),
            "coarse",
            0,
        ),
        (
            "the feed's previous entry is after the boundary: raised to it",
            CT,
            Some(quarter),
            "coarse",
            CT - MINUTE,
        ),
        (
            "the previous entry is after now (another clock ran ahead): raised to it",
            CT,
            Some(quarter),
            "coarse",
            CT + 5,
        ),
        (
            "on a boundary: that boundary",
            on_boundary,
            Some(quarter),
            "coarse",
            0,
        ),
        ("no granularity: exact", CT, None, "coarse", 0),
        ("a day's granularity", CT, Some(DAY), "coarse", 0),
        (
            "in someone's name: 2.5 minutes, whatever the wallet's granularity",
            CT,
            Some(DAY),
            "within",
            0,
        ),
        (
            "in someone's name, with a delegation signed just before: raised to it",
            CT,
            Some(quarter),
            "within",
            CT - 1_000,
        ),
        (
            "in someone's name, with a granularity of 2.5 minutes",
            CT,
            Some(CT_STEP),
            "within",
            0,
        ),
        (
            "an opt-out of sale (own or delegated), an undelegation: exact",
            CT,
            Some(quarter),
            "exact",
            0,
        ),
        ("never before 2020-01-01", 5, Some(quarter), "coarse", 0),
        (
            "an own grant after a delegate's opt-out in the same quarter hour: one ms after it",
            CT,
            Some(quarter),
            "coarse",
            CT - 2 * MINUTE + 1,
        ),
    ];
    let valid_from: [(&str, u64, u64, Option<u64>, u64); 6] = [
        ("sent at once: the next boundary", CT, CT, Some(quarter), 0),
        (
            "due 20 minutes later: the boundary after the moment it is due",
            CT,
            CT + 20 * MINUTE,
            Some(quarter),
            0,
        ),
        (
            "on a boundary: that boundary",
            on_boundary,
            on_boundary,
            Some(quarter),
            0,
        ),
        (
            "no granularity: the moment it is due",
            CT,
            CT + 10 * MINUTE,
            None,
            0,
        ),
        (
            "a day's granularity: the next UTC midnight",
            CT,
            CT,
            Some(DAY),
            0,
        ),
        (
            "never before its time_ms (a floor ahead of the boundary)",
            CT,
            CT,
            Some(quarter),
            ct_ceil(Some(quarter), CT) + 5,
        ),
    ];
    let valid_until: [(&str, u64, Option<u64>); 5] = [
        (
            "a duration (30 days): rounded down",
            CT + 30 * DAY,
            Some(quarter),
        ),
        (
            "a date: UTC midnight is on every grid",
            CT_MIDNIGHT,
            Some(quarter),
        ),
        ("a date, a day's granularity", CT_MIDNIGHT, Some(DAY)),
        (
            "an instant just after midnight, hourly",
            CT_MIDNIGHT + 1,
            Some(HOUR),
        ),
        ("no granularity: as asked", CT + 90 * DAY, None),
    ];
    const SALE: &str = "PURPOSE_SELL_DATA";
    const SHARING: &str = "PURPOSE_THIRD_PARTY_SHARING";
    const SERVICE: &str = "PURPOSE_SERVICE_PROVISION";
    const RESEARCH: &str = "PURPOSE_RESEARCH";
    // (about, now, g, purposes, prev, delegated opt-out)
    type OwnGrant = (
        &'static str,
        u64,
        Option<u64>,
        &'static [&'static str],
        u64,
        Option<u64>,
    );
    let own_grants: [OwnGrant; 8] = [
        (
            "allows sale, a delegate's opt-out earlier in the quarter hour: one ms after it",
            CT,
            Some(quarter),
            &[SALE, SERVICE],
            0,
            Some(CT - 2 * MINUTE),
        ),
        (
            "allows sharing: the same",
            CT,
            Some(quarter),
            &[SHARING],
            0,
            Some(CT - 2 * MINUTE),
        ),
        (
            "allows neither sale nor sharing: the opt-out denies nothing under it, no floor",
            CT,
            Some(quarter),
            &[SERVICE, RESEARCH],
            0,
            Some(CT - 2 * MINUTE),
        ),
        (
            "an opt-out before the quarter hour: the boundary",
            CT,
            Some(quarter),
            &[SALE],
            0,
            Some(on_boundary - MINUTE),
        ),
        (
            "an opt-out after the moment of signing (a clock ahead): no floor, it denies sale",
            CT,
            Some(quarter),
            &[SALE],
            0,
            Some(CT + 1_000),
        ),
        (
            "exact times, an opt-out one ms before signing: the moment of signing",
            CT,
            None,
            &[SALE],
            0,
            Some(CT - 1),
        ),
        (
            "the feed's previous entry after the opt-out: raised to it",
            CT,
            Some(quarter),
            &[SALE],
            CT - MINUTE,
            Some(CT - 2 * MINUTE),
        ),
        (
            "no opt-out: the boundary",
            CT,
            Some(quarter),
            &[SALE],
            0,
            None,
        ),
    ];
    let granularities: [u64; 13] = [
        CT_STEP,
        2 * CT_STEP,
        3 * CT_STEP,
        quarter,
        20 * MINUTE,
        HOUR,
        DAY,
        1_000,
        MINUTE,
        7 * MINUTE,
        25 * MINUTE,
        10 * HOUR,
        2 * DAY,
    ];
    json!({
        "granularities": granularities
            .iter()
            .map(|g| json!({"g": g, "allowed": ct_allowed(*g)}))
            .collect::<Vec<_>>(),
        "times": times
            .iter()
            .map(|(about, now, g, exactness, floor)| json!({
                "about": about,
                "now_ms": now,
                "g": g,
                "exactness": exactness,
                "floor_ms": floor,
                "time_ms": ct_time(*g, exactness, *now, *floor),
            }))
            .collect::<Vec<_>>(),
        "valid_from": valid_from
            .iter()
            .map(|(about, now, due, g, floor)| {
                let time_ms = ct_time(*g, "coarse", *now, *floor);
                json!({
                    "about": about,
                    "now_ms": now,
                    "due_ms": due,
                    "g": g,
                    "time_ms": time_ms,
                    "valid_from": ct_valid_from(*g, *now, *due, time_ms),
                })
            })
            .collect::<Vec<_>>(),
        "valid_until": valid_until
            .iter()
            .map(|(about, end, g)| json!({
                "about": about,
                "end_ms": end,
                "g": g,
                "valid_until": ct_floor(*g, *end),
            }))
            .collect::<Vec<_>>(),
        "own_grants": own_grants
            .iter()
            .map(|(about, now, g, purposes, prev, opt_out)| json!({
                "about": about,
                "now_ms": now,
                "g": g,
                "purposes": purposes,
                "prev_ms": prev,
                "opt_out_ms": opt_out,
                "time_ms": ct_own_grant_time(*g, *now, purposes, *prev, *opt_out),
            }))
            .collect::<Vec<_>>(),
    })
}

// ---- Consultations ----

/// Keys of `consultation_validation`'s own feeds (seeds `BLAKE3(label)`, as every key).
const V_COLLECTOR_0: &str = "vectors/consultation/collector/0";
const V_COLLECTOR_1: &str = "vectors/consultation/collector/1";
const V_CITIZEN_0: &str = "vectors/consultation/citizen/0";
const V_CITIZEN_1: &str = "vectors/consultation/citizen/1";
/// `widening_min_days` of the networks of `consultation_validation` whose genesis has the section.
const V_MIN_DAYS: u32 = 14;

/// `consultation_validation`'s first policy: the vectors' scope, three purposes, 90 days.
fn v_policy() -> Policy {
    Policy {
        version: 1,
        name: "Harbour City Sensors".into(),
        purposes: [
            Purpose::ServiceProvision,
            Purpose::Research,
            Purpose::ThirdPartySharing,
        ]
        .into_iter()
        .collect(),
        categories: [DataCategory::Location, DataCategory::Mobility]
            .into_iter()
            .collect(),
        retention_days: 90,
        recipients: Vec::new(),
        jurisdiction: "EU/GDPR".into(),
        document_digest: digest("vectors/consultation policy document"),
        document_url: "https://sensors.example/privacy".into(),
        contact: "dpo@sensors.example".into(),
        scope: Some(vector_policy_scope()),
        consultation: None,
    }
}

/// A verdict as the vectors name it: `accept`, `pending`, `duplicate`, `equivocation`, or the
/// rejection's code.
fn verdict_name(v: &Verdict) -> String {
    match v {
        Verdict::Accept { .. } => "accept".into(),
        Verdict::Pending { .. } => "pending".into(),
        Verdict::Duplicate { .. } => "duplicate".into(),
        Verdict::Equivocation { .. } => "equivocation".into(),
        Verdict::Reject(r) => r.code().into(),
    }
}

/// The network of `consultation_validation`: the dev registrar, a collector with its first
/// policy and a citizen.
struct VNet {
    history: Vec<Named>,
    registrar: Author,
    collector: Author,
    citizen: Author,
}

fn v_net() -> VNet {
    let (registrar, reg0) = signed("the dev registrar", dev::registrar());
    let (mut collector, col0) = signed(
        "the collector",
        Author::incept(Role::Collector, key(V_COLLECTOR_0), key(V_COLLECTOR_1), T),
    );
    let (citizen, cit0) = signed(
        "the citizen",
        Author::incept(Role::Citizen, key(V_CITIZEN_0), key(V_CITIZEN_1), T),
    );
    let v1 = signed(
        "the first policy",
        collector.append(T + HOUR, Body::Policy(v_policy())),
    );
    VNet {
        history: vec![
            Named {
                name: "registrar-inception",
                signer: REGISTRAR_0,
                role: Role::Registrar,
                entry: reg0,
            },
            Named {
                name: "collector-inception",
                signer: V_COLLECTOR_0,
                role: Role::Collector,
                entry: col0,
            },
            Named {
                name: "policy",
                signer: V_COLLECTOR_0,
                role: Role::Collector,
                entry: v1,
            },
            Named {
                name: "citizen-inception",
                signer: V_CITIZEN_0,
                role: Role::Citizen,
                entry: cit0,
            },
        ],
        registrar,
        collector,
        citizen,
    }
}

/// A ledger of a network with `min_days` (`None`: no `[consultation]`) holding `history`.
fn v_ledger(history: &[Entry], min_days: Option<u32>) -> MemoryLedger {
    let mut ledger = MemoryLedger::new([history[0].feed]);
    ledger.require_consultations(
        min_days.map(|widening_min_days| consultation::Rules { widening_min_days }),
    );
    for e in history {
        let verdict = ledger.submit(e, NOW);
        assert!(matches!(verdict, Verdict::Accept { .. }), "{verdict:?}");
    }
    ledger
}

/// One case of `consultation_validation`: entries submitted in order after the history, each
/// with the verdict expected (checked here, while generating).
struct VCase {
    about: &'static str,
    min_days: Option<u32>,
    entries: Vec<Named>,
    verdicts: Vec<&'static str>,
}

/// Builds a case: `steps` give, for each entry, its name, author (0 collector, 1 citizen, 2
/// registrar), time, body and expected verdict; an accepted entry advances its author.
fn v_case(
    net: &VNet,
    about: &'static str,
    min_days: Option<u32>,
    steps: Vec<(&'static str, usize, u64, Body, &'static str)>,
) -> VCase {
    let history: Vec<Entry> = net.history.iter().map(|n| n.entry.clone()).collect();
    let mut ledger = v_ledger(&history, min_days);
    let mut authors = [
        net.collector.clone(),
        net.citizen.clone(),
        net.registrar.clone(),
    ];
    let signers = [V_COLLECTOR_0, V_CITIZEN_0, REGISTRAR_0];
    let roles = [Role::Collector, Role::Citizen, Role::Registrar];
    let mut entries = Vec::new();
    let mut verdicts = Vec::new();
    for (name, who, time, body, expected) in steps {
        let entry = signed(name, authors[who].sign_next(time, &body));
        let verdict = ledger.submit(&entry, NOW);
        assert_eq!(verdict_name(&verdict), expected, "{about}: {name}");
        if let Verdict::Accept { .. } = verdict {
            signed(name, authors[who].append(time, body));
        }
        entries.push(Named {
            name,
            signer: signers[who],
            role: roles[who],
            entry,
        });
        verdicts.push(expected);
    }
    VCase {
        about,
        min_days,
        entries,
        verdicts,
    }
}

/// `consultation_validation`: a history, then cases on networks with and without
/// `[consultation]`, each a sequence of entries with their verdicts.
fn consultation_validation_json() -> Value {
    let net = v_net();
    let t = T + DAY;
    let edit = |f: &dyn Fn(&mut Policy)| {
        let mut p = v_policy();
        p.version = 2;
        f(&mut p);
        Body::Policy(p)
    };
    let marketing = |p: &mut Policy| {
        p.purposes.insert(Purpose::Marketing);
    };
    let draft_closing = |closes_ms: u64| {
        edit(&|p: &mut Policy| {
            p.purposes.insert(Purpose::Marketing);
            p.consultation = Some(Consultation { closes_ms });
        })
    };
    let min = Some(V_MIN_DAYS);
    let days = u64::from(V_MIN_DAYS) * DAY;
    let (c, z, r) = (0, 1, 2);
    let mut cases = vec![
        v_case(
            &net,
            "a widening without a consultation where the genesis asks for one",
            min,
            vec![(
                "policy-2",
                c,
                t,
                edit(&marketing),
                "widening-without-consultation",
            )],
        ),
        v_case(
            &net,
            "a widening without a consultation where the genesis does not",
            None,
            vec![("policy-2", c, t, edit(&marketing), "accept")],
        ),
        v_case(
            &net,
            "a widening's window one millisecond short, then exactly long enough",
            min,
            vec![
                (
                    "policy-2-short",
                    c,
                    t,
                    draft_closing(t + days - 1),
                    "consultation-too-short",
                ),
                ("policy-2", c, t, draft_closing(t + days), "accept"),
            ],
        ),
        v_case(
            &net,
            "a window over 365 days",
            min,
            vec![(
                "policy-2",
                c,
                t,
                draft_closing(t + 365 * DAY + 1),
                "consultation-too-long",
            )],
        ),
        v_case(
            &net,
            "a narrowing's voluntary window must still close after the entry",
            min,
            vec![
                (
                    "policy-2-empty-window",
                    c,
                    t,
                    edit(&|p: &mut Policy| {
                        p.retention_days = 30;
                        p.consultation = Some(Consultation { closes_ms: t });
                    }),
                    "consultation-too-short",
                ),
                (
                    "policy-2",
                    c,
                    t,
                    edit(&|p: &mut Policy| {
                        p.retention_days = 30;
                        p.consultation = Some(Consultation { closes_ms: t + 1 });
                    }),
                    "accept",
                ),
            ],
        ),
        v_case(
            &net,
            "sensor 2, an air-quality sensor, kept as a noise sensor",
            None,
            vec![(
                "policy-2",
                c,
                t,
                edit(&|p: &mut Policy| {
                    if let Some(s) = p.scope.as_mut() {
                        s.sensors[1].kind = SensorKind::Noise;
                    }
                }),
                "id-redefined",
            )],
        ),
        v_case(
            &net,
            "a draft's content republished without a consultation widens from the base",
            min,
            vec![
                ("policy-2-draft", c, t, draft_closing(t + days), "accept"),
                (
                    "policy-3",
                    c,
                    t + HOUR,
                    Body::Policy(Policy {
                        version: 3,
                        purposes: [
                            Purpose::ServiceProvision,
                            Purpose::Research,
                            Purpose::ThirdPartySharing,
                            Purpose::Marketing,
                        ]
                        .into_iter()
                        .collect(),
                        ..v_policy()
                    }),
                    "widening-without-consultation",
                ),
                (
                    "policy-3-as-1",
                    c,
                    t + HOUR,
                    Body::Policy(Policy {
                        version: 3,
                        ..v_policy()
                    }),
                    "accept",
                ),
            ],
        ),
    ];
    // Stances, responses and outcomes, under a one-day draft on a network without the section.
    let v1 = net.history[2].entry.id;
    let unknown = consent_proto::EntryId([7; 32]);
    let draft_entry = signed(
        "the draft",
        net.collector.sign_next(t, &draft_closing(t + DAY)),
    );
    let draft = draft_entry.id;
    let stance = |object: &[ObjectionReason], on: consent_proto::EntryId| {
        Body::Stance(Stance {
            draft: on,
            position: if object.is_empty() {
                Position::Support
            } else {
                Position::Object(object.iter().copied().collect::<ObjectionSet>())
            },
            details_digest: None,
        })
    };
    let respond = |on: consent_proto::EntryId| {
        Body::Response(ConsultationResponse {
            draft: on,
            reason: ObjectionReason::RetentionTooLong,
            text: "Location data is kept 30 days, not 90.".into(),
            document_digest: None,
        })
    };
    let decide = |approved: bool, responses: Vec<consent_proto::EntryId>| {
        Body::Outcome(ConsultationOutcome {
            draft,
            result: if approved {
                ConsultationResult::Approved
            } else {
                ConsultationResult::ChangesRequired
            },
            text: "Decided after the consultation.".into(),
            responses,
        })
    };
    let objecting = [ObjectionReason::RetentionTooLong];
    let stance_entry = signed("the stance", {
        let mut citizen = net.citizen.clone();
        citizen.append(t + HOUR, stance(&objecting, draft))
    });
    let response_entry = signed("the response", {
        let mut collector = net.collector.clone();
        signed("the draft", collector.append(t, draft_closing(t + DAY)));
        collector.append(t + 2 * HOUR, respond(draft))
    });
    // Ids keep their meaning: a zone moved to a disjoint area; a sensor id dropped by a gated
    // draft and kept with another kind by the next version (against the base, not `prev`).
    let elsewhere = Cell::new(ELSEWHERE)
        .and_then(|c| c.parent(10))
        .expect("a resolution-10 cell");
    cases.push(v_case(
        &net,
        "zone 1 moved to a disjoint area",
        None,
        vec![(
            "policy-2",
            c,
            t,
            edit(&|p: &mut Policy| {
                if let Some(s) = p.scope.as_mut() {
                    s.zones[0].cells = vec![elsewhere];
                }
            }),
            "id-redefined",
        )],
    ));
    let without_sensor_2 = edit(&|p: &mut Policy| {
        p.purposes.insert(Purpose::Marketing);
        p.consultation = Some(Consultation { closes_ms: t + DAY });
        if let Some(s) = p.scope.as_mut() {
            s.sensors.retain(|x| x.id != 2);
        }
    });
    let mut sensor_2_as_noise = v_policy();
    sensor_2_as_noise.version = 3;
    if let Some(s) = sensor_2_as_noise.scope.as_mut() {
        s.sensors[1].kind = SensorKind::Noise;
    }
    cases.push(v_case(
        &net,
        "a sensor id redefined against the base: the draft before it dropped the id",
        None,
        vec![
            ("policy-2-draft", c, t, without_sensor_2, "accept"),
            (
                "policy-3",
                c,
                t + HOUR,
                Body::Policy(sensor_2_as_noise),
                "id-redefined",
            ),
        ],
    ));
    // An approved draft stays gated: the base is still the version before it.
    let mut approved_content = v_policy();
    approved_content.version = 3;
    approved_content.purposes.insert(Purpose::Marketing);
    approved_content.name = "Harbour City Sensors and Offers".into();
    cases.push(v_case(
        &net,
        "an approved draft never becomes the base: its content republished without a consultation widens again",
        Some(1),
        vec![
            ("policy-2-draft", c, t, draft_closing(t + DAY), "accept"),
            ("approval", r, t + DAY, decide(true, vec![]), "accept"),
            (
                "policy-3",
                c,
                t + DAY + HOUR,
                Body::Policy(approved_content),
                "widening-without-consultation",
            ),
        ],
    ));
    // Roles: a stance is a citizen's, a response a collector's, an outcome a registrar's.
    cases.push(v_case(
        &net,
        "each consultation body from a feed of another role",
        None,
        vec![
            ("policy-2-draft", c, t, draft_closing(t + DAY), "accept"),
            (
                "stance-by-the-collector",
                c,
                t + HOUR,
                stance(&[], draft),
                "body-not-allowed",
            ),
            (
                "response-by-the-citizen",
                z,
                t + HOUR,
                respond(draft),
                "body-not-allowed",
            ),
            (
                "outcome-by-the-collector",
                c,
                t + DAY,
                decide(true, vec![]),
                "body-not-allowed",
            ),
        ],
    ));
    // The listed responses are judged in list order: the first that fails decides.
    cases.push(v_case(
        &net,
        "an outcome's listed responses in list order: not a response first, then missing first",
        None,
        vec![
            ("policy-2-draft", c, t, draft_closing(t + DAY), "accept"),
            ("stance", z, t + HOUR, stance(&objecting, draft), "accept"),
            (
                "approval-listing-a-stance-then-unknown",
                r,
                t + DAY,
                decide(true, vec![stance_entry.id, unknown]),
                "response-not-for-draft",
            ),
            (
                "approval-listing-unknown-then-a-stance",
                r,
                t + DAY,
                decide(true, vec![unknown, stance_entry.id]),
                "pending",
            ),
        ],
    ));
    // A response to the collector's earlier draft, listed by an outcome on its next draft.
    let v3_draft = Body::Policy(Policy {
        version: 3,
        consultation: Some(Consultation {
            closes_ms: t + 3 * HOUR + DAY,
        }),
        ..match &draft_closing(t + DAY) {
            Body::Policy(p) => p.clone(),
            _ => panic!("a policy"),
        }
    });
    let v3_entry = signed("the next draft", {
        let mut collector = net.collector.clone();
        signed("the draft", collector.append(t, draft_closing(t + DAY)));
        signed(
            "the response",
            collector.append(t + 2 * HOUR, respond(draft)),
        );
        collector.sign_next(t + 3 * HOUR, &v3_draft)
    });
    cases.push(v_case(
        &net,
        "an outcome listing a response to another draft of the same collector",
        None,
        vec![
            ("policy-2-draft", c, t, draft_closing(t + DAY), "accept"),
            ("response", c, t + 2 * HOUR, respond(draft), "accept"),
            (
                "policy-3-draft",
                c,
                t + 3 * HOUR,
                v3_draft.clone(),
                "accept",
            ),
            (
                "approval-of-3-listing-a-response-to-2",
                r,
                t + 3 * HOUR + DAY,
                Body::Outcome(ConsultationOutcome {
                    draft: v3_entry.id,
                    result: ConsultationResult::Approved,
                    text: "Decided after the consultation.".into(),
                    responses: vec![response_entry.id],
                }),
                "response-not-for-draft",
            ),
        ],
    ));
    cases.push(v_case(
        &net,
        "stances: on a draft not held, on a policy without a consultation, outside the window, inside it",
        None,
        vec![
            ("policy-2-draft", c, t, draft_closing(t + DAY), "accept"),
            ("stance-unknown", z, t + HOUR, stance(&[], unknown), "pending"),
            ("stance-on-policy-1", z, t + HOUR, stance(&objecting, v1), "not-a-consultation"),
            ("stance-early", z, t - 1, stance(&objecting, draft), "outside-consultation-window"),
            ("stance-late", z, t + DAY, stance(&[], draft), "outside-consultation-window"),
            ("stance", z, t + HOUR, stance(&objecting, draft), "accept"),
        ],
    ));
    cases.push(v_case(
        &net,
        "responses and outcomes",
        None,
        vec![
            ("policy-2-draft", c, t, draft_closing(t + DAY), "accept"),
            ("stance", z, t + HOUR, stance(&objecting, draft), "accept"),
            (
                "response-on-policy-1",
                c,
                t + 2 * HOUR,
                respond(v1),
                "not-a-consultation",
            ),
            (
                "response-on-a-stance",
                c,
                t + 2 * HOUR,
                respond(stance_entry.id),
                "not-own-consultation",
            ),
            ("response", c, t + 2 * HOUR, respond(draft), "accept"),
            (
                "outcome-before-the-draft",
                r,
                t - 1,
                decide(false, vec![]),
                "outcome-too-early",
            ),
            (
                "approval-in-the-window",
                r,
                t + DAY - 1,
                decide(true, vec![]),
                "outcome-too-early",
            ),
            (
                "approval-listing-a-stance",
                r,
                t + DAY,
                decide(true, vec![stance_entry.id]),
                "response-not-for-draft",
            ),
            (
                "approval-listing-unknown",
                r,
                t + DAY,
                decide(true, vec![unknown]),
                "pending",
            ),
            (
                "approval",
                r,
                t + DAY,
                decide(true, vec![response_entry.id]),
                "accept",
            ),
        ],
    ));
    assert_eq!(
        cases.last().map(|c| c.entries[0].entry.id),
        Some(draft_entry.id)
    );
    json!({
        "history": net.history.iter().map(named_json).collect::<Vec<_>>(),
        "cases": cases.iter().map(|c| json!({
            "about": c.about,
            "widening_min_days": c.min_days,
            "entries": c.entries.iter().map(named_json).collect::<Vec<_>>(),
            "verdicts": c.verdicts,
        })).collect::<Vec<_>>(),
    })
}

/// The wire form of a policy and its JSON.
fn policy_wire(p: &Policy) -> pb::Policy {
    match Body::Policy(p.clone()).to_wire() {
        WireBody::Policy(w) => w,
        _ => panic!("a policy"),
    }
}

/// `policy_changes`: pairs of policies and what [`consent_proto::policy_change::compare`] says.
fn policy_changes_json() -> Value {
    let base = v_policy();
    let edit = |f: &dyn Fn(&mut Policy)| {
        let mut p = v_policy();
        p.version = 2;
        f(&mut p);
        p
    };
    let scope_edit = |f: &dyn Fn(&mut PolicyScope)| {
        edit(&|p: &mut Policy| {
            if let Some(s) = p.scope.as_mut() {
                f(s);
            }
        })
    };
    let pairs: Vec<(&str, Policy, Policy)> = vec![
        ("the same policy", base.clone(), base.clone()),
        (
            "a purpose added",
            base.clone(),
            edit(&|p: &mut Policy| {
                p.purposes.insert(Purpose::Marketing);
            }),
        ),
        (
            "a shorter retention",
            base.clone(),
            edit(&|p: &mut Policy| p.retention_days = 30),
        ),
        (
            "a recipient added, the law and the contact changed",
            base.clone(),
            edit(&|p: &mut Policy| {
                p.recipients.push("Port authority".into());
                p.jurisdiction = "EU/GDPR+NL/UAVG".into();
                p.contact = "privacy@sensors.example".into();
            }),
        ),
        (
            "renamed, new address",
            base.clone(),
            edit(&|p: &mut Policy| {
                p.name = "Harbour City Sensor Network".into();
                p.document_url = "https://sensors.example/privacy/v2".into();
            }),
        ),
        (
            "zone 1 moved elsewhere",
            base.clone(),
            scope_edit(&|s: &mut PolicyScope| {
                s.zones[0] = Zone {
                    id: 1,
                    name: "Elsewhere".into(),
                    resolution: 12,
                    cells: cells(&[ELSEWHERE]),
                }
            }),
        ),
        (
            "no zones: anywhere",
            base.clone(),
            scope_edit(&|s: &mut PolicyScope| {
                s.zones.clear();
                // A sensor may stand only in a zone of the policy.
                for sensor in &mut s.sensors {
                    sensor.zone = None;
                }
            }),
        ),
        (
            "sensor 3 removed, saturdays dropped",
            base.clone(),
            scope_edit(&|s: &mut PolicyScope| {
                s.sensors.truncate(2);
                s.windows.truncate(1);
            }),
        ),
        (
            "the same windows an hour later",
            base.clone(),
            scope_edit(&|s: &mut PolicyScope| s.utc_offset_minutes = 0),
        ),
        (
            "research kept only aggregated, with smaller groups",
            base.clone(),
            scope_edit(&|s: &mut PolicyScope| {
                s.forms[1].offers = vec![FormSpec::Aggregated {
                    interval_s: 3_600,
                    resolution: 8,
                    min_group: 5,
                }]
            }),
        ),
        (
            "a scope declared where there was none",
            Policy {
                scope: None,
                ..base.clone()
            },
            base.clone(),
        ),
    ];
    pairs
        .into_iter()
        .map(|(about, old, new)| {
            let change = consent_proto::policy_change::compare(&old, &new);
            let (ow, nw) = (policy_wire(&old), policy_wire(&new));
            json!({
                "about": about,
                "old": body_json(&WireBody::Policy(ow.clone())),
                "old_encoding": hx(ow.encode_to_vec()),
                "new": body_json(&WireBody::Policy(nw.clone())),
                "new_encoding": hx(nw.encode_to_vec()),
                "kind": change.kind().name(),
                "items": change.items.iter().map(|i| json!({
                    "direction": i.direction.name(),
                    "code": i.code,
                    "sentence": i.sentence,
                })).collect::<Vec<_>>(),
                "sentences": change.sentences(),
            })
        })
        .collect()
}

fn outcome_json(o: &OutcomeFacts, frozen: bool) -> Value {
    json!({"id": hx(o.id.0), "time_ms": o.time_ms, "approved": o.approved, "frozen": frozen})
}

/// The earliest approval and the earliest request for changes among the counted outcomes: not
/// signed by a frozen registrar feed and, when the draft is superseded, strictly before it.
fn firsts(
    outcomes: &[(OutcomeFacts, bool)],
    superseded_ms: Option<u64>,
) -> (Option<OutcomeFacts>, Option<OutcomeFacts>) {
    let counted = move || {
        outcomes
            .iter()
            .filter(move |(o, frozen)| !frozen && superseded_ms.is_none_or(|s| o.time_ms < s))
            .map(|(o, _)| *o)
    };
    (
        counted()
            .filter(|o| o.approved)
            .fold(None, consultation::first),
        counted()
            .filter(|o| !o.approved)
            .fold(None, consultation::first),
    )
}

/// `consultation_states`: a draft's facts, its outcomes (any order) and a clock; the state, its
/// time and from when grants under it count.
fn consultation_states_json() -> Value {
    let id = |n: u8| consent_proto::EntryId([n; 32]);
    let o = |n: u8, time_ms: u64, approved: bool| {
        (
            OutcomeFacts {
                id: id(n),
                time_ms,
                approved,
            },
            false,
        )
    };
    // Signed by a registrar feed that is frozen (its equivocation proven): not counted.
    let frozen = |n: u8, time_ms: u64, approved: bool| (o(n, time_ms, approved).0, true);
    let opened = T;
    let closes = T + 14 * DAY;
    /// (about, gated, superseded_ms, outcomes (each with whether its registrar is frozen), now_ms)
    type Case = (
        &'static str,
        bool,
        Option<u64>,
        Vec<(OutcomeFacts, bool)>,
        u64,
    );
    let cases: Vec<Case> = vec![
        ("open", true, None, vec![], closes - 1),
        ("awaiting the outcome", true, None, vec![], closes),
        (
            "approved",
            true,
            None,
            vec![o(5, closes + HOUR, true)],
            closes + DAY,
        ),
        (
            "changes required",
            true,
            None,
            vec![o(5, closes + HOUR, false)],
            closes + DAY,
        ),
        (
            "changes required during the window",
            true,
            None,
            vec![o(5, opened + DAY, false)],
            opened + 2 * DAY,
        ),
        (
            "an approval and a request for changes at one time: changes required",
            true,
            None,
            vec![o(9, closes, true), o(3, closes, false)],
            closes + DAY,
        ),
        (
            "an approval, then changes required by another registrar: changes required",
            true,
            None,
            vec![o(1, closes + DAY, false), o(9, closes + HOUR, true)],
            closes + 2 * DAY,
        ),
        (
            "changes required, then an approval by another registrar: changes required",
            true,
            None,
            vec![o(9, closes + DAY, true), o(1, closes + HOUR, false)],
            closes + 2 * DAY,
        ),
        (
            "two requests for changes: the earlier time",
            true,
            None,
            vec![o(1, closes + DAY, false), o(9, closes + HOUR, false)],
            closes + 2 * DAY,
        ),
        (
            "two approvals at one time: the smaller id",
            true,
            None,
            vec![o(9, closes, true), o(3, closes, true)],
            closes + DAY,
        ),
        (
            "a frozen registrar's approval does not count: awaiting the outcome",
            true,
            None,
            vec![frozen(5, closes + HOUR, true)],
            closes + DAY,
        ),
        (
            "a frozen registrar's request for changes does not count: the other's approval decides",
            true,
            None,
            vec![frozen(3, closes, false), o(9, closes + HOUR, true)],
            closes + DAY,
        ),
        (
            "changes required after a newer version does not count: the approval before it decides",
            true,
            Some(closes + DAY),
            vec![o(9, closes + HOUR, true), o(3, closes + DAY, false)],
            closes + 2 * DAY,
        ),
        ("withdrawn", true, Some(opened + DAY), vec![], closes + DAY),
        (
            "approved after being withdrawn: withdrawn",
            true,
            Some(closes + HOUR),
            vec![o(5, closes + HOUR, true)],
            closes + DAY,
        ),
        (
            "approved before a newer version",
            true,
            Some(closes + HOUR + 1),
            vec![o(5, closes + HOUR, true)],
            closes + DAY,
        ),
        (
            "a voluntary consultation, open",
            false,
            None,
            vec![],
            opened,
        ),
        (
            "a voluntary consultation with changes required",
            false,
            None,
            vec![o(5, closes, false)],
            closes + DAY,
        ),
        (
            "a voluntary consultation approved: in effect all along",
            false,
            None,
            vec![o(5, closes, true)],
            closes + DAY,
        ),
    ];
    cases
        .into_iter()
        .map(|(about, gated, superseded_ms, outcomes, now_ms)| {
            let (first_approval, first_changes_required) = firsts(&outcomes, superseded_ms);
            let facts = DraftFacts {
                id: id(1),
                collector: FeedId([2; 32]),
                version: 2,
                time_ms: opened,
                closes_ms: closes,
                gated,
                superseded_ms,
                first_approval,
                first_changes_required,
            };
            let state = consultation::state(&facts, now_ms);
            json!({
                "about": about,
                "time_ms": facts.time_ms,
                "closes_ms": facts.closes_ms,
                "gated": gated,
                "superseded_ms": superseded_ms,
                "outcomes": outcomes
                    .iter()
                    .map(|(o, frozen)| outcome_json(o, *frozen))
                    .collect::<Vec<_>>(),
                "now_ms": now_ms,
                "state": state.name(),
                "state_wire": state.to_wire().as_str_name(),
                "state_ms": state.at_ms(),
                "in_effect_from": consultation::in_effect_from(&facts),
            })
        })
        .collect()
}

/// `consultation_decisions`: step 5's `POLICY_NOT_IN_EFFECT` for one unscoped grant whose policy is
/// in effect from `in_effect_from` (the approving outcome's time of a gated draft, `u64::MAX`
/// while it is not approved, 0 for a version that is not gated), and its place among the
/// other denials.
fn consultation_decisions_json() -> Value {
    use consent_proto::consultation::{ALWAYS, NEVER};
    let a = T + 3 * DAY;
    let base = DecisionCase {
        about: None,
        policy: None,
        grant: GrantCase {
            purposes: [Purpose::Research].into_iter().collect(),
            categories: [DataCategory::Mobility].into_iter().collect(),
            valid_from: T,
            valid_until: None,
            revoked: false,
            scope: None,
        },
        opt_out_seq: None,
        purpose: Purpose::Research,
        category: DataCategory::Mobility,
        at_ms: a,
        context: Context::NONE,
    };
    let observed = |ms: u64| Context {
        observed_ms: Some(ms),
        ..Context::NONE
    };
    let cases: Vec<(DecisionCase, u64)> = vec![
        (
            edge(
                &base,
                "one millisecond before the approval: not in effect",
                |c| {
                    c.at_ms = a - 1;
                },
            ),
            a,
        ),
        (edge(&base, "at the approval: in effect", |_| {}), a),
        (
            edge(&base, "a draft not approved: never in effect", |c| {
                c.at_ms = a + 365 * DAY;
            }),
            NEVER,
        ),
        (
            edge(&base, "revoked: REVOKED comes first", |c| {
                c.at_ms = a - 1;
                c.grant.revoked = true;
            }),
            a,
        ),
        (
            edge(&base, "not yet valid: NOT_YET_VALID comes first", |c| {
                c.at_ms = a - 1;
                c.grant.valid_from = a;
            }),
            a,
        ),
        (
            edge(&base, "expired: EXPIRED comes first", |c| {
                c.at_ms = a - 1;
                c.grant.valid_until = Some(a - HOUR);
            }),
            a,
        ),
        (
            edge(
                &base,
                "observed outside the grant's validity: not in effect comes before TIME_NOT_COVERED",
                |c| {
                    c.at_ms = a - 1;
                    c.context = observed(T - 1);
                },
            ),
            a,
        ),
        (
            edge(
                &base,
                "observed before the approval, asked after it: allowed (at alone is compared)",
                |c| c.context = observed(a - HOUR),
            ),
            a,
        ),
        (
            edge(
                &base,
                "a version that is not gated: never POLICY_NOT_IN_EFFECT, whatever at is",
                |c| c.at_ms = T + 1,
            ),
            ALWAYS,
        ),
    ];
    json!({
        "cases": cases
            .iter()
            .map(|(c, in_effect_from)| {
                let mut v = decision_case_json(&[], c);
                let (decision, reason, form) = decide_case_in(&[], c, *in_effect_from);
                v["decision"] = json!(decision.as_str_name());
                v["reason"] = json!(reason.as_str_name());
                v["required_form"] = json!(form.unwrap_or(Form::Unspecified).as_str_name());
                v["in_effect_from"] = json!(in_effect_from);
                v
            })
            .collect::<Vec<_>>(),
    })
}

fn tally_json(t: &Tally) -> Value {
    json!({
        "support": t.support,
        "object": t.object,
        "reasons": ObjectionReason::ALL
            .iter()
            .filter(|r| t.reason(**r) > 0)
            .map(|r| json!({"reason": r.as_str_name(), "count": t.reason(*r)}))
            .collect::<Vec<_>>(),
    })
}

/// `consultation_counts`: stances of several feeds (any order) counted, and the reasons raised at
/// a threshold.
fn consultation_counts_json() -> Value {
    use ObjectionReason as R;
    let stance = |feed: u8, seq: u64, object: &[R], affected: bool| StanceFacts {
        feed: FeedId([feed; 32]),
        seq,
        support: object.is_empty(),
        reasons: object.iter().copied().collect(),
        affected,
    };
    let cases: Vec<(&str, Vec<StanceFacts>, u64)> = vec![
        ("no stance", vec![], 1),
        (
            "a later stance of a feed replaces its earlier one",
            vec![
                stance(1, 4, &[], true),
                stance(1, 3, &[R::RetentionTooLong, R::Other], true),
                stance(2, 7, &[R::RetentionTooLong], false),
                stance(2, 9, &[R::SensorPlacement, R::Other], false),
            ],
            1,
        ),
        (
            "both groups count towards the threshold",
            vec![
                stance(1, 1, &[R::ThirdPartySharing], true),
                stance(2, 1, &[R::ThirdPartySharing, R::PurposeTooBroad], false),
                stance(3, 1, &[R::PurposeTooBroad], false),
                stance(4, 1, &[R::NotAnonymisedEnough], true),
                stance(5, 1, &[], false),
                stance(6, 2, &[], true),
            ],
            2,
        ),
    ];
    cases
        .into_iter()
        .map(|(about, stances, threshold)| {
            let counts = consultation::count(&stances);
            json!({
                "about": about,
                "stances": stances.iter().map(|s| json!({
                    "feed": hx(s.feed.0),
                    "seq": s.seq,
                    "kind": if s.support { "STANCE_KIND_SUPPORT" } else { "STANCE_KIND_OBJECT" },
                    "reasons": s.reasons.iter().map(|r| r.as_str_name()).collect::<Vec<_>>(),
                    "affected": s.affected,
                })).collect::<Vec<_>>(),
                "affected": tally_json(&counts.affected),
                "others": tally_json(&counts.others),
                "threshold": threshold,
                "raised": counts.raised(threshold).iter().map(|r| r.as_str_name()).collect::<Vec<_>>(),
            })
        })
        .collect()
}

// ---- The tests ----

// ---- Delegation ----

/// Keys of the `delegations` network's own feeds (seeds `BLAKE3(label)`, as every key).
const D_COLLECTOR_0: &str = "vectors/delegation/collector/0";
const D_COLLECTOR_1: &str = "vectors/delegation/collector/1";
const D_PERSON_0: &str = "vectors/delegation/person/0";
const D_PERSON_1: &str = "vectors/delegation/person/1";
const D_ASSISTANT_0: &str = "vectors/delegation/assistant/0";
const D_ASSISTANT_1: &str = "vectors/delegation/assistant/1";
const D_CHILD_0: &str = "vectors/delegation/child/0";
const D_CHILD_1: &str = "vectors/delegation/child/1";
const D_GUARDIAN_0: &str = "vectors/delegation/guardian/0";
const D_GUARDIAN_1: &str = "vectors/delegation/guardian/1";
const D_CO_GUARDIAN_0: &str = "vectors/delegation/co-guardian/0";
const D_CO_GUARDIAN_1: &str = "vectors/delegation/co-guardian/1";
/// Every key label of the delegation vectors, in the order their section lists them.
const D_LABELS: [&str; 12] = [
    D_COLLECTOR_0,
    D_COLLECTOR_1,
    D_PERSON_0,
    D_PERSON_1,
    D_ASSISTANT_0,
    D_ASSISTANT_1,
    D_CHILD_0,
    D_CHILD_1,
    D_GUARDIAN_0,
    D_GUARDIAN_1,
    D_CO_GUARDIAN_0,
    D_CO_GUARDIAN_1,
];
/// The child comes of age on 2034-05-01: UTC midnight, Unix ms.
const D_COMES_OF_AGE: u64 = 2_030_054_400_000;
/// The authors of the delegation network, by index.
const D_COLLECTOR: usize = 0;
const D_PERSON: usize = 1;
const D_ASSISTANT: usize = 2;
const D_CHILD: usize = 3;
const D_GUARDIAN: usize = 4;
const D_CO_GUARDIAN: usize = 5;
/// Their signing labels (the first key of each; no feed rotates) and roles.
const D_SIGNERS: [&str; 6] = [
    D_COLLECTOR_0,
    D_PERSON_0,
    D_ASSISTANT_0,
    D_CHILD_0,
    D_GUARDIAN_0,
    D_CO_GUARDIAN_0,
];

/// The network of `delegations`: its history (in an order a fresh node whose genesis lists the
/// dev registrar accepts), and its authors at the end of it.
struct DNet {
    history: Vec<Named>,
    authors: Vec<Author>,
    collector: FeedId,
    policy: EntryId,
}

impl DNet {
    fn entry(&self, name: &str) -> &Entry {
        match self.history.iter().find(|n| n.name == name) {
            Some(n) => &n.entry,
            None => panic!("no delegation entry {name}"),
        }
    }

    fn feed(&self, who: usize) -> FeedId {
        self.authors[who].feed()
    }

    /// A ledger holding the first `size` entries of the history.
    fn ledger(&self, size: usize) -> MemoryLedger {
        let mut ledger = MemoryLedger::new([self.history[0].entry.feed]);
        for n in &self.history[..size] {
            let verdict = ledger.submit(&n.entry, NOW);
            assert!(
                matches!(verdict, Verdict::Accept { .. }),
                "{}: {verdict:?}",
                n.name
            );
        }
        ledger
    }

    /// The arrival-log tree over the first `size` entries.
    fn tree(&self, size: usize) -> Tree {
        let mut tree = Tree::new();
        for n in &self.history[..size] {
            tree.push(&n.entry.id.0);
        }
        tree
    }

    fn inclusion(&self, name: &str, size: usize) -> pb::InclusionProof {
        let index = match self.history.iter().position(|n| n.name == name) {
            Some(i) => i as u64,
            None => panic!("no delegation entry {name}"),
        };
        pb::InclusionProof {
            index,
            tree_size: size as u64,
            entry_id: Bytes::copy_from_slice(&self.entry(name).id.0),
            hashes: inclusion(&self.tree(size), index, size as u64)
                .iter()
                .map(|h| Bytes::copy_from_slice(h))
                .collect(),
        }
    }
}

fn on_behalf(person: FeedId, delegation: EntryId) -> OnBehalf {
    OnBehalf { person, delegation }
}

/// A grant to the delegation network's collector of `purposes` over location data, valid from
/// `T` until revoked, in `on_behalf`'s name when given.
fn d_grant(
    net_collector: FeedId,
    policy: EntryId,
    purposes: &[Purpose],
    on_behalf: Option<OnBehalf>,
) -> Body {
    Body::Grant(Grant {
        collector: net_collector,
        policy,
        purposes: purposes.iter().copied().collect(),
        categories: [DataCategory::Location].into_iter().collect(),
        retention_days: 30,
        valid_from: T,
        valid_until: None,
        scope: None,
        on_behalf,
    })
}

fn d_net() -> DNet {
    let (mut registrar, reg0) = signed("the dev registrar", dev::registrar());
    let incept = |role, first: &str, second: &str| {
        signed(first, Author::incept(role, key(first), key(second), T))
    };
    let (mut collector, col0) = incept(Role::Collector, D_COLLECTOR_0, D_COLLECTOR_1);
    let (mut person, per0) = incept(Role::Citizen, D_PERSON_0, D_PERSON_1);
    let (mut assistant, asi0) = incept(Role::Citizen, D_ASSISTANT_0, D_ASSISTANT_1);
    let (mut child, chi0) = incept(Role::Citizen, D_CHILD_0, D_CHILD_1);
    let (mut guardian, gua0) = incept(Role::Citizen, D_GUARDIAN_0, D_GUARDIAN_1);
    let (mut co_guardian, cog0) = incept(Role::Citizen, D_CO_GUARDIAN_0, D_CO_GUARDIAN_1);
    let policy = signed(
        "the delegation network's policy",
        collector.append(
            T + HOUR,
            Body::Policy(Policy {
                version: 1,
                name: "Harbour City Libraries".into(),
                purposes: [
                    Purpose::ServiceProvision,
                    Purpose::Research,
                    Purpose::ThirdPartySharing,
                ]
                .into_iter()
                .collect(),
                categories: [DataCategory::Location, DataCategory::Mobility]
                    .into_iter()
                    .collect(),
                retention_days: 365,
                recipients: Vec::new(),
                jurisdiction: "EU/GDPR".into(),
                document_digest: digest("vectors/delegation policy document"),
                document_url: "https://libraries.example/privacy".into(),
                contact: "dpo@libraries.example".into(),
                scope: None,
                consultation: None,
            }),
        ),
    );
    let accreditation = signed(
        "the delegation network's accreditation",
        registrar.append(
            T + HOUR,
            Body::Accreditation(Accreditation {
                collector: collector.feed(),
                valid_until: T + 365 * DAY,
            }),
        ),
    );
    let c = collector.feed();
    let p = policy.id;
    let delegation = signed(
        "the delegation",
        person.append(
            T + 2 * HOUR,
            Body::Delegation(Delegation {
                delegate: assistant.feed(),
                powers: [DelegatedPower::Grant].into_iter().collect(),
                collectors: vec![c],
                purposes: [Purpose::Research, Purpose::ThirdPartySharing]
                    .into_iter()
                    .collect(),
                valid_until: Some(T + 9 * DAY),
                kind: DelegationKind::Assistant,
                co_signer: None,
            }),
        ),
    );
    let for_person = on_behalf(person.feed(), delegation.id);
    let delegated_grant = signed(
        "the delegated grant",
        assistant.append(
            T + 3 * HOUR,
            d_grant(c, p, &[Purpose::Research], Some(for_person)),
        ),
    );
    let every: PowerSet = [
        DelegatedPower::Grant,
        DelegatedPower::Revoke,
        DelegatedPower::Request,
    ]
    .into_iter()
    .collect();
    let guardianship = |delegate: FeedId, co_signer: FeedId| {
        Body::Delegation(Delegation {
            delegate,
            powers: every,
            collectors: Vec::new(),
            purposes: PurposeSet::EMPTY,
            valid_until: Some(D_COMES_OF_AGE),
            kind: DelegationKind::Guardian,
            co_signer: Some(co_signer),
        })
    };
    let first = signed(
        "the guardian delegation",
        child.append(
            T + 2 * HOUR,
            guardianship(guardian.feed(), co_guardian.feed()),
        ),
    );
    let second = signed(
        "the co-guardian delegation",
        child.append(
            T + 2 * HOUR,
            guardianship(co_guardian.feed(), guardian.feed()),
        ),
    );
    let for_child = on_behalf(child.feed(), first.id);
    let by_co = on_behalf(child.feed(), second.id);
    let guardian_grant = signed(
        "the guardian grant",
        guardian.append(
            T + 3 * HOUR,
            d_grant(c, p, &[Purpose::ServiceProvision], Some(for_child)),
        ),
    );
    let endorsement = signed(
        "the endorsement",
        co_guardian.append(
            T + 4 * HOUR,
            Body::Endorsement(Endorsement {
                grant: guardian_grant.id,
                on_behalf: by_co,
            }),
        ),
    );
    let second_grant = signed(
        "the second guardian grant",
        guardian.append(
            T + 5 * HOUR,
            d_grant(c, p, &[Purpose::Research], Some(for_child)),
        ),
    );
    let opt_out = signed(
        "the guardian's opt-out",
        guardian.append(
            T + 5 * HOUR,
            Body::Request(Request {
                collector: c,
                kind: RequestKind::OptOutSale,
                details_digest: None,
                on_behalf: Some(for_child),
            }),
        ),
    );
    let revocation = signed(
        "the co-guardian's revocation",
        co_guardian.append(
            T + 6 * HOUR,
            Body::Revoke(Revoke {
                grant: second_grant.id,
                erase: true,
                on_behalf: Some(by_co),
            }),
        ),
    );
    let undelegation = signed(
        "the undelegation",
        person.append(
            T + DAY,
            Body::Undelegation(Undelegation {
                delegation: delegation.id,
                void_from_ms: None,
            }),
        ),
    );
    // Signed a minute before the undelegation, after it in arrival: valid, and withdrawn.
    let late_grant = signed(
        "the late grant",
        assistant.append(
            T + DAY - MINUTE,
            d_grant(c, p, &[Purpose::ThirdPartySharing], Some(for_person)),
        ),
    );
    let resignation = signed(
        "the resignation",
        assistant.append(
            T + DAY,
            Body::Undelegation(Undelegation {
                delegation: delegation.id,
                void_from_ms: Some(T + DAY - 2 * HOUR),
            }),
        ),
    );
    let named = |name, signer, role, entry| Named {
        name,
        signer,
        role,
        entry,
    };
    let (cz, co) = (Role::Citizen, Role::Collector);
    DNet {
        history: vec![
            named("registrar-inception", REGISTRAR_0, Role::Registrar, reg0),
            named("collector-inception", D_COLLECTOR_0, co, col0),
            named("policy", D_COLLECTOR_0, co, policy),
            named("accreditation", REGISTRAR_0, Role::Registrar, accreditation),
            named("person-inception", D_PERSON_0, cz, per0),
            named("assistant-inception", D_ASSISTANT_0, cz, asi0),
            named("child-inception", D_CHILD_0, cz, chi0),
            named("guardian-inception", D_GUARDIAN_0, cz, gua0),
            named("co-guardian-inception", D_CO_GUARDIAN_0, cz, cog0),
            named("delegation", D_PERSON_0, cz, delegation),
            named("delegated-grant", D_ASSISTANT_0, cz, delegated_grant),
            named("guardian-delegation", D_CHILD_0, cz, first),
            named("co-guardian-delegation", D_CHILD_0, cz, second),
            named("guardian-grant", D_GUARDIAN_0, cz, guardian_grant),
            named("endorsement", D_CO_GUARDIAN_0, cz, endorsement),
            named("guardian-grant-2", D_GUARDIAN_0, cz, second_grant),
            named("guardian-opt-out", D_GUARDIAN_0, cz, opt_out),
            named("co-guardian-revocation", D_CO_GUARDIAN_0, cz, revocation),
            named("undelegation", D_PERSON_0, cz, undelegation),
            named("late-grant", D_ASSISTANT_0, cz, late_grant),
            named("resignation", D_ASSISTANT_0, cz, resignation),
        ],
        authors: vec![collector, person, assistant, child, guardian, co_guardian],
        collector: c,
        policy: p,
    }
}

/// One case of `delegation_validation`: an entry submitted after the whole history, and its
/// verdict (checked here, while generating).
fn d_case(
    net: &DNet,
    about: &'static str,
    who: usize,
    time_ms: u64,
    body: Body,
    expected: &'static str,
) -> Value {
    let mut ledger = net.ledger(net.history.len());
    let name = "case";
    let entry = signed(about, net.authors[who].sign_next(time_ms, &body));
    let verdict = ledger.submit(&entry, NOW);
    assert_eq!(verdict_name(&verdict), expected, "{about}");
    let role = if who == D_COLLECTOR {
        Role::Collector
    } else {
        Role::Citizen
    };
    json!({
        "about": about,
        "entry": entry_json(name, D_SIGNERS[who], &key(D_SIGNERS[who]).public(), role, &entry),
        "verdict": expected,
    })
}

/// `delegations`: the keys, the history, and validation cases on it.
fn delegations_json(net: &DNet) -> Value {
    let t = T + 2 * DAY;
    let (c, p) = (net.collector, net.policy);
    let delegation = net.entry("delegation").id;
    let for_person = on_behalf(net.feed(D_PERSON), delegation);
    let for_child = on_behalf(net.feed(D_CHILD), net.entry("guardian-delegation").id);
    let by_co = on_behalf(net.feed(D_CHILD), net.entry("co-guardian-delegation").id);
    let grant = |purposes: &[Purpose], o| d_grant(c, p, purposes, o);
    let elsewhere = FeedId(*blake3::hash(b"vectors/delegation/another collector").as_bytes());
    let cases = vec![
        d_case(
            net,
            "a grant in the person's name inside its delegation (an undelegation does not change validity)",
            D_ASSISTANT,
            t,
            grant(&[Purpose::Research], Some(for_person)),
            "accept",
        ),
        d_case(
            net,
            "the person revokes its assistant's grant",
            D_PERSON,
            t,
            Body::Revoke(Revoke {
                grant: net.entry("delegated-grant").id,
                erase: false,
                on_behalf: None,
            }),
            "accept",
        ),
        d_case(
            net,
            "a guardian revokes its own endorsed grant alone",
            D_GUARDIAN,
            t,
            Body::Revoke(Revoke {
                grant: net.entry("guardian-grant").id,
                erase: false,
                on_behalf: None,
            }),
            "accept",
        ),
        d_case(
            net,
            "a feed the delegation does not name",
            D_CO_GUARDIAN,
            t,
            grant(&[Purpose::Research], Some(for_person)),
            "not-delegated",
        ),
        d_case(
            net,
            "a request, a power the delegation does not give",
            D_ASSISTANT,
            t,
            Body::Request(Request {
                collector: c,
                kind: RequestKind::Access,
                details_digest: None,
                on_behalf: Some(for_person),
            }),
            "power-not-delegated",
        ),
        d_case(
            net,
            "another collector than the delegation lists",
            D_ASSISTANT,
            t,
            d_grant(elsewhere, p, &[Purpose::Research], Some(for_person)),
            "collector-not-delegated",
        ),
        d_case(
            net,
            "another purpose than the delegation lists",
            D_ASSISTANT,
            t,
            grant(&[Purpose::ServiceProvision], Some(for_person)),
            "purpose-not-delegated",
        ),
        d_case(
            net,
            "signed at the delegation's valid_until",
            D_ASSISTANT,
            T + 9 * DAY,
            grant(&[Purpose::Research], Some(for_person)),
            "delegation-not-in-force",
        ),
        d_case(
            net,
            "the child's own grant before it comes of age",
            D_CHILD,
            t,
            grant(&[Purpose::Research], None),
            "minor-feed",
        ),
        d_case(
            net,
            "a guardian delegation at another seq than 1 or 2",
            D_PERSON,
            t,
            Body::Delegation(Delegation {
                delegate: net.feed(D_GUARDIAN),
                powers: [DelegatedPower::Grant].into_iter().collect(),
                collectors: Vec::new(),
                purposes: PurposeSet::EMPTY,
                valid_until: Some(D_COMES_OF_AGE),
                kind: DelegationKind::Guardian,
                co_signer: None,
            }),
            "guardian-misplaced",
        ),
        d_case(
            net,
            "a guardian endorsing its own grant",
            D_GUARDIAN,
            t,
            Body::Endorsement(Endorsement {
                grant: net.entry("guardian-grant").id,
                on_behalf: for_child,
            }),
            "not-endorsable",
        ),
        d_case(
            net,
            "an endorsement of a grant the node does not hold",
            D_CO_GUARDIAN,
            t,
            Body::Endorsement(Endorsement {
                grant: EntryId(*blake3::hash(b"vectors/delegation/absent grant").as_bytes()),
                on_behalf: by_co,
            }),
            "pending",
        ),
        d_case(
            net,
            "the same feed revoking a grant again",
            D_CO_GUARDIAN,
            t,
            Body::Revoke(Revoke {
                grant: net.entry("guardian-grant-2").id,
                erase: false,
                on_behalf: Some(by_co),
            }),
            "already-revoked",
        ),
        d_case(
            net,
            "a revocation in the person's name of a grant in another person's name",
            D_ASSISTANT,
            t,
            Body::Revoke(Revoke {
                grant: net.entry("guardian-grant").id,
                erase: false,
                on_behalf: Some(for_person),
            }),
            "unknown-grant",
        ),
        d_case(
            net,
            "an undelegation of a delegation neither given nor held",
            D_CO_GUARDIAN,
            t,
            Body::Undelegation(Undelegation {
                delegation,
                void_from_ms: None,
            }),
            "unknown-delegation",
        ),
        d_case(
            net,
            "a delegation to oneself",
            D_PERSON,
            t,
            Body::Delegation(Delegation {
                delegate: net.feed(D_PERSON),
                powers: [DelegatedPower::Grant].into_iter().collect(),
                collectors: Vec::new(),
                purposes: PurposeSet::EMPTY,
                valid_until: None,
                kind: DelegationKind::Assistant,
                co_signer: None,
            }),
            "bad-field",
        ),
    ];
    json!({
        "keys": D_LABELS.iter().map(|l| key_json(l)).collect::<Vec<_>>(),
        "comes_of_age_ms": D_COMES_OF_AGE,
        "history": net.history.iter().map(named_json).collect::<Vec<_>>(),
        "validation": cases,
    })
}

/// A decision receipt of the delegation network: a node holding the first `size` entries
/// decides `question` at `time_ms` and signs, with its checkpoint 10 minutes before.
fn delegation_receipt_json(
    net: &DNet,
    name: &str,
    size: usize,
    time_ms: u64,
    question: pb::CheckRequest,
) -> Value {
    let at_ms = consent_proto::decide::asked_at(question.at_ms, time_ms);
    let outcome = net.ledger(size).check(&Query {
        subject: FeedId::from_slice(&question.subject).expect("a subject"),
        collector: FeedId::from_slice(&question.collector).expect("a collector"),
        purpose: question.purpose(),
        category: question.category(),
        at_ms,
        context: Context::NONE,
    });
    let (head_seq, head) = outcome.subject_head.expect("the subject is known");
    let grant_name = |id: EntryId| match net.history[..size].iter().find(|n| n.entry.id == id) {
        Some(n) => n.name,
        None => panic!("{name}: the grant named is in the log"),
    };
    let payload = pb::DecisionPayload {
        question: Some(receipt::signed_question(&question, time_ms)),
        decision: outcome.decision as i32,
        reason: outcome.reason as i32,
        grant: outcome
            .grant
            .map(|g| Bytes::copy_from_slice(&g.0))
            .unwrap_or_default(),
        subject_head: Bytes::copy_from_slice(&head.0),
        subject_head_seq: head_seq,
        log_size: size as u64,
        time_ms,
        at_ms,
        when: consent_proto::decide::question_time(at_ms, time_ms) as i32,
        delegated: outcome.delegated.map(|d| d.to_wire()),
        ..Default::default()
    };
    let node = key(NODE);
    let witness = key(WITNESS);
    let checkpoint = Checkpoint {
        origin: node.public().to_text("node"),
        size: size as u64,
        root: root(&net.tree(size), size as u64),
        time_ms: time_ms - 10 * MINUTE,
    };
    let mut note = SignedNote::sign(checkpoint, &node);
    let cosignature = note.cosignature(
        &witness.public().to_text("node"),
        &witness,
        (time_ms - 10 * MINUTE) / 1000 + 5,
    );
    assert!(note.add_cosignature(cosignature, &witness.public()));
    let mut r = receipt::sign_decision(&node, payload.clone());
    r.checkpoint = note.to_text();
    r.grant_inclusion = outcome.grant.map(|g| net.inclusion(grant_name(g), size));
    r.delegation_inclusion = outcome.delegated.map(|d| {
        let delegation = grant_name(d.delegation);
        net.inclusion(delegation, size)
    });
    let q = payload.question.as_ref().expect("a question");
    json!({
        "name": name,
        "node_key": hx(node.public().to_bytes()),
        "witness": witness.public().to_text("node"),
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
        "delegated": payload.delegated.as_ref().map_or(Value::Null, delegation_used_json),
        "subject_head": hx(&payload.subject_head),
        "subject_head_seq": payload.subject_head_seq,
        "log_size": payload.log_size,
        "time_ms": payload.time_ms,
        "at_ms": payload.at_ms,
        "when": payload.when().as_str_name(),
        "payload": hx(&r.payload),
        "signature": hx(&r.signature),
        "checkpoint": note_json(&note),
        "grant_inclusion": r.grant_inclusion.as_ref().map_or(Value::Null, inclusion_json),
        "delegation_inclusion": r.delegation_inclusion.as_ref().map_or(Value::Null, inclusion_json),
        "receipt": hx(r.encode_to_vec()),
    })
}

fn delegation_used_json(d: &pb::DelegationUsed) -> Value {
    json!({
        "delegation": hx(&d.delegation),
        "delegate": hx(&d.delegate),
        "kind": pb::DelegationKind::try_from(d.kind).map_or("?", |k| k.as_str_name()),
        "endorsement": hx(&d.endorsement),
    })
}

/// `delegation_receipts`: an ALLOW under a guardian's grant with its co-guardian's endorsement,
/// and a DELEGATION_WITHDRAWN deny under a grant signed inside an undelegation's five minutes.
fn delegation_receipts_json(net: &DNet) -> Vec<Value> {
    let question = |subject: FeedId, purpose: Purpose| pb::CheckRequest {
        subject: Bytes::copy_from_slice(&subject.0),
        collector: Bytes::copy_from_slice(&net.collector.0),
        purpose: purpose as i32,
        category: DataCategory::Location as i32,
        at_ms: 0,
        ..Default::default()
    };
    let upto = |name: &str| match net.history.iter().position(|n| n.name == name) {
        Some(i) => i + 1,
        None => panic!("no delegation entry {name}"),
    };
    vec![
        delegation_receipt_json(
            net,
            "allow-endorsed-guardian-grant",
            upto("endorsement"),
            T + 4 * HOUR + 30 * MINUTE,
            question(net.feed(D_CHILD), Purpose::ServiceProvision),
        ),
        delegation_receipt_json(
            net,
            "deny-delegation-withdrawn",
            net.history.len(),
            T + DAY + HOUR,
            question(net.feed(D_PERSON), Purpose::ThirdPartySharing),
        ),
    ]
}

/// One delegated grant of a `delegation_decisions` case, with what the rule reads of it: its
/// delegation, the undelegations of it, and the endorsements of it with the endorsers' own
/// delegations and their undelegations.
#[derive(Clone)]
struct DGrantCase {
    grant: GrantFacts,
    delegation: DDelegation,
    /// `(time_ms, void_from_ms)` of each undelegation.
    undelegations: Vec<(u64, Option<u64>)>,
    /// Its endorsements.
    endorsements: Vec<DEndorsement>,
}

const D_SUBJECT: FeedId = FeedId([0x5b; 32]);

/// The delegation state `(id, delegate, kind, from_ms, valid_until, co_signer)` ended by
/// `undelegations`, through the crate's rules.
fn d_state(d: &DDelegation, undelegations: &[(u64, Option<u64>)]) -> DelegationState {
    let (id, delegate, kind, from_ms, valid_until, co_signer) = *d;
    let body = Delegation {
        delegate,
        powers: [DelegatedPower::Grant].into_iter().collect(),
        collectors: Vec::new(),
        purposes: PurposeSet::EMPTY,
        valid_until,
        kind,
        co_signer,
    };
    let mut state = DelegationState::of(id, D_SUBJECT, from_ms, &body);
    for (time_ms, void_from_ms) in undelegations {
        let u = Undelegation {
            delegation: id,
            void_from_ms: *void_from_ms,
        };
        state.undelegated(consent_proto::delegation::void_from(&u, *time_ms), *time_ms);
    }
    state
}

/// The grant facts of a case's delegated grant (its `via` computed from the raw facts).
fn d_facts(g: &DGrantCase) -> GrantFacts {
    let state = d_state(&g.delegation, &g.undelegations);
    let endorsers: Vec<(EntryId, FeedId, u64, DelegationState)> = g
        .endorsements
        .iter()
        .map(|(id, feed, t, d, u)| (*id, *feed, *t, d_state(d, u)))
        .collect();
    let list: Vec<(EntryId, FeedId, u64, &DelegationState)> = endorsers
        .iter()
        .map(|(id, feed, t, d)| (*id, *feed, *t, d))
        .collect();
    let endorsement = consent_proto::delegation::counting_endorsement(state.co_signer, &list);
    GrantFacts {
        via: Some(Arc::new(Via {
            delegation: state,
            signed_ms: g.grant.time_ms,
            endorsement,
        })),
        ..g.grant.clone()
    }
}

fn d_delegation_json(d: &DDelegation, undelegations: &[(u64, Option<u64>)]) -> Value {
    json!({
        "id": hx(d.0.0),
        "delegate": hx(d.1.0),
        "kind": d.2.as_str_name(),
        "time_ms": d.3,
        "valid_until": d.4.unwrap_or(0),
        "co_signer": d.5.map_or(String::new(), |f| hx(f.0)),
        "undelegations": undelegations.iter().map(|(t, v)| json!({"time_ms": t, "void_from_ms": v.unwrap_or(0)})).collect::<Vec<_>>(),
    })
}

fn d_grant_json(g: &GrantFacts) -> Value {
    let purposes = wire_numbers(g.purposes.iter(), |p| p as i32);
    let categories = wire_numbers(g.categories.iter(), |x| x as i32);
    json!({
        "id": hx(g.id.0),
        "seq": g.seq,
        "time_ms": g.time_ms,
        "purposes": purpose_names(&purposes),
        "categories": category_names(&categories),
        "valid_from": g.valid_from,
        "valid_until": g.valid_until.unwrap_or(0),
        "revoked": g.revoked,
    })
}

/// A random grant fact (unscoped, its policy in effect) with id byte `n`.
fn d_random_grant(rng: &mut cases::Rng, n: u8, seq: u64) -> GrantFacts {
    let purposes: PurposeSet = rng
        .some_of(&[
            Purpose::ServiceProvision,
            Purpose::Research,
            Purpose::ThirdPartySharing,
        ])
        .into_iter()
        .collect();
    let categories: CategorySet = rng
        .some_of(&[DataCategory::Location, DataCategory::Mobility])
        .into_iter()
        .collect();
    let valid_from = T + rng.below(4) * DAY;
    GrantFacts {
        id: EntryId([n; 32]),
        seq,
        purposes,
        categories,
        valid_from,
        valid_until: rng.chance(30).then(|| valid_from + 1 + rng.below(8) * DAY),
        revoked: rng.chance(15),
        scope: None,
        in_effect_from: consent_proto::consultation::ALWAYS,
        time_ms: T + rng.below(6 * DAY),
        via: None,
    }
}

fn d_random_delegation(
    rng: &mut cases::Rng,
    n: u8,
    co_signer: Option<FeedId>,
    delegate: FeedId,
) -> DDelegation {
    let kind = if co_signer.is_some() || rng.chance(20) {
        DelegationKind::Guardian
    } else {
        DelegationKind::Assistant
    };
    let from = T + rng.below(2 * DAY);
    let valid_until = match kind {
        DelegationKind::Guardian => Some(T - T % DAY + (1 + rng.below(8)) * DAY),
        _ => rng.chance(40).then(|| from + 1 + rng.below(6 * DAY)),
    };
    (
        EntryId([n; 32]),
        delegate,
        kind,
        from,
        valid_until,
        co_signer,
    )
}

fn d_random_undelegations(rng: &mut cases::Rng) -> Vec<(u64, Option<u64>)> {
    (0..rng.below(3))
        .map(|_| {
            let t = T + rng.below(8 * DAY);
            (
                t,
                rng.chance(50)
                    .then(|| t.saturating_sub(rng.below(2 * DAY)).max(T)),
            )
        })
        .collect()
}

/// `delegation_decisions`: steps 5 and 6 of the rule ([`consent_proto::decide::decide_subject`])
/// with own and delegated grants, 1,000 seeded cases.
fn delegation_decisions_json() -> Value {
    let mut rng = cases::Rng::new(22);
    let mut out = Vec::new();
    for _ in 0..1_000 {
        let own: Vec<GrantFacts> = (0..rng.below(3))
            .map(|i| d_random_grant(&mut rng, 1 + i as u8, 1 + i))
            .collect();
        let mut delegated: Vec<DGrantCase> = Vec::new();
        for i in 0..rng.below(4) {
            let n = 10 + 10 * i as u8;
            let delegate = FeedId([n; 32]);
            let co = rng.chance(40).then_some(FeedId([n + 1; 32]));
            let d = d_random_delegation(&mut rng, n + 2, co, delegate);
            let mut endorsements = Vec::new();
            for j in 0..rng.below(3) {
                let endorser = match co {
                    Some(co) if rng.chance(80) => co,
                    _ => FeedId([n + 3; 32]),
                };
                let own_d = d_random_delegation(&mut rng, n + 4 + j as u8, None, endorser);
                endorsements.push((
                    EntryId([n + 6 + j as u8; 32]),
                    endorser,
                    T + rng.below(7 * DAY),
                    own_d,
                    d_random_undelegations(&mut rng),
                ));
            }
            delegated.push(DGrantCase {
                grant: d_random_grant(&mut rng, n + 9, 1),
                delegation: d,
                undelegations: d_random_undelegations(&mut rng),
                endorsements,
            });
        }
        let opt_out_seq = rng.chance(20).then(|| rng.below(4));
        let opt_out_ms = opt_out_seq.map(|_| T + rng.below(6 * DAY));
        let delegated_opt_out_ms = rng.chance(20).then(|| T + rng.below(6 * DAY));
        let purpose = rng.pick(&[
            Purpose::ServiceProvision,
            Purpose::Research,
            Purpose::ThirdPartySharing,
        ]);
        let category = rng.pick(&[DataCategory::Location, DataCategory::Mobility]);
        let at_ms = T + rng.below(10 * DAY);
        let facts: Vec<GrantFacts> = delegated.iter().map(d_facts).collect();
        let answer = decide_subject(
            &Query {
                subject: D_SUBJECT,
                collector: FeedId([0x5c; 32]),
                purpose,
                category,
                at_ms,
                context: Context::NONE,
            },
            &SubjectGrants {
                grants: &own,
                delegated: &facts,
                opt_out_seq,
                opt_out_ms,
                delegated_opt_out_ms,
            },
        );
        out.push(json!({
            "own": own.iter().map(d_grant_json).collect::<Vec<_>>(),
            "delegated": delegated.iter().map(|g| json!({
                "grant": d_grant_json(&g.grant),
                "delegation": d_delegation_json(&g.delegation, &g.undelegations),
                "endorsements": g.endorsements.iter().map(|(id, feed, t, d, u)| json!({
                    "id": hx(id.0),
                    "endorser": hx(feed.0),
                    "time_ms": t,
                    "delegation": d_delegation_json(d, u),
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "opt_out_seq": opt_out_seq,
            "opt_out_ms": opt_out_ms,
            "delegated_opt_out_ms": delegated_opt_out_ms,
            "question": {
                "purpose": purpose_names(&[purpose as i32])[0],
                "category": category_names(&[category as i32])[0],
                "at_ms": at_ms,
            },
            "decision": answer.decision.as_str_name(),
            "reason": answer.reason.as_str_name(),
            "grant": answer.grant.map_or(String::new(), |g| hx(g.0)),
            "answer_delegated": answer.delegated.map_or(Value::Null, |d| delegation_used_json(&d.to_wire())),
        }));
    }
    json!({
        "subject": hx(D_SUBJECT.0),
        "cases": out,
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
    // The wallet rule for signed times (informative): every number from the spec's formulas.
    let ct = &file["coarse_times"];
    for v in list(&ct["granularities"]) {
        assert_eq!(
            v["allowed"].as_bool(),
            Some(ct_allowed(num(&v["g"]))),
            "{v}"
        );
    }
    for v in list(&ct["times"]) {
        let time = ct_time(
            v["g"].as_u64(),
            text(&v["exactness"]),
            num(&v["now_ms"]),
            num(&v["floor_ms"]),
        );
        assert_eq!(num(&v["time_ms"]), time, "{}", text(&v["about"]));
        assert!(time <= num(&v["now_ms"]).max(num(&v["floor_ms"])).max(MIN_TIME_MS));
    }
    for v in list(&ct["valid_from"]) {
        let from = ct_valid_from(
            v["g"].as_u64(),
            num(&v["now_ms"]),
            num(&v["due_ms"]),
            num(&v["time_ms"]),
        );
        assert_eq!(num(&v["valid_from"]), from, "{}", text(&v["about"]));
        assert!(from >= num(&v["due_ms"]) && from >= num(&v["now_ms"]));
    }
    for v in list(&ct["valid_until"]) {
        let until = ct_floor(v["g"].as_u64(), num(&v["end_ms"]));
        assert_eq!(num(&v["valid_until"]), until, "{}", text(&v["about"]));
        assert!(until <= num(&v["end_ms"]));
    }
    // Which own grants a delegate's opt-out raises: the purposes read through the crate's
    // vocabulary (an opt-out denies exactly `is_sale_or_sharing`).
    for v in list(&ct["own_grants"]) {
        let now = num(&v["now_ms"]);
        let purposes: PurposeSet = list(&v["purposes"]).iter().map(purpose_from).collect();
        let opt_out = v["opt_out_ms"].as_u64();
        let after_opt_out = match opt_out {
            Some(t) if purposes.iter().any(|p| p.is_sale_or_sharing()) && t < now => t + 1,
            _ => 0,
        };
        let time = ct_time(
            v["g"].as_u64(),
            "coarse",
            now,
            num(&v["prev_ms"]).max(after_opt_out),
        );
        assert_eq!(num(&v["time_ms"]), time, "{}", text(&v["about"]));
        // Never after the moment of signing (with no previous entry after it), and never at or
        // before an opt-out signed before it that denies what it allows.
        assert!(time <= now.max(num(&v["prev_ms"])));
        if let Some(t) = opt_out
            && t < now
            && purposes.iter().any(|p| p.is_sale_or_sharing())
        {
            assert!(time > t, "{}", text(&v["about"]));
        }
    }
}

fn purpose_from(v: &Value) -> Purpose {
    match pb::Purpose::from_str_name(text(v)) {
        Some(p) => p,
        None => panic!("{v} is not a purpose"),
    }
}

fn category_from(v: &Value) -> DataCategory {
    match pb::DataCategory::from_str_name(text(v)) {
        Some(c) => c,
        None => panic!("{v} is not a category"),
    }
}

/// The wire context a JSON context states (and it states exactly that one).
fn context_from_json(v: &Value) -> pb::ObservationContext {
    let cell = match v["cell"].as_str() {
        None => 0,
        Some(hex) => match u64::from_str_radix(hex, 16) {
            Ok(c) => c,
            Err(e) => panic!("{hex}: {e}"),
        },
    };
    let c = pb::ObservationContext {
        sensor: num(&v["sensor"]) as u32,
        sensor_kind: pb::SensorKind::from_str_name(text(&v["sensor_kind"]))
            .map_or(-1, |k| k as i32),
        cell,
        observed_ms: num(&v["observed_ms"]),
        form: pb::Form::from_str_name(text(&v["form"])).map_or(-1, |f| f as i32),
    };
    assert_eq!(context_json(&c), *v, "the JSON states its context exactly");
    c
}

/// A wire scope from its `encoding`, checked against the JSON that describes it.
fn policy_scope_from_json(v: &Value) -> pb::PolicyScope {
    let w = match pb::PolicyScope::decode(bytes(&v["encoding"]).as_slice()) {
        Ok(w) => w,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(policy_scope_json(&w), *v);
    w
}

fn grant_scope_from_json(v: &Value) -> pb::GrantScope {
    let w = match pb::GrantScope::decode(bytes(&v["encoding"]).as_slice()) {
        Ok(w) => w,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(grant_scope_json(&w), *v);
    w
}

#[test]
fn every_scope_vector_in_the_file_verifies() {
    let file = read_file();

    // H3: which indexes are cells, and parents.
    let h = &file["h3"];
    for v in list(&h["indexes"]) {
        let index = match u64::from_str_radix(text(&v["index"]), 16) {
            Ok(i) => i,
            Err(e) => panic!("{v}: {e}"),
        };
        let valid = v["valid"].as_bool().expect("a bool");
        assert_eq!(h3::is_cell(index), valid, "{}", text(&v["about"]));
        assert_eq!(text(&v["index"]).parse::<Cell>().is_ok(), valid, "{v}");
    }
    for v in list(&h["parents"]) {
        let cell: Cell = text(&v["cell"]).parse().expect("a cell");
        let r = u8::try_from(num(&v["resolution"])).expect("a resolution");
        assert_eq!(
            cell.parent(r).map(|p| p.to_string()),
            v["parent"].as_str().map(String::from),
            "{v}"
        );
    }

    // Local time.
    for v in list(&file["local_time"]) {
        let offset = v["utc_offset_minutes"].as_i64().expect("an offset");
        let offset = i16::try_from(offset).expect("an offset");
        assert_eq!(
            local_time(num(&v["observed_ms"]), offset),
            (num(&v["weekday"]) as u8, num(&v["minute"]) as u16),
            "{v}"
        );
    }

    // Scoped entries: they decode to what they state, and a node holding the history accepts
    // them; the worked bytes of the specification.
    let entries: Vec<Entry> = list(&file["entries"]).iter().map(check_entry).collect();
    let scoped: Vec<Entry> = list(&file["scopes"]).iter().map(check_entry).collect();
    let mut ledger = MemoryLedger::new([entries[0].feed]);
    for e in entries.iter().chain(&scoped) {
        let verdict = ledger.submit(e, num(&file["validation_clock_ms"]));
        assert!(matches!(verdict, Verdict::Accept { .. }), "{verdict:?}");
    }
    assert!(
        scoped[2]
            .payload
            .ends_with(&[0x42, 0x05, 0x08, 0x01, 0x12, 0x01, 0x01]),
        "a grant narrowing zone 1 ends with its scope"
    );
    let Body::Policy(policy) = &scoped[0].body else {
        panic!("a policy");
    };
    let scope = policy
        .scope
        .as_ref()
        .expect("a scope")
        .to_wire()
        .encode_to_vec();
    assert_eq!(
        &scope[..4],
        &[0x08, 0x01, 0x10, 0x78],
        "version 1, offset +60"
    );
    let mut field = vec![0x5a];
    field.extend(varint(scope.len() as u64));
    field.extend(&scope);
    assert!(
        scoped[0].payload.windows(field.len()).any(|w| w == field),
        "the policy's scope is field 11"
    );

    // Consultations: they decode to what they state, and a node holding the history accepts
    // them; the draft is gated, in effect from its approval; the worked bytes.
    let clock = num(&file["validation_clock_ms"]);
    let consulted: Vec<Entry> = list(&file["consultations"])
        .iter()
        .map(check_entry)
        .collect();
    for e in &consulted {
        let verdict = ledger.submit(e, clock);
        assert!(matches!(verdict, Verdict::Accept { .. }), "{verdict:?}");
    }
    let kinds: Vec<&str> = consulted.iter().map(|e| e.body.kind().name()).collect();
    assert_eq!(kinds, ["policy", "stance", "stance", "response", "outcome"]);
    let facts = ledger
        .draft_facts(&consulted[0].id)
        .expect("a consultation");
    assert!(facts.gated, "the draft widens");
    assert_eq!(consultation::in_effect_from(&facts), consulted[4].time_ms);
    let counts = ledger.consultation_counts(&consulted[0].id);
    assert_eq!((counts.affected.support, counts.affected.object), (1, 0));
    let Body::Policy(drafted) = &consulted[0].body else {
        panic!("a policy");
    };
    let closes = drafted.consultation.expect("a consultation").closes_ms;
    let mut field = vec![0x62, 0];
    field.push(0x08);
    field.extend(varint(closes));
    field[1] = (field.len() - 2) as u8;
    assert!(
        consulted[0].payload.ends_with(&field),
        "the policy's consultation is field 12, last"
    );
    let keys = [[0x9au8, 0x01], [0x9a, 0x01], [0xa2, 0x01], [0xaa, 0x01]];
    for (e, key) in consulted[1..].iter().zip(keys) {
        let header = pb::EntryPayload {
            body: None,
            ..wire(e)
        }
        .encode_to_vec();
        assert_eq!(
            &e.payload[header.len()..header.len() + 2],
            &key,
            "{:?}",
            e.body.kind()
        );
    }

    // Consultation validation: each case's entries, after the history, get their verdicts.
    let cv = &file["consultation_validation"];
    let history: Vec<Entry> = list(&cv["history"]).iter().map(check_entry).collect();
    for case in list(&cv["cases"]) {
        let about = text(&case["about"]);
        let min_days = case["widening_min_days"]
            .as_u64()
            .map(|d| u32::try_from(d).expect("days fit u32"));
        let mut ledger = v_ledger(&history, min_days);
        let (entries, verdicts) = (list(&case["entries"]), list(&case["verdicts"]));
        assert_eq!(entries.len(), verdicts.len(), "{about}");
        for (v, expected) in entries.iter().zip(verdicts) {
            let e = check_entry(v);
            let verdict = ledger.submit(&e, clock);
            assert_eq!(
                verdict_name(&verdict),
                text(expected),
                "{about}: {}",
                text(&v["name"])
            );
        }
    }

    // Policy changes: what compare says of each pair.
    for pair in list(&file["policy_changes"]) {
        let about = text(&pair["about"]);
        let policy = |field: &str| -> Policy {
            let w = match pb::Policy::decode(bytes(&pair[field]).as_slice()) {
                Ok(w) => w,
                Err(e) => panic!("{about}: {e}"),
            };
            match Body::from_wire(&WireBody::Policy(w)) {
                Ok(Body::Policy(p)) => p,
                other => panic!("{about}: {other:?}"),
            }
        };
        let (old, new) = (policy("old_encoding"), policy("new_encoding"));
        assert_eq!(
            body_json(&WireBody::Policy(policy_wire(&old))),
            pair["old"],
            "{about}"
        );
        assert_eq!(
            body_json(&WireBody::Policy(policy_wire(&new))),
            pair["new"],
            "{about}"
        );
        let change = consent_proto::policy_change::compare(&old, &new);
        assert_eq!(change.kind().name(), text(&pair["kind"]), "{about}");
        let items = list(&pair["items"]);
        assert_eq!(items.len(), change.items.len(), "{about}");
        for (i, v) in change.items.iter().zip(items) {
            assert_eq!(i.direction.name(), text(&v["direction"]), "{about}");
            assert_eq!(i.code, text(&v["code"]), "{about}");
            assert_eq!(i.sentence, text(&v["sentence"]), "{about}");
        }
        assert_eq!(json!(change.sentences()), pair["sentences"], "{about}");
    }

    // Consultation states: from the facts and the clock.
    for c in list(&file["consultation_states"]) {
        let about = text(&c["about"]);
        let outcomes: Vec<(OutcomeFacts, bool)> = list(&c["outcomes"])
            .iter()
            .map(|o| {
                (
                    OutcomeFacts {
                        id: EntryId(b32(&o["id"])),
                        time_ms: num(&o["time_ms"]),
                        approved: o["approved"].as_bool().expect("a bool"),
                    },
                    o["frozen"].as_bool().expect("a bool"),
                )
            })
            .collect();
        let superseded_ms = c["superseded_ms"].as_u64();
        let (first_approval, first_changes_required) = firsts(&outcomes, superseded_ms);
        let facts = DraftFacts {
            id: EntryId([1; 32]),
            collector: FeedId([2; 32]),
            version: 2,
            time_ms: num(&c["time_ms"]),
            closes_ms: num(&c["closes_ms"]),
            gated: c["gated"].as_bool() == Some(true),
            superseded_ms,
            first_approval,
            first_changes_required,
        };
        let state = consultation::state(&facts, num(&c["now_ms"]));
        assert_eq!(state.name(), text(&c["state"]), "{about}");
        assert_eq!(
            state.to_wire().as_str_name(),
            text(&c["state_wire"]),
            "{about}"
        );
        assert_eq!(state.at_ms(), num(&c["state_ms"]), "{about}");
        assert_eq!(
            consultation::in_effect_from(&facts),
            num(&c["in_effect_from"]),
            "{about}"
        );
    }

    // Consultation decisions: POLICY_NOT_IN_EFFECT and its place among the denials.
    let in_effect = list(&file["consultation_decisions"]["cases"]);
    assert!(
        in_effect
            .iter()
            .any(|c| text(&c["reason"]) == "REASON_POLICY_NOT_IN_EFFECT")
    );
    for c in in_effect {
        let g = &c["grant"];
        let q = &c["question"];
        assert!(c["policy"].is_null() && g["scope"].is_null(), "{c}");
        let context = if q["context"].is_null() {
            Context::NONE
        } else {
            Context::from_wire(Some(&context_from_json(&q["context"]))).expect("valid")
        };
        let case = DecisionCase {
            about: None,
            policy: None,
            grant: GrantCase {
                purposes: list(&g["purposes"]).iter().map(purpose_from).collect(),
                categories: list(&g["categories"]).iter().map(category_from).collect(),
                valid_from: num(&g["valid_from"]),
                valid_until: Some(num(&g["valid_until"])).filter(|u| *u != 0),
                revoked: g["revoked"].as_bool().expect("a bool"),
                scope: None,
            },
            opt_out_seq: c["opt_out_seq"].as_u64(),
            purpose: purpose_from(&q["purpose"]),
            category: category_from(&q["category"]),
            at_ms: num(&q["at_ms"]),
            context,
        };
        let (decision, reason, _) = decide_case_in(&[], &case, num(&c["in_effect_from"]));
        assert_eq!(
            (decision.as_str_name(), reason.as_str_name()),
            (text(&c["decision"]), text(&c["reason"])),
            "{c}"
        );
    }

    // Consultation counts: the latest stance per feed, by group; the reasons raised.
    for c in list(&file["consultation_counts"]) {
        let about = text(&c["about"]);
        let stances: Vec<StanceFacts> = list(&c["stances"])
            .iter()
            .map(|s| StanceFacts {
                feed: FeedId(b32(&s["feed"])),
                seq: num(&s["seq"]),
                support: text(&s["kind"]) == "STANCE_KIND_SUPPORT",
                reasons: list(&s["reasons"])
                    .iter()
                    .filter_map(|r| ObjectionReason::from_str_name(text(r)))
                    .collect(),
                affected: s["affected"].as_bool() == Some(true),
            })
            .collect();
        let counts = consultation::count(&stances);
        assert_eq!(tally_json(&counts.affected), c["affected"], "{about}");
        assert_eq!(tally_json(&counts.others), c["others"], "{about}");
        let raised: Vec<&str> = counts
            .raised(num(&c["threshold"]))
            .iter()
            .map(|r| r.as_str_name())
            .collect();
        assert_eq!(json!(raised), c["raised"], "{about}");
    }

    // Context digests.
    let digests = &file["context_digests"];
    assert_eq!(text(&digests["domain"]).as_bytes(), domain::CONTEXT);
    for item in list(&digests["items"]) {
        let c = context_from_json(&item["context"]);
        let input = context_input(&c);
        assert_eq!(hx(&input), text(&item["input"]));
        assert_eq!(hx(blake3::hash(&input).as_bytes()), text(&item["digest"]));
        assert_eq!(hx(receipt::context_digest(&c)), text(&item["digest"]));
    }
    for v in list(&file["decision_receipts"]) {
        if let Some(context) = v["question"].get("context") {
            let c = context_from_json(context);
            assert_eq!(hx(receipt::context_digest(&c)), text(&v["context_digest"]));
        }
    }

    // Scope decisions: each case, rebuilt from the JSON, gets the stated answer.
    let sd = &file["scope_decisions"];
    let purposes: PurposeSet = list(&sd["purposes"]).iter().map(purpose_from).collect();
    let policies: Vec<Option<PolicyScope>> = list(&sd["policies"])
        .iter()
        .map(|v| {
            (!v.is_null()).then(|| {
                PolicyScope::from_wire(&policy_scope_from_json(v), purposes).expect("valid")
            })
        })
        .collect();
    let cases = list(&sd["cases"]);
    assert!(cases.len() >= 2_000, "{} cases", cases.len());
    let none = PolicyScope::default();
    for c in cases {
        let g = &c["grant"];
        let grant_purposes: PurposeSet = list(&g["purposes"]).iter().map(purpose_from).collect();
        let scope = (!g["scope"].is_null()).then(|| {
            GrantScope::from_wire(&grant_scope_from_json(&g["scope"]), grant_purposes)
                .expect("valid")
        });
        let policy = c["policy"].as_u64().map(|i| i as usize);
        if let Some(s) = &scope {
            let p = policy.and_then(|i| policies[i].as_ref()).unwrap_or(&none);
            assert_eq!(s.within(p), Ok(()), "{c}");
        }
        let q = &c["question"];
        let context = if q["context"].is_null() {
            Context::NONE
        } else {
            Context::from_wire(Some(&context_from_json(&q["context"]))).expect("valid")
        };
        let case = DecisionCase {
            about: None,
            policy,
            grant: GrantCase {
                purposes: grant_purposes,
                categories: list(&g["categories"]).iter().map(category_from).collect(),
                valid_from: num(&g["valid_from"]),
                valid_until: Some(num(&g["valid_until"])).filter(|u| *u != 0),
                revoked: g["revoked"].as_bool().expect("a bool"),
                scope,
            },
            opt_out_seq: c["opt_out_seq"].as_u64(),
            purpose: purpose_from(&q["purpose"]),
            category: category_from(&q["category"]),
            at_ms: num(&q["at_ms"]),
            context,
        };
        let (decision, reason, form) = decide_case(&policies, &case);
        assert_eq!(
            (
                decision.as_str_name(),
                reason.as_str_name(),
                form.unwrap_or(Form::Unspecified).as_str_name()
            ),
            (
                text(&c["decision"]),
                text(&c["reason"]),
                text(&c["required_form"])
            ),
            "{c}"
        );
    }
}

/// SHA-256 of the compact JSON of every section of the file from before scopes existed, and of
/// the first two decision receipts: scopes added vectors and changed none.
const BEFORE_SCOPES: [(&str, &str); 15] = [
    (
        "about",
        "bb00c3b4c332f9747b75f6c6837e15e5c91c080741c34c6c669fff0faff2ec2a",
    ),
    (
        "auth",
        "cda1d12f5a7bd9716fc9087509a503ce650ced15e68ffa1315d82527e8e0750a",
    ),
    (
        "dev_registrar",
        "6cbba5c96c24be594a4bf0e2b8364d75264f2842e613dce0ddaee11e76834f34",
    ),
    (
        "domains",
        "7d2410a3d9cf63bcde82d6ffe81c836c7656b116994f71fee55625d54b2d701b",
    ),
    (
        "encodings",
        "1b614069dde5210b403f66b67be0372da5db66fdc7bdacb026d114c2ba2be5d0",
    ),
    (
        "entries",
        "600323132f544e08baf6752c9a66fa7755ed31ba1c739fe7a48637eef11bb347",
    ),
    (
        "equivocation",
        "d17bb9352af2f7b94f780c57673deb6ba2daba0153d816409e43c1a7cea660c5",
    ),
    (
        "keys",
        "26e364343c4441e10b15724af40ae51184e4579920e0f5889cd34ce58da7ff3e",
    ),
    (
        "merkle",
        "82ad0ed3e66909128bd1e124ae1e96dab85a79c2bf360b160b211370cff0ce0a",
    ),
    (
        "pairwise",
        "3cd515d56e018a1ea1c934b9d3117692475b147faa5d51f713770dbe322fe871",
    ),
    (
        "receipts",
        "3915f6c8dedbf599ce8541b5a95cd0f310986782b18175adc5fb2c3dfe615308",
    ),
    (
        "signatures",
        "e4682c4581c37ad1eab8e87a6b27c029eb8386412804a390179e991235bb9b93",
    ),
    (
        "text_forms",
        "030aed14b5b72f1708ce4837418b40ed2b1afde3c858ca8c8baa3c2048336f52",
    ),
    (
        "validation_clock_ms",
        "423ac555b1eeaeeee404e30080bbf3fc3fac1bb4b1a16324664a1f3395894024",
    ),
    (
        "version",
        "6b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b",
    ),
];

/// The two decision receipts from before scopes, in order.
const RECEIPTS_BEFORE_SCOPES: [&str; 2] = [
    "a53d5d93d5f8efba7ad6b270a6918505eaaadb9443c0d4a9f72d7f4f801be04e",
    "c08b61f2393ec001106095340e144b256ae8023af0c468a300ed975106fb22eb",
];

/// SHA-256 of the compact JSON of each section the scopes added (and of each decision receipt),
/// as they were before consultations: consultations added sections and changed none.
const BEFORE_CONSULTATIONS: [(&str, &str); 5] = [
    (
        "context_digests",
        "05dc14b7444ef3adf7b95c62b67bb20767adb0db42e3df31611cb8fd01a8c173",
    ),
    (
        "h3",
        "3703e357ad9f0be1e4e4370ecd45e9af85ac544c89029a3743626c2a5d38fd00",
    ),
    (
        "local_time",
        "7723b770d617af17ab48c98711a26d39e79b6071723e160bf06c0d0a17745c25",
    ),
    (
        "scope_decisions",
        "8ffcd4d0fae8ecf537c0d2babb1466ad1ee89df4cf4d7301167b203d81b3929a",
    ),
    (
        "scopes",
        "12421d4bb19f8b3bec6340e15c0fd16662b4648424c5331099316b0cd38d2d2c",
    ),
];
const RECEIPTS_BEFORE_CONSULTATIONS: [&str; 3] = [
    "a53d5d93d5f8efba7ad6b270a6918505eaaadb9443c0d4a9f72d7f4f801be04e",
    "c08b61f2393ec001106095340e144b256ae8023af0c468a300ed975106fb22eb",
    "002e38185616b5eb7951986550e7c2851a3a21e0ca12b5e852e4897a1705c47b",
];

#[test]
fn the_vectors_from_before_consultations_are_byte_identical() {
    let file = read_file();
    let digest = |v: &Value| match serde_json::to_string(v) {
        Ok(text) => {
            let d: [u8; 32] = Sha256::digest(text.as_bytes()).into();
            hx(d)
        }
        Err(e) => panic!("JSON: {e}"),
    };
    for (section, expected) in BEFORE_SCOPES.iter().chain(&BEFORE_CONSULTATIONS) {
        assert_eq!(digest(&file[*section]), *expected, "{section} changed");
    }
    let receipts = list(&file["decision_receipts"]);
    assert_eq!(receipts.len(), RECEIPTS_BEFORE_CONSULTATIONS.len());
    for (v, expected) in receipts.iter().zip(RECEIPTS_BEFORE_CONSULTATIONS) {
        assert_eq!(digest(v), expected, "{} changed", text(&v["name"]));
    }
}

#[test]
fn the_vectors_from_before_scopes_are_byte_identical() {
    let file = read_file();
    let digest = |v: &Value| match serde_json::to_string(v) {
        Ok(text) => {
            let d: [u8; 32] = Sha256::digest(text.as_bytes()).into();
            hx(d)
        }
        Err(e) => panic!("JSON: {e}"),
    };
    for (section, expected) in BEFORE_SCOPES {
        assert_eq!(digest(&file[section]), expected, "{section} changed");
    }
    for (v, expected) in list(&file["decision_receipts"])
        .iter()
        .zip(RECEIPTS_BEFORE_SCOPES)
    {
        assert_eq!(digest(v), expected, "{} changed", text(&v["name"]));
    }
}

/// A grant fact as `delegation_decisions` states it.
fn d_grant_from(v: &Value) -> GrantFacts {
    GrantFacts {
        id: EntryId(b32(&v["id"])),
        seq: num(&v["seq"]),
        purposes: list(&v["purposes"]).iter().map(purpose_from).collect(),
        categories: list(&v["categories"]).iter().map(category_from).collect(),
        valid_from: num(&v["valid_from"]),
        valid_until: Some(num(&v["valid_until"])).filter(|u| *u != 0),
        revoked: v["revoked"].as_bool() == Some(true),
        scope: None,
        in_effect_from: consent_proto::consultation::ALWAYS,
        time_ms: num(&v["time_ms"]),
        via: None,
    }
}

/// A delegation as `delegation_decisions` states it: id, delegate, kind, signed time,
/// valid_until, co-signer.
type DDelegation = (
    EntryId,
    FeedId,
    DelegationKind,
    u64,
    Option<u64>,
    Option<FeedId>,
);
/// An endorsement: id, endorser, signed time, the endorser's delegation and its undelegations.
type DEndorsement = (EntryId, FeedId, u64, DDelegation, Vec<(u64, Option<u64>)>);

/// A delegation and its undelegations as `delegation_decisions` states them.
fn d_delegation_from(v: &Value) -> (DDelegation, Vec<(u64, Option<u64>)>) {
    let kind = match pb::DelegationKind::from_str_name(text(&v["kind"])) {
        Some(k) => k,
        None => panic!("{v} names no delegation kind"),
    };
    let co_signer = match text(&v["co_signer"]) {
        "" => None,
        _ => Some(FeedId(b32(&v["co_signer"]))),
    };
    let d = (
        EntryId(b32(&v["id"])),
        FeedId(b32(&v["delegate"])),
        kind,
        num(&v["time_ms"]),
        Some(num(&v["valid_until"])).filter(|u| *u != 0),
        co_signer,
    );
    let undelegations = list(&v["undelegations"])
        .iter()
        .map(|u| {
            (
                num(&u["time_ms"]),
                Some(num(&u["void_from_ms"])).filter(|t| *t != 0),
            )
        })
        .collect();
    (d, undelegations)
}

#[test]
fn every_delegation_vector_in_the_file_verifies() {
    let file = read_file();
    let clock = num(&file["validation_clock_ms"]);
    let d = &file["delegations"];
    for k in list(&d["keys"]) {
        let label = text(&k["label"]);
        assert_eq!(
            bytes(&k["seed"]),
            blake3::hash(label.as_bytes()).as_bytes().to_vec(),
            "{label}"
        );
        assert_eq!(
            hx(key(label).public().to_bytes()),
            text(&k["public"]),
            "{label}"
        );
    }
    assert_eq!(
        consent_proto::delegation::coming_of_age_ms(2034, 5, 1),
        Some(num(&d["comes_of_age_ms"]))
    );

    // The history: each entry decodes to what it states, every delegation body and every
    // on_behalf is there, and a fresh node accepts them in order.
    let history: Vec<Entry> = list(&d["history"]).iter().map(check_entry).collect();
    let kinds: std::collections::HashSet<&str> =
        history.iter().map(|e| e.body.kind().name()).collect();
    for kind in [
        "delegation",
        "undelegation",
        "endorsement",
        "grant",
        "revoke",
        "request",
    ] {
        assert!(kinds.contains(kind), "{kind}");
    }
    for kind in ["grant", "revoke", "request"] {
        assert!(
            history
                .iter()
                .any(|e| e.body.kind().name() == kind && e.body.on_behalf().is_some()),
            "a {kind} in someone's name"
        );
    }
    let replay = |size: usize| {
        let mut ledger = MemoryLedger::new([history[0].feed]);
        for e in &history[..size] {
            let verdict = ledger.submit(e, clock);
            assert!(matches!(verdict, Verdict::Accept { .. }), "{verdict:?}");
        }
        ledger
    };
    replay(history.len());

    // Validation cases, each on a fresh node holding the history.
    for case in list(&d["validation"]) {
        let about = text(&case["about"]);
        let mut ledger = replay(history.len());
        let e = check_entry(&case["entry"]);
        assert_eq!(
            verdict_name(&ledger.submit(&e, clock)),
            text(&case["verdict"]),
            "{about}"
        );
    }

    // Receipts: signed, with their checkpoint and proofs; the decision is the rule's on the
    // history's first log_size entries, the delegation reported is the one proven.
    for v in list(&file["delegation_receipts"]) {
        let name = text(&v["name"]);
        let r = match pb::DecisionReceipt::decode(bytes(&v["receipt"]).as_slice()) {
            Ok(r) => r,
            Err(e) => panic!("{name}: {e}"),
        };
        let policy = match evidence::WitnessPolicy::new(&[text(&v["witness"]).to_string()], 1) {
            Ok(p) => p,
            Err(e) => panic!("{name}: {e}"),
        };
        let verified = match evidence::verify_decision(&r, &policy) {
            Ok(d) => d,
            Err(e) => panic!("{name}: {e}"),
        };
        let p = &verified.payload;
        assert!(verified.grant_included, "{name}");
        assert_eq!(
            verified.delegation_included,
            !v["delegation_inclusion"].is_null(),
            "{name}"
        );
        assert_eq!(
            p.delegated
                .as_ref()
                .map_or(Value::Null, delegation_used_json),
            v["delegated"],
            "{name}"
        );
        let question = p.question.as_ref().expect("a question");
        let outcome = replay(p.log_size as usize).check(&Query {
            subject: FeedId::from_slice(&question.subject).expect("a subject"),
            collector: FeedId::from_slice(&question.collector).expect("a collector"),
            purpose: question.purpose(),
            category: question.category(),
            at_ms: verified.at_ms,
            context: Context::NONE,
        });
        assert_eq!(outcome.decision, p.decision(), "{name}");
        assert_eq!(outcome.reason, p.reason(), "{name}");
        assert_eq!(
            outcome.grant.map(|g| hx(g.0)).unwrap_or_default(),
            hx(&p.grant),
            "{name}"
        );
        assert_eq!(
            outcome.delegated.map(|u| u.to_wire()),
            p.delegated,
            "{name}"
        );
    }

    // Decisions: each case, rebuilt from the JSON, gets the stated answer.
    let dd = &file["delegation_decisions"];
    let subject = FeedId(b32(&dd["subject"]));
    let cases = list(&dd["cases"]);
    assert!(cases.len() >= 1_000, "{} cases", cases.len());
    let mut reasons = std::collections::HashSet::new();
    for c in cases {
        let own: Vec<GrantFacts> = list(&c["own"]).iter().map(d_grant_from).collect();
        let delegated: Vec<GrantFacts> = list(&c["delegated"])
            .iter()
            .map(|g| {
                let (delegation, undelegations) = d_delegation_from(&g["delegation"]);
                let endorsements = list(&g["endorsements"])
                    .iter()
                    .map(|x| {
                        let (d, u) = d_delegation_from(&x["delegation"]);
                        (
                            EntryId(b32(&x["id"])),
                            FeedId(b32(&x["endorser"])),
                            num(&x["time_ms"]),
                            d,
                            u,
                        )
                    })
                    .collect();
                d_facts(&DGrantCase {
                    grant: d_grant_from(&g["grant"]),
                    delegation,
                    undelegations,
                    endorsements,
                })
            })
            .collect();
        let q = &c["question"];
        let answer = decide_subject(
            &Query {
                subject,
                collector: FeedId([0x5c; 32]),
                purpose: purpose_from(&q["purpose"]),
                category: category_from(&q["category"]),
                at_ms: num(&q["at_ms"]),
                context: Context::NONE,
            },
            &SubjectGrants {
                grants: &own,
                delegated: &delegated,
                opt_out_seq: c["opt_out_seq"].as_u64(),
                opt_out_ms: c["opt_out_ms"].as_u64(),
                delegated_opt_out_ms: c["delegated_opt_out_ms"].as_u64(),
            },
        );
        assert_eq!(answer.decision.as_str_name(), text(&c["decision"]));
        assert_eq!(answer.reason.as_str_name(), text(&c["reason"]));
        assert_eq!(
            answer.grant.map_or(String::new(), |g| hx(g.0)),
            text(&c["grant"])
        );
        assert_eq!(
            answer
                .delegated
                .map_or(Value::Null, |u| delegation_used_json(&u.to_wire())),
            c["answer_delegated"]
        );
        reasons.insert(answer.reason);
    }
    for reason in [
        pb::Reason::DelegationWithdrawn,
        pb::Reason::EndorsementMissing,
        pb::Reason::Granted,
        pb::Reason::OptedOut,
    ] {
        assert!(reasons.contains(&reason), "{reason:?} never reached");
    }
}

/// SHA-256 of the compact JSON of each section consultations added, as they were before
/// delegation: delegation added sections and changed none (nor any earlier one: the tests
/// above).
const BEFORE_DELEGATION: [(&str, &str); 6] = [
    (
        "consultation_counts",
        "72d90ab681307e44299a51e5c0e33f63f1806a36c7ecc20e9117480d05af4baa",
    ),
    (
        "consultation_decisions",
        "0b9115a4b01b0c39086def338bb2a78554155c7b8cd7ffa52d7e3cb9cc1eb7f6",
    ),
    (
        "consultation_states",
        "0694806e0f40cd7eaabe02a3625bced0dc230e6b7704b1bc37bb583d5628f848",
    ),
    (
        "consultation_validation",
        "5f75671d36716fcffd31c179c8809403661a920073def9cb21a8036008030496",
    ),
    (
        "consultations",
        "d156ed3a717eedf47a5cffca8637c3fe51dcf478a5f1e44fcb39b05d7e6b403a",
    ),
    (
        "policy_changes",
        "3582de57673867ed5de899eb5ac8caae5c4f67096c691164b76a8ce76cb99759",
    ),
];

#[test]
fn the_vectors_from_before_delegation_are_byte_identical() {
    let file = read_file();
    let digest = |v: &Value| match serde_json::to_string(v) {
        Ok(text) => {
            let d: [u8; 32] = Sha256::digest(text.as_bytes()).into();
            hx(d)
        }
        Err(e) => panic!("JSON: {e}"),
    };
    for (section, expected) in BEFORE_DELEGATION {
        assert_eq!(digest(&file[section]), expected, "{section} changed");
    }
}
