//! What this wallet's pairwise feeds hold: `consent list` (grants in force), `consent history`
//! (every entry, with the collectors' acks) and `consent export` (all of it as one document).

use consent_client::time;
use consent_client::wallet;
use consent_proto::body::Body;
use consent_proto::ids::{EntryId, FeedId, TypedFeedId};
use consent_proto::vocab::Role;
use serde_json::json;

use crate::cmd::{child, delegated};
use crate::ctx::{self, Global, emit};
use crate::{describe, send};

/// Every pairwise feed this wallet knows: (collector, subject, entries), with the node and the
/// opened keystore.
async fn feeds(
    g: &Global,
) -> anyhow::Result<(
    Vec<(FeedId, FeedId, Vec<consent_proto::Entry>)>,
    consent_client::node::NodeConnection,
    consent_client::keystore::Keystore,
)> {
    let mut ks = g.open(Role::Citizen)?;
    let mut node = g.connect().await?;
    // Queued entries that are due go on the way (every command that opens the wallet sends them).
    send::flush_due(&ks, send::Nodes::new(&g.node, g.tls()?, Some(&node))).await?;
    child::coming_of_age_notice(&mut node, &mut ks).await?;
    let mut out = Vec::new();
    for c in ks.state.pairwise.keys() {
        let collector = TypedFeedId::parse_role(c, Role::Collector)?;
        let subject = wallet::pairwise_feed(ks.master(), &collector);
        let entries = node.feed(&subject).await?;
        out.push((collector, subject, entries));
    }
    Ok((out, node, ks))
}

/// `consent list`: grants in force now.
pub async fn list(g: &Global) -> anyhow::Result<()> {
    let (feeds, mut node, ks) = feeds(g).await?;
    let now = time::now_ms();
    let mut any = false;
    for (collector, subject, entries) in &feeds {
        let revoked: std::collections::HashSet<EntryId> = entries
            .iter()
            .filter_map(|e| match &e.body {
                Body::Revoke(r) => Some(r.grant),
                _ => None,
            })
            .collect();
        for e in entries {
            let Body::Grant(gr) = &e.body else { continue };
            if revoked.contains(&e.id) || gr.valid_until.is_some_and(|u| u <= now) {
                continue;
            }
            any = true;
            // Sent, but valid from a later moment (its valid_from is rounded up): listed so,
            // never left out (it is not a grant to sign again).
            let later = (gr.valid_from > now).then_some(gr.valid_from);
            let mut value = json!({
                "grant": e.id.to_string(),
                "collector": collector.typed(Role::Collector).to_string(),
                "subject": subject.typed(Role::Citizen).to_string(),
                "purposes": gr.purposes.iter().map(|p| p.name()).collect::<Vec<_>>(),
                "categories": gr.categories.iter().map(|c| c.name()).collect::<Vec<_>>(),
                "valid_until": gr.valid_until.map(time::format),
                "scope": gr.scope.as_ref().map(describe::grant_scope_json),
            });
            let text = match later {
                Some(from) => {
                    value["in_force_from"] = json!(time::format(from));
                    format!(
                        "{} — sent, in force from {}",
                        describe::entry_text(e),
                        time::format(from)
                    )
                }
                None => describe::entry_text(e),
            };
            emit(g.json, text, value);
        }
        // Grants an assistant or a guardian made in this feed's name.
        for d in delegated::in_force(&mut node, subject, now).await? {
            any = true;
            let gr = &d.grant;
            let value = json!({
                "grant": d.id.to_string(),
                "collector": collector.typed(Role::Collector).to_string(),
                "subject": subject.typed(Role::Citizen).to_string(),
                "purposes": gr.purposes.iter().map(|p| p.name()).collect::<Vec<_>>(),
                "categories": gr.categories.iter().map(|c| c.name()).collect::<Vec<_>>(),
                "valid_until": gr.valid_until.map(time::format),
                "scope": gr.scope.as_ref().map(describe::grant_scope_json),
                "delegated": {
                    "delegation": d.delegation.to_string(),
                    "delegate": d.delegate.typed(Role::Citizen).to_string(),
                    "kind": d.kind.name(),
                },
            });
            emit(
                g.json,
                format!(
                    "{} (made in your name by {} {}; revoke it with consent revoke {})",
                    describe::entry_text(&d.entry),
                    if d.kind == consent_proto::vocab::DelegationKind::Guardian {
                        "your guardian"
                    } else {
                        "your assistant"
                    },
                    d.delegate.typed(Role::Citizen),
                    d.id
                ),
                value,
            );
        }
    }
    // Signed but still in the send queue: not in force until sent.
    for (e, item) in send::queued(&ks)? {
        let Body::Grant(gr) = &e.body else { continue };
        let value = json!({
            "grant": e.id.to_string(),
            "collector": item.collector,
            "subject": e.feed.typed(Role::Citizen).to_string(),
            "purposes": gr.purposes.iter().map(|p| p.name()).collect::<Vec<_>>(),
            "categories": gr.categories.iter().map(|c| c.name()).collect::<Vec<_>>(),
            "valid_until": gr.valid_until.map(time::format),
            "scope": gr.scope.as_ref().map(describe::grant_scope_json),
            "queued": true,
            "send_at": time::format(item.due_ms),
            "in_force_from": time::format(gr.valid_from),
        });
        emit(
            g.json,
            format!(
                "{} — queued, NOT in force until it is sent ({}, by the first consent command \
                 then; consent queue --send-now sends it now), and from {}",
                describe::entry_text(&e),
                send::when(item.due_ms),
                time::format(gr.valid_from)
            ),
            value,
        );
        any = true;
    }
    if !any && !g.json {
        ctx::out("No grants in force.");
    }
    Ok(())
}

