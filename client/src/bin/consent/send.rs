//! How the wallet sends what it signs in its pairwise feeds (`consent_client::privacy`): at once,
//! or later from the send queue beside the keystore, each feed to its own node.
//!
//! - [`send_queued`]: sends queued entries, in order, each to its node ([`Nodes`]), and updates
//!   the queue; what a command that signs does with it is `outbox`.
//! - [`before_signing`]: called by `ctx::pairwise` before any command signs in a pairwise feed
//!   at the head a node reports: the feed's queued entries are sent to that node first, and a
//!   node that lags what this wallet sent it elsewhere is refused (signing there would fork the
//!   feed).
//! - [`flush_due`]: what a command that only reads sends on its way (`consent list`, `consent
//!   wallet monitor`, `consent queue`).
//!
//! A node's refusal of a queued entry drops it and the entries of its feed after it (they chain
//! on it and could never be accepted); an unreachable node or a pending answer keeps the entry
//! queued for the next command. Everything sent or dropped on a command's way is said on stderr.

use anyhow::bail;
use consent_client::keystore::Keystore;
use consent_client::node::{ClientError, NodeConnection};
use consent_client::privacy::queue::{self, QueueLock, Queued};
use consent_client::privacy::schedule;
use consent_client::time;
use consent_client::transport::TlsOptions;
use consent_client::wallet;
use consent_proto::Entry;
use consent_proto::ids::{EntryId, FeedId};
use consent_proto::pb;
use consent_proto::vocab::Role;
use tonic::Code;

/// The node (URL) the pairwise feed `feed` uses: its own among the wallet's nodes, else `main`
/// (`--node`).
pub fn feed_url(main: &str, ks: &Keystore, feed: &FeedId) -> String {
    let nodes: &[String] = ks
        .state
        .privacy
        .as_ref()
        .map_or(&[], |s| s.nodes.as_slice());
    match nodes.len() {
        0 => main.to_string(),
        n => nodes[schedule::node_for(ks.master(), feed, n)].clone(),
    }
}

/// "at 2026-03-02T10:15:00Z" for a moment, "now" for one already past.
pub fn when(due_ms: u64) -> String {
    if due_ms <= time::now_ms() {
        "now".to_string()
    } else {
        format!("at {}", time::format(due_ms))
    }
}

/// Connections to the nodes a command sends to, opened when first needed.
pub struct Nodes {
    tls: TlsOptions,
    main: String,
    open: Vec<(String, NodeConnection)>,
    /// Every entry goes through the one connection held.
    pinned: bool,
}

impl Nodes {
    /// `main_url`: `--node`; `main`: the connection to it, when one is open.
    pub fn new(main_url: &str, tls: TlsOptions, main: Option<&NodeConnection>) -> Nodes {
        Nodes {
            tls,
            main: main_url.to_string(),
            open: main
                .map(|n| (main_url.to_string(), n.clone()))
                .into_iter()
                .collect(),
            pinned: false,
        }
    }

    /// Everything through `node`.
    fn pinned(node: &NodeConnection) -> Nodes {
        Nodes {
            tls: node.tls().clone(),
            main: node.url().to_string(),
            open: vec![(node.url().to_string(), node.clone())],
            pinned: true,
        }
    }

    async fn get(&mut self, url: &str) -> Result<&mut NodeConnection, ClientError> {
        let at = if self.pinned {
            Some(0)
        } else {
            self.open.iter().position(|(u, _)| u == url)
        };
        let at = match at {
            Some(at) => at,
            None => {
                let c = NodeConnection::connect_with(url, &self.tls).await?;
                self.open.push((url.to_string(), c));
                self.open.len() - 1
            }
        };
        Ok(&mut self.open[at].1)
    }

