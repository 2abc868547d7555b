//! JSON forms of entries, bodies, scopes and encodings (canonical and refused).

use super::*;

// ---- JSON forms ----

pub(super) fn key_json(label: &str) -> Value {
    let k = key(label);
    let seed = k.to_seed();
    json!({
        "label": label,
        "seed": hx(&seed[..]),
        "public": hx(k.public().to_bytes()),
        "text": k.public().to_string(),
    })
}

pub(super) fn role_name(v: i32) -> &'static str {
    pb::Role::try_from(v).map_or("?", |r| r.as_str_name())
}

pub(super) fn purpose_names(values: &[i32]) -> Vec<&'static str> {
    values
        .iter()
        .map(|v| pb::Purpose::try_from(*v).map_or("?", |p| p.as_str_name()))
        .collect()
}

pub(super) fn category_names(values: &[i32]) -> Vec<&'static str> {
    values
        .iter()
        .map(|v| pb::DataCategory::try_from(*v).map_or("?", |c| c.as_str_name()))
        .collect()
}

/// A body as its `.proto` fields: bytes in hex, enums by name, every field written.
pub(super) fn body_json(body: &WireBody) -> Value {
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

pub(super) fn on_behalf_json(o: &pb::OnBehalf) -> Value {
    json!({"person": hx(&o.person), "delegation": hx(&o.delegation)})
}

pub(super) fn objection_name(v: i32) -> &'static str {
    pb::ObjectionReason::try_from(v).map_or("?", |r| r.as_str_name())
}

pub(super) fn form_name(v: i32) -> &'static str {
    pb::Form::try_from(v).map_or("?", |f| f.as_str_name())
}

pub(super) fn kind_name(v: i32) -> &'static str {
    pb::SensorKind::try_from(v).map_or("?", |k| k.as_str_name())
}

pub(super) fn window_json(w: &pb::TimeWindow) -> Value {
    json!({"days": w.days, "start_minute": w.start_minute, "end_minute": w.end_minute})
}

/// A `PolicyScope` as in the `.proto` (cells as hex, enums by name) and its `encoding`.
pub(super) fn policy_scope_json(s: &pb::PolicyScope) -> Value {
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
pub(super) fn grant_scope_json(s: &pb::GrantScope) -> Value {
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
pub(super) fn context_json(c: &pb::ObservationContext) -> Value {
    json!({
        "sensor": c.sensor,
        "sensor_kind": kind_name(c.sensor_kind),
        "cell": if c.cell == 0 { Value::Null } else { json!(format!("{:x}", c.cell)) },
        "observed_ms": c.observed_ms,
        "form": form_name(c.form),
    })
}

pub(super) fn wire(entry: &Entry) -> pb::EntryPayload {
    match pb::EntryPayload::decode(entry.payload.as_ref()) {
        Ok(w) => w,
        Err(e) => panic!("a signed payload decodes: {e}"),
    }
}

pub(super) fn entry_json(
    name: &str,
    signer: &str,
    signing_key: &PublicKey,
    role: Role,
    e: &Entry,
) -> Value {
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

pub(super) fn named_json(n: &Named) -> Value {
    entry_json(n.name, n.signer, &key(n.signer).public(), n.role, &n.entry)
}

pub(super) fn signed_entry(payload: &[u8], signer: &str) -> Vec<u8> {
    pb::SignedEntry {
        payload: Bytes::copy_from_slice(payload),
        signature: Bytes::copy_from_slice(&key(signer).sign(domain::ENTRY_SIGNATURE, payload)),
    }
    .encode_to_vec()
}

/// Canonical and refused encodings of entry payloads, each signed by the author's key so that
/// only the encoding decides.
pub(super) fn encodings(s: &Scenario) -> Vec<Value> {
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
