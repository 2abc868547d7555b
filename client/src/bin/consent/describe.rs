//! Entries and policies in plain words (for people) and as JSON (for scripts).

use consent_client::time;
use consent_proto::Entry;
use consent_proto::body::{AckAnswer, Body, Policy};
use consent_proto::ids::{EntryId, FeedId};
pub use consent_proto::scope::words::{cell_area_text, interval_text, utc_offset_text};
use consent_proto::scope::{FormSpec, GrantScope, PolicyScope, TimeWindow};
use consent_proto::vocab::{CategorySet, Form, PurposeSet, Role};
use serde_json::{Value, json};

use crate::consult_words;

fn typed(feed: &FeedId, role: Role) -> String {
    feed.typed(role).to_string()
}

fn names_p(set: PurposeSet) -> Vec<&'static str> {
    set.iter().map(|p| p.name()).collect()
}

fn names_c(set: CategorySet) -> Vec<&'static str> {
    set.iter().map(|c| c.name()).collect()
}

/// A policy in plain words.
pub fn policy_text(collector: &FeedId, id: &EntryId, p: &Policy) -> String {
    let mut s = format!(
        "{} (collector {}), policy version {}\n",
        p.name,
        typed(collector, Role::Collector),
        p.version
    );
    s += "  collects:\n";
    for c in p.categories.iter() {
        s += &format!("    - {} ({})\n", c.plain(), c.name());
    }
    s += "  for:\n";
    for purpose in p.purposes.iter() {
        s += &format!("    - {} ({})\n", purpose.plain(), purpose.name());
    }
    s += &format!("  keeps it at most {} days\n", p.retention_days);
    if p.recipients.is_empty() {
        s += "  shares it with nobody\n";
    } else {
        s += &format!("  shares it with: {}\n", p.recipients.join(", "));
    }
    s += &format!("  law: {}\n", p.jurisdiction);
    s += &format!(
        "  full policy: {} (BLAKE3 {})\n",
        p.document_url,
        hex::encode(p.document_digest.0)
    );
    s += &format!("  questions: {}\n", p.contact);
    if let Some(scope) = &p.scope {
        for line in scope_text(scope, p.purposes) {
            s += &format!("  {line}\n");
        }
    }
    if let Some(c) = &p.consultation {
        s += &format!(
            "  put to public consultation until {} (consent consult show {id})\n",
            time::format(c.closes_ms)
        );
    }
    s += &format!("  policy entry: {id}");
    s
}

/// What a form means, in a few words.
pub fn form_meaning(form: Form) -> &'static str {
    match form {
        Form::Raw => "as observed: identifiers in clear, exact time and place",
        Form::Pseudonymised => "your identifier replaced by a keyed code; exact time and place",
        Form::Binned => "pseudonymised, with the time and the place coarsened",
        Form::Aggregated => "no record about you: only counts over groups of people",
        _ => "unspecified",
    }
}

/// One offered form with its parameters in words: `binned (per hour, cells of ~0.1 km²)`.
pub fn form_text(spec: &FormSpec) -> String {
    match spec {
        FormSpec::Raw => "raw (as observed)".into(),
        FormSpec::Pseudonymised => "pseudonymised (identifier replaced by a keyed code)".into(),
        FormSpec::Binned {
            interval_s,
            resolution,
        } => format!(
            "binned ({}, cells of {})",
            interval_text(*interval_s),
            cell_area_text(*resolution)
        ),
        FormSpec::Aggregated {
            interval_s,
            resolution,
            min_group,
        } => format!(
            "aggregated (groups of at least {min_group} people, {}, cells of {})",
            interval_text(*interval_s),
            cell_area_text(*resolution)
        ),
    }
}

