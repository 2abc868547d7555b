//! `consent revoke`: withdrawing a grant this wallet made, or one made in its name, optionally
//! asking for erasure; or every grant in force (`--all`).
//!
//! A revocation is never delayed: it is sent at once, whatever the wallet's privacy setting,
//! after the queued entries of its feed (it chains on them). Its signed time may be coarse (the
//! decision rule reads no revocation's time: a grant is revoked for every question once a node
//! holds the revocation). The cost: several revocations made at once reach the nodes one after
//! the other and can be linked by their arrival. `--all --spread` spreads them, when the person
//! asks, each grant staying in force until its revocation is sent.

use anyhow::{Context, bail};
use clap::Args;
use consent_client::privacy::coarse::Exactness;
use consent_client::privacy::{MAX_SPREAD_MS, MIN_PRIVACY_MS};
use consent_client::time;
use consent_client::wallet;
use consent_proto::body::{Body, Revoke};
use consent_proto::ids::{EntryId, FeedId, TypedFeedId};
use consent_proto::vocab::Role;
use serde_json::json;

use crate::cmd::on_behalf;
use crate::ctx::{self, Global, emit, entry_arg};
use crate::outbox::{Fate, Item, Outbox, fate_text};
use crate::send;

/// `consent revoke`.
#[derive(Args, Debug)]
pub struct RevokeArgs {
    /// The grant id (ent1...).
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    pub grant: Option<String>,
    /// Also ask the collector to erase the data it already stored.
    #[arg(long)]
    pub erase: bool,
    /// Revoke every grant of yours in force, with every collector. Sent at once, one after the
    /// other: an observer of the ledger can tell those revocations come from one person (see
    /// --spread).
    #[arg(long)]
    pub all: bool,
    /// With --all: send each collector's revocation at its own random moment within this (e.g.
    /// 10m), so that they cannot be linked by their arrival. Each grant stays in force until its
    /// revocation is sent: choose it only when that wait is acceptable.
    #[arg(long, requires = "all", value_name = "DURATION")]
    pub spread: Option<String>,
}

pub async fn revoke(a: RevokeArgs, g: &Global) -> anyhow::Result<()> {
    if let Some(who) = &g.as_person {
        return on_behalf::revoke(&a, who, g).await;
    }
    if a.all {
        return revoke_all(&a, g).await;
    }
    let grant_text = a
        .grant
        .clone()
        .context("name the grant to revoke (ent1...)")?;
    let grant_id = entry_arg("<grant-id>", &grant_text)?;
    let mut ks = g.open(Role::Citizen)?;
    let mut node = g.connect().await?;
    let mut out = Outbox::open(g, &ks, &node).await?;
    // A grant of this wallet's still in the send queue is sent first (ctx::pairwise), then
    // revoked.
    let queued = send::queued(&ks)?
        .into_iter()
        .map(|(e, _)| e)
        .find(|e| e.id == grant_id);
    let grant = match queued {
        Some(e) => e,
        None => node
            .entry(&grant_id)
            .await?
            .with_context(|| format!("the node knows no entry {grant_text}"))?,
    };
    let Body::Grant(gr) = &grant.body else {
        bail!("{grant_text} is not a grant")
    };
    // Its own grant, or one a delegate (an assistant, a guardian) made in its name.
    let owner = gr.on_behalf.as_ref().map_or(grant.feed, |o| o.person);
    if wallet::pairwise_feed(ks.master(), &gr.collector) != owner {
        bail!(
            "grant {grant_text} was not made by this wallet, nor in its name (to revoke in the \
             name of someone you act for: consent --as NAME revoke GRANT)"
        );
    }
    let collector = gr.collector;
    let entry = sign_revocation(&mut out, &mut ks, &collector, grant_id, a.erase).await?;
    let fate = send_at_once(&mut out, g, &mut ks, &collector, &entry).await?;
    let to = match &fate {
        Fate::Sent { node } => node.clone(),
        Fate::Queued { node, .. } => node.clone(),
    };
    emit(
        g.json,
        format!(
            "Revoked grant {grant_text}{}. Revocation id: {} (sent at once to {to})",
            if a.erase {
                " and asked for erasure"
            } else {
                ""
            },
            entry.id
        ),
        json!({"revocation": entry.id.to_string(), "grant": grant_text, "erase": a.erase}),
    );
    Ok(())
}

/// Signs a revocation of `grant` in the pairwise feed for `collector`, after the feed's queued
/// entries (sent first to the feed's node) and at the head that node reports; journalled.
async fn sign_revocation(
    out: &mut Outbox,
    ks: &mut consent_client::keystore::Keystore,
    collector: &FeedId,
    grant: EntryId,
    erase: bool,
) -> anyhow::Result<consent_proto::Entry> {
    let feed = wallet::pairwise_feed(ks.master(), collector);
    let mut feed_node = out.nodes.for_feed(ks, &feed).await?;
    let mut author = ctx::pairwise(&mut feed_node, ks, collector).await?;
    let prev_ms = feed_node
        .entry(&author.head())
        .await?
        .map_or(0, |e| e.time_ms);
    let signed_ms = out.signed_time(time::now_ms(), prev_ms, Exactness::Coarse);
    let entry = author
        .append(
            signed_ms,
            Body::Revoke(Revoke {
                grant,
                erase,
                on_behalf: None,
            }),
        )
        .map_err(anyhow::Error::msg)?;
    ctx::journal(ks, collector, &entry)?;
    Ok(entry)
}

