//! `consent wallet monitor`: sends the wallet's queued entries that are due (`consent queue`),
//! then, for each of the wallet's feeds, what the nodes hold — and alerts when
//! an entry in the citizen's name does not come from this wallet's keys, when a node lacks one
//! of the citizen's revocations that another holds, or when two nodes disagree.
//!
//! Every entry must chain and verify (`consent_proto::chain::verify_chain`) under keys the wallet
//! derives (inception and every rotation); and the keystore journals the ids of the entries it
//! signs (before submitting them), so an entry signed with the wallet's own key that this
//! keystore did not make — another device, or a stolen key — is reported too, from the point the
//! keystore started its journal for that feed.
//!
//! It lists, too, every entry a delegate (an assistant, a guardian) signed in the citizen's name
//! (`ListDelegated`), and alerts loudly on one whose delegation did not count when it was
//! signed, or that arrived after the citizen withdrew its delegation (`cmd/delegated.rs`).

use std::collections::{BTreeMap, HashSet};

use clap::Args;
use consent_client::node::NodeConnection;
use consent_client::wallet;
use consent_proto::Entry;
use consent_proto::body::Body;
use consent_proto::chain::verify_chain;
use consent_proto::ids::{EntryId, FeedId, TypedFeedId};
use consent_proto::vocab::Role;
use serde_json::json;

use crate::ctx::{self, Global, emit};

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
    let tls = g.tls()?;
    let mut nodes = Vec::new();
    for url in &urls {
        nodes.push(NodeConnection::connect_with(url, &tls).await?);
    }
    // Queued entries that are due go on their way first (run from a timer, the monitor sends
    // them close to their moments), so that the nodes are compared with what was sent.
    crate::send::flush_due(&ks, crate::send::Nodes::new(&g.node, tls.clone(), None)).await?;
    let mut alerts: Vec<String> = Vec::new();
    let mut delegated: Vec<serde_json::Value> = Vec::new();
    let mut feeds = 0;
    for (c, state) in &ks.state.pairwise {
        let collector = TypedFeedId::parse_role(c, Role::Collector)?;
        let subject = wallet::pairwise_feed(ks.master(), &collector);
        let name = subject.typed(Role::Citizen);
        feeds += 1;
        // The keys this wallet holds for the feed: every rotation done, and the next one (and
        // after a takeover, the first master secret's keys used before it).
        let mut ours: HashSet<[u8; 32]> = (0..=state.rotations + 1)
            .map(|n| ctx::pairwise_key(&ks, &collector, n).public().to_bytes())
            .collect();
        if let Some(from) = state.successor_from {
            ours.extend((0..=from).map(|n| {
                wallet::pairwise_key(ks.master(), &collector, n)
                    .public()
                    .to_bytes()
            }));
        }
        let mut held: Vec<(String, Vec<Entry>)> = Vec::new();
        let signed: HashSet<&str> = state.signed.iter().map(String::as_str).collect();
        for (url, node) in urls.iter().zip(nodes.iter_mut()) {
            let entries = node.feed(&subject).await?;
            alerts.extend(own_entries(url, &name, &subject, &entries, &ours));
            // Entries in the journal's range that this keystore did not sign.
            if let Some(from) = state.journal_from {
                for e in entries.iter().filter(|e| e.seq >= from) {
                    if !signed.contains(e.id.to_string().as_str()) {
                        alerts.push(format!(
                            "{url}: entry {} (seq {}) of your feed {name} is in your name but this wallet never signed it (another device with your recovery key, or your key was stolen)",
                            e.id, e.seq
                        ));
                    }
                }
            }
            held.push((url.clone(), entries));
            // What delegates signed in this feed's name.
            match super::delegated::monitor(node, url, &subject).await {
                Ok((notices, loud)) => {
                    delegated.extend(notices);
                    alerts.extend(loud);
                }
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
        }
        alerts.extend(disagreements(&name, &held));
    }
    let summary = json!({
        "feeds": feeds,
        "nodes": urls,
        "alerts": alerts,
        "delegated": delegated,
    });
    if !g.json {
        for d in &delegated {
            println!(
                "delegated: {} {} signed {} by {} ({}) under {}{}",
                d["body"].as_str().unwrap_or_default(),
                d["entry"].as_str().unwrap_or_default(),
                d["signed"].as_str().unwrap_or_default(),
                d["delegate"].as_str().unwrap_or_default(),
                d["kind"].as_str().unwrap_or("unknown delegation"),
                d["delegation"].as_str().unwrap_or_default(),
                if d["counts"].as_bool() == Some(false) {
                    " — does not count"
                } else {
                    ""
                }
            );
        }
    }
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