/// Windows with the offset they are in: `mon-sat 07:00-19:00 (UTC+01:00, all year)`.
pub fn windows_text(windows: &[TimeWindow], utc_offset_minutes: i16) -> String {
    format!(
        "{} ({}, all year: no daylight saving time)",
        windows
            .iter()
            .map(|w| w.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        utc_offset_text(utc_offset_minutes)
    )
}

/// A policy's scope in plain words, one line each.
pub fn scope_text(scope: &PolicyScope, purposes: PurposeSet) -> Vec<String> {
    let mut out = Vec::new();
    if !scope.zones.is_empty() {
        out.push("where (only in these zones):".to_string());
        for z in &scope.zones {
            out.push(format!(
                "  - zone {} {} (resolution {}, {} cells of {})",
                z.id,
                z.name,
                z.resolution,
                z.cells.len(),
                cell_area_text(z.resolution)
            ));
        }
    }
    if !scope.sensors.is_empty() {
        out.push("sensors:".to_string());
        for s in &scope.sensors {
            let zone = match s.zone.and_then(|id| scope.zone(id)) {
                Some(z) => format!(" in zone {} {}", z.id, z.name),
                None => String::new(),
            };
            out.push(format!(
                "  - {} {} ({}){zone}",
                s.id,
                s.kind.name(),
                s.kind.plain()
            ));
        }
    }
    if !scope.windows.is_empty() {
        out.push(format!(
            "when: {}",
            windows_text(&scope.windows, scope.utc_offset_minutes)
        ));
    }
    if !scope.forms.is_empty() {
        out.push("kept as:".to_string());
        for f in &scope.forms {
            out.push(format!(
                "  - for {}: {}",
                f.purpose.plain(),
                f.offers
                    .iter()
                    .map(form_text)
                    .collect::<Vec<_>>()
                    .join(" or ")
            ));
        }
        let free: Vec<&str> = purposes
            .iter()
            .filter(|p| !scope.forms.iter().any(|f| f.purpose == *p))
            .map(|p| p.plain())
            .collect();
        if !free.is_empty() {
            out.push(format!("  - for {}: in any form", free.join(", ")));
        }
    }
    out
}

fn window_json(w: &TimeWindow) -> Value {
    let hhmm = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
    let days: Vec<&str> = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .iter()
        .enumerate()
        .filter(|(i, _)| (w.days >> *i) & 1 == 1)
        .map(|(_, d)| *d)
        .collect();
    json!({
        "text": w.to_string(),
        "days": days,
        "start": hhmm(w.start_minute),
        "end": hhmm(w.end_minute),
    })
}

fn offer_json(spec: &FormSpec) -> Value {
    let (interval_s, resolution, k) = match spec {
        FormSpec::Raw | FormSpec::Pseudonymised => (None, None, None),
        FormSpec::Binned {
            interval_s,
            resolution,
        } => (Some(*interval_s), Some(*resolution), None),
        FormSpec::Aggregated {
            interval_s,
            resolution,
            min_group,
        } => (Some(*interval_s), Some(*resolution), Some(*min_group)),
    };
    json!({
        "form": spec.form().name(),
        "interval_s": interval_s,
        "resolution": resolution,
        "k": k,
    })
}

/// A policy's scope as JSON (cells as H3 hex).
pub fn scope_json(scope: &PolicyScope) -> Value {
    json!({
        "utc_offset_minutes": scope.utc_offset_minutes,
        "utc_offset": utc_offset_text(scope.utc_offset_minutes),
        "zones": scope.zones.iter().map(|z| json!({
            "id": z.id,
            "name": z.name,
            "resolution": z.resolution,
            "cells": z.cells.iter().map(|c| format!("{:x}", c.raw())).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "sensors": scope.sensors.iter().map(|s| json!({
            "id": s.id,
            "kind": s.kind.name(),
            "zone": s.zone,
        })).collect::<Vec<_>>(),
        "windows": scope.windows.iter().map(window_json).collect::<Vec<_>>(),
        "forms": scope.forms.iter().map(|f| json!({
            "purpose": f.purpose.name(),
            "offers": f.offers.iter().map(offer_json).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

/// A grant's narrowing as JSON: exactly what is signed.
pub fn grant_scope_json(g: &GrantScope) -> Value {
    json!({
        "zones": g.zones,
        "sensors": g.sensors,
        "sensor_kinds": g.sensor_kinds.iter().map(|k| k.name()).collect::<Vec<_>>(),
        "windows": g.windows.iter().map(window_json).collect::<Vec<_>>(),
        "forms": g.forms.iter().map(|(p, f)| json!({"purpose": p.name(), "form": f.name()})).collect::<Vec<_>>(),
    })
}

/// A grant's narrowing in plain words, one line each; `policy` (the one granted under, when
/// known) names the zones and gives the windows' offset.
pub fn grant_scope_text(g: &GrantScope, policy: Option<&PolicyScope>) -> Vec<String> {
    let mut out = Vec::new();
    if !g.zones.is_empty() {
        let zones: Vec<String> = g
            .zones
            .iter()
            .map(|id| match policy.and_then(|p| p.zone(*id)) {
                Some(z) => format!("zone {id} {}", z.name),
                None => format!("zone {id}"),
            })
            .collect();
        out.push(format!("only in: {}", zones.join("; ")));
    }
    if !g.sensors.is_empty() || !g.sensor_kinds.is_empty() {
        let mut from: Vec<String> = g
            .sensors
            .iter()
            .map(|id| match policy.and_then(|p| p.sensor(*id)) {
                Some(s) => format!("sensor {id} ({})", s.kind.plain()),
                None => format!("sensor {id}"),
            })
            .collect();
        from.extend(
            g.sensor_kinds
                .iter()
                .map(|k| format!("any {} sensor", k.name())),
        );
        out.push(format!("only from: {}", from.join(", ")));
    }
    if !g.windows.is_empty() {
        let windows = match policy {
            Some(p) => windows_text(&g.windows, p.utc_offset_minutes),
            None => format!(
                "{} (in the policy's UTC offset)",
                g.windows
                    .iter()
                    .map(|w| w.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        out.push(format!("only at: {windows}"));
    }
    for (purpose, form) in &g.forms {
        out.push(format!(
            "for {}: kept at least as {} ({}), never less protected",
            purpose.plain(),
            form.name(),
            form_meaning(*form)
        ));
    }
    out
}

/// A policy as JSON.
pub fn policy_json(collector: &FeedId, id: &EntryId, p: &Policy) -> Value {
    json!({
        "collector": typed(collector, Role::Collector),
        "policy": id.to_string(),
        "version": p.version,
        "name": p.name,
        "purposes": names_p(p.purposes),
        "categories": names_c(p.categories),
        "retention_days": p.retention_days,
        "recipients": p.recipients,
        "jurisdiction": p.jurisdiction,
        "document_url": p.document_url,
        "document_digest": hex::encode(p.document_digest.0),
        "contact": p.contact,
        "scope": p.scope.as_ref().map(scope_json),
        "consultation_closes": p.consultation.map(|c| time::format(c.closes_ms)),
    })
}

/// An entry as JSON: id, feed, seq, time, kind and the body's fields.
pub fn entry_json(e: &Entry, role: Role) -> Value {
    let body = match &e.body {
        Body::Inception(b) => {
            json!({"role": b.role.name(), "signing_key": b.signing_key.to_string()})
        }
        Body::Rotation(b) => json!({"signing_key": b.signing_key.to_string()}),
        Body::Policy(p) => policy_json(&e.feed, &e.id, p),
        Body::Accreditation(a) => {
            json!({"collector": typed(&a.collector, Role::Collector), "valid_until": time::format(a.valid_until)})
        }
        Body::Suspension(s) => {
            json!({"collector": typed(&s.collector, Role::Collector), "reason": s.reason})
        }
        Body::Grant(g) => json!({
            "collector": typed(&g.collector, Role::Collector),
            "policy": g.policy.to_string(),
            "purposes": names_p(g.purposes),
            "categories": names_c(g.categories),
            "retention_days": g.retention_days,
            "valid_from": time::format(g.valid_from),
            "valid_until": g.valid_until.map(time::format),
            "scope": g.scope.as_ref().map(grant_scope_json),
        }),
        Body::Revoke(r) => json!({"grant": r.grant.to_string(), "erase": r.erase}),
        Body::Request(r) => {
            json!({"collector": typed(&r.collector, Role::Collector), "kind": r.kind.name()})
        }
        Body::Ack(a) => match &a.answer {
            AckAnswer::Done => json!({"request": a.request.to_string(), "outcome": "done"}),
            AckAnswer::Refused(reason) => {
                json!({"request": a.request.to_string(), "outcome": "refused", "reason": reason})
            }
        },
        Body::Stance(x) => consult_words::stance_json(x),
        Body::Response(x) => consult_words::response_json(x),
        Body::Outcome(x) => consult_words::outcome_json(x),
        Body::Delegation(d) => json!({
            "delegate": typed(&d.delegate, Role::Citizen),
            "kind": d.kind.name(),
            "powers": d.powers.iter().map(|p| p.name()).collect::<Vec<_>>(),
            "collectors": d.collectors.iter().map(|c| typed(c, Role::Collector)).collect::<Vec<_>>(),
            "purposes": names_p(d.purposes),
            "valid_until": d.valid_until.map(time::format),
            "co_signer": d.co_signer.map(|c| typed(&c, Role::Citizen)),
        }),
        Body::Undelegation(u) => json!({
            "delegation": u.delegation.to_string(),
            "void_from": u.void_from_ms.map(time::format),
        }),
        Body::Endorsement(x) => json!({
            "grant": x.grant.to_string(),
            "person": typed(&x.on_behalf.person, Role::Citizen),
            "delegation": x.on_behalf.delegation.to_string(),
        }),
    };
    json!({
        "id": e.id.to_string(),
        "feed": typed(&e.feed, role),
        "seq": e.seq,
        "time": time::format(e.time_ms),
        "kind": e.body.kind().name(),
        "body": body,
    })
}

/// An entry in one line of plain words.
pub fn entry_text(e: &Entry) -> String {
    let what = match &e.body {
        Body::Inception(_) => "feed created".to_string(),
        Body::Rotation(_) => "key rotated".to_string(),
        Body::Policy(p) => format!("policy version {} published", p.version),
        Body::Accreditation(a) => format!(
            "accredited {} until {}",
            typed(&a.collector, Role::Collector),
            time::format(a.valid_until)
        ),
        Body::Suspension(s) => format!(
            "suspended {}: {}",
            typed(&s.collector, Role::Collector),
            s.reason
        ),
        Body::Grant(g) => format!(
            "granted {}: {} for {}{}{}",
            typed(&g.collector, Role::Collector),
            names_c(g.categories).join(", "),
            names_p(g.purposes).join(", "),
            g.valid_until
                .map(|u| format!(" until {}", time::format(u)))
                .unwrap_or_default(),
            g.scope
                .as_ref()
                .map(|s| format!("; {}", grant_scope_text(s, None).join("; ")))
                .unwrap_or_default()
        ),
        Body::Revoke(r) => format!(
            "revoked grant {}{}",
            r.grant,
            if r.erase {
                " and asked for erasure"
            } else {
                ""
            }
        ),
        Body::Request(r) => format!(
            "asked {} for {}",
            typed(&r.collector, Role::Collector),
            r.kind.plain()
        ),
        Body::Ack(a) => match &a.answer {
            AckAnswer::Done => format!("answered {}: done", a.request),
            AckAnswer::Refused(reason) => format!("answered {}: refused ({reason})", a.request),
        },
        Body::Stance(x) => consult_words::stance_text(x),
        Body::Response(x) => consult_words::response_text(x),
        Body::Outcome(x) => consult_words::outcome_text(x),
        Body::Delegation(d) => format!(
            "delegated to {} as {}: {}",
            typed(&d.delegate, Role::Citizen),
            d.kind.name(),
            d.powers
                .iter()
                .map(|p| p.name())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Body::Undelegation(u) => format!("ended delegation {}", u.delegation),
        Body::Endorsement(x) => format!("endorsed grant {}", x.grant),
    };
    // A pairwise citizen feed's inception carries a fixed pseudonymous date in 2020 (derived
    // from the wallet's secret), so that creation times cannot link one person's feeds.
    let when = match &e.body {
        Body::Inception(i) if i.role == Role::Citizen => "no real date (pairwise)".to_string(),
        _ => time::format(e.time_ms),
    };
    format!("#{:<3} {when}  {}  {what}", e.seq, e.id)
}
