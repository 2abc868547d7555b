//! `consent wallet monitor`: for each of the wallet's feeds, what the nodes hold — and alerts when
//! an entry in the citizen's name does not come from this wallet's keys, when a node lacks one
//! of the citizen's revocations that another holds, or when two nodes disagree.
//!
//! Without a journal of what it signed, the wallet tells its own entries apart by their keys: a
//! feed's keys must be the wallet's derived keys (inception and every rotation), and every entry
//! must verify under them (checked by `consent_proto::chain::verify_chain`).

use std::collections::{BTreeMap, HashSet};

use clap::Args;
use consent_client::node::NodeClient;
use consent_client::wallet;
use consent_proto::Entry;
use consent_proto::body::Body;
use consent_proto::chain::verify_chain;
use consent_proto::ids::{EntryId, FeedId, TypedFeedId};
use consent_proto::vocab::Role;
use serde_json::json;

use crate::ctx::{Global, emit};

/// `consent wallet monitor`.
#[derive(Args, Debug)]
pub struct MonitorArgs {
    /// Nodes to compare (repeat; default: --node). Ask nodes run by different operators.
    #[arg(long = "at", value_name = "URL")]
    pub nodes: Vec<String>,
}

pub async fn monitor(a: MonitorArgs, g: &Global) -> anyhow::Result<()> {
    let ks = g.open(Role::Citizen)?;
    let urls = if a.nodes.is_empty() {
        vec![g.node.clone()]
    } else {
        a.nodes.clone()
    };
    let mut nodes = Vec::new();
    for url in &urls {
        nodes.push(NodeClient::connect(url).await?);
    }
    let mut alerts: Vec<String> = Vec::new();
    let mut feeds = 0;
    for (c, state) in &ks.state.pairwise {
        let collector = TypedFeedId::parse_role(c, Role::Collector)?;
        let subject = wallet::pairwise_feed(ks.master(), &collector);
        let name = subject.typed(Role::Citizen);
        feeds += 1;
        // The keys this wallet holds for the feed: every rotation done, and the next one.
        let ours: HashSet<[u8; 32]> = (0..=state.rotations + 1)
            .map(|n| {
                wallet::pairwise_key(ks.master(), &collector, n)
                    .public()
                    .to_bytes()
            })
            .collect();
        let mut held: Vec<(String, Vec<Entry>)> = Vec::new();
        for (url, node) in urls.iter().zip(nodes.iter_mut()) {
            let entries = node.feed(&subject).await?;
            alerts.extend(own_entries(url, &name, &subject, &entries, &ours));
            held.push((url.clone(), entries));
        }
        alerts.extend(disagreements(&name, &held));
    }
    let summary = json!({
        "feeds": feeds,
        "nodes": urls,
        "alerts": alerts,
    });
    if alerts.is_empty() {
        emit(
            g.json,
            format!(
                "all well: {feeds} feed(s) agree across {} node(s), every entry is this wallet's",
                urls.len()
            ),
            summary,
        );
        return Ok(());
    }
    if g.json {
        println!("{summary}");
    } else {
        for a in &alerts {
            println!("alert: {a}");
        }
    }
    anyhow::bail!(
        "{} alert(s): see above; keep this output, it is evidence",
        alerts.len()
    )
}

/// Alerts about one node's copy of a feed: entries that do not chain and verify, keys that are
/// not this wallet's.
fn own_entries(
    url: &str,
    name: &TypedFeedId,
    feed: &FeedId,
    entries: &[Entry],
    ours: &HashSet<[u8; 32]>,
) -> Vec<String> {
    if entries.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    if let Err(e) = verify_chain(feed, entries) {
        out.push(format!(
            "{url} serves your feed {name} with entries that do not hold: {e}"
        ));
    }
    for e in entries {
        let key = match &e.body {
            Body::Inception(i) => Some(i.signing_key),
            Body::Rotation(r) => Some(r.signing_key),
            _ => None,
        };
        if let Some(k) = key
            && !ours.contains(&k.to_bytes())
        {
            out.push(format!(
                "{url}: entry {} (seq {}) of your feed {name} brings in a key this wallet does not hold: someone else signs in your name",
                e.id, e.seq
            ));
        }
    }
    out
}

/// Alerts about nodes that disagree: different entries at one seq, or a revocation one node
/// holds and another lacks.
fn disagreements(name: &TypedFeedId, held: &[(String, Vec<Entry>)]) -> Vec<String> {
    let mut out = Vec::new();
    let mut at_seq: BTreeMap<u64, (EntryId, &str)> = BTreeMap::new();
    let mut revocations: BTreeMap<EntryId, (&Entry, &str)> = BTreeMap::new();
    for (url, entries) in held {
        for e in entries {
            match at_seq.get(&e.seq) {
                Some((id, other)) if *id != e.id => out.push(format!(
                    "{url} and {other} hold different entries at seq {} of your feed {name}",
                    e.seq
                )),
                Some(_) => {}
                None => {
                    at_seq.insert(e.seq, (e.id, url));
                }
            }
            if matches!(e.body, Body::Revoke(_)) {
                revocations.entry(e.id).or_insert((e, url));
            }
        }
    }
    for (url, entries) in held {
        let ids: HashSet<EntryId> = entries.iter().map(|e| e.id).collect();
        for (id, (e, other)) in &revocations {
            if !ids.contains(id)
                && let Body::Revoke(r) = &e.body
            {
                out.push(format!(
                    "{url} lacks your revocation of grant {} (seq {} of {name}) that {other} holds",
                    r.grant, e.seq
                ));
            }
        }
    }
    out
}
