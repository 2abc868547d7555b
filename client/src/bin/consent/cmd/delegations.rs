//! `consent wallet delegations [--awaiting]`: the delegations this wallet gave (feed by feed),
//! the ones its delegate feeds hold (by the name they were reserved under), and the other
//! guardian's grants awaiting its endorsement, as the node lists them.

use clap::Args;
use consent_client::delegate::permits;
use consent_client::time;
use consent_proto::body::Body;
use consent_proto::ids::{EntryId, TypedFeedId};
use consent_proto::vocab::{DelegationKind, Role};
use serde_json::json;

use crate::ctx::{self, Global, emit};
use crate::delegates;

/// `consent wallet delegations`.
#[derive(Args, Debug)]
pub struct DelegationsArgs {
    /// Also list the other guardian's grants awaiting your endorsement.
    #[arg(long)]
    pub awaiting: bool,
}

/// A delegation's terms, for output.
fn terms_json(d: &consent_client::node::DelegationRecord) -> serde_json::Value {
    let x = &d.delegation;
    json!({
        "delegation": d.id.to_string(),
        "person": d.person.typed(Role::Citizen).to_string(),
        "delegate": x.delegate.typed(Role::Citizen).to_string(),
        "kind": x.kind.name(),
        "powers": x.powers.iter().map(|p| p.name()).collect::<Vec<_>>(),
        "collectors": x.collectors.iter().map(|c| c.typed(Role::Collector).to_string()).collect::<Vec<_>>(),
        "purposes": x.purposes.iter().map(|p| p.name()).collect::<Vec<_>>(),
        "from": time::format(d.time_ms),
        "until": x.valid_until.map(time::format),
        "ended_from": d.ended_from.map(time::format),
        "co_signer": x.co_signer.map(|c| c.typed(Role::Citizen).to_string()),
    })
}

/// A delegation's terms in one line.
fn terms_text(d: &consent_client::node::DelegationRecord) -> String {
    let x = &d.delegation;
    format!(
        "{} ({}): {}{}{}{}",
        d.id,
        x.kind.name(),
        permits::powers_text(x),
        if x.purposes.is_empty() {
            String::new()
        } else {
            format!(
                " for {}",
                x.purposes
                    .iter()
                    .map(|p| p.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        },
        x.valid_until
            .map(|u| format!(", until {}", time::format(u)))
            .unwrap_or_default(),
        d.ended_from
            .map(|e| format!(", WITHDRAWN from {}", time::format(e)))
            .unwrap_or_default()
    )
}

/// `consent wallet delegations`: given, held, and (with --awaiting) grants to endorse.
pub async fn delegations(a: DelegationsArgs, g: &Global) -> anyhow::Result<()> {
    let ks = g.open(Role::Citizen)?;
    let mut node = g.connect().await?;
    let mut any = false;
    for c in ks.state.pairwise.keys() {
        let collector = TypedFeedId::parse_role(c, Role::Collector)?;
        let subject = consent_client::wallet::pairwise_feed(ks.master(), &collector);
        for d in node.list_delegations(&subject).await? {
            if d.person != subject {
                continue;
            }
            any = true;
            let id = d.id.to_string();
            let name = ks
                .state
                .given
                .iter()
                .find(|x| x.delegation == id)
                .and_then(|x| x.name.clone());
            let mut value = terms_json(&d);
            value["direction"] = json!("given");
            value["collector"] = json!(c);
            value["name"] = json!(name);
            emit(
                g.json,
                format!(
                    "given with {c} to {}{}: {}",
                    d.delegation.delegate.typed(Role::Citizen),
                    name.map(|n| format!(" ({n})")).unwrap_or_default(),
                    terms_text(&d)
                ),
                value,
            );
        }
    }
    let held = delegates::held(&mut node, &ks, None).await?;
    for h in &held {
        any = true;
        let mut value = terms_json(&h.record);
        value["direction"] = json!("held");
        value["name"] = json!(h.label);
        emit(
            g.json,
            format!(
                "held for {} ({}): {}",
                h.label,
                h.record.person.typed(Role::Citizen),
                terms_text(&h.record)
            ),
            value,
        );
    }
    if a.awaiting {
        for (h, grant) in awaiting(&mut node, &held).await? {
            any = true;
            emit(
                g.json,
                format!(
                    "awaiting your endorsement, for {}: grant {grant} (consent --as {:?} endorse {grant})",
                    h.label, h.label
                ),
                json!({
                    "direction": "awaiting",
                    "name": h.label,
                    "person": h.record.person.typed(Role::Citizen).to_string(),
                    "grant": grant.to_string(),
                }),
            );
        }
    }
    if !any && !g.json {
        ctx::out("No delegations given or held.");
    }
    Ok(())
}

/// The other guardian's grants that name one of `held`'s delegate feeds as co-signer and that
/// feed has not endorsed yet.
async fn awaiting<'a>(
    node: &mut consent_client::node::NodeConnection,
    held: &'a [delegates::Held],
) -> anyhow::Result<Vec<(&'a delegates::Held, EntryId)>> {
    let mut out = Vec::new();
    for h in held
        .iter()
        .filter(|h| h.record.delegation.kind == DelegationKind::Guardian)
    {
        let mine = h.record.delegation.delegate;
        let person = h.record.person;
        let theirs: Vec<EntryId> = node
            .list_delegations(&person)
            .await?
            .into_iter()
            .filter(|d| d.person == person && d.delegation.co_signer == Some(mine))
            .map(|d| d.id)
            .collect();
        if theirs.is_empty() {
            continue;
        }
        let signed = node.list_delegated(&person).await?;
        for d in &signed {
            let Body::Grant(gr) = &d.entry.body else {
                continue;
            };
            let Some(ob) = &gr.on_behalf else { continue };
            let endorsed = signed.iter().any(|x| {
                x.entry.feed == mine
                    && matches!(&x.entry.body, Body::Endorsement(e) if e.grant == d.entry.id)
            });
            if theirs.contains(&ob.delegation) && !endorsed {
                out.push((h, d.entry.id));
            }
        }
    }
    Ok(out)
}
