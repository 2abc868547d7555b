//! `consent request`: exercising a right (access, erasure, opt-out of sale, ...) with a collector.
//! An opt-out of sale is signed with its exact time and sent at once (it is compared with times
//! signed in other feeds, and withdrawing is never delayed); an erasure or restriction request is
//! sent at once; the others are dated and sent like a grant, by the wallet's privacy setting.

use anyhow::{Context as _, bail};
use clap::Args;
use consent_client::privacy::{self, Handling};
use consent_client::time;
use consent_client::wallet;
use consent_proto::body::{Body, Request};
use consent_proto::vocab::{RequestKind, Role};
use serde_json::json;

use crate::cmd::on_behalf;
use crate::ctx::{self, Global, emit, feed_arg};
use crate::outbox::{Fate, Item, Outbox, fate_text};
use crate::send;

/// `consent request`.
#[derive(Args, Debug)]
pub struct RequestArgs {
    /// Collector id (col1...).
    pub collector: String,
    /// access, erasure, rectification, restriction, portability or opt-out-sale.
    pub kind: String,
}

pub async fn request(a: RequestArgs, g: &Global) -> anyhow::Result<()> {
    if let Some(who) = &g.as_person {
        return on_behalf::request(&a, who, g).await;
    }
    let collector = feed_arg("<collector>", &a.collector, Role::Collector)?;
    let kind = RequestKind::from_name(&a.kind)?;
    let mut ks = g.open(Role::Citizen)?;
    let mut node = g.connect().await?;
    if node.head(&collector).await?.is_none() {
        bail!(
            "unknown collector {}: the node at {} does not know it",
            a.collector,
            node.url()
        );
    }
    // An opt-out of sale is compared with times signed in other feeds (a delegate's grants):
    // exact. Withdrawals (opt-outs, erasure and restriction requests) are sent at once, after the
    // feed's queued entries; other requests like a grant, over the privacy setting's window.
    let body = Body::Request(Request {
        collector,
        kind,
        details_digest: None,
        on_behalf: None,
    });
    let Handling { exactness, at_once } = privacy::handling(&body);
    let mut out = Outbox::open(g, &mut ks, &node, at_once).await?;
    let feed = wallet::pairwise_feed(ks.master(), &collector);
    let mut feed_node = out.nodes.for_feed(&ks, &feed, at_once).await?;
    if at_once {
        // A withdrawal signed at the feed's node: not behind what `--node` holds (M4, R3).
        send::up_to_main(&mut out.nodes, &mut feed_node, &feed).await?;
    }
    let resumed = out
        .author(&mut feed_node, &mut ks, &collector, at_once)
        .await?;
    let (mut author, inception, prev_ms) = (resumed.author, resumed.inception, resumed.prev_ms);
    let now = time::now_ms();
    let entry = author
        .append(out.signed_time(now, prev_ms, exactness), body)
        .map_err(anyhow::Error::msg)?;
    ctx::journal(&mut ks, &collector, &entry)?;
    let mut items = Vec::new();
    if let Some(inception) = inception {
        items.push(Item {
            entry: inception,
            collector,
            what: "feed inception",
            at_once: false,
        });
    }
    items.push(Item {
        entry: entry.clone(),
        collector,
        what: "request",
        at_once,
    });
    let fates = out.dispatch(g, &ks, items).await?;
    ks.save()?;
    let fate = fates.last().cloned().context("no fate for the request")?;
    let queued = matches!(fate, Fate::Queued { .. });
    emit(
        g.json,
        format!(
            "{} {} for {}. Request id: {}{}",
            if queued { "Will ask" } else { "Asked" },
            a.collector,
            kind.plain(),
            entry.id,
            if queued {
                format!("\n{}", fate_text("request", &fate))
            } else {
                String::new()
            }
        ),
        json!({
            "request": entry.id.to_string(),
            "collector": a.collector,
            "kind": kind.name(),
            "queued": queued,
            "send_at": match &fate {
                Fate::Queued { due_ms, .. } => Some(time::format(*due_ms)),
                Fate::Sent { .. } => None,
            },
        }),
    );
    Ok(())
}
