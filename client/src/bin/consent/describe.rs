//! Entries and policies in plain words (for people) and as JSON (for scripts).

use consent_client::time;
use consent_proto::Entry;
use consent_proto::body::{AckAnswer, Body, Policy};
use consent_proto::ids::{EntryId, FeedId};
use consent_proto::vocab::{CategorySet, PurposeSet, Role};
use serde_json::{Value, json};

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
    s += &format!("  policy entry: {id}");
    s
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
            "granted {}: {} for {}{}",
            typed(&g.collector, Role::Collector),
            names_c(g.categories).join(", "),
            names_p(g.purposes).join(", "),
            g.valid_until
                .map(|u| format!(" until {}", time::format(u)))
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
    };
    // A pairwise citizen feed's inception carries a fixed pseudonymous date in 2020 (derived
    // from the wallet's secret), so that creation times cannot link one person's feeds.
    let when = match &e.body {
        Body::Inception(i) if i.role == Role::Citizen => "no real date (pairwise)".to_string(),
        _ => time::format(e.time_ms),
    };
    format!("#{:<3} {when}  {}  {what}", e.seq, e.id)
}
