//! A command's way to the pairwise feeds it signs in (`consent_client::privacy`): it opens the
//! [`Outbox`] (holding the send queue's lock until the command ends, and first sending whatever
//! is due: every command that signs flushes the queue), resumes a feed after its last queued
//! entry ([`Outbox::author`]), dates entries by the coarse-time rule ([`Outbox::signed_time`]),
//! and hands what it signed to [`Outbox::dispatch`], which plans (`privacy::schedule::plan`),
//! queues, and sends what is due now, each feed to its node (`send`).

use std::path::PathBuf;

use anyhow::bail;
use consent_client::keystore::Keystore;
use consent_client::node::{NodeConnection, node_url};
use consent_client::privacy::Settings;
use consent_client::privacy::coarse::{self, Exactness};
use consent_client::privacy::queue::{self, QueueLock, Queued};
use consent_client::privacy::schedule::{self, OsDraw, Outgoing, Waiting};
use consent_client::time;
use consent_client::wallet;
use consent_proto::Entry;
use consent_proto::entry::Author;
use consent_proto::ids::{EntryId, FeedId};
use consent_proto::vocab::Role;

use crate::ctx::{self, Global};
use crate::send::{Nodes, Pick, feed_url, report, send_queued};

/// The privacy setting in force for this command: the wallet's (`consent wallet privacy`), else
/// the default; with `--now`, exact times and everything sent at once.
pub fn settings(g: &Global, ks: &Keystore) -> Settings {
    let mut s = ks.state.privacy.clone().unwrap_or_default();
    if g.now() {
        s.coarse_ms = None;
        s.spread_ms = None;
    }
    s
}

/// An entry a command signed in one of its pairwise feeds, to send.
pub struct Item {
    /// The entry.
    pub entry: Entry,
    /// The collector its feed is for.
    pub collector: FeedId,
    /// What it is: `feed inception`, `grant`, `revocation`, `request`, `rotation`.
    pub what: &'static str,
    /// A revocation, an opt-out, an erasure request: sent at once.
    pub at_once: bool,
}

/// What became of an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fate {
    /// A node accepted it (or held it already).
    Sent {
        /// The node.
        node: String,
    },
    /// It waits in the queue.
    Queued {
        /// Until then, Unix ms.
        due_ms: u64,
        /// For that node.
        node: String,
    },
}

/// A feed resumed for signing.
pub struct Resumed {
    /// Its author, at the feed's last entry (queued or on the node).
    pub author: Author,
    /// The feed's inception, when no node knows the feed yet: it goes with the entry signed
    /// next.
    pub inception: Option<Entry>,
    /// The last entry's signed time (the floor of the next one's).
    pub prev_ms: u64,
}

/// A command's way to its pairwise feeds: the queue (locked until the command ends), the
/// setting, and the nodes.
pub struct Outbox {
    /// The setting in force ([`settings`]).
    pub settings: Settings,
    /// Connections.
    pub nodes: Nodes,
    path: PathBuf,
    main: String,
    _lock: QueueLock,
}

impl Outbox {
    /// Opens the queue for a command that signs, and sends what is due.
    pub async fn open(g: &Global, ks: &Keystore, main: &NodeConnection) -> anyhow::Result<Outbox> {
        let path = queue::path_for(ks.path());
        let lock = QueueLock::take(&path)?;
        let mut nodes = Nodes::new(&g.node, g.tls()?, Some(main));
        if path.exists() {
            let f = send_queued(ks, &mut nodes, Pick::Due(time::now_ms())).await?;
            report(&f, &[]);
        }
        Ok(Outbox {
            settings: settings(g, ks),
            nodes,
            path,
            main: g.node.clone(),
            _lock: lock,
        })
    }

    /// The `time_ms` of an entry made at `now_ms` after one signed at `floor_ms`.
    pub fn signed_time(&self, now_ms: u64, floor_ms: u64, exactness: Exactness) -> u64 {
        coarse::signed_time(self.settings.coarse_ms, now_ms, floor_ms, exactness)
    }

