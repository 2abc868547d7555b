//! `consent revoke`: withdrawing a grant this wallet made, or one made in its name, optionally
//! asking for erasure; or every grant in force (`--all`).
//!
//! A revocation is never delayed: it is sent at once, whatever the wallet's privacy setting,
//! after the queued entries of its feed (it chains on them; when they cannot be sent now it waits
//! right behind them and leaves with them, in one batch). Its signed time may be coarse (the
//! decision rule reads no revocation's time: a grant is revoked for every question once a node
//! holds the revocation). A grant still in the send queue that no node was ever handed is not
//! revoked but withdrawn from the queue: nothing of it was ever public, and nothing is published.
//! The cost: several revocations made at once reach the nodes one after the other and can be
//! linked by their arrival. `--all --spread` spreads them, when the person asks, each grant
//! staying in force until its revocation is sent (the command stays until the last is sent).
//!
//! `--all` goes on past a feed it cannot revoke in (its node unreachable, lagging what this
//! wallet had sent), says for every feed what it revoked and what it did not, and fails (exit 1)
//! when anything was not revoked, so that a retry does the rest. It fails too when a revocation
//! it signed is not in effect when it ends (`--spread`: still queued, with `--no-wait` or when
//! the wait gave up; refused by a node; held for a conflict): a grant is revoked only once a node
//! holds its revocation, and exit 0 says every one is.

use anyhow::{Context, bail};
use clap::Args;
use consent_client::keystore::Keystore;
use consent_client::privacy::coarse::Exactness;
use consent_client::privacy::{MAX_SPREAD_MS, MIN_PRIVACY_MS};
use consent_client::time;
use consent_client::wallet;
use consent_proto::Entry;
use consent_proto::body::{Body, Revoke};
use consent_proto::ids::{EntryId, FeedId, TypedFeedId};
use consent_proto::vocab::Role;
use serde_json::json;

use crate::cmd::{delegated, on_behalf};
use crate::ctx::{self, Global, emit, entry_arg};
use crate::outbox::{Fate, Item, Outbox, fate_text};
use crate::send;

mod spread;
use spread::{report_not_in_effect, send_when_due, still_queued};

/// `consent revoke`.
#[derive(Args, Debug)]
pub struct RevokeArgs {
    /// The grant id (ent1...). A grant still in the send queue (`consent queue`) that no node
    /// was ever handed is withdrawn from the queue instead: nothing of it was ever public, and
    /// nothing is published.
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    pub grant: Option<String>,
    /// Also ask the collector to erase the data it already stored.
    #[arg(long)]
    pub erase: bool,
    /// Revoke every grant in force in each feed this wallet knows (its own, and those a guardian
    /// or an assistant made in your name; after `wallet recover`, the feeds of the collectors
    /// it was given with --collector). Sent at once, one after the other: an observer of the
    /// ledger can tell those revocations come from one person (see --spread). A feed it cannot
    /// revoke in is named, the others are revoked, and the command fails so that you run it
    /// again.
    #[arg(long)]
    pub all: bool,
    /// With --all: send each collector's revocation at its own random moment within this (e.g.
    /// 10m), so that they cannot be linked by their arrival. Each grant stays in force until its
    /// revocation is sent: the command stays until the last one is sent (Ctrl-C, or
    /// --no-wait, leaves the rest queued for the next consent command after their moments).
    #[arg(long, requires = "all", value_name = "DURATION")]
    pub spread: Option<String>,
    /// With --spread: queue the revocations and return at once; each is sent by the first
    /// consent command after its moment (a timer running `consent queue`), so a grant stays in
    /// force until then, however long that is. The command then exits 1: its revocations are
    /// NOT in effect yet.
    #[arg(long, requires = "spread")]
    pub no_wait: bool,
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
    let mut out = Outbox::open(g, &mut ks, &node, true).await?;
    let queued = out.find_queued(&ks, &grant_id)?;
    let grant = match &queued {
        Some(e) => e.clone(),
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
    // Never handed to a node: withdrawn from the queue, nothing published.
    if queued.is_some()
        && let Some(gone) = out.cancel(&mut ks, &grant_id)?
    {
        let after: Vec<String> = gone.iter().skip(1).map(|(e, _)| e.id.to_string()).collect();
        emit(
            g.json,
            format!(
                "Withdrew grant {grant_text} before it was sent: no node ever received it, so it \
                 was never public and nothing is signed to revoke it{}{}.",
                if after.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; withdrawn with it, queued after it in its feed: {}",
                        after.join(", ")
                    )
                },
                if a.erase {
                    " (the collector never received it: it holds nothing under it to erase)"
                } else {
                    ""
                }
            ),
            json!({"withdrawn": grant_text, "grant": grant_text, "revocation": null, "also_withdrawn": after, "erase": a.erase}),
        );
        return Ok(());
    }
    // The feed's node must hold the grant before anything is signed after it (re-review N3).
    if queued.is_none() {
        let feed = wallet::pairwise_feed(ks.master(), &collector);
        let mut feed_node = out.nodes.for_feed(&ks, &feed, true).await?;
        // Up to what `--node` holds after the grant, not just the grant (re-review M4).
        let upto = match node.head(&grant.feed).await? {
            Some(h) => h.seq.max(grant.seq),
            None => grant.seq,
        };
        if !send::relay(&mut node, &mut feed_node, &grant.feed, upto).await? {
            bail!(
                "the node of your feed, {}, does not hold grant {grant_text}, and could not be \
                 given it from {}: nothing was signed (a revocation signed there now would fork \
                 your feed, or wait for a grant the node never gets); try again in a moment, or \
                 pass --node with a node that holds your whole feed",
                feed_node.url(),
                node.url()
            );
        }
    }
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