/// Sends one revocation at once (never queued).
async fn send_at_once(
    out: &mut Outbox,
    g: &Global,
    ks: &mut consent_client::keystore::Keystore,
    collector: &FeedId,
    entry: &consent_proto::Entry,
) -> anyhow::Result<Fate> {
    let fates = out
        .dispatch_over(
            g,
            ks,
            vec![Item {
                entry: entry.clone(),
                collector: *collector,
                what: "revocation",
                at_once: true,
            }],
            0,
        )
        .await?;
    ks.save()?;
    fates
        .into_iter()
        .next()
        .context("no fate for the revocation")
}

/// `consent revoke --all`: every grant of this wallet in force, in every pairwise feed.
async fn revoke_all(a: &RevokeArgs, g: &Global) -> anyhow::Result<()> {
    let spread_ms = match &a.spread {
        None => None,
        Some(text) => {
            let ms = humantime::parse_duration(text.trim())
                .with_context(|| format!("--spread: {text:?} is not a duration (e.g. 10m)"))?
                .as_millis() as u64;
            if !(MIN_PRIVACY_MS..=MAX_SPREAD_MS).contains(&ms) {
                bail!("--spread: from 1s to 1d");
            }
            Some(ms)
        }
    };
    let mut ks = g.open(Role::Citizen)?;
    let node = g.connect().await?;
    let mut out = Outbox::open(g, &ks, &node).await?;
    let now = time::now_ms();
    let collectors: Vec<FeedId> = ks
        .state
        .pairwise
        .keys()
        .map(|c| TypedFeedId::parse_role(c, Role::Collector))
        .collect::<Result<_, _>>()?;
    let mut done = Vec::new();
    for collector in collectors {
        let feed = wallet::pairwise_feed(ks.master(), &collector);
        let mut feed_node = out.nodes.for_feed(&ks, &feed).await?;
        // A grant still queued is revoked too: the feed's queue goes first (a feed that only
        // waits for its prepared inception is left alone).
        let queued_grant = send::queued(&ks)?
            .iter()
            .any(|(e, _)| e.feed == feed && matches!(e.body, Body::Grant(_)));
        if queued_grant {
            send::before_signing(&mut feed_node, &ks, &collector).await?;
        }
        let entries = feed_node.feed(&feed).await?;
        let revoked: std::collections::HashSet<EntryId> = entries
            .iter()
            .filter_map(|e| match &e.body {
                Body::Revoke(r) => Some(r.grant),
                _ => None,
            })
            .collect();
        // This wallet's own grants in force.
        let in_force: Vec<EntryId> = entries
            .iter()
            .filter(|e| {
                matches!(&e.body, Body::Grant(gr)
                    if gr.on_behalf.is_none()
                        && !revoked.contains(&e.id)
                        && gr.valid_until.is_none_or(|u| u > now))
            })
            .map(|e| e.id)
            .collect();
        if in_force.is_empty() {
            continue;
        }
        // One feed's revocations are signed together and leave together.
        let mut author = ctx::pairwise(&mut feed_node, &mut ks, &collector).await?;
        let prev_ms = entries.last().map_or(0, |e| e.time_ms);
        let signed_ms = out.signed_time(now, prev_ms, Exactness::Coarse);
        let mut items = Vec::new();
        for grant in &in_force {
            let entry = author
                .append(
                    signed_ms,
                    Body::Revoke(Revoke {
                        grant: *grant,
                        erase: a.erase,
                        on_behalf: None,
                    }),
                )
                .map_err(anyhow::Error::msg)?;
            ctx::journal(&mut ks, &collector, &entry)?;
            items.push(Item {
                entry,
                collector,
                what: "revocation",
                // At once unless the person asked to spread them.
                at_once: spread_ms.is_none(),
            });
        }
        let signed: Vec<EntryId> = items.iter().map(|it| it.entry.id).collect();
        let fates = out
            .dispatch_over(g, &ks, items, spread_ms.unwrap_or(0))
            .await?;
        ks.save()?;
        for ((grant, revocation), fate) in in_force.iter().zip(&signed).zip(fates) {
            done.push((collector, *grant, *revocation, fate));
        }
    }
    if done.is_empty() {
        emit(
            g.json,
            "No grant of yours is in force: nothing to revoke.",
            json!({"revoked": []}),
        );
        return Ok(());
    }
    let mut lines = Vec::new();
    let mut listed = Vec::new();
    for (collector, grant, revocation, fate) in &done {
        let collector = collector.typed(Role::Collector).to_string();
        lines.push(format!(
            "Revoked grant {grant} (collector {collector}). Revocation id: {revocation}. {}",
            fate_text("revocation", fate)
        ));
        listed.push(json!({
            "grant": grant.to_string(),
            "collector": collector,
            "revocation": revocation.to_string(),
            "erase": a.erase,
            "queued": matches!(fate, Fate::Queued { .. }),
            "send_at": match fate {
                Fate::Queued { due_ms, .. } => Some(time::format(*due_ms)),
                Fate::Sent { .. } => None,
            },
        }));
    }
    if spread_ms.is_some() {
        lines.push(
            "Each grant stays in force until its revocation is sent: consent queue shows them, \
             consent queue --send-now sends them all now."
                .to_string(),
        );
    }
    emit(g.json, lines.join("\n"), json!({"revoked": listed}));
    Ok(())
}