    /// A connection to `url`, or to `--node` when that one cannot be reached (said on stderr).
    pub async fn to(&mut self, url: &str) -> anyhow::Result<NodeConnection> {
        let first = self.get(url).await.map(|c| c.clone());
        match first {
            Ok(c) => Ok(c),
            Err(e) if url != self.main => {
                eprintln!(
                    "consent: {url} cannot be reached ({e}); using {} instead",
                    self.main
                );
                let main = self.main.clone();
                Ok(self.get(&main).await?.clone())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The connection for the pairwise feed `feed` (its node, see [`feed_url`]).
    pub async fn for_feed(
        &mut self,
        ks: &Keystore,
        feed: &FeedId,
    ) -> anyhow::Result<NodeConnection> {
        let url = feed_url(&self.main, ks, feed);
        self.to(&url).await
    }
}

/// Which queued entries to send.
#[derive(Clone, Copy)]
pub enum Pick {
    /// Those due at this moment.
    Due(u64),
    /// Every entry of this feed.
    Feed(FeedId),
    /// All of them.
    All,
}

/// What a flush did.
#[derive(Default)]
pub struct Flushed {
    /// Accepted by a node: the entry, its item, the node.
    pub sent: Vec<(Entry, Queued, String)>,
    /// Refused by a node, with the refusal; dropped.
    pub dropped: Vec<(Entry, Queued, ClientError)>,
    /// Dropped because an earlier entry of their feed was refused.
    pub abandoned: Vec<(Entry, Queued)>,
    /// Kept queued (a node unreachable, a pending answer), with why.
    pub kept: Vec<(Entry, Queued, String)>,
}

/// Refusals of an entry itself (it will never be accepted), as opposed to a node too busy or
/// failing (retried later).
fn refused_for_good(e: &ClientError) -> bool {
    matches!(e, ClientError::Refused { code, .. } if matches!(
        code,
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange | Code::AlreadyExists
    ))
}

enum SendError {
    Refused(ClientError),
    Kept(String),
}

/// Sends one queued entry to its node, or to `--node` when that one cannot be reached.
async fn submit_one(nodes: &mut Nodes, item: &Queued, entry: &Entry) -> Result<String, SendError> {
    let mut urls = vec![item.node.clone()];
    if !nodes.pinned && item.node != nodes.main {
        urls.push(nodes.main.clone());
    }
    let mut last = String::new();
    for url in urls {
        let conn = match nodes.get(&url).await {
            Ok(c) => c,
            Err(e) => {
                last = e.to_string();
                continue;
            }
        };
        let to = conn.url().to_string();
        match conn.submit(entry, &item.what).await {
            Ok(r) => {
                return match r.status() {
                    pb::SubmitStatus::Accepted | pb::SubmitStatus::Duplicate => Ok(to),
                    pb::SubmitStatus::Pending => Err(SendError::Kept(format!(
                        "{to} holds it as pending: it waits for {}",
                        hex::encode(&r.missing)
                    ))),
                    pb::SubmitStatus::Unspecified => {
                        Err(SendError::Kept(format!("{to} gave no status")))
                    }
                };
            }
            Err(e) if refused_for_good(&e) => return Err(SendError::Refused(e)),
            Err(e) => last = e.to_string(),
        }
    }
    Err(SendError::Kept(last))
}

/// Sends the queued entries `pick` selects, in sending order (each feed in order), and updates
/// the queue: sent ones leave it, a refused one leaves it with every later entry of its feed, the
/// others stay (and so do the later entries of their feed).
pub async fn send_queued(ks: &Keystore, nodes: &mut Nodes, pick: Pick) -> anyhow::Result<Flushed> {
    let path = queue::path_for(ks.path());
    let _lock = QueueLock::take(&path)?;
    let mut q = queue::load(&path, ks.master())?;
    let chosen: Vec<usize> = match pick {
        Pick::Due(now) => q.due(now),
        Pick::All => q.order(),
        Pick::Feed(feed) => {
            let of: Vec<usize> = q.of_feed(&feed).into_iter().map(|(i, _)| i).collect();
            q.order().into_iter().filter(|i| of.contains(i)).collect()
        }
    };
    let mut out = Flushed::default();
    if chosen.is_empty() {
        return Ok(out);
    }
    // Feeds that stop here: kept (later entries wait too) or refused from a seq on.
    let mut stopped: Vec<FeedId> = Vec::new();
    let mut refused_from: Vec<(FeedId, u64)> = Vec::new();
    let mut gone: Vec<String> = Vec::new();
    for i in chosen {
        let item = q.items[i].clone();
        let entry = item.decode().map_err(anyhow::Error::msg)?;
        if stopped.contains(&entry.feed) {
            continue;
        }
        match submit_one(nodes, &item, &entry).await {
            Ok(to) => {
                q.record_sent(&entry, &to);
                gone.push(item.entry.clone());
                out.sent.push((entry, item, to));
            }
            Err(SendError::Refused(e)) => {
                stopped.push(entry.feed);
                refused_from.push((entry.feed, entry.seq));
                gone.push(item.entry.clone());
                out.dropped.push((entry, item, e));
            }
            Err(SendError::Kept(why)) => {
                stopped.push(entry.feed);
                out.kept.push((entry, item, why));
            }
        }
    }
    for item in &q.items {
        if let Ok(e) = item.decode()
            && !gone.contains(&item.entry)
            && refused_from
                .iter()
                .any(|(f, seq)| *f == e.feed && e.seq > *seq)
        {
            gone.push(item.entry.clone());
            out.abandoned.push((e, item.clone()));
        }
    }
    q.items.retain(|item| !gone.contains(&item.entry));
    queue::save(&path, ks.master(), &q)?;
    Ok(out)
}

/// Says on stderr what a flush did with entries other than `own` (a command reports its own).
pub fn report(f: &Flushed, own: &[EntryId]) {
    for (e, item, to) in &f.sent {
        if !own.contains(&e.id) {
            eprintln!(
                "consent: sent your queued {} {} (collector {}) to {to}",
                item.what, e.id, item.collector
            );
        }
    }
    for (e, item, err) in &f.dropped {
        eprintln!(
            "consent: your queued {} {} (collector {}) was refused and is dropped from the queue, \
             with the entries of its feed after it: {err}",
            item.what, e.id, item.collector
        );
    }
    for (e, item) in &f.abandoned {
        eprintln!(
            "consent: dropped your queued {} {} (collector {}): an earlier entry of its feed was \
             refused",
            item.what, e.id, item.collector
        );
    }
    for (e, item, why) in &f.kept {
        if !own.contains(&e.id) {
            eprintln!(
                "consent: your queued {} {} (collector {}) stays queued: {why}",
                item.what, e.id, item.collector
            );
        }
    }
}

/// Sends the queued entries that are due, on the way of a command that opened the wallet
/// (`nodes`: `--node` and the connection to it, if any). Only the queue file's own problems
/// fail.
pub async fn flush_due(ks: &Keystore, mut nodes: Nodes) -> anyhow::Result<Flushed> {
    if !queue::path_for(ks.path()).exists() {
        return Ok(Flushed::default());
    }
    let f = send_queued(ks, &mut nodes, Pick::Due(time::now_ms())).await?;
    report(&f, &[]);
    Ok(f)
}

/// Before a command signs in the pairwise feed for `collector` at the head `node` reports: the
/// feed's queued entries go to `node` first, and a node that does not hold what this wallet
/// already had accepted elsewhere is refused.
pub async fn before_signing(
    node: &mut NodeConnection,
    ks: &Keystore,
    collector: &FeedId,
) -> anyhow::Result<()> {
    let path = queue::path_for(ks.path());
    if !path.exists() {
        return Ok(());
    }
    let feed = wallet::pairwise_feed(ks.master(), collector);
    let mut nodes = Nodes::pinned(node);
    let flushed = send_queued(ks, &mut nodes, Pick::Feed(feed)).await?;
    report(&flushed, &[]);
    if let Some((e, item, why)) = flushed.kept.first() {
        bail!(
            "your queued {} {} of this feed could not be sent to {} ({why}); nothing was signed \
             after it: try again, or pass the node it was meant for (--node {})",
            item.what,
            e.id,
            node.url(),
            item.node
        );
    }
    let q = queue::load(&path, ks.master())?;
    if let Some(sent) = q.sent_of(&feed) {
        let holds = node.head(&feed).await?.map(|h| h.seq);
        if holds.is_none_or(|seq| seq < sent.seq) {
            bail!(
                "the node at {} does not yet hold entry #{} of your feed {}, which {} accepted; \
                 signing now could fork your feed: try again in a moment, or pass --node {}",
                node.url(),
                sent.seq,
                feed.typed(Role::Citizen),
                sent.node,
                sent.node
            );
        }
    }
    Ok(())
}

/// The queued entries (with their items), in sending order, for display.
pub fn queued(ks: &Keystore) -> anyhow::Result<Vec<(Entry, Queued)>> {
    let q = queue::load(&queue::path_for(ks.path()), ks.master())?;
    let mut out = Vec::new();
    for i in q.order() {
        let item = q.items[i].clone();
        out.push((item.decode().map_err(anyhow::Error::msg)?, item));
    }
    Ok(out)
}