    /// Records that the node at `url` accepted `entries`, sent directly (not through the queue),
    /// when it is not `--node`: [`crate::send::before_signing`] then refuses a node that lags
    /// them.
    pub fn record_direct(
        &self,
        ks: &Keystore,
        entries: &[&Entry],
        url: &str,
    ) -> anyhow::Result<()> {
        if node_url(url) == node_url(&self.main) {
            return Ok(());
        }
        let mut q = queue::load(&self.path, ks.master())?;
        for e in entries {
            q.record_sent(e, url);
        }
        queue::save(&self.path, ks.master(), &q)?;
        Ok(())
    }

    /// Whether the queue holds entries of `feed`.
    pub fn holds(&self, ks: &Keystore, feed: &FeedId) -> anyhow::Result<bool> {
        Ok(queue::load(&self.path, ks.master())?
            .last_of(feed)
            .is_some())
    }

    /// The pairwise feed for `collector`, resumed after its last queued entry; else at the head
    /// `node` reports (`ctx::pairwise`); else, when no node knows it, a new feed whose inception
    /// goes with the entry signed next (not on its own).
    pub async fn author(
        &mut self,
        node: &mut NodeConnection,
        ks: &mut Keystore,
        collector: &FeedId,
    ) -> anyhow::Result<Resumed> {
        let feed = wallet::pairwise_feed(ks.master(), collector);
        let key = collector.typed(Role::Collector).to_string();
        let queued = queue::load(&self.path, ks.master())?.last_of(&feed);
        if let Some(last) = queued {
            let rotations = ks.state.pairwise.get(&key).map_or(0, |f| f.rotations);
            let author = Author::resume(
                Role::Citizen,
                ctx::pairwise_key(ks, collector, rotations),
                ctx::pairwise_key(ks, collector, rotations + 1),
                feed,
                last.seq,
                last.id,
            );
            return Ok(Resumed {
                author,
                inception: None,
                prev_ms: last.time_ms,
            });
        }
        if node.head(&feed).await?.is_none() {
            // What ctx::pairwise journals for a new feed, without submitting its inception.
            let (author, inception) =
                wallet::pairwise_inception(ks.master(), collector).map_err(anyhow::Error::msg)?;
            let state = ks.state.pairwise.entry(key).or_default();
            state.journal_from.get_or_insert(0);
            state.signed.push(inception.id.to_string());
            ks.save()?;
            let prev_ms = inception.time_ms;
            return Ok(Resumed {
                author,
                inception: Some(inception),
                prev_ms,
            });
        }
        let author = ctx::pairwise(node, ks, collector).await?;
        let prev_ms = node.entry(&author.head()).await?.map_or(0, |e| e.time_ms);
        Ok(Resumed {
            author,
            inception: None,
            prev_ms,
        })
    }

    /// Plans, queues and sends a command's `items` (each feed's in feed order) over the
    /// setting's window.
    pub async fn dispatch(
        &mut self,
        g: &Global,
        ks: &Keystore,
        items: Vec<Item>,
    ) -> anyhow::Result<Vec<Fate>> {
        let spread = self.settings.spread_ms.unwrap_or(0);
        self.dispatch_over(g, ks, items, spread).await
    }