/// `consent history`: every entry of every feed, with collectors' acks.
pub async fn history(g: &Global) -> anyhow::Result<()> {
    let (feeds, mut node, ks) = feeds(g).await?;
    let queued = send::queued(&ks)?;
    for (collector, subject, entries) in &feeds {
        let acks = acks_for(&mut node, collector, entries).await?;
        if !g.json {
            ctx::out(format!(
                "{} (with {})",
                subject.typed(Role::Citizen),
                collector.typed(Role::Collector)
            ));
        }
        for e in entries {
            let mut value = describe::entry_json(e, Role::Citizen);
            let answers: Vec<_> = acks
                .iter()
                .filter(|(target, _)| *target == e.id)
                .map(|(_, a)| a.clone())
                .collect();
            value["acks"] = json!(
                answers
                    .iter()
                    .map(|a| describe::entry_json(a, Role::Collector))
                    .collect::<Vec<_>>()
            );
            emit(g.json, format!("  {}", describe::entry_text(e)), value);
            if !g.json {
                // The collector's latest answer to a request is its answer; earlier ones stay on
                // record (see the protocol's rule for acks).
                let last = answers.len().saturating_sub(1);
                for (i, a) in answers.iter().enumerate() {
                    let superseded = if i < last {
                        " (superseded by its later answer)"
                    } else {
                        ""
                    };
                    ctx::out(format!(
                        "      ↳ collector {}{superseded}",
                        describe::entry_text(a)
                    ));
                }
            }
        }
        // Signed, not sent yet: not on any node, but this wallet's all the same.
        for (e, item) in queued.iter().filter(|(e, _)| e.feed == *subject) {
            let mut value = describe::entry_json(e, Role::Citizen);
            value["acks"] = json!([]);
            value["queued"] = json!(true);
            value["send_at"] = json!(time::format(item.due_ms));
            emit(
                g.json,
                format!(
                    "  {} — queued, not sent yet ({})",
                    describe::entry_text(e),
                    send::when(item.due_ms)
                ),
                value,
            );
        }
    }
    Ok(())
}

/// The collector's acks that answer any of `entries`.
async fn acks_for(
    node: &mut consent_client::node::NodeConnection,
    collector: &FeedId,
    entries: &[consent_proto::Entry],
) -> anyhow::Result<Vec<(EntryId, consent_proto::Entry)>> {
    let ours: std::collections::HashSet<EntryId> = entries.iter().map(|e| e.id).collect();
    Ok(node
        .feed(collector)
        .await?
        .into_iter()
        .filter_map(|e| match &e.body {
            Body::Ack(a) if ours.contains(&a.request) => Some((a.request, e.clone())),
            _ => None,
        })
        .collect())
}

/// `consent export`: one JSON document with everything the wallet and the ledger hold.
pub async fn export(g: &Global) -> anyhow::Result<()> {
    let (feeds, mut node, ks) = feeds(g).await?;
    let queued = send::queued(&ks)?;
    let mut out = Vec::new();
    for (collector, subject, entries) in &feeds {
        let policy = node.current_policy(collector).await?;
        let acks = acks_for(&mut node, collector, entries).await?;
        out.push(json!({
            "collector": collector.typed(Role::Collector).to_string(),
            "subject": subject.typed(Role::Citizen).to_string(),
            "collector_policy": policy.map(|(id, p)| describe::policy_json(collector, &id, &p)),
            "entries": entries.iter().map(|e| describe::entry_json(e, Role::Citizen)).collect::<Vec<_>>(),
            "acks": acks.iter().map(|(_, a)| describe::entry_json(a, Role::Collector)).collect::<Vec<_>>(),
            "queued": queued
                .iter()
                .filter(|(e, _)| e.feed == *subject)
                .map(|(e, item)| {
                    let mut v = describe::entry_json(e, Role::Citizen);
                    v["send_at"] = json!(time::format(item.due_ms));
                    v
                })
                .collect::<Vec<_>>(),
        }));
    }
    let doc = json!({
        "format": "consent-export/v1",
        "exported_at": time::format(time::now_ms()),
        "node": node.url(),
        "keystore": g.keystore_path().display().to_string(),
        "feeds": out,
    });
    ctx::out(serde_json::to_string_pretty(&doc)?);
    Ok(())
}