/// Signs a revocation of `grant` in the pairwise feed for `collector`: after the feed's queued
/// entries (sent first to the feed's node, or, when they cannot be sent now, chained after and
/// leaving with them), at the head that node reports; journalled.
async fn sign_revocation(
    out: &mut Outbox,
    ks: &mut Keystore,
    collector: &FeedId,
    grant: EntryId,
    erase: bool,
) -> anyhow::Result<Entry> {
    let feed = wallet::pairwise_feed(ks.master(), collector);
    let mut feed_node = out.nodes.for_feed(ks, &feed, true).await?;
    send::up_to_main(&mut out.nodes, &mut feed_node, &feed).await?;
    let resumed = out.author(&mut feed_node, ks, collector, true).await?;
    if resumed.inception.is_some() {
        bail!(
            "the node at {} does not know your feed {}: nothing was signed (a revocation in a new \
             feed would fork yours); try again, or pass --node with a node that holds it",
            feed_node.url(),
            feed.typed(Role::Citizen)
        );
    }
    // The floor is the feed's last entry as it stands now (queued ones included).
    let signed_ms = out.signed_time(time::now_ms(), resumed.prev_ms, Exactness::Coarse);
    let mut author = resumed.author;
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

/// Sends one revocation at once (never delayed).
async fn send_at_once(
    out: &mut Outbox,
    g: &Global,
    ks: &mut Keystore,
    collector: &FeedId,
    entry: &Entry,
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

/// What `revoke --all` did in one feed.
#[derive(Default)]
struct FeedOutcome {
    /// (grant, revocation, fate).
    revoked: Vec<(EntryId, Entry, Fate)>,
    /// Queued grants withdrawn unseen.
    withdrawn: Vec<EntryId>,
    /// Revocations signed before (an earlier `--spread`) still waiting in the queue: (grant,
    /// revocation, due, Unix ms). Their grants are still in force.
    still_queued: Vec<(EntryId, Entry, u64)>,
}

/// `consent revoke --all`: every grant in force in every pairwise feed of this wallet.
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
    let mut out = Outbox::open(g, &mut ks, &node, true).await?;
    let collectors: Vec<FeedId> = ks
        .state
        .pairwise
        .keys()
        .map(|c| TypedFeedId::parse_role(c, Role::Collector))
        .collect::<Result<_, _>>()?;
    let mut lines = Vec::new();
    let mut revoked_json = Vec::new();
    let mut withdrawn_json = Vec::new();
    let mut failed_json = Vec::new();
    let mut still_queued_json = Vec::new();
    // Revocations queued (--spread), not in effect until sent: (grant, revocation).
    let mut spread: Vec<(EntryId, Entry)> = Vec::new();
    for collector in collectors {
        let collector_text = collector.typed(Role::Collector).to_string();
        // Each feed on its own: one that cannot be revoked in now does not stop the others.
        match revoke_feed(&mut out, g, &mut ks, &collector, a.erase, spread_ms).await {
            Ok(done) => {
                for grant in &done.withdrawn {
                    lines.push(format!(
                        "Withdrew grant {grant} (collector {collector_text}) before it was sent: \
                         no node ever received it, nothing was published."
                    ));
                    withdrawn_json.push(json!({
                        "grant": grant.to_string(),
                        "collector": collector_text,
                    }));
                }
                for (grant, revocation, due_ms) in &done.still_queued {
                    lines.push(format!(
                        "Revocation of grant {grant} (collector {collector_text}) signed before, \
                         still queued, NOT in effect yet: the grant stays in force until it is \
                         sent {} (consent queue --send-now sends it now). Revocation id: {}.",
                        send::when(*due_ms),
                        revocation.id
                    ));
                    spread.push((*grant, revocation.clone()));
                    still_queued_json.push(json!({
                        "grant": grant.to_string(),
                        "collector": collector_text,
                        "revocation": revocation.id.to_string(),
                        "send_at": time::format(*due_ms),
                        "in_effect": false,
                    }));
                }
                for (grant, revocation, fate) in &done.revoked {
                    let queued = matches!(fate, Fate::Queued { .. });
                    lines.push(if queued {
                        format!(
                            "Revocation of grant {grant} (collector {collector_text}) signed, NOT \
                             in effect yet: the grant stays in force until it is sent. \
                             Revocation id: {}. {}",
                            revocation.id,
                            fate_text("revocation", fate)
                        )
                    } else {
                        format!(
                            "Revoked grant {grant} (collector {collector_text}). Revocation id: \
                             {}. {}",
                            revocation.id,
                            fate_text("revocation", fate)
                        )
                    });
                    if queued {
                        spread.push((*grant, revocation.clone()));
                    }
                    revoked_json.push(json!({
                        "grant": grant.to_string(),
                        "collector": collector_text,
                        "revocation": revocation.id.to_string(),
                        "erase": a.erase,
                        "queued": queued,
                        "in_effect": !queued,
                        "send_at": match fate {
                            Fate::Queued { due_ms, .. } => Some(time::format(*due_ms)),
                            Fate::Sent { .. } => None,
                        },
                    }));
                }
            }
            Err(e) => {
                let why = format!("{e:#}");
                lines.push(format!(
                    "NOT revoked: your grants to collector {collector_text}: {why}"
                ));
                failed_json.push(json!({"collector": collector_text, "error": why}));
            }
        }
    }
    ks.save()?;
    if lines.is_empty() {
        emit(
            g.json,
            "No grant of yours is in force: nothing to revoke.",
            json!({"revoked": [], "withdrawn": [], "failed": [], "still_queued": []}),
        );
        return Ok(());
    }
    let waits = spread_ms.is_some() && !a.no_wait && !spread.is_empty();
    if spread_ms.is_some() && !spread.is_empty() {
        lines.push(if waits {
            "Each grant stays in force until its revocation is sent: this command stays until \
             the last one is sent (Ctrl-C leaves the rest queued; consent queue --send-now sends \
             them all now)."
                .to_string()
        } else {
            "Each grant stays in force until its revocation is sent, by the first consent command \
             after its moment: NOT in effect yet (consent queue shows them, consent queue \
             --send-now sends them all now)."
                .to_string()
        });
    }
    emit(
        g.json,
        lines.join("\n"),
        json!({
            "revoked": revoked_json,
            "withdrawn": withdrawn_json,
            "failed": failed_json,
            "still_queued": still_queued_json,
        }),
    );
    let mut problems = Vec::new();
    if waits {
        // The queue's lock is not held while waiting: other commands and the timer go on.
        drop(out);
        let signed: Vec<&Entry> = spread.iter().map(|(_, r)| r).collect();
        let missing = send_when_due(&ks, g, &signed).await?;
        if !missing.is_empty() {
            report_not_in_effect(g, &spread, &missing);
            problems.push(format!(
                "{} of the revocations are NOT in effect (named above): their grants are still \
                 in force",
                missing.len()
            ));
        }
    } else if !spread.is_empty() {
        problems.push(format!(
            "{} of the revocations are queued, NOT in effect yet: each grant stays in force \
             until its revocation is sent, by the first consent command after its moment \
             (consent queue --send-now sends them now)",
            spread.len()
        ));
    }
    if !failed_json.is_empty() {
        problems.push(format!(
            "{} of your feeds could not be revoked in (named above): run consent revoke --all \
             again (what was revoked stays revoked)",
            failed_json.len()
        ));
    }
    if !problems.is_empty() {
        bail!("{}", problems.join("; "));
    }
    Ok(())
}

/// `revoke --all` in the pairwise feed for `collector`.
async fn revoke_feed(
    out: &mut Outbox,
    g: &Global,
    ks: &mut Keystore,
    collector: &FeedId,
    erase: bool,
    spread_ms: Option<u64>,
) -> anyhow::Result<FeedOutcome> {
    let feed = wallet::pairwise_feed(ks.master(), collector);
    let mut done = FeedOutcome::default();
    // Queued grants no node was ever handed: withdrawn unseen (with what chains on them).
    for (e, _) in out.queued_in(ks, &feed)? {
        if !matches!(&e.body, Body::Grant(gr) if gr.on_behalf.is_none()) {
            continue;
        }
        if let Some(gone) = out.cancel(ks, &e.id)? {
            done.withdrawn.extend(
                gone.iter()
                    .filter(|(x, _)| matches!(x.body, Body::Grant(_)))
                    .map(|(x, _)| x.id),
            );
            break;
        }
    }
    let mut feed_node = out.nodes.for_feed(ks, &feed, true).await?;
    // A node behind what this wallet had sent could hide a grant: brought up to date, or this
    // feed is reported as not revoked.
    if let Some(why) = send::lagging(&mut feed_node, ks, collector).await? {
        bail!("{why}");
    }
    // Nor may it lag what `--node` holds (another device's grants, re-review M4).
    send::up_to_main(&mut out.nodes, &mut feed_node, &feed).await?;
    let now = time::now_ms();
    // What the node holds, and what still waits in the queue (it leaves before the revocations).
    let mut entries = feed_node.feed(&feed).await?;
    let waiting = out.queued_in(ks, &feed)?;
    // Revocations signed before (an earlier --spread): said when they are still queued at the
    // end (a revocation sent at once now takes the queued entries of its feed along).
    let earlier: Vec<EntryId> = waiting
        .iter()
        .filter(|(e, _)| matches!(e.body, Body::Revoke(_)))
        .map(|(e, _)| e.id)
        .collect();
    entries.extend(waiting.into_iter().map(|(e, _)| e));
    let revoked: std::collections::HashSet<EntryId> = entries
        .iter()
        .filter_map(|e| match &e.body {
            Body::Revoke(r) => Some(r.grant),
            _ => None,
        })
        .collect();
    let mut in_force: Vec<EntryId> = entries
        .iter()
        .filter(|e| {
            matches!(&e.body, Body::Grant(gr)
                if gr.on_behalf.is_none()
                    && !revoked.contains(&e.id)
                    && gr.valid_until.is_none_or(|u| u > now))
        })
        .map(|e| e.id)
        .collect();
    // Grants a guardian or an assistant made in this person's name: theirs to revoke too.
    match delegated::in_force(&mut feed_node, &feed, now).await {
        Ok(grants) => in_force.extend(
            grants
                .into_iter()
                .map(|d| d.id)
                .filter(|id| !revoked.contains(id)),
        ),
        Err(e)
            if e.downcast_ref::<consent_client::node::ClientError>()
                .is_some_and(|c| {
                    matches!(
                        c,
                        consent_client::node::ClientError::Refused {
                            code: tonic::Code::Unimplemented,
                            ..
                        }
                    )
                }) => {}
        Err(e) => return Err(e),
    }
    in_force.dedup();
    if in_force.is_empty() {
        done.still_queued = still_queued(out, ks, &feed, &earlier)?;
        return Ok(done);
    }
    // One feed's revocations are signed together, after its last entry as it stands now.
    let resumed = out.author(&mut feed_node, ks, collector, true).await?;
    if resumed.inception.is_some() {
        bail!(
            "{} does not know your feed {}: nothing was signed in it",
            feed_node.url(),
            feed.typed(Role::Citizen)
        );
    }
    let signed_ms = out.signed_time(time::now_ms(), resumed.prev_ms, Exactness::Coarse);
    let mut author = resumed.author;
    let mut items = Vec::new();
    for grant in &in_force {
        let entry = author
            .append(
                signed_ms,
                Body::Revoke(Revoke {
                    grant: *grant,
                    erase,
                    on_behalf: None,
                }),
            )
            .map_err(anyhow::Error::msg)?;
        ctx::journal(ks, collector, &entry)?;
        items.push(Item {
            entry,
            collector: *collector,
            what: "revocation",
            // At once unless the person asked to spread them.
            at_once: spread_ms.is_none(),
        });
    }
    let signed: Vec<Entry> = items.iter().map(|it| it.entry.clone()).collect();
    let fates = out
        .dispatch_over(g, ks, items, spread_ms.unwrap_or(0))
        .await?;
    ks.save()?;
    for ((grant, revocation), fate) in in_force.iter().zip(signed).zip(fates) {
        done.revoked.push((*grant, revocation, fate));
    }
    done.still_queued = still_queued(out, ks, &feed, &earlier)?;
    Ok(done)
}