    /// [`Outbox::dispatch`] over a window of `spread_ms`. An entry due now that a node refuses is
    /// an error (as when it was sent directly); one that must leave at once and cannot is an
    /// error too, and stays queued.
    pub async fn dispatch_over(
        &mut self,
        g: &Global,
        ks: &Keystore,
        items: Vec<Item>,
        spread_ms: u64,
    ) -> anyhow::Result<Vec<Fate>> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = queue::load(&self.path, ks.master())?;
        let mut feeds: Vec<FeedId> = Vec::new();
        for it in &items {
            if !feeds.contains(&it.entry.feed) {
                feeds.push(it.entry.feed);
            }
        }
        let mut waiting_at: Vec<usize> = Vec::new();
        let mut waiting: Vec<Waiting<FeedId>> = Vec::new();
        for f in &feeds {
            for (i, _) in q.of_feed(f) {
                waiting_at.push(i);
                waiting.push(Waiting {
                    feed: *f,
                    due_ms: q.items[i].due_ms,
                });
            }
        }
        let outgoing: Vec<Outgoing<FeedId>> = items
            .iter()
            .map(|it| Outgoing {
                feed: it.entry.feed,
                at_once: it.at_once,
            })
            .collect();
        let now = time::now_ms();
        let plan = schedule::plan(&outgoing, &waiting, now, spread_ms, &mut OsDraw);
        let urls: Vec<String> = items
            .iter()
            .map(|it| feed_url(&g.node, ks, &it.entry.feed))
            .collect();
        if waiting.is_empty() && plan.due_ms.iter().all(|d| *d <= now) {
            // Nothing waits and nothing is delayed: sent now, one after the other, as before the
            // queue existed.
            let mut fates = Vec::new();
            for (it, url) in items.iter().zip(&urls) {
                let mut node = self.nodes.to(url).await?;
                ctx::submit(&mut node, &it.entry, it.what).await?;
                self.record_direct(ks, &[&it.entry], node.url())?;
                fates.push(Fate::Sent {
                    node: node.url().to_string(),
                });
            }
            return Ok(fates);
        }
        for (k, &i) in waiting_at.iter().enumerate() {
            q.items[i].due_ms = plan.waiting_due_ms[k];
        }
        for ((it, due), url) in items.iter().zip(&plan.due_ms).zip(&urls) {
            let collector = it.collector.typed(Role::Collector).to_string();
            q.push(Queued::new(&it.entry, &collector, it.what, *due, url))?;
        }
        queue::save(&self.path, ks.master(), &q)?;
        let flushed = send_queued(ks, &mut self.nodes, Pick::Due(now)).await?;
        let own: Vec<EntryId> = items.iter().map(|it| it.entry.id).collect();
        report(&flushed, &own);
        if let Some(at) = flushed
            .dropped
            .iter()
            .position(|(e, ..)| own.contains(&e.id))
        {
            let (_, _, err) = flushed
                .dropped
                .into_iter()
                .nth(at)
                .expect("the position just found");
            return Err(err.into());
        }
        let mut fates = Vec::new();
        for ((it, due), url) in items.iter().zip(&plan.due_ms).zip(&urls) {
            if let Some((_, _, to)) = flushed.sent.iter().find(|(e, ..)| e.id == it.entry.id) {
                fates.push(Fate::Sent { node: to.clone() });
                continue;
            }
            if it.at_once {
                let why = flushed
                    .kept
                    .iter()
                    .find(|(e, ..)| e.feed == it.entry.feed)
                    .map(|(_, _, why)| why.clone())
                    .unwrap_or_else(|| "an earlier entry of its feed could not be sent".into());
                bail!(
                    "your {} {} is NOT in effect: it could not be sent ({why}); it stays in the \
                     send queue and goes with your next consent command, or now: consent queue \
                     --send-now",
                    it.what,
                    it.entry.id
                );
            }
            fates.push(Fate::Queued {
                due_ms: *due,
                node: url.clone(),
            });
        }
        Ok(fates)
    }
}

/// Says in one line, for a command's output, when an entry it signed leaves.
pub fn fate_text(what: &str, fate: &Fate) -> String {
    match fate {
        Fate::Sent { node } => format!("The {what} was sent to {node}."),
        Fate::Queued { due_ms, node } => format!(
            "The {what} is queued: it is sent {} (to {node}) by the first consent command that \
             runs then (`consent queue` from a timer does it on time; `consent queue --send-now` \
             now).",
            crate::send::when(*due_ms)
        ),
    }
}
